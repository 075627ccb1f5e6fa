"""Milliseconds per `metrics.boundary_f_score` call on native Carvana-size masks (1918x1280),
the per-image cost of native evaluation. About 15 ms on one core.

    python bench/boundary_f.py             # 5 calls per case
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from unet import metrics  # noqa: E402


def car_like_mask() -> np.ndarray:
    """An ellipse the size of a car in a Carvana photo."""
    truth = np.zeros((1280, 1918), np.uint8)
    cv2.ellipse(truth, (959, 640), (700, 400), 0, 0, 360, 1, -1)
    return truth


def milliseconds(truth, prediction, repeats: int) -> float:
    metrics.boundary_f_score(truth, prediction)  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        metrics.boundary_f_score(truth, prediction)
    return (time.perf_counter() - started) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    truth = car_like_mask()
    cases = {
        "shifted by 1 px": np.roll(truth, 1, axis=0),
        "shifted by 20 px": np.roll(truth, 20, axis=1),
        "random noise": (np.random.default_rng(0).random(truth.shape) > 0.5).astype(np.uint8),
    }
    print(f"{'prediction':<18} {'boundary F':>10} {'ms/call':>8}")
    for name, prediction in cases.items():
        score = metrics.boundary_f_score(truth, prediction)
        print(f"{name:<18} {score:>10.3f} {milliseconds(truth, prediction, args.repeats):>8.1f}")


if __name__ == "__main__":
    main()
