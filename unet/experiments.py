"""The learning-rate x batch-size x kernel-size grid: one call per point, rerunnable, resumable.

Each point trains in its own folder under the runs root (`runs/` by default, git-ignored),
`<dataset>/<preset>/<lr..._bs..._k...>`, named from its whole configuration. A finished point of
the same configuration is skipped (the console says so), an interrupted one resumes from its
backup, one with more epochs asked for continues, a diverged one is recorded and not retried.
The summary is read from the run folders, so it holds every point exactly once.
"""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

from unet.callbacks import read_history
from unet.config import RunConfig
from unet.errors import TrainingDiverged
from unet.paths import runs_dir
from unet.recipes import PUBLISHED_GRID
from unet.training import train

# The README demo on 2 CPU cores: the grid around its preset (`demo --preset`, `cpu` by default).
# An axis left at `None` keeps the preset's own value: by default the preset's single point.
DEMO_GRID = {"learning_rates": None, "batch_sizes": None, "kernel_sizes": None}


def grid_configs(base: RunConfig, learning_rates=None, batch_sizes=None,
                 kernel_sizes=None, default=PUBLISHED_GRID) -> list[RunConfig]:
    """Every point of the grid around `base`, ordered by learning rate, batch size, kernel.

    An axis not given takes `default`'s values; an axis `default` leaves at `None` keeps
    `base`'s own value.
    """
    def axis(values, name, own):
        values = values or default.get(name)
        return tuple(values) if values else (own,)

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
    """Trains one grid point (or skips it when finished); returns its summary row."""
    run_dir = run_dir_for(config, runs)
    try:
        train(config, run_dir, verbose=verbose)
    except TrainingDiverged as error:
        print(error)
    return summarize_run(run_dir)


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


def summarize_run(run_dir) -> dict:
    """One row: the point's axes, its status and scores, from its folder alone."""
    run_dir = Path(run_dir)
    config = RunConfig.load(run_dir / "config.json")
    row = {
        "run": config.name,
        "folder": str(config.folder),
        "dataset": config.folder.parts[0],  # `carvana`, or `tfds-carvana` read through TFDS
        "preset": config.preset,
        "grid": config.grid,
        "learning_rate": config.train.learning_rate,
        "batch_size": config.train.batch_size,
        "kernel_size": config.model.kernel_size,
        "epochs_planned": config.train.epochs,
        "epochs_done": len(read_history(run_dir / "history.csv")),
    }
    if (run_dir / "metrics.json").is_file():
        row["status"] = "finished"
        row.update(json.loads((run_dir / "metrics.json").read_text()))
    elif (run_dir / "diverged.json").is_file():
        row["status"] = "diverged"
    else:
        row["status"] = "interrupted"
    return row


def find_runs(runs=None) -> list[Path]:
    """Every run folder (one holding a `config.json`) below the runs root, sorted."""
    root = runs_dir(runs)
    return sorted(path.parent for path in root.glob("**/config.json"))


def sort_rows(rows) -> list[dict]:
    """Best validation score first (Dice for binary runs, mean Dice for multi-class ones)."""
    return sorted(rows, key=lambda r: (-r.get("dice", r.get("mean_dice", -1.0)), r["folder"]))


def summarize(runs=None) -> list[dict]:
    """Rows of every run folder below the runs root, best validation Dice first."""
    return sort_rows([summarize_run(folder) for folder in find_runs(runs)])


def read_per_image(run_dir) -> list[dict]:
    """A finished run's `per_image.csv`, scores as floats, worst first."""
    with (Path(run_dir) / "per_image.csv").open(newline="") as stream:
        rows = [{k: (v if k == "image" else float(v)) for k, v in row.items()}
                for row in csv.DictReader(stream)]
    score = "dice" if rows and "dice" in rows[0] else "mean_dice"
    return sorted(rows, key=lambda row: row[score])
