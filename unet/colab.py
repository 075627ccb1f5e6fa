"""Notebook environment: Colab detection, Google Drive for the report, the checkout's root.

The install itself is the notebooks' first cell: the package cannot install itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def in_colab() -> bool:
    return "google.colab" in sys.modules


def keep_on_drive(folder: str = "unet") -> Path:
    """Mounts Google Drive and points the report folder there, so a disconnect loses nothing:
    checkpoints, backups and results live on Drive and the grid resumes from them."""
    from google.colab import drive  # only exists in Colab

    drive.mount("/content/drive")
    memory = Path("/content/drive/MyDrive") / folder / "memory"
    memory.mkdir(parents=True, exist_ok=True)
    os.environ["UNET_MEMORY_DIR"] = str(memory)
    return memory


def repository_root(start=None) -> Path:
    """The checkout's root (the folder holding `unet/`), from the notebook's folder or its parent;
    in Colab, the working folder."""
    start = Path(start or Path.cwd())
    for candidate in (start, *start.parents):
        if (candidate / "unet" / "__init__.py").is_file():
            return candidate
    return start
