"""Any folder of images and masks (`--dataset folder`): its layout, its mask encoding, its
classes, and its split.

Layouts, found by looking at the folder (or one folder below it):
- `images/` + `masks/`: pairs by file stem (`cat1.JPG` with `cat1.png`). Images are
  jpg/jpeg/png/tif/tiff/bmp in any case, RGB or grey, of any size; masks png/gif/tif/tiff.
  Every image needs its mask and every mask its image.
- Pascal VOC: `JPEGImages/` + `SegmentationClass/`; the masks choose the images (VOC holds
  more photos than masks), `ImageSets/Segmentation/train.txt` and `val.txt` are the split where
  present, and 255 marks void.

Mask encodings, told apart by this rule (applied to every mask; one folder, one encoding):
1. `rgb`: RGB(A) masks with a colour that is not grey (r = g = b), or any RGB(A) mask beside a
   label map (`labelmap.txt`, CVAT/VOC: `name:r,g,b::`; or `classes.csv`: `name,r,g,b`). A
   pixel's class is the line of its colour in the map; a colour the map lacks is an error.
2. `palette`: palette masks (PNG/GIF mode P) whose colours are not all grey: the index is the
   class (VOC); the colours come from the masks' palette.
3. One band (8- or 16-bit grey, 1-bit, or grey-looking RGB or palette masks), void left out:
   `binary` when every mask's values are within {0, 1} or within {0, 255} (0 background, else
   foreground; the project's one-logit model), else `ids` (the value is the class id).

Void: pixels equal to `ignore_index` (a value in the files; for `rgb`, a line of the label map,
which is then no class; 255 by default for VOC) are decoded as `VOID_LABEL` and count in no loss
or metric. A binary 0/255 mask
has no void unless asked. Classes: the label map's, else the highest id + 1 (VOC: its 21), or
what `num_classes` says. Split: VOC's lists, else `group_by` (the regular expression's first
group names the group), else by image; fewer than two groups fall back as `pairs.split_by_group`
says.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from unet import files
from unet.config import MASK_ENCODINGS, VOID_LABEL
from unet.data import image_files
from unet.data.pairs import CheckReport, DataError, Pair, first_five, raise_problems, split_by_group
from unet.errors import UsageError

IMAGE_SUFFIXES = image_files.IMAGE_SUFFIXES
MASK_SUFFIXES = (".png", ".gif", ".tif", ".tiff")
LABEL_MAPS = ("labelmap.txt", "classes.csv")
VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)
# Class colours where the data has none (ids, binary): distinct, dark background first.
DEFAULT_COLORS = (
    (0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
    (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128), (128, 128, 128),
)


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where a folder dataset's files lie.

    Attributes:
        kind: `"images-masks"` or `"voc"`.
        images, masks: The two folders.
        label_map: `labelmap.txt` or `classes.csv`, if there is one.
        lists: VOC's `ImageSets/Segmentation` folder, if it holds `train.txt` and `val.txt`.
    """

    root: Path
    kind: str
    images: Path
    masks: Path
    label_map: Path | None = None
    lists: Path | None = None


