"""Whole models as `.keras` files: atomic saves, clear load errors, a run's best or last."""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras

from unet import files

# Importing these registers the custom losses and metrics, so load_model needs no custom_objects.
from unet import losses as _losses  # noqa: F401
from unet import metrics as _metrics  # noqa: F401
from unet.errors import CheckpointError, MissingFile, UsageError
from unet.run_folder import RunFolder

CHECKPOINT_ROLES = ("best", "last")


def save_model(model: keras.Model, path) -> Path:
    """Saves `model` to the `.keras` file `path` atomically (write a sibling, then rename).

    A crash mid-write leaves the previous file intact instead of a truncated one.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise UsageError(f"Checkpoints are .keras files; received {path}.")
    with files.atomic_path(path) as partial:
        model.save(partial)
    return path


def load_model(path, compile: bool = True) -> keras.Model:
    """Loads a `.keras` file saved by this project (Keras' safe mode stays on).

    Raises:
        MissingFile: nothing at `path` (a `FileNotFoundError`).
        CheckpointError: the file is truncated, not a `.keras` archive, or Keras rejects it;
            the message names the path and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFile(f"No checkpoint at {path}.")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path} is not a .keras archive (not a zip file): it is truncated or another format."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError) as error:
        raise CheckpointError(f"{path} is a damaged .keras archive: {error}.") from error
    if "config.json" not in names:
        raise CheckpointError(f"{path} is a zip file but not a Keras model (no config.json).")
    if broken is not None:
        raise CheckpointError(f"{path} is damaged: member {broken!r} fails its checksum.")
    try:
        return keras.models.load_model(path, compile=compile)
    except Exception as error:
        raise CheckpointError(f"Could not load the model in {path}: {error}") from error


def find_checkpoint(run_dir, role: str = "best") -> Path | None:
    """A run folder's `best.keras` or `last.keras` (`role`, one of `CHECKPOINT_ROLES`), or
    `None` when the run has no such checkpoint yet."""
    if role not in CHECKPOINT_ROLES:
        raise ValueError(f"role must be one of {CHECKPOINT_ROLES}; received {role!r}.")
    path = getattr(RunFolder(run_dir), role)
    return path if path.is_file() else None
