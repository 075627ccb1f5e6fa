"""Kaggle's Carvana submission: `img,rle_mask` for every test image, written as predictions
stream in, resumable after a kill, gzipped once complete (itself a resumable step); and the
record of the settings that made a submission's (or a mask folder's) rows."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import shutil
from pathlib import Path

from unet import faults, files
from unet.errors import DataError, RunConflict, UsageError

HEADER = ("img", "rle_mask")
# The settings that decide a row, each with what a user changes to change it.
SETTING_NAMES = {"model": "--model", "threshold": "--threshold", "tta": "--tta",
                 "image_size": "--image-size", "prediction_size": "--prediction-size",
                 "resize_mode": "the model's resize mode", "num_classes": "the model's classes"}


def settings_path(path) -> Path:
    """The record of the settings that made the submission `path`: `<name>.json` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def read_settings(path) -> dict | None:
    """The settings recorded at `path`, or `None` when there is no readable record."""
    try:
        recorded = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, dict) else None


def _shown(value) -> str:
    if value is None:
        return "unset"
    if isinstance(value, dict):  # a model: its file and its content
        return f"{value.get('path')} (sha256 {str(value.get('sha256'))[:12]})"
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value))
    return str(value)


def settings_differences(recorded: dict, settings: dict) -> list[str]:
    """What differs between two records of prediction settings, each as `"--threshold 0.5, now
    0.9"`; a model is compared by its content (`sha256`), inputs are left to the caller.

    Args:
        recorded: The settings that made the rows already written.
        settings: This command's.

    Returns:
        One phrase per difference; empty when the rows already written are this command's.
    """
    differences = []
    for key in sorted((set(recorded) | set(settings)) - {"inputs"}):
        old, new = recorded.get(key), settings.get(key)
        if key == "model" and isinstance(old, dict) and isinstance(new, dict):
            same = old.get("sha256") == new.get("sha256")
        else:
            same = old == new
        if not same:
            differences.append(f"{SETTING_NAMES.get(key, key)} {_shown(old)}, now {_shown(new)}")
    return differences


def recorded_inputs(recorded: dict) -> dict:
    """A settings record's input files, each with its stamp (`None` in a record written before
    stamps were)."""
    inputs = recorded.get("inputs") or {}
    return dict(inputs) if isinstance(inputs, dict) else dict.fromkeys(inputs)


def _whole_lines(text: str) -> str:
    """`text` less a last line cut short (the row being written when the process died)."""
    return text if not text or text.endswith("\n") else text[: text.rfind("\n") + 1]


def _rows(text: str) -> list[tuple[str, str]]:
    """Rows of a partial file, less its header, a last row cut short by a kill, and repeats."""
    text = _whole_lines(text)
    rows, seen = [], set()
    for row in csv.reader(io.StringIO(text)):
        if tuple(row) == HEADER or len(row) != 2 or row[0] in seen:
            continue
        seen.add(row[0])
        rows.append((row[0], row[1]))
    return rows


def _line(name: str, rle: str) -> str:
    stream = io.StringIO()
    csv.writer(stream, lineterminator="\n").writerow((name, rle))
    return stream.getvalue()


def check_name(name: str) -> None:
    """Refuses an image name that cannot be a row of the submission.

    Raises:
        DataError: a line break in `name` (Kaggle reads one row per line).
    """
    if "\n" in name or "\r" in name:
        raise DataError(f"{name!r}: an image name with a line break cannot go in a CSV row; "
                        "rename the file.")


