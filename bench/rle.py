"""Masks/s for Kaggle RLE encoding of native-size (1918x1280) masks, and the time the whole
100,064-image Carvana test set would take.

    python bench/rle.py            # 200 generated car masks, plus a random-noise worst case
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from unet.data import carvana, synthetic  # noqa: E402

TEST_SET = 100_064


def car_masks(count: int) -> list[np.ndarray]:
    """Native-size masks of generated cars (16 views each), read back from their GIFs."""
    folder = synthetic.make_carvana_like(tempfile.mkdtemp(), cars=max(1, count // 16), seed=1,
                                         progress=False)
    return [carvana.read_mask(p.mask) for p in carvana.list_pairs(folder)][:count]


def masks_per_second(masks, repeats: int = 3) -> tuple[float, float]:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for mask in masks:
            carvana.rle_encode(mask)
        best = min(best, time.perf_counter() - start)
    return len(masks) / best, best / len(masks) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=64, help="car masks to encode")
    args = parser.parse_args()
    cases = {"generated car masks": car_masks(args.count)}
    noise = np.random.default_rng(0).random((8, *carvana.IMAGE_SIZE)) < 0.5
    cases["random noise (worst case, 1.2M runs)"] = list(noise.astype(np.uint8))
    print(f"# {os.cpu_count()} CPU cores, one process; masks 1918x1280\n")
    print("| masks | masks/s | ms per mask | 100,064 test images |")
    print("|---|---|---|---|")
    for name, masks in cases.items():
        rate, ms = masks_per_second(masks)
        print(f"| {name} | {rate:.0f} | {ms:.2f} | {TEST_SET / rate / 60:.1f} min |")


if __name__ == "__main__":
    main()
