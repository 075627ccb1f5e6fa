"""`google.colab.drive`: `mount` makes `<mountpoint>/MyDrive` the folder that stands for the
user's Drive (`$COLAB_STANDIN_DRIVE`), which outlives the simulated machine; without it the
mount fails as Colab's does when access is refused."""

import os
from pathlib import Path

DRIVE_ENV = "COLAB_STANDIN_DRIVE"


def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):
    """As Colab's: mounts Drive at `mountpoint`, whose `MyDrive/` then holds the user's files.

    Raises:
        ValueError: access to Drive is not granted (no `$COLAB_STANDIN_DRIVE`), as Colab's
            "mount failed".
    """
    mountpoint = Path(mountpoint)
    my_drive = mountpoint / "MyDrive"
    if my_drive.is_dir() and not force_remount:
        print(f"Drive already mounted at {mountpoint}; to attempt to forcibly remount, call "
              f"drive.mount(\"{mountpoint}\", force_remount=True).")
        return
    persistent = os.environ.get(DRIVE_ENV)
    if not persistent:
        raise ValueError("mount failed")
    mountpoint.mkdir(parents=True, exist_ok=True)
    if my_drive.is_symlink():
        my_drive.unlink()
    my_drive.symlink_to(Path(persistent), target_is_directory=True)
    print(f"Mounted at {mountpoint}")
