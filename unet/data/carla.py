"""CARLA driving scenes of the Coursera U-Net assignment: `CameraRGB/` and `CameraMask/`.

Both folders hold 640x480 RGBA PNGs with the same names; a mask's class id is its red channel
(green and blue 0, alpha 255). The assignment trains 23 classes, ids 0-22.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from unet.config import CARLA_CLASSES
from unet.data import image_files
from unet.data.pairs import CheckReport, DataError, Pair, raise_problems, split_by_group

IMAGE_SIZE = (480, 640)  # height, width
NUM_CLASSES = CARLA_CLASSES
# CARLA's semantic tags (0.9.10 and later), by id.
CLASS_NAMES = (
    "unlabeled", "building", "fence", "other", "pedestrian", "pole", "road_line", "road",
    "sidewalk", "vegetation", "vehicle", "wall", "traffic_sign", "sky", "ground", "bridge",
    "rail_track", "guard_rail", "traffic_light", "static", "dynamic", "water", "terrain",
)
# CARLA's own palette for these ids, for legends and class maps.
CLASS_COLORS = (
    (0, 0, 0), (70, 70, 70), (100, 40, 40), (55, 90, 80), (220, 20, 60), (153, 153, 153),
    (157, 234, 50), (128, 64, 128), (244, 35, 232), (107, 142, 35), (0, 0, 142),
    (102, 102, 156), (220, 220, 0), (70, 130, 180), (81, 0, 81), (150, 100, 100),
    (230, 150, 140), (180, 165, 180), (250, 170, 30), (110, 190, 160), (170, 120, 50),
    (45, 60, 150), (145, 170, 100),
)
FRAMES_PER_GROUP = 20  # consecutive frames of a drive are near-duplicates: split in blocks


def class_name(class_id: int) -> str:
    """CARLA's name of a class id (`7` -> `"road"`), or the id as text past the named ones."""
    return CLASS_NAMES[class_id] if 0 <= class_id < len(CLASS_NAMES) else str(class_id)


def dataset_folder(root) -> Path:
    """The folder holding `CameraRGB/` and `CameraMask/`: `root` itself or `root/data`."""
    root = Path(root)
    for candidate in (root, root / "data"):
        if (candidate / "CameraRGB").is_dir() and (candidate / "CameraMask").is_dir():
            return candidate
    raise DataError(f"{root}: no CameraRGB/ and CameraMask/ folders (nor under data/).")


def frame_group(name: str) -> str:
    """Block of `FRAMES_PER_GROUP` consecutive frame numbers (`000123.png` -> `block0006`)."""
    stem = Path(name).stem
    return f"block{int(stem) // FRAMES_PER_GROUP:04d}" if stem.isdigit() else stem


def check_class_ids(mask: np.ndarray, num_classes: int | None, source) -> None:
    """Raises `DataError` naming `source` and the id when a class id is >= `num_classes` (the
    configured count), or with `None` when it does not fit in 8 bits (a 16-bit mask)."""
    highest = int(mask.max()) if mask.size else 0
    if num_classes is None and highest > 255:
        raise DataError(f"{source}: class id {highest} does not fit a class-id mask "
                        "(ids 0-255).")
    if num_classes is not None and highest >= num_classes:
        raise DataError(f"{source}: class id {highest} is out of range for "
                        f"num_classes={num_classes} (ids 0-{num_classes - 1}).")


def read_mask(path, num_classes: int | None = NUM_CLASSES) -> np.ndarray:
    """A class-id mask as uint8 `(H, W)` (`image_files.decode_labels`), checked against
    `num_classes` (`None` accepts any 8-bit id): the one mask reader of `data check`, training
    and evaluation.

    Raises:
        DataError: an unreadable file, or an id >= `num_classes`; the message names the file.
    """
    mask = image_files.decode_labels(path)
    check_class_ids(mask, num_classes, path)
    return mask.astype(np.uint8, copy=False)


def _scan(root, verify: bool):
    """Pairs, the problems found while listing them, and the files left out (nothing raised)."""
    folder = dataset_folder(root)
    rgb, masks = folder / "CameraRGB", folder / "CameraMask"
    image_paths, skipped = image_files.list_images(rgb, ".png")
    if not image_paths:
        raise image_files.empty_folder(rgb, ".png", skipped)
    mask_paths, skipped_masks = image_files.list_images(masks, ".png")
    skipped += skipped_masks
    images_by_name, problems = image_files.by_name(image_paths)
    masks_by_name, mask_problems = image_files.by_name(mask_paths)
    problems += mask_problems
    pairs = []
    for key, image_path in images_by_name.items():
        mask_path = masks_by_name.get(key)
        if mask_path is None:
            problems.append(f"{image_path}: missing mask {masks / image_path.name}.")
            continue
        if verify:
            try:
                image_files.check_mask_size(mask_path, image_files.inspect(image_path))
            except DataError as error:
                problems.append(str(error))
                continue
        pairs.append(Pair(image_path, mask_path, None, frame_group(image_path.name), None))
    problems += [f"{path}: mask without an image." for key, path in masks_by_name.items()
                 if key not in images_by_name]
    return pairs, problems, skipped


def list_pairs(root, verify: bool = True) -> list[Pair]:
    """Sorted image/mask pairs of a CARLA folder (`dataset_folder`), matched by name ignoring
    case; `verify` checks every file's header, end marker and size (no pixels decoded). Files
    left out (`image_files.list_images`) are named in a `note:` line on standard error.

    Raises:
        DataError: an empty folder, a missing or extra mask, a truncated or foreign file, or an
            image and mask of different sizes; the message names the files.
    """
    pairs, problems, skipped = _scan(root, verify)
    raise_problems(problems)
    image_files.note("skipped files", skipped)
    return pairs


def split_by_frames(pairs, val_fraction: float = 0.2, seed: int = 0):
    """(train, validation) by blocks of consecutive frames, so neighbours share a side."""
    return split_by_group(pairs, val_fraction, seed, what="frame block")


def class_fractions(pairs) -> dict[int, float]:
    """Share of pixels of each class id present in the pairs' masks."""
    counts = sum((_class_counts(read_mask(pair.mask, num_classes=None)) for pair in pairs),
                 np.zeros(256, np.int64))
    return _shares(counts)


def _class_counts(mask: np.ndarray) -> np.ndarray:
    return np.bincount(mask.ravel(), minlength=256)


def _shares(counts: np.ndarray) -> dict[int, float]:
    """`{class id: share of all pixels}` for the ids present in `counts`."""
    total = max(int(counts.sum()), 1)
    return {i: int(n) / total for i, n in enumerate(counts) if n}


def check(root, num_classes: int = NUM_CLASSES) -> CheckReport:
    """Validates a CARLA folder completely (every pixel decoded) and summarises it."""
    pairs, problems, skipped = _scan(root, verify=True)
    sizes = collections.Counter()
    counts = np.zeros(256, np.int64)
    for pair in tqdm(pairs, desc="checking pairs", leave=False):
        try:
            image = image_files.decode(pair.image)
            mask = read_mask(pair.mask, num_classes)
        except DataError as error:
            problems.append(str(error))
            continue
        sizes[f"{image.shape[1]}x{image.shape[0]}"] += 1
        counts += _class_counts(mask)
    classes = {f"{i} {class_name(i)}": round(share, 4) for i, share in _shares(counts).items()}
    summary = {
        "dataset": "carla",
        "pairs": len(pairs),
        "image_sizes": dict(sizes),
        "num_classes": num_classes,
        "class_pixel_fractions": classes,
        "skipped_files": skipped,
    }
    return CheckReport(summary, problems)
