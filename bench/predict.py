"""Images/s of `python -m unet predict` at Carvana's native size (1918x1280): decode, predict at
the model's training size, resize probabilities back, threshold, write the mask PNG and the
submission row.

    python bench/predict.py --model runs/synthetic/cpu/lr1e-3_bs8_k3/best.keras  # after make demo
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from unet.data import synthetic  # noqa: E402
from unet.predict_files import predict_folder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--cars", type=int, default=2, help="generated cars (16 images each)")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="unet-bench-predict-"))
    synthetic.make_carvana_like(work / "data", cars=0, test_cars=args.cars, seed=2,
                                progress=False)
    images = sorted((work / "data" / "test").glob("*.jpg"))
    print(f"# {os.cpu_count()} CPU cores; {len(images)} images of 1918x1280; model {args.model}\n")
    print("| what | images/s |")
    print("|---|---|")
    for name, kwargs in (
        ("masks + submission", {"output": work / "masks", "submission": work / "s.csv.gz"}),
        ("submission only", {"submission": work / "only.csv.gz"}),
        ("submission, flip TTA", {"submission": work / "tta.csv.gz", "tta": "flip"}),
    ):
        start = time.perf_counter()
        predict_folder(args.model, images, batch_size=args.batch_size, progress=False, **kwargs)
        print(f"| {name} | {len(images) / (time.perf_counter() - start):.1f} |", flush=True)


if __name__ == "__main__":
    main()
