"""Saves a 4x4 grid of generated Carvana-like photos with their mask outlines in red."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from PIL import Image

from unet.data import synthetic
from unet.files import atomic_path


def outline(mask):
    """Pixels of the mask that touch the background."""
    padded = np.pad(mask.astype(bool), 1, mode="edge")
    inner = padded[1:-1, 1:-1]
    edge = np.zeros_like(inner)
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        edge |= inner & ~padded[dy:dy + inner.shape[0], dx:dx + inner.shape[1]]
    return edge


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="PNG to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, nargs=2, default=(640, 959),
                        metavar=("H", "W"), help="size of each generated photo")
    parser.add_argument("--cell-width", type=int, default=480, help="width of a grid cell")
    parser.add_argument("--views", type=int, nargs="+", default=(1, 3, 5, 8),
                        help="views (1-16) shown of each of the 4 cars")
    args = parser.parse_args(argv)
    if not args.out.endswith(".png"):
        print(f"error: {args.out}: the preview is a .png file", file=sys.stderr)
        return 2
    height, width = args.image_size
    cell = (args.cell_width, round(args.cell_width * height / width))
    grid = Image.new("RGB", (cell[0] * 4, cell[1] * 4))
    started = time.perf_counter()
    for row in range(4):
        car_id, body_type, paint, views = synthetic.render_car_views(args.seed, row,
                                                                     args.image_size)
        print(f"car {row}: {car_id} {body_type} {paint}")
        for column, view in enumerate(args.views[:4]):
            image, mask = views[view - 1]
            shown = image.copy()
            shown[outline(mask)] = (255, 0, 0)
            grid.paste(Image.fromarray(shown).resize(cell, Image.LANCZOS),
                       (column * cell[0], row * cell[1]))
    print(f"4 cars x 16 views at {height}x{width}: {time.perf_counter() - started:.1f} s")
    with atomic_path(args.out) as partial:
        grid.save(partial, format="PNG")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
