"""Image/mask pairs, the error raised for bad data, and the group-aware train/validation split."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import numpy as np

from unet.errors import DataError

_RAISED_IN_PIPELINE = re.compile(r"^unet\.errors\.DataError: (.+)$", re.MULTILINE)


def data_error_in(error: BaseException) -> DataError | None:
    """The `DataError` that `error` carries, or `None`: one raised inside a `tf.data` pipeline
    comes back as an `InvalidArgumentError` holding a traceback; this recovers its line."""
    if isinstance(error, DataError):
        return error
    found = _RAISED_IN_PIPELINE.findall(str(error))
    return DataError(found[-1]) if found else None


@dataclasses.dataclass(frozen=True)
class Pair:
    """One training example as it lies on disk.

    Attributes:
        image: The photo.
        mask: The mask file (GIF or PNG), or `None` when the mask is the `rle` string.
        rle: Carvana's run-length encoding from `train_masks.csv`, when there is no mask file.
        group: What must never straddle the split: the car id (Carvana) or a block of
            consecutive frames (CARLA).
        view: Carvana's view number 1-16, else `None`.
    """

    image: Path
    mask: Path | None = None
    rle: str | None = None
    group: str = ""
    view: int | None = None

    @property
    def name(self) -> str:
        return self.image.name


def first_five(items, separator: str = ", ") -> str:
    """The first five `items` joined by `separator`, then `and N more` if any (on a line of
    its own when `separator` breaks lines)."""
    if len(items) <= 5:
        return separator.join(items)
    return (separator.join(items[:5]) + (separator if "\n" in separator else " ")
            + f"and {len(items) - 5} more")


def raise_problems(problems) -> None:
    """Raises one `DataError` listing the first five problems (and how many more), if any."""
    if problems:
        raise DataError(f"{len(problems)} problem(s) in the data:\n"
                        + first_five(problems, separator="\n"))


def split_by_group(pairs, val_fraction: float, seed: int = 0, what: str = "group"):
    """Splits pairs into (train, validation) lists so that no group appears in both.

    Whole groups are drawn at random (deterministic for `seed`) until the validation side holds
    `val_fraction` of the groups, at least one when there are two or more. With fewer than two
    groups (a first try on a handful of images) a split by group is impossible, and a note on
    standard error says what is done instead: a split by image (neighbours of one group then
    straddle it), or, for a single image, validation on the training image.

    Args:
        what: What a group is, for the note (`"car"`, `"block of frames"`, `"group"`).
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1); received {val_fraction!r}.")
    if not pairs:
        raise DataError("Cannot split an empty list of pairs.")
    groups = sorted({pair.group for pair in pairs})
    if len(groups) < 2:
        if len(pairs) < 2:
            print(f"note: only {len(pairs)} image: validating on the training image (its "
                  "scores are not held out).", file=sys.stderr)
            return list(pairs), list(pairs)
        print(f"note: the {len(pairs)} images are one {what} ({groups[0]}), too few for a "
              f"split by {what}: split by image instead (images of one {what} on both sides, "
              "so validation scores are optimistic).", file=sys.stderr)
        pairs = [dataclasses.replace(pair, group=pair.name) for pair in pairs]
        groups = sorted(pair.group for pair in pairs)
    count = min(len(groups) - 1, max(1, round(len(groups) * val_fraction)))
    shuffled = np.random.default_rng(seed).permutation(groups)
    validation_groups = set(shuffled[:count].tolist())
    train = [p for p in pairs if p.group not in validation_groups]
    validation = [p for p in pairs if p.group in validation_groups]
    return train, validation


@dataclasses.dataclass
class CheckReport:
    """What `data check` found: a summary to print, and the problems (empty when all is well)."""

    summary: dict
    problems: list

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        lines = [f"{key}: {value}" for key, value in self.summary.items()]
        if self.problems:
            lines.append(f"problems: {len(self.problems)}")
            lines += [f"  - {problem}" for problem in self.problems]
        else:
            lines.append("problems: none")
        return "\n".join(lines)


def split_change(recorded: dict, current: dict) -> str:
    """How the split `current` (`{"train": [...], "val": [...]}` of group names, as a run's
    `split.json`) differs from `recorded`: "" when the same, else the counts of names added,
    removed and moved between the sides, with an example of each."""
    sides = ("train", "val")
    old = {name: side for side in sides for name in recorded.get(side, [])}
    new = {name: side for side in sides for name in current.get(side, [])}
    changes = {"added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)),
               "moved between train and val": sorted(n for n in set(old) & set(new)
                                                     if old[n] != new[n])}
    parts = [f"{len(names)} {what} (e.g. {names[0]})" for what, names in changes.items()
             if names]
    if recorded.get("by") != current.get("by"):
        parts.append(f"split by {current.get('by') or 'name'}, not "
                     f"{recorded.get('by') or 'name'}")
    return "; ".join(parts)
