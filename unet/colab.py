"""Notebook environment: Colab detection, where things are kept (Google Drive or this machine),
and user errors shown as one line in a notebook.

What must outlive a Colab machine lives on Drive: the runs (checkpoints, history,
TensorBoard logs), the report and the downloaded archives. What is cheap to rebuild stays on the
machine's disk: generated and extracted data. The install itself is the notebooks' first cell:
the package cannot install itself.
"""

from __future__ import annotations

import errno
import os
import shlex
import sys
from pathlib import Path

from unet import paths
from unet.errors import DriveError, UserError

# Where Colab mounts Google Drive; the variable moves it (the test suite's simulated runtime).
MOUNTPOINT = "/content/drive"
MOUNTPOINT_ENV = "UNET_DRIVE_MOUNTPOINT"


def in_colab() -> bool:
    """Whether this is a Colab runtime (which imports `google.colab` before any cell runs)."""
    return "google.colab" in sys.modules


def drive_mountpoint() -> Path:
    """Where Drive is (to be) mounted: `$UNET_DRIVE_MOUNTPOINT`, else Colab's `/content/drive`."""
    return Path(os.environ.get(MOUNTPOINT_ENV) or MOUNTPOINT)


def keep_on_drive(folder: str = "unet", mountpoint=None) -> dict[str, Path]:
    """Mounts Google Drive and points the runs root, the report folder and the archives folder
    there, so that a disconnect loses nothing: checkpoints, results and downloads live
    on Drive, and a rerun resumes from them.

    Args:
        folder: The folder under `MyDrive/` that holds all three.
        mountpoint: Where Drive is mounted (default `drive_mountpoint()`); mounted there unless
            it already holds `MyDrive/`.

    Returns:
        `{"runs": ..., "report": ..., "archives": ...}`, the three folders.

    Raises:
        DriveError: Drive cannot be mounted, or has no space left.
    """
    mountpoint = Path(mountpoint or drive_mountpoint())
    if not (mountpoint / "MyDrive").is_dir():
        _mount(mountpoint)
    home = mountpoint / "MyDrive" / folder
    where = {"runs": home / "runs", "report": home / "memory", "archives": home / "archives"}
    variables = {"runs": paths.RUNS_ENV, "report": paths.REPORT_ENV,
                 "archives": paths.ARCHIVES_ENV}
    try:
        for path in where.values():
            path.mkdir(parents=True, exist_ok=True)
        _check_writable(home)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise DriveError(_full_message(home)) from None
        raise
    for name, path in where.items():
        os.environ[variables[name]] = str(path)
    return where


def storage(use_drive: bool, folder: str = "unet") -> dict[str, Path]:
    """The notebooks' one call: keeps runs, report and archives on Google Drive when
    `use_drive` and in Colab, then prints where each thing lives and whether it outlives the
    machine. In a notebook, a user error (`UserError`, a full disk) then shows as one
    `error:` line instead of a traceback.

    Args:
        use_drive: Keep on Drive what must outlive a Colab machine (ignored outside Colab).
        folder: The folder under `MyDrive/` for them.

    Returns:
        `{"runs": ..., "report": ..., "archives": ..., "data": ...}`, the four folders.

    Raises:
        DriveError: Drive cannot be mounted, or has no space left.
    """
    show_user_errors_as_one_line()
    on_drive = use_drive and in_colab()
    if on_drive:
        keep_on_drive(folder)
    where = {"runs": paths.runs_dir(), "report": paths.report_dir(),
             "archives": paths.archives_dir(), "data": paths.data_root()}
    print(describe(where))
    if in_colab() and not on_drive:
        print("Not on Google Drive: runs and the report are lost when this runtime is "
              "recycled. Set USE_DRIVE = True in the configuration cell to keep them.")
    return where


def describe(where: dict[str, Path]) -> str:
    """Lines saying where each folder of `where` lives: on Drive, in the checkout, or in the
    working folder when there is no checkout (a notebook opened from its Colab badge)."""
    mountpoint = drive_mountpoint().absolute()
    root = paths.repository_root()
    lines = []
    if root is None:
        lines.append(f"No checkout of the repository here: what is not on Drive goes under "
                     f"the working folder {Path.cwd()}.")
    for name, path in where.items():
        absolute = Path(path).absolute()  # not resolved: Drive's folders are links
        if absolute.is_relative_to(mountpoint):
            kept = "Google Drive: kept across sessions"
        elif in_colab():
            kept = "this machine's disk: lost when the runtime is recycled"
        else:
            kept = "this machine's disk"
        lines.append(f"{name:9s} {absolute}  ({kept})")
    return "\n".join(lines)


def show_tensorboard(logdir) -> bool:
    """TensorBoard inline over `logdir` in Colab (`%load_ext tensorboard`, then
    `%tensorboard --logdir`); elsewhere prints the command that serves it.

    Args:
        logdir: The runs root: every run's `logs/`, with the HParams dashboard.

    Returns:
        Whether it was shown inline.
    """
    shell = _ipython()
    if shell is None or not in_colab():
        print(f"TensorBoard: tensorboard --logdir {shlex.quote(str(logdir))}")
        return False
    shell.run_line_magic("load_ext", "tensorboard")
    shell.run_line_magic("tensorboard", f"--logdir {shlex.quote(str(logdir))}")
    return True


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def show_user_errors_as_one_line() -> None:
    """In IPython (Colab, Jupyter), shows a `UserError` or a full disk as one `error:` line,
    as the command line does; any other exception keeps its traceback. Elsewhere does
    nothing."""
    shell = _ipython()
    if shell is not None:
        shell.set_custom_exc((UserError, OSError), _show_error)


def _show_error(shell, kind, error, traceback, tb_offset=None):
    if isinstance(error, UserError):
        print(f"error: {error}", file=sys.stderr)
    elif error.errno == errno.ENOSPC:
        print(f"error: {_full_message(error.filename)}", file=sys.stderr)
    else:  # a real bug: its whole traceback
        return shell.InteractiveTB.structured_traceback(kind, error, traceback,
                                                        tb_offset=tb_offset)
    return []


def _full_message(where=None) -> str:
    where = f"in {where}" if where else "on the disk being written"
    return (f"no space left {where} (Google Drive holds 15 GB on a free account): delete old "
            "runs or archives there, or free space, then rerun the cell; the grid resumes where "
            "it stopped.")


def _mount(mountpoint: Path) -> None:
    try:
        from google.colab import drive as colab_drive  # only exists in Colab
    except ImportError:
        raise DriveError(f"Google Drive is not mounted at {mountpoint} and this is not Colab: "
                         "set USE_DRIVE = False.") from None
    try:
        colab_drive.mount(str(mountpoint))
    except Exception as error:  # Colab raises ValueError, MessageError, TimeoutError...
        raise DriveError(
            f"Google Drive could not be mounted at {mountpoint} ({error}): rerun the cell and "
            "allow access to Drive in the dialog, or set USE_DRIVE = False to keep everything "
            "on this machine (lost when the runtime is recycled).") from None


def _check_writable(home: Path) -> None:
    """Writes and removes a small file, so that a full Drive is found before training."""
    probe = home / ".unet-write-check"
    with open(probe, "wb") as stream:
        stream.write(b"\0" * 4096)
        stream.flush()
        os.fsync(stream.fileno())
    probe.unlink()
