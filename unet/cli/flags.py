"""Flags shared by several commands, declared once as argparse parent parsers, and the types
that parse the flags no configuration field checks."""

from __future__ import annotations

import argparse
import contextlib
import math

from unet.errors import ConfigError, UsageError


def positive(kind, below: float = math.inf):
    """An argparse type: a finite number above zero (and below `below`), for flags outside the
    configuration."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            what = "whole number" if kind is int else "number"
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what}") from None
        if not (math.isfinite(value) and 0 < value < below):
            bound = f" and below {below:g}" if below < math.inf else ""
            raise argparse.ArgumentTypeError(
                f"must be a finite number above 0{bound}; received {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


POSITIVE_INT = positive(int)
fraction = positive(float, below=1)  # `--threshold`
DATASET_HELP = ("synthetic, carvana, carla, folder (any images/ + masks/ or Pascal VOC folder), "
                "or a prepared TFDS dataset read from --data-dir: tfds:carvana, tfds:carla "
                "(optionally /<size>, e.g. tfds:carvana/256x384)")


def _parent(*flags: str, **options) -> argparse.ArgumentParser:
    """A parent parser declaring one flag (and its aliases), for the commands that share it."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(*flags, **options)
    return parser


def _size(text: str) -> dict:
    """The options of a `H W` flag."""
    return {"type": POSITIVE_INT, "nargs": 2, "metavar": ("H", "W"), "help": text}


RUNS = _parent("--runs-dir", help="runs root (default: $UNET_RUNS_DIR, else runs/)")
REPORT = _parent("--report-dir", "--memory-dir", dest="report_dir",
                 help="report folder (default: $UNET_MEMORY_DIR, else memory/)")
MODEL = _parent("--model", required=True, help="a trained .keras file")
TRAINED_SIZE = _parent("--image-size", **_size("the size the model was trained at (default: "
                                               "from the config.json beside it)"))
PREDICTION_SIZE = _parent("--prediction-size",
                          **_size("predict at this size (default: the training size)"))


@contextlib.contextmanager
def naming(flags: dict):
    """Turns a `ConfigError` about a field set by a flag into a usage error naming the flag.

    Args:
        flags: Field (`train.epochs`) -> the flag that set it (`--epochs`).
    """
    try:
        yield
    except ConfigError as error:
        if error.field not in flags:
            raise
        raise UsageError(f"argument {flags[error.field]}: {error}") from None
