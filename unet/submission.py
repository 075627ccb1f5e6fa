"""Kaggle's Carvana submission: `img,rle_mask` for every test image, written as predictions
stream in, resumable after a kill, gzipped once complete (itself a resumable step)."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import os
import shutil
from pathlib import Path

from unet import faults, files
from unet.errors import DataError, UsageError

HEADER = ("img", "rle_mask")


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

    Raises:
        unet.errors.Locked: another process is writing this submission.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._stream = None
        self._held = contextlib.ExitStack()
        self._held.enter_context(files.lock(self.path.parent, "submission", self.path.name))
        try:
            self._open()
        except BaseException:
            self._held.close()
            raise

    def _open(self) -> None:
        # The rows, uncompressed: the partial sibling of `<name>.csv`, one per writing process.
        rows_file = self.path.with_name(self.path.name + ".csv")
        self.partial = files.partial_path(rows_file)
        earlier = files.partials_of(rows_file)  # a killed writer's (or this process's) rows
        self.complete = self.path.is_file() and not earlier
        if self.complete:
            self.done = {name for name, _ in _rows(self._read_final())}
            return
        rows = _rows("".join(_whole_lines(p.read_text()) for p in earlier))
        self.done = {name for name, _ in rows}
        # Rewritten whole (atomically) so that appends start after a clean last line.
        files.write_text(self.partial, _line(*HEADER) + "".join(_line(*row) for row in rows))
        for old in earlier:
            if old != self.partial:
                old.unlink()
        self._stream = self.partial.open("a")

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
        self._stream.write(_line(name, rle))
        self.done.add(name)

    def flush(self) -> None:
        if self._stream is not None and not self._stream.closed:
            self._stream.flush()
            os.fsync(self._stream.fileno())
            faults.point("submission_rows", len(self.done))

    def finish(self, expected=None) -> Path:
        """Gzips the rows into `path` (atomically) and removes the partial file; with
        `expected` names, checks none is missing first. Safe to repeat after a kill."""
        if expected is not None:
            missing = set(expected) - self.done
            if missing:
                raise UsageError(f"{len(missing)} image(s) have no row, e.g. {sorted(missing)[0]}.")
        if self.complete:
            return self.path
        self.flush()
        self._stream.close()
        opener = gzip.open if self.path.suffix == ".gz" else open
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
