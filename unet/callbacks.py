"""Keras callbacks that make a run resumable: exactly-once history, atomic backups and
best/last checkpoints, and a clear stop on a NaN loss.

Keras' own `CSVLogger` appends blindly, so an epoch redone after a kill would appear twice;
`ModelCheckpoint` forgets the best score on restart; and both it and `BackupAndRestore` write
files in place, so a kill mid-write leaves a file the next run cannot load.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path

import keras

from unet import checkpoints


def write_text_atomic(path, text: str) -> None:
    """Writes `text` to `path` through a sibling file and a rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(text)
    os.replace(partial, path)


def write_csv_atomic(path, rows, columns) -> None:
    """Writes dict rows under a header of `columns` (other keys ignored), atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())


def read_history(path) -> list[dict]:
    """Rows of a `history.csv` as dicts of floats (`epoch` as int); [] when there is none."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    with path.open(newline="") as stream:
        for row in csv.DictReader(stream):
            parsed = {key: float(value) for key, value in row.items() if value != ""}
            parsed["epoch"] = int(parsed["epoch"])
            rows.append(parsed)
    return rows


class HistoryCSV(keras.callbacks.Callback):
    """Writes `history.csv` with one row per epoch, exactly once even across resumed runs.

    Each epoch's row replaces any earlier row of the same or a later epoch (a redone epoch), and
    the file is rewritten atomically. Epochs are numbered from 1; `seconds` is the epoch's time.
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self._started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        rows = [row for row in read_history(self.path) if row["epoch"] < epoch + 1]
        row = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - self._started, 3)}
        row.update({key: float(value) for key, value in sorted(logs.items())})
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            row["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        rows.append(row)
        write_csv_atomic(self.path, rows, dict.fromkeys(key for r in rows for key in r))


class StopOnNaN(keras.callbacks.TerminateOnNaN):
    """Stops training at the first NaN or infinite loss and remembers where it happened."""

    def __init__(self):
        super().__init__()
        self.diverged_at = None  # (epoch, batch), both from 1

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and self.diverged_at is None:
            self.diverged_at = (getattr(self, "_epoch", 0) + 1, batch + 1)
            self.model.stop_training = True


class RunCheckpoints(keras.callbacks.Callback):
    """Saves `last.keras` every epoch and `best.keras` when `monitor` improves, atomically.

    The best score so far is read back from the run's history on a resumed run, so a worse
    epoch after a restart never replaces a better `best.keras`. Nothing is saved once `guard`
    (a `StopOnNaN`) has seen the loss diverge: the last good checkpoint stays.
    """

    def __init__(self, run_dir, monitor: str = "val_dice", mode: str = "max", guard=None):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.monitor = monitor
        self.sign = 1.0 if mode == "max" else -1.0
        self.guard = guard
        history = read_history(self.run_dir / "history.csv")
        scores = [row[monitor] for row in history if math.isfinite(row.get(monitor, math.nan))]
        self.best = max((self.sign * s for s in scores), default=-math.inf)

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is not None and self.guard.diverged_at is not None:
            return
        checkpoints.save_model(self.model, self.run_dir / "last.keras")
        score = (logs or {}).get(self.monitor)
        if score is not None and math.isfinite(score) and self.sign * score > self.best:
            self.best = self.sign * score
            checkpoints.save_model(self.model, self.run_dir / "best.keras")


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore`, with its weights and metadata replaced atomically.

    The stock callback writes `latest.weights.h5` in place: SIGKILL during that write (the
    reliability test hits it at epoch ends) leaves a truncated HDF5 file and the rerun fails.
    Writing a sibling and renaming keeps the previous backup whole. A kill between the two
    renames resumes one epoch early with the newer weights; the history stays exactly-once.
    """

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        weights = Path(self._weights_path)
        partial = weights.with_name(f".partial-{os.getpid()}.weights.h5")
        self.model.save_weights(str(partial), overwrite=True)
        os.replace(partial, weights)
        write_text_atomic(self._training_metadata_path, json.dumps(
            {"epoch": self._current_epoch, "batch": self._last_batch_seen}))
