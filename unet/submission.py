"""Kaggle's Carvana submission: `img,rle_mask` for every test image, written as predictions
stream in, resumable after a kill, gzipped once complete."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

HEADER = "img,rle_mask"


class SubmissionWriter:
    """Appends rows to `<path>.partial.csv` (flushed per batch), and on `finish()` gzips it into
    `path` atomically.

    A rerun after a kill reads the partial file, drops a last line cut short mid-write, and
    `done` tells the caller which images to skip, so the final file holds each image once.

    Example:
    >>> with SubmissionWriter("submission.csv.gz") as writer:
    ...     for name, rle in rows:
    ...         if name not in writer.done:
    ...             writer.write(name, rle)
    ...     writer.finish()
    """

    def __init__(self, path):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial.csv")
        self.done: set[str] = set()
        lines = []
        if self.partial.is_file():
            text = self.partial.read_text()
            lines = text.splitlines()
            if text and not text.endswith("\n"):
                lines = lines[:-1]  # the row being written when the process died
            if lines and lines[0] == HEADER:
                lines = lines[1:]
        self.done = {line.split(",", 1)[0] for line in lines}
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        self._stream = self.partial.open("w")
        self._stream.write(HEADER + "\n")
        self._stream.writelines(line + "\n" for line in lines)
        self._stream.flush()

    def write(self, name: str, rle: str) -> None:
        if name in self.done:
            raise ValueError(f"{name} is already in the submission.")
        self._stream.write(f"{name},{rle}\n")
        self.done.add(name)

    def flush(self) -> None:
        self._stream.flush()
        os.fsync(self._stream.fileno())

    def finish(self, expected=None) -> Path:
        """Gzips the rows into `path`; with `expected` names, checks none is missing."""
        self.flush()
        self._stream.close()
        if expected is not None:
            missing = set(expected) - self.done
            if missing:
                raise ValueError(f"{len(missing)} image(s) have no row, e.g. {sorted(missing)[0]}.")
        temporary = self.path.with_name(f".{self.path.name}.partial-{os.getpid()}")
        opener = gzip.open if self.path.suffix == ".gz" else open
        with self.partial.open("rb") as source, opener(temporary, "wb") as target:
            shutil.copyfileobj(source, target)
        os.replace(temporary, self.path)
        self.partial.unlink()
        return self.path

    def close(self) -> None:
        if not self._stream.closed:
            self.flush()
            self._stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
