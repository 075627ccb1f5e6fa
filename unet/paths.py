"""Where results and data live: the runs root, the report folder and the data root.

One rule for all three: the environment variable when it is set (a Google Drive folder, a test's
temporary folder), else the folder of that name in the checkout's root when the working folder
lies inside a checkout (so a notebook in `notebooks/` and a command in the root share them),
else the folder of that name in the working folder. A path given explicitly (`--runs-dir`)
wins over all three.

| folder | variable | name | holds |
|---|---|---|---|
| runs root | `UNET_RUNS_DIR` | `runs/` | one folder per run: checkpoints, history, logs |
| report folder | `UNET_MEMORY_DIR` | `memory/` | the published report: README, figures, CSV |
| data root | `UNET_DATA_ROOT` | `data/` | generated datasets |
| archives | `UNET_ARCHIVES_DIR` | `<data root>/archives/` | downloaded Kaggle zips |
"""

from __future__ import annotations

import os
from pathlib import Path

RUNS_ENV = "UNET_RUNS_DIR"
REPORT_ENV = "UNET_MEMORY_DIR"  # the report folder is `memory/`, as the variable says
DATA_ENV = "UNET_DATA_ROOT"
ARCHIVES_ENV = "UNET_ARCHIVES_DIR"


def repository_root(start=None) -> Path:
    """The checkout's root (the folder holding `unet/`), searched upwards from `start` (default:
    the working folder); `start` itself when it lies in none (an installed package, Colab)."""
    start = Path(start or Path.cwd())
    for candidate in (start, *start.parents):
        if (candidate / "unet" / "__init__.py").is_file():
            return candidate
    return start


def _resolve(path, variable: str, name: str) -> Path:
    if path:
        return Path(path)
    if os.environ.get(variable):
        return Path(os.environ[variable])
    root = repository_root()
    return Path(name) if root == Path.cwd() else root / name  # relative where it can be


def runs_dir(path=None) -> Path:
    """The runs root: `path`, else `$UNET_RUNS_DIR`, else `runs/` (see the module's rule)."""
    return _resolve(path, RUNS_ENV, "runs")


def report_dir(path=None) -> Path:
    """The report folder: `path`, else `$UNET_MEMORY_DIR`, else `memory/` (the module's rule)."""
    return _resolve(path, REPORT_ENV, "memory")


def data_root(path=None) -> Path:
    """Where generated datasets live: `path`, else `$UNET_DATA_ROOT`, else `data/`."""
    return _resolve(path, DATA_ENV, "data")


def archives_dir(path=None) -> Path:
    """Where downloaded archives are kept (Drive in Colab, so they are fetched once): `path`,
    else `$UNET_ARCHIVES_DIR`, else `archives/` in the data root."""
    if path:
        return Path(path)
    return Path(os.environ.get(ARCHIVES_ENV) or data_root() / "archives")
