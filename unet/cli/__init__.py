"""The command line: `python -m unet {demo,recipes,train,evaluate,sweep,report,predict,...}`.

Exit codes: 0 done, 1 a problem in the data, an input file, a damaged run file or a full or
read-only disk, 2 a usage or configuration error (including a run folder that holds another
configuration, or one in use), 3 training diverged, 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM: `timeout`, `docker stop`, a notebook runtime deleted), 141 standard output closed
early (`... | head`). Errors print one `error: ...` line; `UNET_DEBUG=1` adds the traceback,
and TensorFlow's own start-up messages.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys

from unet.cli import data, predict, runs
from unet.data.pairs import data_error_in
from unet.errors import UserError

EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # what a shell reports for a writer killed by SIGPIPE


# What a command stopped by Ctrl-C or SIGTERM keeps (every write is atomic).
RESUME = "; run the same command again to resume"
KEPT = {"train": "finished epochs and their checkpoints are kept" + RESUME,
        "sweep": "finished points, and the finished epochs of the one in progress, are kept"
                 + RESUME,
        "demo": "finished epochs and their checkpoints are kept" + RESUME,
        "predict": "finished masks and submission rows are kept" + RESUME,
        "app": "the web demo has stopped"}


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's `KeyboardInterrupt` would be, so that both stop the same
    way (every write is atomic, so what was finished is kept)."""


def _terminate(signum, frame):
    raise _Terminated()


def build_parser() -> argparse.ArgumentParser:
    """Every command, each with a `handler(args) -> exit code` (and `tensorflow=False` where
    the command needs none)."""
    parser = argparse.ArgumentParser(prog="python -m unet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    runs.add_commands(commands)
    predict.add_commands(commands)
    data.add_commands(commands)
    return parser


def main(argv=None) -> int:
    """Parses `argv`, runs the command, and turns every user-facing error into one line."""
    args = build_parser().parse_args(argv)
    debug = os.environ.get("UNET_DEBUG") == "1"
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if getattr(args, "tensorflow", True):
            _quiet_tensorflow(debug)
        code = args.handler(args)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return code
    except BrokenPipeError:
        # Standard output was closed early (`... | head`): stop quietly, as a pipe's writer
        # does, with stdout pointed at devnull so the interpreter's exit flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, _Terminated)
        kept = KEPT.get(args.command, "every file written so far is complete" + RESUME)
        print(f"\n{'terminated (SIGTERM)' if terminated else 'interrupted'}: {kept}.",
              file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except Exception as raised:  # the boundary: a user's mistake becomes one line
        error = data_error_in(raised) or raised
        code = exit_code(error)
        if code is None or debug:
            raise
        print(f"error: {error}", file=sys.stderr)
    # Out of the except block, whose traceback held it: collect a tf.data pipeline the error
    # stopped now, as at exit its reads in flight would wait for the interpreter and hang.
    gc.collect()
    return code


def exit_code(error: BaseException) -> int | None:
    """The exit code for a mistake a user can fix (a `UserError`), or `None` for a bug, shown
    with its traceback (any other exception, `OSError` and `ValueError` included)."""
    return error.exit_code if isinstance(error, UserError) else None


def _quiet_tensorflow(debug: bool) -> None:
    """Loads TensorFlow before the command runs, quietly (`unet.files.quiet_tensorflow_import`,
    installed when the package was imported); with `UNET_DEBUG=1` its start-up lines show."""
    if not debug:
        import tensorflow  # noqa: F401
