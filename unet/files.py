"""Writes that survive a kill (a sibling file and a rename), checked reads of what was written
(and of text files a user gives), folder locks, and redirection of the standard error that C
libraries write to.

A process killed mid-write leaves the previous file whole (or no file), never a truncated one.
The sibling lives in the same folder, so the final `os.replace` is atomic on every POSIX file
system and on Windows. Siblings are named `.<name>.partial-<pid><suffix>`; `remove_partials`
deletes those a killed process left behind.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import errno
import importlib.abc
import importlib.util
import io
import json
import os
import shutil
import sys
from pathlib import Path

from unet import faults
from unet.errors import DamagedFile, DataError, Locked, StorageError

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


# The errors of a write that the user can fix: no space left or over quota, a read-only file
# system, a folder not permitted; and a file where a folder should be (or the reverse).
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})
PLACE_ERRNOS = frozenset({errno.ENOTDIR, errno.EEXIST, errno.EISDIR})


@contextlib.contextmanager
def writing(folder):
    """Turns a write that fails for want of space or permission in the `with` block into a
    `StorageError` naming the folder (the file's own folder when the error names it), and one
    that fails on a file standing where a folder should be.

    Raises:
        StorageError: an `OSError` whose errno is in `STORAGE_ERRNOS` or `PLACE_ERRNOS`; other
            errors pass.
    """
    try:
        yield
    except StorageError:
        raise
    except OSError as error:
        if error.errno in PLACE_ERRNOS:
            standing = ("a folder stands where a file should be" if error.errno == errno.EISDIR
                        else "a file stands where a folder should be")
            raise StorageError(f"cannot write in {folder}: {error.strerror} ({error.filename}); "
                               f"{standing}: choose another path.") from error
        if error.errno not in STORAGE_ERRNOS:
            raise
        where = Path(error.filename).parent if error.filename else Path(folder)
        raise StorageError(
            f"cannot write in {where}: {error.strerror or error}. Free some space or make the "
            "folder writable (or choose another), then run the command again; files written "
            "before are complete and kept.") from error


def check_replaceable(path, kind: str | None = None) -> None:
    """Checks, before anything is written, that a rename may replace `path`: it does not exist,
    or is a regular file or a folder (of `kind`, "file" or "folder", when given).

    A rename replaces a symbolic link itself (its target stays as it was) and would replace a
    device such as `/dev/stdout` by a file, so both are refused rather than followed.

    Raises:
        StorageError: `path` is a symbolic link, a device, pipe or socket, or not of `kind`.
    """
    path = Path(path)
    if path.is_symlink():
        raise StorageError(f"{path} is a symbolic link: writing would replace the link, not "
                           "its target; give the target's path or another one.")
    if not path.exists():
        return
    if not (path.is_file() or path.is_dir()):
        raise StorageError(f"{path} is not a regular file (a device, pipe or socket): give "
                           "the path of a file to write.")
    if kind == "file" and path.is_dir():
        raise StorageError(f"{path} is a folder: give the path of a file to write (in it, "
                           "or elsewhere).")
    if kind == "folder" and path.is_file():
        raise StorageError(f"{path} is a file: give the path of a folder to write.")


@contextlib.contextmanager
def atomic_path(path, kind: str | None = None):
    """Yields a sibling path to write (a file or a folder); on success it replaces `path`, on
    failure it is removed: `with atomic_path(png) as partial: figure.savefig(partial)`.

    Args:
        path: What to write; a symbolic link or device there is refused (`check_replaceable`).
        kind: "file" or "folder" when known, so that the other kind standing there is refused
            before anything is written.

    Raises:
        StorageError: no space, or no permission, to write it (`writing`), or a `path` a rename
            must not replace (`check_replaceable`); `path` is as it was.
    """
    path = Path(path)
    check_replaceable(path, kind)
    with writing(path.parent):
        with _replacing(path) as partial:
            yield partial


@contextlib.contextmanager
def _replacing(path: Path):
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
    with atomic_path(path, "file") as partial:
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


def read_json(path, remedy: str, keys: dict | None = None) -> dict:
    """Reads back a JSON object that `write_json` wrote, checking it.

    Args:
        path: The file (it must exist).
        remedy: What the user can do if it is damaged, e.g. `"remove it to rescore the run"`.
        keys: Key -> the type (or tuple of types) its value must have; a number is
            `(int, float)`, and `True` is not an `int`.

    Returns:
        The object.

    Raises:
        DamagedFile: not UTF-8, not JSON (truncated, empty), not an object, or a key of `keys`
            missing or of another type; the message names the file and `remedy`.
    """
    path = Path(path)
    try:
        values = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise damaged(path, f"not valid JSON ({error})", remedy) from None
    if not isinstance(values, dict):
        raise damaged(path, f"a JSON {type(values).__name__}, not an object", remedy)
    for key, kind in (keys or {}).items():
        if key not in values:
            raise damaged(path, f"no {key!r}", remedy)
        if not _is_a(values[key], kind):
            raise damaged(path, f"{key!r} is {values[key]!r}", remedy)
    return values


def read_csv(path, remedy: str, required=(), text=()) -> list[dict]:
    """Reads back a CSV file that `write_csv` wrote: rows as dicts, the `text` columns as
    strings and every other value as a float (an empty cell is left out).

    Args:
        path: The file (it must exist).
        remedy: What the user can do if it is damaged.
        required: Columns the header must hold.
        text: Columns kept as text.

    Raises:
        DamagedFile: not UTF-8, empty, cut short (no line end at the end), a required column
            missing, a row of another length, or a value that is not a number; the message
            names the file, its line and `remedy`.
    """
    path = Path(path)
    try:
        content = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise damaged(path, f"not UTF-8 text ({error.reason})", remedy) from None
    if not content:
        raise damaged(path, "empty: no header", remedy)
    if not content.endswith("\n"):  # `write_csv` ends every line
        raise damaged(path, "cut short: its last line has no line end", remedy)
    reader = csv.reader(io.StringIO(content, newline=""))
    header = next(reader)
    missing = [column for column in required if column not in header]
    if missing:
        raise damaged(path, f"no column {missing[0]!r} in its header", remedy)
    rows = []
    for line, cells in enumerate(reader, start=2):
        if len(cells) != len(header):
            raise damaged(path, f"line {line} has {len(cells)} fields, the header "
                                f"{len(header)}", remedy)
        row = {}
        for column, cell in zip(header, cells):
            if column in text:
                row[column] = cell
            elif cell != "":
                try:
                    row[column] = float(cell)
                except ValueError:
                    raise damaged(path, f"line {line}: {column} is {cell!r}, not a number",
                                  remedy) from None
        rows.append(row)
    return rows


def damaged(path, problem: str, remedy: str) -> DamagedFile:
    """The error for a file this project wrote that no longer reads back: `path`, what is
    wrong with it, and what the user can do."""
    return DamagedFile(f"{path} is damaged ({problem}): {remedy}.", path=Path(path))


def _is_a(value, kind) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, kinds)


def read_user_text(path) -> str:
    """A text file a user gives (a CSV from Kaggle or a spreadsheet): `decode_user_text`."""
    return decode_user_text(Path(path).read_bytes(), path)


def decode_user_text(data: bytes, path) -> str:
    """`data`, the contents of the file `path`, decoded as UTF-8 with or without the byte-order
    mark spreadsheets write ("CSV UTF-8").

    Raises:
        DataError: a byte that is not UTF-8; the message names the file and the line.
    """
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: byte 0x{data[error.start]:02x} is not UTF-8 "
                        "text; save the file as UTF-8 (a spreadsheet's \"CSV UTF-8\").") from None


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
        StorageError: the folder cannot be written (read-only, not permitted, full).
    """
    import fcntl

    folder = Path(folder)
    path = folder / (f".{name}.lock" if name else ".lock")
    locked = folder / name if name else folder
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
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


# TensorFlow's level for its C++ log (2: errors only), unless the user set one.
TF_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"


class _QuietLoader(importlib.abc.Loader):
    """Runs TensorFlow's loader, then its first look for devices (where a machine with CUDA's
    libraries and no GPU logs `failed call to cuInit`), with standard error at /dev/null
    (`redirect_stderr_fd`)."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with open(os.devnull, "w") as devnull, redirect_stderr_fd(devnull):
            self.loader.exec_module(module)
            module.config.list_physical_devices()


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as Python does, and loads it through `_QuietLoader`, once."""

    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow_import() -> None:
    """Hides the lines TensorFlow's C++ libraries print while it is imported (oneDNN, CUDA,
    CPU instructions: written before any log level applies), wherever it is first imported
    from, and sets its log level to errors only; does nothing when TensorFlow is loaded, the
    user set `TF_CPP_MIN_LOG_LEVEL` to 0 (show everything), or `UNET_DEBUG=1`."""
    os.environ.setdefault(TF_LOG_LEVEL, "2")
    if ("tensorflow" in sys.modules or os.environ[TF_LOG_LEVEL] == "0"
            or os.environ.get("UNET_DEBUG") == "1"
            or any(isinstance(finder, _QuietTensorFlow) for finder in sys.meta_path)):
        return
    sys.meta_path.insert(0, _QuietTensorFlow())
