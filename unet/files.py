"""Writes that survive a kill (a sibling file and a rename), folder locks, and redirection of
the standard error that C libraries write to.

A process killed mid-write leaves the previous file whole (or no file), never a truncated one.
The sibling lives in the same folder, so the final `os.replace` is atomic on every POSIX file
system and on Windows. Siblings are named `.<name>.partial-<pid><suffix>`; `remove_partials`
deletes those a killed process left behind.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import sys
from pathlib import Path

from unet import faults
from unet.errors import Locked

PARTIAL_MARK = ".partial-"


def partial_path(path) -> Path:
    """The sibling of `path` to write first, e.g. `.best.partial-123.keras` for `best.keras`.

    The suffix is kept, because some writers (Keras, matplotlib) choose the format from it.
    """
    path = Path(path)
    stem, suffix = _stem_and_suffix(path)
    return path.with_name(f".{stem}{PARTIAL_MARK}{os.getpid()}{suffix}")


def partials_of(path) -> list[Path]:
    """The partial siblings of `path` that any process, this one included, left; sorted."""
    path = Path(path)
    stem, suffix = _stem_and_suffix(path)
    prefix = f".{stem}{PARTIAL_MARK}"
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(prefix)
                  and p.name.endswith(suffix)
                  and p.name[len(prefix): len(p.name) - len(suffix)].isdigit())


def _stem_and_suffix(path: Path) -> tuple[str, str]:
    suffix = "".join(path.suffixes) if path.name.endswith(".weights.h5") else path.suffix
    return (path.name[: len(path.name) - len(suffix)] if suffix else path.name), suffix


@contextlib.contextmanager
def atomic_path(path):
    """Yields a sibling path to write (a file or a folder); on success it replaces `path`, on
    failure it is removed: `with atomic_path(png) as partial: figure.savefig(partial)`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    try:
        yield partial
        faults.point("in_atomic_write", path)
        if partial.is_dir() and path.is_dir():
            # A folder (a SavedModel) cannot replace a full one in one rename: move the old one
            # aside first; a kill between the two renames leaves it there, named as partial.
            old = partial_path(path.with_name(path.name + ".old"))
            os.replace(path, old)
            os.replace(partial, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(partial, path)
        faults.point("after_atomic_write", path)
    finally:
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
        else:
            partial.unlink(missing_ok=True)


def write_bytes(path, data: bytes) -> Path:
    """Writes `data` to `path` atomically."""
    with atomic_path(path) as partial:
        partial.write_bytes(data)
    return Path(path)


def write_text(path, text: str) -> Path:
    """Writes `text` (UTF-8) to `path` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, values) -> Path:
    """Writes `values` as indented JSON with sorted keys, atomically."""
    return write_text(path, json.dumps(values, indent=2, sort_keys=True) + "\n")


def write_csv(path, rows, fieldnames) -> Path:
    """Writes dict `rows` as CSV under a header of `fieldnames` (other keys left out),
    atomically; fields are quoted where needed."""
    stream = io.StringIO(newline="")
    writer = csv.DictWriter(stream, fieldnames=list(fieldnames), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, stream.getvalue())


def remove_partials(folder, recursive: bool = False) -> list[Path]:
    """Deletes the partial files that killed writers left in `folder`; returns what it removed.

    Only siblings of dead processes are removed: a live process's file is still being written.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = f"**/.*{PARTIAL_MARK}*" if recursive else f".*{PARTIAL_MARK}*"
    removed = []
    for candidate in folder.glob(pattern):
        pid = candidate.name.split(PARTIAL_MARK, 1)[1].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            continue
        if candidate.is_dir():
            shutil.rmtree(candidate, ignore_errors=True)
        else:
            candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def lock(folder, what: str = "folder", name: str | None = None, wait: bool = False):
    """Holds an exclusive lock on `folder` (its `.lock` file), or with `name` on the file
    `folder/name` (`.<name>.lock` beside it), for the `with` block.

    The lock is the kernel's (`fcntl.flock`): it ends with the process, so a killed run never
    leaves a stale lock behind; the file itself stays and records the last holder.

    Args:
        folder: The folder locked, or holding the file locked (created if need be).
        what: What is locked, for the message (`"run folder"`, `"submission"`).
        name: A file in `folder` to lock instead of the whole folder.
        wait: Wait for another process to release it (saying so) instead of refusing.

    Raises:
        Locked: another process holds it (and not `wait`); the message names its pid and
            command.
    """
    import fcntl

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (f".{name}.lock" if name else ".lock")
    locked = folder / name if name else folder
    stream = open(path, "a+")  # noqa: SIM115 (held for the block)
    try:
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            stream.seek(0)
            holder = stream.read().strip() or "another process"
            if wait:
                print(f"Waiting for {holder} to finish with this {what} ({locked})...",
                      flush=True)
                fcntl.flock(stream, fcntl.LOCK_EX)
            else:
                raise Locked(f"{locked}: this {what} is in use by {holder}; wait for it to "
                             "end or stop it, then run the command again.") from None
        stream.seek(0)
        stream.truncate()
        stream.write(f"process {os.getpid()} ({' '.join(sys.argv)[:200]})")
        stream.flush()
        yield path
    finally:
        stream.close()


@contextlib.contextmanager
def redirect_stderr_fd(stream):
    """Points file descriptor 2, where C libraries (libjpeg, TensorFlow's C++ logging) write,
    at the open file `stream` for the `with` block, then restores it."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(stream.fileno(), 2)
        yield stream
    finally:
        os.dup2(saved, 2)
        os.close(saved)
