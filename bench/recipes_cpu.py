"""Every recipe scaled down with `--preset cpu`, beside the `cpu` preset on the same generated
data: each trained through the command line a user runs, then one report of them all.

    python bench/recipes_cpu.py                        # all recipes, about 80 min on 2 cores
    python bench/recipes_cpu.py --recipes softmax-unet # one
    python bench/recipes_cpu.py --report-dir /tmp/m    # the report elsewhere than memory/recipes

Carvana recipes train on the `cpu` preset's generated set (12 cars, 4 held out by car), the
CARLA recipe on generated CARLA scenes; the `cpu` preset is trained on each (a finished run
under `--runs-dir` is reused: `bench/cpu_preset.py`'s seed-0 run is the Carvana one). Prints a
Markdown table (recipe, published figure, ours, Dice beside the preset's, minutes) and writes the
report (`README.md` with each recipe beside its published figure and the preset) to
`--report-dir`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from unet import paths, recipes, report
from unet.data import synthetic
from unet.run_folder import RunFolder, primary_score

CARLA_SCENES = 120  # the Coursera set has 1,060; a CPU's budget of images seen at 96x128


def train(args: list[str], runs_dir: str) -> Path:
    """Runs `python -m unet train ARGS` and returns its run folder (the command's `Run ... in
    DIR` line); the command's output streams through."""
    command = [sys.executable, "-m", "unet", "train", *args, "--runs-dir", runs_dir,
               "--verbose", "2"]
    print("$ " + " ".join(command[1:]), flush=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    run_dir = None
    for line in process.stdout:
        print(line, end="", flush=True)
        found = re.match(r"Run \S+ in (.+) \(", line)
        run_dir = Path(found.group(1)) if found and run_dir is None else run_dir
    if process.wait() != 0 or run_dir is None:
        sys.exit(f"error: {' '.join(command[1:])} failed (exit {process.returncode}).")
    return run_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", choices=tuple(recipes.RECIPES),
                        default=tuple(recipes.RECIPES))
    parser.add_argument("--runs-dir", default="runs/bench", help="where the runs live")
    parser.add_argument("--report-dir", default="memory/recipes", help="where the report goes")
    args = parser.parse_args()

    carla_dir = synthetic.generated_dir(paths.data_root(), "carla", CARLA_SCENES)
    baselines, runs = {}, []
    for name in args.recipes:
        data = ["--dataset", "carla", "--data-dir", str(carla_dir)] if (
            recipes.recipe(name).config.data.dataset == "carla") else []
        if tuple(data) not in baselines:
            baselines[tuple(data)] = train(["--preset", "cpu", *data], args.runs_dir)
        runs.append((name, train(["--recipe", name, "--preset", "cpu", *data], args.runs_dir),
                     baselines[tuple(data)]))

    path = report.write_report(args.runs_dir, args.report_dir,
                               command="python bench/recipes_cpu.py",
                               run_dirs=[*baselines.values(), *(run for _, run, _ in runs)])
    print(f"\nReport: {path}\n")
    print("| recipe | published | ours, scaled to `cpu` | score beside the `cpu` preset's | "
          "training min |")
    print("|---|---|---|---|---|")
    for name, run_dir, baseline in runs:
        item = recipes.recipe(name)
        metrics, preset = (RunFolder(d).scores() for d in (run_dir, baseline))
        key = primary_score(metrics, preset)
        figure = item.metric if item.metric != "dice" else key
        ours = metrics.get(figure)
        ours = f"{figure} {ours:.4f}" if isinstance(ours, float) else f"{figure} {ours:,}"
        print(f"| `{name}` | {item.figure} | {ours} | {key} {metrics[key]:.4f} vs "
              f"{preset[key]:.4f} ({metrics[key] - preset[key]:+.4f}) | "
              f"{metrics['train_seconds'] / 60:.1f} |")


if __name__ == "__main__":
    main()
