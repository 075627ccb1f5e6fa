"""Wall-clock time of one smoke grid, sequential (the local backend) against Ray Tune with 1 and
2 trials in parallel, each in a fresh runs root, as a user runs it (`python -m unet sweep`).

    python bench/ray_grid.py                     # 4 points, 2 epochs each
    python bench/ray_grid.py --epochs 3 --preset smoke

On a CPU machine two trials in parallel share its cores, so the ratio says how much of a
point's time is start-up and waiting rather than arithmetic; on a machine with N GPUs, compare
`--trials-in-parallel 1` and N. Ray's own start-up (a few seconds) is in every Ray time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = ("--learning-rates", "1e-3", "2e-3", "--batch-sizes", "4", "--kernel-sizes", "3", "5")
BACKENDS = {
    "local (sequential)": ("--backend", "local"),
    "ray, 1 trial at a time": ("--backend", "ray", "--trials-in-parallel", "1"),
    "ray, 2 trials at a time": ("--backend", "ray", "--trials-in-parallel", "2"),
}


def timed_sweep(flags, preset: str, epochs: int, folder: Path) -> float:
    """Seconds `python -m unet sweep` takes for the grid with `flags`, in a fresh runs root."""
    command = [sys.executable, "-m", "unet", "sweep", "--preset", preset, "--epochs",
               str(epochs), *GRID, "--runs-dir", str(folder / "runs"), "--report-dir",
               str(folder / "memory"), "--verbose", "0", *flags]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=folder,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="smoke")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    times = {}
    for name, flags in BACKENDS.items():
        with tempfile.TemporaryDirectory() as folder:
            times[name] = timed_sweep(flags, args.preset, args.epochs, Path(folder))
        print(f"{name}: {times[name]:.0f} s", file=sys.stderr, flush=True)
    sequential = times["local (sequential)"]
    print(f"4-point {args.preset} grid, {args.epochs} epochs, {os.cpu_count()} CPU cores\n")
    print("| backend | wall-clock (s) | against local |")
    print("|---|---:|---:|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.0f} | {seconds / sequential:.2f} |")


if __name__ == "__main__":
    main()
