"""The package's structure in numbers and one picture: modules by floor, imports, cycles.

    python bench/house.py                      # table on stdout
    python bench/house.py --png house.png      # and the picture

A module's floor is one more than the highest floor it imports (floor 0 imports no module of
the package). Lazy imports (inside a function) count as imports: they hide a dependency from
Python, not from a reader. Modules in one import cycle share a floor and are drawn in orange.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = "unet"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py"))}


def _resolve(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(modules: dict[str, Path]) -> dict[str, dict[str, bool]]:
    """`{module: {imported module: lazy}}` for imports of the package's own modules."""
    graph: dict[str, dict[str, bool]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        edges: dict[str, bool] = {}

        def add(target: str, lazy: bool, name=name, edges=edges) -> None:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target != PACKAGE:
                edges[target] = edges.get(target, True) and lazy

        for node in ast.walk(tree):
            lazy = id(node) not in top_level
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name, lazy)
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node, name, path.name == "__init__.py")
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    add(full if full in modules else base, lazy)
        graph[name] = edges
    return graph


def cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in graph:
        if node not in index:
            visit(node)
    return found


def floors(graph, loops) -> dict[str, int]:
    group = {m: tuple(c) for c in loops for m in c}
    memo: dict[str, int] = {}

    def floor(node, seen=()):
        if node in memo:
            return memo[node]
        members = group.get(node, (node,))
        targets = {t for m in members for t in graph[m]} - set(members)
        value = 1 + max((floor(t) for t in targets), default=-1)
        for m in members:
            memo[m] = value
        return value

    for node in graph:
        floor(node)
    return memo


def functions(modules) -> list[tuple[int, str]]:
    """`(lines, "module.function")` for every function and method."""
    found = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((node.end_lineno - node.lineno + 1, f"{name}.{node.name}"))
    return sorted(found, reverse=True)


def draw(graph, level, loops, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_floor = defaultdict(list)
    for module, f in level.items():
        by_floor[f].append(module)
    width = max(len(v) for v in by_floor.values())
    figure, axes = plt.subplots(figsize=(max(10, 2.1 * width), 1.1 * (len(by_floor) + 1)))
    where = {}
    for f, members in by_floor.items():
        for i, module in enumerate(sorted(members)):
            where[module] = (i - (len(members) - 1) / 2, f)
    in_loop = {m for c in loops for m in c}
    for source, targets in graph.items():
        for target, lazy in targets.items():
            (x0, y0), (x1, y1) = where[source], where[target]
            axes.annotate("", (x1, y1 + 0.18), (x0, y0 - 0.18),
                          arrowprops={"arrowstyle": "->", "lw": 0.6, "alpha": 0.35,
                                      "color": "orange" if y1 >= y0 else "grey",
                                      "linestyle": ":" if lazy else "-"})
    for module, (x, y) in where.items():
        axes.text(x, y, module.removeprefix(PACKAGE + "."), ha="center", va="center", fontsize=8,
                  bbox={"boxstyle": "round", "fc": "orange" if module in in_loop else "#dde8f5",
                        "ec": "grey"})
    axes.set_yticks(range(len(by_floor)))
    axes.set_ylabel("floor (1 + the highest floor a module imports)")
    axes.set_xticks([])
    axes.set_xlim(-width / 2 - 0.5, width / 2 + 0.5)
    axes.set_ylim(-0.6, len(by_floor) - 0.4)
    axes.set_title(f"{len(graph)} modules of `{PACKAGE}` on {len(by_floor)} floors; arrows are "
                   "imports (dotted: inside a function; orange: sideways or up, or a cycle)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--png", type=Path, help="also draw the house into this PNG")
    parser.add_argument("--longest", type=int, default=10)
    args = parser.parse_args()
    modules = package_modules(args.root)
    graph = imports(modules)
    loops = cycles(graph)
    level = floors(graph, loops)
    lines = sum(len(p.read_text().splitlines()) for p in modules.values())
    lazy = sum(lazy for edges in graph.values() for lazy in edges.values())
    upward = [(s, t) for s, edges in graph.items() for t in edges if level[t] >= level[s]]
    found = functions(modules)
    print(f"| {PACKAGE}/ | value |\n|---|---:|")
    for label, value in [("modules", len(modules)), ("lines", lines),
                         ("floors", 1 + max(level.values())),
                         ("import edges", sum(len(e) for e in graph.values())),
                         ("of which inside a function", lazy),
                         ("modules in an import cycle", sum(len(c) for c in loops)),
                         ("functions", len(found)),
                         ("functions over 50 lines", sum(n > 50 for n, _ in found))]:
        print(f"| {label} | {value} |")
    for loop in loops:
        print(f"\ncycle: {' <-> '.join(loop)}")
    for source, target in upward:
        print(f"sideways/up: {source} (floor {level[source]}) -> {target} (floor {level[target]})")
    print("\n| longest functions | lines |\n|---|---:|")
    for n, name in found[: args.longest]:
        print(f"| {name} | {n} |")
    if args.png:
        draw(graph, level, loops, args.png)
        print(f"\npicture: {args.png}")


if __name__ == "__main__":
    main()
