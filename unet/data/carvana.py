"""Kaggle's Carvana Image Masking Challenge: the unzipped layout, its masks and its exact RLE.

Layout: `train/<car_id>_<NN>.jpg` (or `train_hq/`), `train_masks/<car_id>_<NN>_mask.gif`,
`train_masks.csv` (`img,rle_mask`), optionally `test/` and `metadata.csv`.

Run-length encoding, Carvana's convention: space-separated `start length` pairs over the runs
of 1s, `start` 1-based, pixels numbered row-major (C-order `mask.ravel()`), an empty mask is
the empty string.
"""

from __future__ import annotations

import collections
import csv
import io
import re
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from unet import files
from unet.data import image_files
from unet.data.pairs import CheckReport, DataError, Pair, raise_problems, split_by_group
from unet.errors import UsageError

IMAGE_SIZE = (1280, 1918)  # height, width
VIEWS = 16
TRAIN_FOLDERS = ("train", "train_hq")
MASK_SOURCES = ("auto", "gif", "csv")
_IMAGE_NAME = re.compile(r"^(?P<car>[0-9a-f]+)_(?P<view>\d{2})\.jpg$", re.IGNORECASE)


def parse_name(name: str) -> tuple[str, int]:
    """`"00087a6bd4dc_01.jpg"` -> `("00087a6bd4dc", 1)`."""
    match = _IMAGE_NAME.match(name)
    if not match:
        raise DataError(f"{name}: not a Carvana image name (<car_id>_<01..16>.jpg).")
    view = int(match["view"])
    if not 1 <= view <= VIEWS:
        raise DataError(f"{name}: view {view} is outside 1..{VIEWS}.")
    return match["car"], view


def mask_name(image_name: str) -> str:
    """`"00087a6bd4dc_01.jpg"` -> `"00087a6bd4dc_01_mask.gif"`."""
    return image_name[: -len(".jpg")] + "_mask.gif"


def as_binary_mask(mask, source: str = "mask") -> np.ndarray:
    """The mask as uint8 {0, 1}; {0, 255} is mapped to {0, 1}, any other value is an error."""
    mask = np.asarray(mask)
    if mask.dtype == bool:
        return mask.view(np.uint8)
    if mask.size == 0:
        return mask.astype(np.uint8)
    # Fast path: integer masks within [0, 1] need only min and max.
    low, high = mask.min(), mask.max()
    if np.issubdtype(mask.dtype, np.integer) and low >= 0 and high <= 1:
        return mask.astype(np.uint8, copy=False)
    if np.all((mask == 0) | (mask == 1)):
        return mask.astype(np.uint8)
    if np.all((mask == 0) | (mask == 255)):
        return (mask == 255).astype(np.uint8)
    values = np.unique(mask)
    shown = ", ".join(str(v) for v in values[:8]) + (" ..." if len(values) > 8 else "")
    raise DataError(f"{source}: mask values must be {{0, 1}} or {{0, 255}}; found {shown}.")


def rle_encode(mask) -> str:
    """Encodes a binary mask in Carvana's run-length format (row-major, 1-based).

    Example:
    >>> rle_encode(np.array([[0, 1, 1], [1, 0, 1]]))
    '2 3 6 1'
    """
    flat = as_binary_mask(mask).ravel()
    if flat.size == 0:
        return ""
    # 1-based positions where a run starts or where the pixel after a run is: the changes
    # between neighbours, plus the two ends when the mask touches them.
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 2
    if flat[0]:
        changes = np.concatenate(([1], changes))
    if flat[-1]:
        changes = np.concatenate((changes, [flat.size + 1]))
    changes[1::2] -= changes[::2]
    return " ".join(map(str, changes.tolist()))


