"""Cheap, early checks of image files (header and end marker) and exact reads for validation."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from unet import files
from unet.data.pairs import first_five
from unet.errors import DataError

# Images over this many pixels are refused before decoding: a few-kilobyte PNG can declare
# 50,000 x 50,000 pixels and take gigabytes to decode. A Carvana photo has 2.5 million.
MAX_PIXELS = 50_000_000
# The image files the project reads from a folder (a user's dataset, `predict`'s input).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")

# The last bytes a complete file of each format ends with: a file cut short in transfer
# (the usual way a Kaggle unzip goes wrong) fails here without decoding it.
_END_MARKERS = {"JPEG": (b"\xff\xd9",), "PNG": (b"IEND\xaeB`\x82",), "GIF": (b";",)}


def list_images(folder, suffix) -> tuple[list[Path], list[str]]:
    """`(paths, skipped)`: the files of `folder` ending in `suffix` (or a tuple of suffixes)
    in any case, sorted, and what else it holds as `"path (why)"`: subfolders, hidden files
    (macOS's `._x.jpg`), files with another suffix.
    """
    suffixes = (suffix,) if isinstance(suffix, str) else tuple(suffix)
    wanted = {s.lower() for s in suffixes}
    other = f"not a {suffixes[0]}" if len(suffixes) == 1 else f"not {'/'.join(suffixes)}"
    paths, skipped = [], []
    for path in sorted(Path(folder).iterdir()):
        why = ("folder" if path.is_dir() else "hidden file" if path.name.startswith(".")
               else None if path.suffix.lower() in wanted else other)
        if why is None:
            paths.append(path)
        else:
            skipped.append(f"{path} ({why})")
    return paths, skipped


def by_name(paths, stem: bool = False) -> tuple[dict[str, Path], list[str]]:
    """`(index, problems)`: `{name in lower case: path}`, to match files ignoring case, and a
    problem for each two names that differ only in case; `stem` indexes by the name less its
    suffix (`cat.JPG` matches `cat.png`), a problem for each two files of one stem."""
    index, problems = {}, []
    for path in paths:
        key = (path.stem if stem else path.name).lower()
        if key in index:
            problems.append(f"{path}: same {'stem' if stem else 'name'} as {index[key].name}"
                            f"{'' if stem else ' but for case'}; keep one.")
        else:
            index[key] = path
    return index, problems


def note(what: str, items) -> None:
    """Prints one `note:` line on standard error naming `items` (the first five), if any:
    what a listing left out, or matched ignoring case."""
    import sys

    if items:
        print(f"note: {what} ({len(items)}): {first_five(items)}.", file=sys.stderr)


def empty_folder(folder, suffix: str, skipped) -> DataError:
    """The error for a folder without `suffix` images, naming what it holds instead
    (`skipped`, from `list_images`)."""
    also = f"; it holds {first_five(skipped)}" if skipped else ""
    return DataError(f"{folder}: empty folder (no {suffix} images{also}).")


# The EXIF tag that says how a photo is to be turned for display (phones write it).
EXIF_ORIENTATION = 0x0112


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    mode: str
    orientation: int = 1  # EXIF's (1: upright); images are read as stored, never rotated


def inspect(path) -> ImageInfo:
    """Reads an image's header and checks its end marker, without decoding the pixels.

    Raises:
        DataError: missing, empty, not an image, or truncated; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found.")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (0 bytes).")
    try:
        with warnings.catch_warnings():  # PIL warns over 89 million pixels; refused below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                info = ImageInfo(image.format, image.width, image.height, image.mode,
                                 _orientation(image))
    except Image.DecompressionBombError:
        raise DataError(f"{path}: declares far more than {MAX_PIXELS:,} pixels; refused "
                        "before decoding.") from None
    except Exception as error:  # PIL raises several types for unreadable files
        raise DataError(f"{path}: not a readable image ({error}).") from error
    if info.width * info.height > MAX_PIXELS:
        raise DataError(f"{path}: {info.width}x{info.height} pixels is over the limit of "
                        f"{MAX_PIXELS:,}; refused before decoding.")
    markers = _END_MARKERS.get(info.format)
    if markers:
        with path.open("rb") as stream:
            stream.seek(-16, 2)
            tail = stream.read().rstrip(b"\x00\r\n")  # some writers pad after the marker
        if not tail.endswith(markers):
            raise DataError(f"{path}: truncated {info.format} (no end-of-image marker).")
    return info


def _orientation(image) -> int:
    """EXIF's orientation of an open JPEG (1 when none, or for other formats: a PNG's EXIF
    would be read by decoding it). Only a hint for errors, so bad EXIF reads as 1."""
    if image.format not in ("JPEG", "MPO"):
        return 1
    try:
        return int(image.getexif().get(EXIF_ORIENTATION, 1) or 1)
    except Exception:  # PIL raises several types for malformed EXIF
        return 1