class SubmissionWriter:
    """Appends rows to a partial CSV beside `path` (`.<name>.partial-<pid>.csv`, flushed per
    batch); `finish()` gzips it into `path` atomically. Holds an exclusive lock on `path`
    (`files.lock`) while open.

    A rerun after a kill reads the partial file a killed writer left, drops a last line cut
    short mid-write (and any repeated name), and `done` tells the caller which images to skip,
    so the final file holds each image once. Names are CSV-quoted where needed (commas,
    quotes); names with line breaks are refused. A finished submission (`path` there, no
    partial file) is `complete`.

    With `settings`, the rows are one run's: the settings that decide them (the model's
    content, threshold, TTA, sizes, and `"inputs"`, the input files) are recorded beside `path`
    (`settings_path`) when the submission starts, and an earlier partial or finished
    submission is taken up only when they are the same, else refused naming what differs;
    `restart` starts it over instead (a finished file is replaced only by the new one, once
    that is complete). Inputs of the earlier run that have no row yet (bad files, since
    removed) may be left out.

    Raises:
        unet.errors.Locked: another process is writing this submission.
        unet.errors.RunConflict: rows written with other settings or inputs, or without a
            record of them.
    """

    def __init__(self, path, settings: dict | None = None, *, restart: bool = False):
        self.path = Path(path)
        self._stream = None
        self._held = contextlib.ExitStack()
        self._held.enter_context(files.lock(self.path.parent, "submission", self.path.name))
        try:
            with files.writing(self.path.parent):
                self._open(settings, restart)
        except BaseException:
            self._held.close()
            raise

    def _open(self, settings: dict | None, restart: bool) -> None:
        # The rows, uncompressed: the partial sibling of `<name>.csv`, one per writing process.
        rows_file = self.path.with_name(self.path.name + ".csv")
        self.partial = files.partial_path(rows_file)
        earlier = files.partials_of(rows_file)  # a killed writer's (or this process's) rows
        rows = _rows("".join(_whole_lines(p.read_text()) for p in earlier))
        self.complete = self.path.is_file() and not earlier
        started = bool(rows) or self.complete
        if settings is not None and restart:
            rows, started, self.complete = [], False, False
        if self.complete:
            self.done = {name for name, _ in _rows(self._read_final())}
        else:
            self.done = {name for name, _ in rows}
        if settings is not None and started:
            self._check_settings(settings)
        if self.complete:
            return
        # Rewritten whole (atomically) so that appends start after a clean last line.
        files.write_text(self.partial, _line(*HEADER) + "".join(_line(*row) for row in rows))
        for old in earlier:
            if old != self.partial:
                old.unlink()
        if settings is not None and not started:
            # After the partial file: a kill in between leaves no rows under an old record.
            files.write_json(settings_path(self.path), settings)
        self._stream = self.partial.open("a")

    def _check_settings(self, settings: dict) -> None:
        """Refuses rows made with other settings or inputs; records inputs left out that had
        no row yet."""
        state = "complete" if self.complete else "partly written"
        recorded = read_settings(settings_path(self.path))
        if recorded is None:
            raise RunConflict(
                f"{self.path} is {state}, but {settings_path(self.path)} does not say what made "
                "its rows; add --restart to write it again, or choose another --submission.")
        differences = settings_differences(recorded, settings)
        earlier, now = recorded_inputs(recorded), settings.get("inputs", {})
        added = sorted(set(now) - set(earlier))
        if added:
            differences.append(f"--input: {len(added)} image(s) not in the earlier input "
                               f"(e.g. {added[0]})")
        dropped = sorted(p for p in set(earlier) - set(now) if Path(p).name in self.done)
        if dropped:
            differences.append(f"--input: {len(dropped)} image(s) with a row are not in this "
                               f"input (e.g. {dropped[0]})")
        changed = sorted(p for p in set(earlier) & set(now) if Path(p).name in self.done
                         and earlier[p] is not None and earlier[p] != now[p])
        if changed:
            differences.append(f"--input: {len(changed)} image(s) changed since their row was "
                               f"written (e.g. {changed[0]})")
        if differences:
            action = "keep it" if self.complete else "resume it"
            raise RunConflict(
                f"{self.path} is {state} with other settings: {'; '.join(differences)}. "
                f"Rerun with the earlier ones to {action}, or add --restart to write it again.")
        if earlier != now:  # inputs without a row, since removed
            files.write_json(settings_path(self.path), settings)

    def _read_final(self) -> str:
        opener = gzip.open if self.path.suffix == ".gz" else open
        with opener(self.path, "rb") as stream:
            return files.decode_user_text(stream.read(), self.path)

    def write(self, name: str, rle: str) -> None:
        if self.complete:
            raise UsageError(f"{self.path} is complete; remove it to write it again.")
        check_name(name)
        if name in self.done:
            raise UsageError(f"{name} is already in the submission.")
        with files.writing(self.path.parent):
            self._stream.write(_line(name, rle))
        self.done.add(name)

    def flush(self) -> None:
        if self._stream is not None and not self._stream.closed:
            with files.writing(self.path.parent):
                self._stream.flush()
                os.fsync(self._stream.fileno())
            faults.point("submission_rows", len(self.done))

    def finish(self, expected=None) -> Path:
        """Gzips the rows into `path` (atomically) and removes the partial file; with
        `expected` names, checks first that the rows are exactly theirs (none missing, none
        extra). Safe to repeat after a kill."""
        if expected is not None:
            missing = set(expected) - self.done
            if missing:
                raise UsageError(f"{len(missing)} image(s) have no row, e.g. {sorted(missing)[0]}.")
            extra = self.done - set(expected)
            if extra:
                raise RunConflict(f"{self.path}: {len(extra)} row(s) of images not in the input, "
                                  f"e.g. {sorted(extra)[0]}; add --restart to write it again.")
        if self.complete:
            return self.path
        self.flush()
        opener = gzip.open if self.path.suffix == ".gz" else open
        with files.writing(self.path.parent):
            self._stream.close()
            with files.atomic_path(self.path) as partial:
                with self.partial.open("rb") as source, opener(partial, "wb") as target:
                    shutil.copyfileobj(source, target)
            self.partial.unlink()
        self.complete = True
        return self.path

    def close(self) -> None:
        self.flush()
        if self._stream is not None:
            self._stream.close()
        self._held.close()  # releases the lock

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