def parse_rle(rle: str, size: int, source: str = "rle") -> tuple[np.ndarray, np.ndarray]:
    """Validated 0-based starts and lengths of an RLE string over `size` pixels.

    Raises:
        DataError: an odd token count, a non-integer, a start below 1, a run of length 0,
            starts that do not increase, runs that overlap, or a run past the image.
    """
    tokens = rle.split()
    if len(tokens) % 2:
        raise DataError(f"{source}: RLE has an odd number of values ({len(tokens)}).")
    try:
        numbers = np.array(tokens, dtype=np.int64)
    except ValueError as error:
        raise DataError(f"{source}: RLE holds a value that is not an integer ({error}).") from None
    except OverflowError:
        largest = max(tokens, key=lambda token: (len(token), token))
        raise DataError(f"{source}: RLE value {largest} is too large for any image.") from None
    starts, lengths = numbers[0::2] - 1, numbers[1::2]
    if len(starts) == 0:
        return starts, lengths
    if starts.min() < 0:
        raise DataError(f"{source}: RLE starts are 1-based; found a start of {starts.min() + 1}.")
    if lengths.min() < 1:
        raise DataError(f"{source}: RLE has a run of length {lengths.min()}.")
    ends = starts + lengths
    order = np.flatnonzero(np.diff(starts) <= 0)
    if len(order):
        i = order[0]
        raise DataError(f"{source}: RLE starts must increase; start {starts[i + 1] + 1} "
                        f"follows {starts[i] + 1}.")
    overlaps = np.flatnonzero(starts[1:] < ends[:-1])
    if len(overlaps):
        i = overlaps[0]
        raise DataError(f"{source}: RLE runs overlap; the run at {starts[i] + 1} ends after the "
                        f"next starts at {starts[i + 1] + 1}.")
    if ends[-1] > size:
        raise DataError(f"{source}: RLE run at {starts[-1] + 1} of length {lengths[-1]} runs "
                        f"past the image ({size} pixels).")
    return starts, lengths


def rle_decode(rle: str, shape=IMAGE_SIZE, source: str = "rle") -> np.ndarray:
    """Decodes Carvana's run-length format into a uint8 {0, 1} mask of `shape` (height, width)."""
    size = int(np.prod(shape))
    starts, lengths = parse_rle(rle, size, source)
    # Alternating runs of 0s and 1s between the boundaries; np.repeat lays them out at once.
    boundaries = np.concatenate(([0], np.stack([starts, starts + lengths], 1).ravel(), [size]))
    values = np.resize(np.array([0, 1], np.uint8), len(boundaries) - 1)
    return np.repeat(values, np.diff(boundaries)).reshape(shape)


def read_mask(path) -> np.ndarray:
    """Reads a Carvana mask GIF as uint8 {0, 1} (any other grey level is an error), after
    checking its header (`image_files.inspect`: size limit, end marker)."""
    path = Path(path)
    image_files.inspect(path)
    try:
        with Image.open(path) as image:
            image.load()
            # Through the palette, not raw indices: writers may reorder a palette.
            pixels = np.array(image.convert("L"))
    except Exception as error:
        raise DataError(f"{path}: corrupt mask ({error}).") from error
    return as_binary_mask(pixels, str(path))


def read_rle_csv(path) -> dict[str, str]:
    """`train_masks.csv` as {image name: RLE string}; the header must be `img,rle_mask`.

    Raises:
        DataError: another header, a row of another length, a name twice, or a byte that is
            not UTF-8 (a byte-order mark is read); the message names the file and line.
    """
    path = Path(path)
    reader = csv.reader(io.StringIO(files.read_user_text(path), newline=""))
    header = next(reader, None)
    if header != ["img", "rle_mask"]:
        found = ",".join(header or [])
        found = found if len(found) <= 60 else f"{found[:60]}..."
        raise DataError(f"{path}: line 1 must be the header 'img,rle_mask'; found "
                        f"{found!r}.")
    rows = {}
    for line, row in enumerate(reader, start=2):
        if len(row) != 2:
            raise DataError(f"{path}, line {line}: expected 2 fields, found {len(row)}.")
        if row[0] in rows:
            raise DataError(f"{path}, line {line}: {row[0]} appears twice.")
        rows[row[0]] = row[1]
    return rows


def read_pair_mask(pair: Pair) -> np.ndarray:
    """A pair's mask as uint8 {0, 1} at its image's size: its GIF, else its `train_masks.csv`
    row decoded.

    Raises:
        DataError: an unreadable GIF or image header, or a bad RLE row; the message names it.
    """
    if pair.mask is not None:
        return read_mask(pair.mask)
    info = image_files.inspect(pair.image)
    return rle_decode(pair.rle, (info.height, info.width), f"train_masks.csv row {pair.name}")


