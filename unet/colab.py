"""Notebook environment: Colab detection, and Google Drive for the runs and the report.

The install itself is the notebooks' first cell: the package cannot install itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from unet import paths

DRIVE = Path("/content/drive")


def in_colab() -> bool:
    return "google.colab" in sys.modules


def keep_on_drive(folder: str = "unet", drive=DRIVE) -> dict[str, Path]:
    """Mounts Google Drive and points the runs root and the report folder there, so that a
    disconnect loses nothing: checkpoints, backups and results live on Drive, and the grid
    resumes from them.

    Args:
        folder: The folder under `MyDrive/` that holds both.
        drive: Where Drive is mounted; mounted there unless it already holds `MyDrive/`.

    Returns:
        `{"runs": ..., "report": ...}`, the two folders (also printed).
    """
    drive = Path(drive)
    if not (drive / "MyDrive").is_dir():
        from google.colab import drive as colab_drive  # only exists in Colab

        colab_drive.mount(str(drive))
    home = drive / "MyDrive" / folder
    where = {"runs": home / "runs", "report": home / "memory"}
    for variable, path in ((paths.RUNS_ENV, where["runs"]), (paths.REPORT_ENV, where["report"])):
        path.mkdir(parents=True, exist_ok=True)
        os.environ[variable] = str(path)
    print(f"Runs in {where['runs']}, the report in {where['report']} (Google Drive).")
    return where
