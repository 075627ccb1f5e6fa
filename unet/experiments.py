"""The learning-rate x batch-size x kernel-size grid: one call per point, rerunnable, resumable.

Each point trains in its own folder under the runs root (`runs/` by default, git-ignored),
`<dataset>/<preset>/<lr..._bs..._k...>`, named from its whole configuration. A finished point of
the same configuration is skipped (the console says so), an interrupted one resumes from its
last checkpoint, one with more epochs asked for continues, a diverged one is recorded and not
retried. The summary is read from the run folders, so it holds every point exactly once.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from unet.config import RunConfig
from unet.errors import DamagedFile, RunConflict, TrainingDiverged
from unet.paths import runs_dir
from unet.recipes import PUBLISHED_GRID
from unet.run_folder import RunFolder, primary_score
from unet.training import train

# The README demo on 2 CPU cores: the grid around its preset (`demo --preset`, `cpu` by default).
# An axis left at `None` keeps the preset's own value: by default the preset's single point.
DEMO_GRID = {"learning_rates": None, "batch_sizes": None, "kernel_sizes": None}


def grid_configs(base: RunConfig, learning_rates=None, batch_sizes=None,
                 kernel_sizes=None, default=PUBLISHED_GRID) -> list[RunConfig]:
    """Every point of the grid around `base`, ordered by learning rate, batch size, kernel.

    An axis not given takes `default`'s values; an axis `default` leaves at `None` keeps
    `base`'s own value. A value given twice makes one point.
    """
    def axis(values, name, own):
        values = values or default.get(name)
        return tuple(dict.fromkeys(values)) if values else (own,)  # each value once

    learning_rates = axis(learning_rates, "learning_rates", base.train.learning_rate)
    batch_sizes = axis(batch_sizes, "batch_sizes", base.train.batch_size)
    kernel_sizes = axis(kernel_sizes, "kernel_sizes", base.model.kernel_size)
    return [
        base.override(train={"learning_rate": lr, "batch_size": bs}, model={"kernel_size": k})
        for lr, bs, k in itertools.product(learning_rates, batch_sizes, kernel_sizes)
    ]


def run_dir_for(config: RunConfig, runs=None) -> Path:
    """The folder of `config`'s run under the runs root (see `RunConfig.folder`)."""
    return runs_dir(runs) / config.folder


def run_point(config: RunConfig, runs=None, verbose=2) -> dict:
    """Trains one grid point (or skips it when finished); returns its summary row.

    A point whose folder holds a damaged file is left as it is: its row has status `damaged`
    and the message (naming the file and what to do) as `problem`.
    """
    try:
        train(config, run_dir_for(config, runs), verbose=verbose)
    except TrainingDiverged as error:
        print(error)
    except DamagedFile as error:
        print(f"Left as it is: {error}")
        return point_row(config, runs, damage=error)
    row = point_row(config, runs)
    if row["status"] == "damaged":
        print(f"Left as it is: {row['problem']}")
    return row


def point_row(config: RunConfig, runs=None, damage: DamagedFile | None = None) -> dict:
    """The summary row of `config`'s point, read from its run folder (`RunFolder.summary_row`).

    A folder holding no run yet gives a row of status `new`; one holding a damaged file (or
    `damage`, found while training it) a row of status `damaged` with the message (naming the
    file and what to do) as `problem`.
    """
    folder = RunFolder(run_dir_for(config, runs))
    row = {"run": config.name, "folder": folder.location(runs),
           "dataset": config.folder.parts[0]}
    if damage is None:
        if not folder.config.is_file():
            return {**row, "status": "new", "epochs_planned": config.train.epochs,
                    "epochs_done": 0}
        try:
            return folder.summary_row(runs)
        except DamagedFile as error:
            damage = error
    return {**row, "status": "damaged", "problem": str(damage)}


def run_grid(configs, runs=None, verbose=2) -> list[dict]:
    """Runs every point in turn; a rerun after a kill repeats nothing that finished.

    Returns the summary rows of these points (not of other runs under the same root).
    """
    rows = []
    for index, config in enumerate(configs, start=1):
        print(f"[{index}/{len(configs)}] {config.name} ({run_dir_for(config, runs)})",
              flush=True)
        rows.append(run_point(config, runs, verbose))
    return sort_rows(rows)


def find_runs(runs=None) -> list[Path]:
    """Every run folder (one holding a `config.json`) below the runs root, sorted."""
    root = runs_dir(runs)
    return sorted(path.parent for path in root.glob(f"**/{RunFolder.config}"))


def sort_rows(rows) -> list[dict]:
    """Best validation score first (Dice for binary runs, mean Dice for multi-class ones)."""
    return sorted(rows, key=lambda r: (-r.get(primary_score(r), -1.0), r["folder"]))


def summarize(runs=None) -> list[dict]:
    """Rows of every run folder below the runs root, best validation Dice first."""
    return sort_rows([RunFolder(folder).summary_row(runs) for folder in find_runs(runs)])



# How `progress` names a point's state (`RunFolder.state`), in the order it counts them.
PROGRESS_STATES = {"finished": "done", "diverged": "diverged", "trained": "interrupted",
                   "interrupted": "interrupted", "new": "to do"}


def progress(configs, runs=None) -> list[dict]:
    """Where each grid point stands, read from its run folder: rerun to refresh.

    Args:
        configs: The grid's points (`grid_configs`).
        runs: The runs root (default `paths.runs_dir()`).

    Returns:
        One row per point, in the grid's order: `run`, `folder`, `state` (`done`,
        `interrupted`, `to do`, `diverged`, `other run` when its folder holds another
        configuration, or `damaged` when it holds a damaged file), `epochs_done`,
        `epochs_planned` and `score` (the native-size primary score of a done point, else
        `None`).
    """
    rows = []
    for config in configs:
        row = point_row(config, runs)
        state = {"new": "to do", "damaged": "damaged"}.get(row["status"])
        if state is None:
            try:
                state = PROGRESS_STATES[RunFolder(run_dir_for(config, runs)).state(config)]
            except RunConflict:
                state = "other run"
            except DamagedFile:
                state = "damaged"
        rows.append({"run": config.name, "folder": str(config.folder), "state": state,
                     "epochs_done": row.get("epochs_done", 0),
                     "epochs_planned": config.train.epochs,
                     "score": row.get(primary_score(row)) if state == "done" else None})
    return rows


def progress_table(rows) -> list[str]:
    """`progress`'s rows as Markdown lines: a count by state with the best score so far, then
    a table of the points."""
    counts = {state: sum(row["state"] == state for row in rows)
              for state in dict.fromkeys([*PROGRESS_STATES.values(), "other run", "damaged"])}
    done = [row for row in rows if row["score"] is not None]
    best = max(done, key=lambda row: row["score"], default=None)
    summary = ", ".join(f"{count} {state}" for state, count in counts.items() if count)
    summary += (f"; best so far {best['score']:.4f} ({best['run']})" if best
                else "; no point scored yet")
    lines = [f"**{len(rows)} points: {summary}**", "",
             "| point | state | epochs | score |", "|---|---|---|---|"]
    for row in rows:
        score = "" if row["score"] is None else f"{row['score']:.4f}"
        lines.append(f"| {row['run']} | {row['state']} | {row['epochs_done']}/"
                     f"{row['epochs_planned']} | {score} |")
    return lines