def is_layout(root) -> bool:
    """Whether `root` is an unzipped Carvana folder: it holds `train/` or `train_hq/`."""
    return any((Path(root) / name).is_dir() for name in TRAIN_FOLDERS)


def image_folder(root) -> Path:
    """`train/`, or `train_hq/` when only the high-quality JPEGs were unzipped."""
    root = Path(root)
    if not is_layout(root):
        raise DataError(f"{root}: no train/ or train_hq/ folder (expected Kaggle's unzipped "
                        "layout).")
    return next(root / name for name in TRAIN_FOLDERS if (root / name).is_dir())


def _scan(root, mask_source: str, verify: bool):
    """Pairs and what listing them found, nothing raised: `(pairs, problems, mask source,
    skipped files, names matched ignoring case)`."""
    if mask_source not in MASK_SOURCES:
        raise UsageError(f"mask_source must be one of {MASK_SOURCES}; received {mask_source!r}.")
    root = Path(root)
    images = image_folder(root)
    mask_dir, csv_path = root / "train_masks", root / "train_masks.csv"
    image_paths, skipped = image_files.list_images(images, ".jpg")
    if not image_paths:
        raise image_files.empty_folder(images, ".jpg", skipped)
    gifs = []
    if mask_dir.is_dir() and mask_source != "csv":
        gifs, skipped_masks = image_files.list_images(mask_dir, ".gif")
        skipped += skipped_masks
    if mask_source == "auto":
        mask_source = "gif" if gifs else "csv"
    images_by_name, problems = image_files.by_name(image_paths)
    rles, rows_by_name = {}, {}
    if mask_source == "csv":
        if not csv_path.is_file():
            raise DataError(f"{root}: no masks (neither train_masks/*.gif nor train_masks.csv).")
        rles = read_rle_csv(csv_path)
        for row in rles:
            if row.lower() in rows_by_name:
                problems.append(f"{csv_path}: rows {rows_by_name[row.lower()]} and {row} differ "
                                "only in case; keep one.")
            rows_by_name.setdefault(row.lower(), row)
        wanted = rows_by_name
    elif not mask_dir.is_dir():
        raise DataError(f"{mask_dir}: folder not found.")
    else:
        masks_by_name, mask_problems = image_files.by_name(gifs)
        problems += mask_problems
        wanted = {key: path.name for key, path in masks_by_name.items()}

    pairs, case_matched = [], []
    for image_path in images_by_name.values():
        try:
            car_id, view = parse_name(image_path.name)
        except DataError as error:
            problems.append(f"{image_path}: {error}")
            continue
        expected = mask_name(image_path.name) if mask_source == "gif" else image_path.name
        found = wanted.get(expected.lower())
        if found is None:
            problems.append(f"{image_path}: missing mask {expected} in {mask_dir}." if
                            mask_source == "gif" else f"{image_path}: no row in {csv_path.name}.")
            continue
        if found != expected:
            case_matched.append(f"{image_path.name} ~ {found}")
        mask_path = mask_dir / found if mask_source == "gif" else None
        rle = rles[found] if mask_source == "csv" else None
        if verify:
            try:
                info = image_files.inspect(image_path)
                if info.format != "JPEG":
                    raise DataError(f"{image_path}: expected a JPEG, found {info.format}.")
                if mask_path is not None:
                    image_files.check_mask_size(mask_path, info)
                else:
                    parse_rle(rle, info.width * info.height, f"{csv_path.name} row {found}")
            except DataError as error:
                problems.append(str(error))
                continue
        pairs.append(Pair(image_path, mask_path, rle, car_id, view))

    expected_masks = {(mask_name(name) if mask_source == "gif" else name).lower()
                      for name in images_by_name}
    if mask_source == "gif":
        problems += [f"{mask_dir / name}: mask without an image." for key, name in wanted.items()
                     if key not in expected_masks]
    else:
        problems += [f"{csv_path}: row {name} has no image in {images}."
                     for key, name in sorted(wanted.items()) if key not in expected_masks]
    return pairs, problems, mask_source, skipped, case_matched