def check_mask_size(mask_path, image: ImageInfo) -> None:
    """Raises `DataError` when the mask file's size is not its image's (`inspect`ed)."""
    mask = inspect(mask_path)
    if (mask.width, mask.height) != (image.width, image.height):
        rotated = ""
        if image.orientation in (5, 6, 7, 8) and (mask.width, mask.height) == (image.height,
                                                                                image.width):
            rotated = (f" (its EXIF orientation {image.orientation} shows it turned a quarter, "
                       "as the mask is, but images are read as stored: save the image upright, "
                       "e.g. with PIL's ImageOps.exif_transpose)")
        raise DataError(f"{mask_path}: mask is {mask.width}x{mask.height} but its image is "
                        f"{image.width}x{image.height}{rotated}.")


def decode(path, mode: str | None = None, *, scan: bool = True) -> np.ndarray:
    """Decodes a whole image with PIL after checking its header (`inspect`); JPEGs are also
    scanned for damaged data (`jpeg_warning`) unless `scan` is False.

    Raises:
        DataError: the file is unreadable, too large, or its pixel data is corrupt or
            truncated; the message names the file.
    """
    info = inspect(path)
    if scan and info.format == "JPEG":
        warning = jpeg_warning(path)
        if warning:
            raise DataError(f"{path}: damaged JPEG data (libjpeg: {warning}).")
    try:
        with Image.open(path) as image:
            image.load()
            if mode is not None:
                image = image.convert(mode)
            return np.array(image)
    except Exception as error:
        raise DataError(f"{path}: corrupt image data ({error}).") from error


def decode_labels(path) -> np.ndarray:
    """A label image's values `(H, W)`, exact for every encoding a mask may come in: 8-bit and
    16-bit greyscale (raw values, never rescaled), 1-, 2- and 4-bit greyscale (levels 0, 1, 2...),
    palette images (the index, not its colour), and RGB or RGBA (the red channel; 16 bits per
    channel too), after checking the header (`inspect`).

    Returns:
        uint8 values, or uint16 for 16-bit files.

    Raises:
        DataError: the file is unreadable, too large, truncated or corrupt; the message names it.
    """
    info = inspect(path)
    depth, color_type = _png_depth_and_color_type(path) if info.format == "PNG" else (8, None)
    try:
        if depth == 16 and color_type in (2, 4, 6):
            # PIL keeps only the high byte of 16-bit colour channels (class 1 would read 0);
            # OpenCV keeps all 16 bits, in BGR(A) order (grey + alpha comes out as BGRA too).
            pixels = _cv2_decode(path)[..., 2]
        else:
            with Image.open(path) as image:
                # RGB, RGBA: the red band; LA, PA: the grey level or index. One band copied
                # out is twice as fast as the whole image.
                pixels = np.array(image.getchannel(0) if len(image.getbands()) > 1 else image)
            if pixels.dtype == bool:  # 1-bit greyscale
                pixels = pixels.view(np.uint8)
            elif color_type == 0 and depth in (2, 4):
                pixels = pixels // (255 // (2**depth - 1))  # PIL spreads levels over 0-255
    except DataError:
        raise
    except Exception as error:
        raise DataError(f"{path}: corrupt image data ({error}).") from error
    if pixels.dtype not in (np.uint8, np.uint16):  # PIL's mode "I" holds 16-bit files as int32
        pixels = pixels.astype(np.uint16 if depth == 16 else np.uint8)
    return pixels


def _png_depth_and_color_type(path) -> tuple[int, int]:
    # Bits per channel and colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA).
    with Path(path).open("rb") as stream:
        header = stream.read(26)
    return header[24], header[25]


def _cv2_decode(path) -> np.ndarray:
    import cv2

    pixels = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise DataError(f"{path}: not decodable.")
    return pixels


def jpeg_warning(path) -> str:
    """libjpeg's complaint about a JPEG's data (e.g. "Corrupt JPEG data: premature end of data
    segment"), or `""` if it decodes clean: PIL and TensorFlow decode such files silently, and
    libjpeg only warns on the process's standard error, read here.
    """
    import tempfile

    import cv2

    data = np.fromfile(str(path), np.uint8)
    with tempfile.TemporaryFile() as sink:
        with files.redirect_stderr_fd(sink):
            decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        sink.seek(0)
        messages = sink.read().decode(errors="replace")
    complaints = [line.strip() for line in messages.splitlines()
                  if "JPEG" in line or "jpeg" in line]
    if decoded is None and not complaints:
        complaints = ["not decodable"]
    return "; ".join(complaints)
