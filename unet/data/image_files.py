"""Cheap, early checks of image files (header and end marker) and exact reads for validation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from unet.data.pairs import DataError

# Images over this many pixels are refused before decoding: a few-kilobyte PNG can declare
# 50,000 x 50,000 pixels and take gigabytes to decode. A Carvana photo has 2.5 million.
MAX_PIXELS = 50_000_000

# The last bytes a complete file of each format ends with: a file cut short in transfer
# (the usual way a Kaggle unzip goes wrong) fails here without decoding it.
_END_MARKERS = {
    "JPEG": (b"\xff\xd9",),
    "PNG": (b"IEND\xaeB`\x82",),
    "GIF": (b";",),
}


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    mode: str


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
        with Image.open(path) as image:
            info = ImageInfo(image.format, image.width, image.height, image.mode)
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


def decode(path, mode: str | None = None) -> np.ndarray:
    """Decodes a whole image with PIL (for validation and tests, not the training pipeline),
    after checking its header (`inspect`: size limit, end marker). JPEGs are also decoded by
    libjpeg with its warnings watched, to catch damaged scan data.

    Raises:
        DataError: the file is unreadable, too large, or its pixel data is corrupt or
            truncated; the message names the file.
    """
    info = inspect(path)
    if info.format == "JPEG":
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


def jpeg_warning(path) -> str:
    """libjpeg's complaint about a JPEG's data (e.g. "Corrupt JPEG data: premature end of data
    segment" for a file cut short whose end marker was re-added), or `""` if it decodes clean.

    PIL and TensorFlow both decode such a file without an error, filling the missing part with
    grey; libjpeg only prints a warning to the process's standard error, read here.
    """
    import os
    import tempfile

    import cv2

    data = np.fromfile(str(path), np.uint8)
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        messages = sink.read().decode(errors="replace")
    complaints = [line.strip() for line in messages.splitlines()
                  if "JPEG" in line or "jpeg" in line]
    if decoded is None and not complaints:
        complaints = ["not decodable"]
    return "; ".join(complaints)