def list_pairs(root, mask_source: str = "auto", verify: bool = True) -> list[Pair]:
    """Sorted image/mask pairs of a Carvana folder, with car id and view of each.

    Names are matched ignoring case (`x_01.JPG` with `x_01_mask.gif`); such pairs, and the
    files left out (`image_files.list_images`), are named in `note:` lines on standard error.

    Args:
        root: The unzipped competition folder (holds `train/` or `train_hq/`).
        mask_source: `"gif"` (`train_masks/`), `"csv"` (`train_masks.csv`), or `"auto"`: the
            GIFs when present, else the CSV.
        verify: Check every file's header, end marker and size (no pixels decoded).

    Raises:
        DataError: an empty folder, a missing or extra mask, a truncated or foreign file, sizes
            that differ, a bad RLE row; the message names each file.
    """
    pairs, problems, _, skipped, case_matched = _scan(root, mask_source, verify)
    raise_problems(problems)
    image_files.note("skipped files", skipped)
    image_files.note("matched ignoring case", case_matched)
    return pairs


def split_by_car(pairs, val_fraction: float = 0.2, seed: int = 0):
    """(train, validation) with no car in both: its 16 views are near-duplicates."""
    return split_by_group(pairs, val_fraction, seed, what="car")


def list_test_images(root) -> list[Path]:
    """The sorted `test/` (or `test_hq/`) JPEGs, for a submission."""
    root = Path(root)
    for name in ("test", "test_hq"):
        folder = root / name
        if folder.is_dir():
            paths, skipped = image_files.list_images(folder, ".jpg")
            if not paths:
                raise image_files.empty_folder(folder, ".jpg", skipped)
            return paths
    raise DataError(f"{root}: no test/ or test_hq/ folder.")


def compare_csv_with_gifs(root, pairs=None) -> list[str]:
    """The rows of `train_masks.csv` whose decoded mask differs from the GIF, one line each."""
    root = Path(root)
    rles = {name.lower(): rle for name, rle in read_rle_csv(root / "train_masks.csv").items()}
    pairs = pairs if pairs is not None else list_pairs(root, mask_source="gif")
    differences = []
    for pair in tqdm(pairs, desc="train_masks.csv vs GIFs", leave=False):
        rle = rles.get(pair.name.lower())  # names matched ignoring case, as `list_pairs` does
        if rle is None:
            differences.append(f"{pair.name}: no row in train_masks.csv.")
            continue
        try:
            gif = read_mask(pair.mask)
            decoded = rle_decode(rle, gif.shape, f"train_masks.csv row {pair.name}")
        except DataError as error:
            differences.append(str(error))
            continue
        wrong = int(np.count_nonzero(decoded != gif))
        if wrong:
            differences.append(f"{pair.name}: RLE and GIF differ in {wrong} pixels.")
    return differences


def check(root, mask_source: str = "auto") -> CheckReport:
    """Validates a Carvana folder completely (every pixel decoded) and summarises it."""
    pairs, problems, mask_source, skipped, case_matched = _scan(root, mask_source, verify=True)
    sizes = collections.Counter()
    mask_values = set()
    coverage = []
    readable = []
    for pair in tqdm(pairs, desc="checking pairs", leave=False):
        try:
            image = image_files.decode(pair.image)
            mask = read_pair_mask(pair)
        except DataError as error:
            problems.append(str(error))
            continue
        sizes[f"{image.shape[1]}x{image.shape[0]}"] += 1
        mask_values.update(np.unique(mask).tolist())
        coverage.append(float(mask.mean()))
        readable.append(pair)
    cars = collections.Counter(p.group for p in pairs)
    incomplete = sorted(car for car, n in cars.items() if n != VIEWS)
    if (Path(root) / "train_masks.csv").is_file() and mask_source == "gif":
        problems += compare_csv_with_gifs(root, readable)
    summary = {
        "dataset": "carvana",
        "pairs": len(pairs),
        "cars": len(cars),
        "cars_without_16_views": len(incomplete),
        "image_sizes": dict(sizes),
        "mask_source": mask_source,
        "mask_values": sorted(mask_values),
        "mean_mask_coverage": round(float(np.mean(coverage)), 4) if coverage else None,
        "skipped_files": skipped,
        "matched_ignoring_case": case_matched,
    }
    return CheckReport(summary, problems)
