"""Keras callbacks that make a run resumable: exactly-once history, best/last checkpoints that
survive a kill, and a clear stop on a diverging loss.

Keras' own `CSVLogger` appends blindly, so an epoch redone after a kill would appear twice, and
`ModelCheckpoint` forgets the best score on restart and writes its file in place, so a kill
mid-write leaves a file the next run cannot load: hence `HistoryCSV` and `RunCheckpoints`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras

from unet import checkpoints, faults, files
from unet.errors import DamagedFile
from unet.run_folder import MONITOR, RunFolder, read_history


class HistoryCSV(keras.callbacks.Callback):
    """Writes `history.csv` with one row per epoch, exactly once even across resumed runs.

    Each epoch's row replaces any earlier row of the same or a later epoch (a redone epoch), and
    the file is rewritten atomically. Epochs are numbered from 1; `seconds` is the epoch's time;
    `steps_seconds` the time of its training steps after the first (which also traces the
    step), from the end of its first batch to the end of its last: what throughput is measured
    on.
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self._started = 0.0
        self._epoch = 0
        self._first_step = self._last_step = None  # ends of the epoch's first and last batch

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()
        self._epoch = epoch
        self._first_step = self._last_step = None

    def on_train_batch_end(self, batch, logs=None):
        self._last_step = time.perf_counter()
        if batch == 0:
            self._first_step = self._last_step
            faults.point("in_epoch", self._epoch + 1)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        rows = [row for row in read_history(self.path) if row["epoch"] < epoch + 1]
        row = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - self._started, 3)}
        if self._first_step is not None and self._last_step > self._first_step:
            row["steps_seconds"] = round(self._last_step - self._first_step, 4)
        row.update({key: float(value) for key, value in sorted(logs.items())})
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            row["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        rows.append(row)
        files.write_csv(self.path, rows, dict.fromkeys(key for r in rows for key in r))
        faults.point("after_history", epoch + 1)


class StopOnDivergence(keras.callbacks.Callback):
    """Stops training at the first loss that is NaN, infinite, or `explosion` times larger than
    the run's first losses (a learning rate of 1e6 gives losses near 1e12 that never become
    NaN), and remembers where and why."""

    def __init__(self, explosion: float = 1e4, reference_batches: int = 5):
        super().__init__()
        self.explosion = explosion
        self.reference_batches = reference_batches
        self.diverged_at = None  # (epoch, batch), both from 1
        self.reason = None
        self._first_losses = []
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or self.diverged_at is not None:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            self.reason = "became NaN or infinite"
        elif len(self._first_losses) < self.reference_batches:
            self._first_losses.append(abs(loss))
            return
        elif loss > self.explosion * max(max(self._first_losses), 1e-3):
            self.reason = (f"exploded to {loss:.3g} (over {self.explosion:g} times its first "
                           f"value, {max(self._first_losses):.3g})")
        else:
            return
        self.diverged_at = (self._epoch + 1, batch + 1)
        self.model.stop_training = True


class RunCheckpoints(keras.callbacks.Callback):
    """Saves `last.keras` every epoch and `best.keras` when `monitor` improves, atomically.

    The best score so far is read back from the run's history on a resumed run (the epochs up
    to `initial_epoch`, those `last.keras` holds), so a worse epoch after a restart never
    replaces a better `best.keras`. Nothing is saved once `guard` (a `StopOnDivergence`) has
    seen the loss diverge: the last good checkpoint stays.
    """

    def __init__(self, run_dir, monitor: str = MONITOR, mode: str = "max", guard=None,
                 initial_epoch: int | None = None):
        super().__init__()
        self.folder = RunFolder(run_dir)
        self.monitor = monitor
        self.sign = 1.0 if mode == "max" else -1.0
        self.guard = guard
        history = [row for row in self.folder.read_history()
                   if initial_epoch is None or row["epoch"] <= initial_epoch]
        self.holds = history[-1]["epoch"] if history else 0  # the epoch last.keras holds
        self.scored = [row for row in history if math.isfinite(row.get(monitor, math.nan))]
        self.best = max((self.sign * row[monitor] for row in self.scored), default=-math.inf)

    def on_train_begin(self, logs=None):
        """A resumed run whose `best.keras` is missing (a full disk stopped its write): when
        the best epoch so far is the one `last.keras` holds, the model now holds its weights,
        and they are saved again; otherwise they are lost, which is said."""
        if not self.scored or self.folder.best.is_file():
            return
        best = max(self.scored, key=lambda row: self.sign * row[self.monitor])
        if best["epoch"] != self.holds:
            raise DamagedFile(
                f"{self.folder.best} is missing, and with it the weights of epoch "
                f"{best['epoch']}, the best so far: remove {self.folder.history} and "
                f"{self.folder.last} to train the run again from epoch 1.", self.folder.best)
        print(f"{self.folder.best} was missing; the best epoch so far, {best['epoch']}, is "
              f"the one {RunFolder.last} holds: saved again.")
        checkpoints.save_model(self.model, self.folder.best)

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is not None and self.guard.diverged_at is not None:
            return
        checkpoints.save_model(self.model, self.folder.last)
        score = (logs or {}).get(self.monitor)
        if score is not None and math.isfinite(score) and self.sign * score > self.best:
            self.best = self.sign * score
            checkpoints.save_model(self.model, self.folder.best)
        faults.point("after_epoch", epoch + 1)
