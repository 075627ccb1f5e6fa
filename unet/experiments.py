"""The learning-rate x batch-size x kernel-size grid: one call per point, rerunnable, resumable.

Each point trains in `memory/runs/<lr..._bs..._k...>/`. A finished point (its `metrics.json`
exists) is skipped, an interrupted one resumes from its backup, a diverged one is recorded and
not retried. The summary is read from the run folders, so it holds every point exactly once.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
from pathlib import Path

from unet.callbacks import read_history
from unet.config import RunConfig
from unet.training import TrainingDiverged, train

MEMORY_ENV = "UNET_MEMORY_DIR"
# The published Carvana grid (FACTS.md): all within Dice 0.988-0.990 after 10 epochs.
PUBLISHED_GRID = {
    "learning_rates": (5e-5, 1e-4, 2e-4, 5e-4),
    "batch_sizes": (16, 32),
    "kernel_sizes": (3, 5),
}
# The README demo on 2 CPU cores: the same axes, fewer values.
DEMO_GRID = {"learning_rates": (5e-4, 2e-3), "batch_sizes": (8,), "kernel_sizes": (3, 5)}


def memory_dir(path=None) -> Path:
    """The report folder: `path`, else `$UNET_MEMORY_DIR` (e.g. on Google Drive), else `memory/`."""
    return Path(path or os.environ.get(MEMORY_ENV, "memory"))


def grid_configs(base: RunConfig, learning_rates=None, batch_sizes=None,
                 kernel_sizes=None) -> list[RunConfig]:
    """Every point of the grid around `base`, ordered by learning rate, batch size, kernel."""
    learning_rates = learning_rates or PUBLISHED_GRID["learning_rates"]
    batch_sizes = batch_sizes or PUBLISHED_GRID["batch_sizes"]
    kernel_sizes = kernel_sizes or PUBLISHED_GRID["kernel_sizes"]
    return [
        base.override(train={"learning_rate": lr, "batch_size": bs}, model={"kernel_size": k})
        for lr, bs, k in itertools.product(learning_rates, batch_sizes, kernel_sizes)
    ]


def run_dir_for(config: RunConfig, memory=None) -> Path:
    return memory_dir(memory) / "runs" / config.name


def run_point(config: RunConfig, memory=None, verbose=2) -> dict:
    """Trains one grid point (or skips it when finished); returns its summary row."""
    run_dir = run_dir_for(config, memory)
    try:
        train(config, run_dir, verbose=verbose)
    except TrainingDiverged as error:
        print(error)
    return summarize_run(run_dir)


def run_grid(configs, memory=None, verbose=2) -> list[dict]:
    """Runs every point in turn; a rerun after a kill repeats nothing that finished."""
    for index, config in enumerate(configs, start=1):
        print(f"[{index}/{len(configs)}] {config.name}", flush=True)
        run_point(config, memory, verbose)
    return summarize(memory)


def summarize_run(run_dir) -> dict:
    """One row: the point's axes, its status and scores, from its folder alone."""
    run_dir = Path(run_dir)
    config = RunConfig.load(run_dir / "config.json")
    row = {
        "run": config.name,
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


def summarize(memory=None) -> list[dict]:
    """Rows of every run folder under `memory/runs/`, best validation Dice first."""
    runs = memory_dir(memory) / "runs"
    folders = sorted(p for p in runs.glob("*") if (p / "config.json").is_file())
    rows = [summarize_run(folder) for folder in folders]
    return sorted(rows, key=lambda r: (-r.get("dice", r.get("mean_dice", -1.0)), r["run"]))


def read_per_image(run_dir) -> list[dict]:
    """A finished run's `per_image.csv`, scores as floats, worst first."""
    with (Path(run_dir) / "per_image.csv").open(newline="") as stream:
        rows = [{k: (v if k == "image" else float(v)) for k, v in row.items()}
                for row in csv.DictReader(stream)]
    score = "dice" if rows and "dice" in rows[0] else "mean_dice"
    return sorted(rows, key=lambda row: row[score])
