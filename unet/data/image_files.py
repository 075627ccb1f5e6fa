"""Cheap, early checks of image files (header and end marker) and exact reads for validation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from unet.data.pairs import DataError

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
    except Exception as error:  # PIL raises several types for unreadable files
        raise DataError(f"{path}: not a readable image ({error}).") from error
    markers = _END_MARKERS.get(info.format)
    if markers:
        with path.open("rb") as stream:
            stream.seek(-16, 2)
            tail = stream.read().rstrip(b"\x00\r\n")  # some writers pad after the marker
        if not tail.endswith(markers):
            raise DataError(f"{path}: truncated {info.format} (no end-of-image marker).")
    return info


def decode(path, mode: str | None = None) -> np.ndarray:
    """Decodes a whole image with PIL (for validation and tests, not the training pipeline).

    Raises:
        DataError: the pixel data is corrupt; the message names the file.
    """
    try:
        with Image.open(path) as image:
            image.load()
            if mode is not None:
                image = image.convert(mode)
            return np.array(image)
    except Exception as error:
        raise DataError(f"{path}: corrupt image data ({error}).") from error