def find_layout(root) -> Layout:
    """The layout of `root` (or of its one subfolder holding it, e.g. `VOCdevkit/VOC2012`).

    Raises:
        DataError: neither layout; the message names the folder and what it looked for.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder.")
    for folder in _folders_to_depth_2(root):
        for kind, images, masks in (("images-masks", "images", "masks"),
                                    ("voc", "JPEGImages", "SegmentationClass")):
            if (folder / images).is_dir() and (folder / masks).is_dir():
                label_map = next((folder / n for n in LABEL_MAPS if (folder / n).is_file()), None)
                lists = folder / "ImageSets" / "Segmentation"
                has_lists = kind == "voc" and all((lists / f"{s}.txt").is_file()
                                                  for s in ("train", "val"))
                return Layout(folder, kind, folder / images, folder / masks, label_map,
                              lists if has_lists else None)
    raise DataError(f"{root}: no images/ + masks/ folders, nor Pascal VOC's JPEGImages/ + "
                    "SegmentationClass/ (here or one or two folders below).")


def _folders_to_depth_2(root: Path):
    """`root`, then its folders one and two levels down in sorted order (each folder before
    its subfolders), lazily: the search stops at the first layout found."""
    yield root
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        yield child
        yield from sorted(p for p in child.iterdir() if p.is_dir())


def read_label_map(path) -> tuple[tuple[str, ...], tuple[tuple[int, int, int], ...]]:
    """`(names, colours)` of a `labelmap.txt` (`name:r,g,b::`, `#` comments) or `classes.csv`
    (`name,r,g,b`, an optional header); a class's id is its line's order.

    Raises:
        DataError: a line that is not a name and three numbers 0-255, a colour listed twice, or
            no classes; the message names the file and line.
    """
    path = Path(path)
    names, colors = [], []
    for number, line in enumerate(files.read_user_text(path).splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if path.suffix == ".csv":
            name, *rgb = [part.strip() for part in line.split(",")]
        else:
            name, rgb_text = (line.split(":") + [""])[:2]
            rgb = [part.strip() for part in rgb_text.split(",")]
        if path.suffix == ".csv" and number == 1 and not rgb[:1] == [""] and not all(
                value.isdigit() for value in rgb):
            continue  # a header
        if len(rgb) != 3 or not all(v.isdigit() and int(v) < 256 for v in rgb):
            raise DataError(f"{path}, line {number}: expected "
                            f"{'name,r,g,b' if path.suffix == '.csv' else 'name:r,g,b::'} "
                            f"with 0-255 values; read {line!r}.")
        color = tuple(int(v) for v in rgb)
        if color in colors:
            raise DataError(f"{path}, line {number}: colour {color} is also "
                            f"{names[colors.index(color)]!r}'s.")
        names.append(name.strip())
        colors.append(color)
    if not names:
        raise DataError(f"{path}: no classes listed.")
    return tuple(names), tuple(colors)


@dataclasses.dataclass(frozen=True)
class MaskFormat:
    """How a folder's masks encode classes, and what the classes are called and look like.

    Attributes:
        encoding: One of `config.MASK_ENCODINGS`: `binary`, `ids`, `palette`, `rgb`.
        names: One per class id (binary: background, foreground).
        colors: RGB of each class id (the label map's, the palette's, else `DEFAULT_COLORS`).
        ignore_index: The file value (for `rgb`, the label map's line) that marks void, or
            `None`; for `rgb` that line is not among `names` and `colors`.
        palette: The masks' own PIL palette (768 values), to write predictions in it.
        bits: 8, or 16 for 16-bit id masks (predictions are written so too).
    """

    encoding: str
    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]
    ignore_index: int | None = None
    palette: tuple[int, ...] | None = None
    bits: int = 8
    label_map: tuple[tuple[int, int, int], ...] | None = None  # each line's colour, for `rgb`

    @property
    def num_classes(self) -> int:
        """The model's output classes: 1 for a binary mask, else one per class name."""
        return 1 if self.encoding == "binary" else len(self.names)


def _kind_of(path, has_label_map: bool) -> str:
    """`"rgb"`, `"palette"` or `"band"` for one mask file (the module's rule, steps 1-2)."""
    image_files.inspect(path)
    try:
        with Image.open(path) as image:
            mode = image.mode
            if mode in ("RGB", "RGBA"):
                if has_label_map:
                    return "rgb"
                pixels = np.asarray(image.convert("RGB"))
                grey = bool(np.all(pixels[..., 0] == pixels[..., 1])
                            and np.all(pixels[..., 1] == pixels[..., 2]))
                return "band" if grey else "rgb"
            if mode in ("P", "PA"):
                used = np.unique(np.asarray(image.getchannel(0)))
                palette = np.array(image.getpalette() or [], np.int32).reshape(-1, 3)
                colours = palette[used[used < len(palette)]]
                grey = bool(np.all(colours[:, 0] == colours[:, 1])
                            and np.all(colours[:, 1] == colours[:, 2]))
                return "band" if grey and not has_label_map else "palette"
            if mode in ("L", "LA", "1", "I", "I;16", "I;16B", "I;16L"):
                return "band"
    except Exception as error:
        raise DataError(f"{path}: not a readable mask ({error}).") from error
    raise DataError(f"{path}: mask mode {mode} is none of grey, 16-bit, palette or RGB.")


def _band_values(path) -> np.ndarray:
    """One-band values of a grey, grey-looking RGB or grey-palette mask."""
    with Image.open(path) as image:
        if image.mode in ("RGB", "RGBA", "P", "PA"):
            return np.asarray(image.convert("L"))
    return image_files.decode_labels(path)


def decode_mask(path, fmt: MaskFormat) -> np.ndarray:
    """A mask file as uint8 class ids `(H, W)`, void as `VOID_LABEL`: the one reader of a
    folder's masks, for `data check`, training, evaluation and overlays.

    Raises:
        DataError: an unreadable file, a colour missing from the label map, or a class id at or
            above the class count; the message names the file.
    """
    if fmt.encoding == "rgb":
        pixels = image_files.decode(path, "RGB").astype(np.int32)
        codes = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
        table = np.array([(r << 16) | (g << 8) | b for r, g, b in fmt.label_map], np.int64)
        order = np.argsort(table)
        position = np.searchsorted(table[order], codes).clip(0, len(table) - 1)
        found = table[order][position] == codes
        if not found.all():
            y, x = np.argwhere(~found)[0]
            raise DataError(f"{path}: colour {tuple(int(c) for c in pixels[y, x])} (at x={x}, "
                            f"y={y}) is not in the label map; add it as a class.")
        values = order[position]
    elif fmt.encoding == "palette":
        values = image_files.decode_labels(path)
    else:
        values = _band_values(path)
    void = values == fmt.ignore_index if fmt.ignore_index is not None else None
    if fmt.encoding == "rgb" and void is not None:
        values = values - (values > fmt.ignore_index)  # the void line is no class: close the gap
    if fmt.encoding == "binary":
        labels = (values > 0).astype(np.uint8)
    else:
        highest = int(values[~void].max()) if void is not None and (~void).any() else (
            int(values.max()) if void is None and values.size else 0)
        # A format without class names (ids whose count is the model's) checks the uint8 range.
        count = fmt.num_classes if fmt.names else VOID_LABEL
        if highest >= count:
            raise DataError(f"{path}: class id {highest} is out of range for "
                            f"{count} classes (ids 0-{count - 1}); set "
                            "--num-classes, or --ignore-index if it marks void.")
        labels = values.astype(np.uint8)
    if void is not None:
        labels[void] = VOID_LABEL
    return labels


def _group_of(name: str, pattern: re.Pattern | None) -> str | None:
    if pattern is None:
        return name
    found = pattern.search(name)
    return found.group(1) if found and found.group(1) is not None else None


def list_pairs(root, group_by: str | None = None, *, layout: Layout | None = None
               ) -> list[Pair]:
    """Sorted image/mask pairs of a folder dataset, each image's size checked against its
    mask's (headers only); `group` is the image's name, or `group_by`'s first group.

    Args:
        layout: `find_layout(root)`, where the caller has it already.

    Raises:
        DataError: an empty folder, images without masks or masks without images (listed), a
            mask of another size than its image, an unreadable file, a `group_by` without a
            group or matching no name; the message names the files.
    """
    layout = layout or find_layout(root)
    pattern = _pattern(group_by)
    masks, skipped = image_files.list_images(layout.masks, MASK_SUFFIXES)
    images, skipped_images = image_files.list_images(layout.images, IMAGE_SUFFIXES)
    skipped += skipped_images
    for folder, found, suffixes in ((layout.images, images, IMAGE_SUFFIXES),
                                    (layout.masks, masks, MASK_SUFFIXES)):
        if not found:
            raise image_files.empty_folder(folder, "/".join(suffixes), skipped)
    images_by_stem, problems = image_files.by_name(images, stem=True)
    masks_by_stem, mask_problems = image_files.by_name(masks, stem=True)
    problems += mask_problems
    if layout.kind == "voc":  # VOC holds more photos than masks: the masks choose
        images_by_stem = {k: v for k, v in images_by_stem.items() if k in masks_by_stem}
    without_masks = [p.name for k, p in images_by_stem.items() if k not in masks_by_stem]
    without_images = [p.name for k, p in masks_by_stem.items() if k not in images_by_stem]
    if without_masks:
        problems.append(f"{layout.images}: {len(without_masks)} image(s) without a mask in "
                        f"{layout.masks}: {first_five(without_masks)}.")
    if without_images:
        problems.append(f"{layout.masks}: {len(without_images)} mask(s) without an image in "
                        f"{layout.images}: {first_five(without_images)}.")
    pairs, unmatched = [], []
    for key, image_path in sorted(images_by_stem.items()):
        mask_path = masks_by_stem.get(key)
        if mask_path is None:
            continue
        try:
            image_files.check_mask_size(mask_path, image_files.inspect(image_path))
        except DataError as error:
            problems.append(str(error))
            continue
        group = _group_of(image_path.name, pattern)
        if group is None:
            unmatched.append(image_path.name)
        pairs.append(Pair(image_path, mask_path, None, group or "", None))
    raise_problems(problems)
    if pattern is not None and len(unmatched) == len(pairs):
        raise DataError(f"--group-by {group_by!r} matches no image name in {layout.images} "
                        f"(e.g. {pairs[0].name}).")
    if unmatched:
        raise DataError(f"--group-by {group_by!r} finds no group in {len(unmatched)} image "
                        f"name(s) of {layout.images}: {first_five(unmatched)}.")
    image_files.note("skipped files", skipped)
    return pairs


def _pattern(group_by: str | None) -> re.Pattern | None:
    if group_by is None:
        return None
    try:
        pattern = re.compile(group_by)
    except re.error as error:
        raise DataError(f"--group-by {group_by!r} is not a regular expression ({error}).") from None
    if pattern.groups < 1:
        raise DataError(f"--group-by {group_by!r} has no group: put the part of a name that "
                        "names its group in parentheses, e.g. '^(patient\\d+)_'.")
    return pattern


@dataclasses.dataclass
class Scan:
    """What reading every mask of a folder found (`scan`)."""

    layout: Layout
    pairs: list
    format: MaskFormat
    counts: np.ndarray  # pixels of each decoded label 0-255 (void at VOID_LABEL)
    sizes: collections.Counter


def check_num_classes(num_classes: int | None) -> None:
    """Refuses a class count a folder's masks cannot hold: decoded masks are uint8 with
    `VOID_LABEL` (255) for void, so class ids run 0-254.

    Raises:
        UsageError: above 255 classes, naming `--num-classes`.
    """
    if num_classes is not None and num_classes > VOID_LABEL:
        raise UsageError(f"--num-classes {num_classes}: a folder dataset holds at most "
                         f"{VOID_LABEL} classes (ids 0-{VOID_LABEL - 1}; {VOID_LABEL} marks "
                         "void); give at most 255.")


def mask_format(root, *, encoding: str | None = None, ignore_index: int | None = None,
                num_classes: int | None = None, bits: int = 8,
                layout: Layout | None = None) -> MaskFormat:
    """The `MaskFormat` of a folder whose encoding is known (a run's configuration) or
    found from its first mask; class names and colours from its label map or palette.

    Args:
        encoding: One of `MASK_ENCODINGS`, or `None` to look at the first mask (ids and binary
            are told apart by `scan`, which reads them all).
        num_classes: The model's classes, where the data does not fix them (ids, palette).
        layout: `find_layout(root)`, where the caller has it already.
    """
    check_num_classes(num_classes)
    layout = layout or find_layout(root)
    names, colors, label_map = (), (), None
    if layout.label_map is not None:
        names, label_map = read_label_map(layout.label_map)
        colors = label_map
    masks, _ = image_files.list_images(layout.masks, MASK_SUFFIXES)
    palette = None
    if encoding in (None, "palette") and masks:
        with Image.open(masks[0]) as image:
            if image.mode in ("P", "PA") and image.getpalette():
                palette = tuple(image.getpalette())
        if encoding is None:
            kind = _kind_of(masks[0], label_map is not None)
            encoding = "ids" if kind == "band" else kind
    if encoding not in MASK_ENCODINGS:
        raise ValueError(f"encoding must be one of {MASK_ENCODINGS}; received {encoding!r}.")
    if encoding == "rgb" and label_map is None:
        raise DataError(f"{layout.masks}: colour masks need a label map beside them "
                        f"({' or '.join(str(layout.root / n) for n in LABEL_MAPS)}): one "
                        "line per class, name:r,g,b:: or name,r,g,b.")
    if encoding == "binary":
        names, colors = ("background", "foreground"), ((0, 0, 0), (255, 255, 255))
    elif not names:
        count = num_classes or (len(VOC_CLASSES) if layout.kind == "voc" else 0)
        names = (VOC_CLASSES if layout.kind == "voc" and count == len(VOC_CLASSES)
                 else tuple(str(i) for i in range(count)))
        if palette is not None:
            colors = tuple(tuple(palette[3 * i:3 * i + 3]) for i in range(min(256, count)))
    if encoding == "rgb" and ignore_index is not None:
        if not 0 <= ignore_index < len(names):
            raise UsageError(f"--ignore-index {ignore_index}: for colour masks it names the line "
                             f"of the void colour in {layout.label_map} (0-{len(names) - 1}).")
        # the void colour's line is left out of the classes (and of every score); the classes
        # after it move up one id
        names = names[:ignore_index] + names[ignore_index + 1:]
        colors = colors[:ignore_index] + colors[ignore_index + 1:]
    if num_classes is not None and encoding != "binary" and num_classes != len(names):
        if layout.label_map is not None and num_classes < len(names):
            besides = " besides void" if encoding == "rgb" and ignore_index is not None else ""
            raise DataError(f"{layout.label_map} lists {len(names)} classes{besides} but "
                            f"--num-classes is {num_classes}.")
        names = names + tuple(str(i) for i in range(len(names), num_classes))
    if ignore_index is None and layout.kind == "voc" and encoding == "palette":
        ignore_index = VOID_LABEL
    if encoding in ("ids", "palette") and ignore_index is not None and (
            0 <= ignore_index < len(names)):
        # a void id among the class ids would stay a class that is never labelled yet scored
        raise UsageError(f"--ignore-index {ignore_index} is one of the class ids 0-"
                         f"{len(names) - 1}: void must lie above every class id (255, or the "
                         "highest id when that one marks void); remap the masks or give "
                         "--num-classes below it.")
    return MaskFormat(encoding, names, colors or DEFAULT_COLORS, ignore_index, palette, bits,
                      label_map)


def scan(root, *, ignore_index: int | None = None, num_classes: int | None = None,
         group_by: str | None = None, problems: list | None = None) -> Scan:
    """Reads every mask of a folder: its encoding (the module's rule), classes and pixel counts.

    Args:
        problems: A list to collect the masks that fail (`data check`); `None` raises at the
            first.

    Raises:
        DataError: as `list_pairs`; mixed encodings, a colour missing from the label map, a class
            id at or above `num_classes`, ids above 254; the message names the file.
    """
    check_num_classes(num_classes)
    layout = find_layout(root)
    pairs = list_pairs(root, group_by, layout=layout)
    kinds = {}
    for pair in pairs:
        kind = _kind_of(pair.mask, layout.label_map is not None)
        kinds.setdefault(kind, pair.mask)
        if len(kinds) > 1:
            other = next(k for k in kinds if k != kind)
            raise DataError(f"{pair.mask}: mixed encodings in one folder: this mask is {kind}, "
                            f"{kinds[other].name} is {other}; convert them to one.")
    kind = next(iter(kinds))
    bits = 8
    if kind == "band":  # binary or ids: judged on the values of every mask, void left out
        seen, binary = set(), True
        for pair in pairs:
            values = _band_values(pair.mask)
            bits = 16 if values.dtype == np.uint16 else bits
            present = set(np.unique(values).tolist()) - {ignore_index}
            binary = binary and (present <= {0, 1} or present <= {0, 255})
            seen |= present
        encoding = "binary" if binary else "ids"
        if ignore_index is not None and len(seen) < 2:
            raise UsageError(f"--ignore-index {ignore_index}: the masks in {layout.masks} "
                             f"then hold only {sorted(seen)}, one class (on 0/255 or 0/1 "
                             "masks void would take a whole class); drop --ignore-index or "
                             "give the value that marks void.")
        present = seen
        if encoding == "ids" and num_classes is None:
            highest = max(present)
            if highest >= VOID_LABEL:
                where = next(p.mask for p in pairs if (_band_values(p.mask) == highest).any())
                raise DataError(f"{where}: class id {highest}: ids go up to "
                                f"{VOID_LABEL - 1}; if {highest} marks void, give "
                                f"--ignore-index {highest}.")
            num_classes = highest + 1
    else:
        encoding = kind
        if kind == "palette" and num_classes is None and layout.label_map is None and (
                layout.kind != "voc"):
            seen = set()
            for pair in pairs:
                seen |= set(np.unique(image_files.decode_labels(pair.mask)).tolist())
            seen.discard(ignore_index if ignore_index is not None else -1)
            num_classes = max(seen) + 1
    fmt = mask_format(root, encoding=encoding, ignore_index=ignore_index,
                      num_classes=num_classes, bits=bits, layout=layout)
    counts = np.zeros(256, np.int64)
    sizes = collections.Counter()
    for pair in pairs:
        try:
            labels = decode_mask(pair.mask, fmt)
        except DataError as error:
            if problems is None:
                raise
            problems.append(str(error))
            continue
        counts += np.bincount(labels.ravel(), minlength=256)
        sizes[f"{labels.shape[1]}x{labels.shape[0]}"] += 1
    return Scan(layout, pairs, fmt, counts, sizes)


def split(pairs, layout: Layout, val_fraction: float, seed: int = 0):
    """`(train, validation, how)`: VOC's lists where present, else whole groups at random
    (`pairs.split_by_group`: by image unless `group_by` gave groups); `how` says which."""
    grouped = any(p.group != p.name for p in pairs)
    if layout.lists is not None:
        listed = {side: set(files.read_user_text(layout.lists / f"{side}.txt").split())
                  for side in ("train", "val")}
        train = [p for p in pairs if p.image.stem in listed["train"]]
        val = [p for p in pairs if p.image.stem in listed["val"]]
        if train and val:
            _check_lists(layout.lists, listed, pairs, grouped)
            return train, val, f"VOC's lists ({layout.lists})"
        print(f"note: {layout.lists}: train.txt and val.txt name none of the masks on one "
              "side; split at random instead.", file=sys.stderr)
    train, val = split_by_group(pairs, val_fraction, seed, what="group" if grouped else "image")
    how = "by group (--group-by)" if grouped else "by image"
    return train, val, f"{how}, seed {seed}"


def _check_lists(lists: Path, listed: dict, pairs, grouped: bool) -> None:
    """Refuses VOC lists that would train on validation images, or `--group-by` that they
    override; notes on stderr the listed names without a pair and the pairs in neither list."""
    if grouped:
        raise UsageError(f"--group-by: {lists}/train.txt and val.txt decide this split, not "
                         "groups; drop --group-by (or remove the lists to split by group).")
    both = sorted(listed["train"] & listed["val"])
    if both:
        raise DataError(f"{lists}: {len(both)} name(s) in both train.txt and val.txt ("
                        f"{first_five(both)}); a validation image must not be trained on: "
                        "remove each from one list.")
    stems = {p.image.stem for p in pairs}
    missing = sorted((listed["train"] | listed["val"]) - stems)
    if missing:
        print(f"note: {lists}: {len(missing)} listed name(s) have no image/mask pair and are "
              f"left out (e.g. {missing[0]}).", file=sys.stderr)
    unlisted = sorted(stems - listed["train"] - listed["val"])
    if unlisted:
        print(f"note: {lists}: {len(unlisted)} image/mask pair(s) are in neither train.txt "
              f"nor val.txt and are left out (e.g. {unlisted[0]}).", file=sys.stderr)


def class_table(fmt: MaskFormat, counts: np.ndarray) -> dict[str, float]:
    """`{"<id> <name>": pixel share}` of every class (and void), shares of all pixels."""
    total = max(int(counts.sum()), 1)
    table = {}
    for class_id in range(max(len(fmt.names), 2 if fmt.encoding == "binary" else 0)):
        table[f"{class_id} {fmt.names[class_id]}"] = round(int(counts[class_id]) / total, 4)
    if counts[VOID_LABEL] or fmt.ignore_index is not None:
        table["void"] = round(int(counts[VOID_LABEL]) / total, 4)
    return table


def check(root, *, num_classes: int | None = None, ignore_index: int | None = None,
          group_by: str | None = None, val_fraction: float = 0.2, seed: int = 0) -> CheckReport:
    """Validates a folder dataset, reading every mask as training does (`decode_mask`), and
    summarises it: layout, encoding, classes with their pixel share, sizes, split.

    Raises:
        DataError: a problem that stops the listing itself (no layout, an empty folder,
            unpaired files, mixed encodings); masks that fail to decode are listed instead.
    """
    problems = []
    found = scan(root, ignore_index=ignore_index, num_classes=num_classes, group_by=group_by,
                 problems=problems)
    fmt = found.format
    train, val, how = split(found.pairs, found.layout, val_fraction, seed)
    rows = "".join(f"\n  {name}: {share}" for name, share in class_table(fmt, found.counts)
                   .items())
    summary = {
        "dataset": "folder",
        "layout": f"{found.layout.kind} ({found.layout.images}, {found.layout.masks})",
        "encoding": fmt.encoding + (f" ({fmt.bits}-bit)" if fmt.encoding == "ids" else ""),
        "label_map": str(found.layout.label_map) if found.layout.label_map else "none",
        "void": (f"label {fmt.ignore_index}" if fmt.ignore_index is not None else
                 _unmarked_void(fmt, found.layout)),
        "pairs": len(found.pairs),
        "image_sizes": dict(found.sizes),
        "num_classes": fmt.num_classes,
        "classes (pixel share)": rows,
        "split": f"{how}: {len(train)} train, {len(val)} val",
    }
    return CheckReport(summary, problems)


# Label-map names that usually mark pixels to leave out (VOC's, CamVid's, Cityscapes').
VOID_NAMES = frozenset({"void", "ignore", "unlabeled", "unlabelled", "dontcare", "don't care"})


def _unmarked_void(fmt: MaskFormat, layout: Layout) -> str:
    """`data check`'s void line when no void is given: "none", with the `--ignore-index` to
    give when the label map names a line as void, which is otherwise trained as a class."""
    line = next((i for i, name in enumerate(fmt.names) if name.lower() in VOID_NAMES), None)
    if fmt.encoding != "rgb" or line is None:
        return "none"
    return (f"none: line {line} of {layout.label_map} ({fmt.names[line]!r}) is trained as a "
            f"class; give --ignore-index {line} to leave its pixels out instead")


def write_mask(path, labels: np.ndarray, fmt: MaskFormat) -> None:
    """Writes predicted labels `(H, W)` in the data's encoding, atomically: 0/255 (binary),
    class ids (8 or 16 bits), the data's palette, or the label map's colours."""
    labels = np.asarray(labels)
    if fmt.encoding == "binary":
        picture = Image.fromarray((labels > 0).astype(np.uint8) * 255)
    elif fmt.encoding == "rgb":
        picture = Image.fromarray(np.array(fmt.colors, np.uint8)[labels])
    elif fmt.encoding == "palette":
        picture = Image.fromarray(labels.astype(np.uint8), "P")
        picture.putpalette(list(fmt.palette) if fmt.palette else
                           [c for rgb in fmt.colors for c in rgb])
    elif fmt.bits == 16:
        picture = Image.fromarray(labels.astype(np.uint16))
    else:
        picture = Image.fromarray(labels.astype(np.uint8))
    with files.atomic_path(path) as partial:
        picture.save(partial, format="PNG")
