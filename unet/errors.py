"""The mistakes a user can make, as exceptions: the command line prints each as one line.

Every class is a `UserError`, whose `exit_code` the command line exits with, and also keeps its
builtin base (`ValueError`, `RuntimeError`, `OSError`), so a library caller's `except
ValueError` still catches it. Any other exception, builtin ones included, is a bug and keeps its
traceback.
"""

from __future__ import annotations

EXIT_DATA, EXIT_USAGE, EXIT_DIVERGED = 1, 2, 3


class UserError(Exception):
    """A mistake a user can fix; the message says what and, where it can, how."""

    exit_code = EXIT_USAGE


class UsageError(UserError, ValueError):
    """A command, flag or argument that cannot work as given."""


class ConfigError(UsageError):
    """A configuration value outside its range or vocabulary.

    Args:
        message: What was received and what is allowed.
        field: The field it concerns, `section.name` (`train.epochs`), so that the command line
            can name its flag.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class DataError(UserError, ValueError):
    """Bad input data; the message names the file and the problem."""

    exit_code = EXIT_DATA


class MissingFile(UserError, FileNotFoundError):
    """A file or folder a user named (a model, a data folder) that is not there."""

    exit_code = EXIT_DATA


class CheckpointError(UserError, ValueError):
    """A checkpoint file exists but cannot be used (truncated, foreign or broken)."""

    exit_code = EXIT_DATA


class DamagedFile(UserError, ValueError):
    """A file this project wrote and reads back (a run's `config.json`, `history.csv`, ...)
    that is truncated, emptied or edited; the message names it and what to do.

    Args:
        message: The file, what is wrong with it, and what to do.
        path: The damaged file.
    """

    exit_code = EXIT_DATA

    def __init__(self, message: str, path=None):
        super().__init__(message)
        self.path = path


class StorageError(UserError, OSError):
    """A folder that cannot be written: no space left, a quota, read-only or not permitted;
    the message names the folder. Files written before are complete (atomic writes)."""

    exit_code = EXIT_DATA


class RunConflict(UserError, ValueError):
    """A run folder holds another configuration's run, or more epochs than asked for."""


class Locked(UserError, RuntimeError):
    """Another live process holds the lock; the message names it."""


class KaggleCredentialsMissing(UserError, RuntimeError):
    """No Kaggle credentials (Colab secrets, KAGGLE_USERNAME/KAGGLE_KEY, kaggle.json), or
    credentials Kaggle refused."""

    exit_code = EXIT_DATA


class KaggleRulesNotAccepted(UserError, RuntimeError):
    """Kaggle refused a competition's files (403): its rules are not accepted yet."""

    exit_code = EXIT_DATA


class UploadError(UserError, ValueError):
    """An upload that is not a usable photo; the message is shown to the visitor."""

    exit_code = EXIT_DATA


class TrainingDiverged(UserError, RuntimeError):
    """The loss became NaN, infinite or exploded; the message says where and what to change."""

    exit_code = EXIT_DIVERGED


class DriveError(UserError, RuntimeError):
    """Google Drive cannot be mounted, or is full; the message says what to do."""
