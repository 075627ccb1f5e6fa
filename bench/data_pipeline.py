"""Images/s and peak memory: this project's tf.data pipeline versus the tutorials' Python loop.

Decodes native-size (1918x1280) Carvana-like JPEG + GIF pairs and resizes them to each target
size, three ways:
- `pipeline (gif)`: `unet.data.sources.FolderSource.make_dataset`, masks from the GIFs;
- `pipeline (csv)`: the same, masks decoded in the graph from `train_masks.csv`;
- `python loop`: the usual tutorial (OpenCV read + resize, PIL for the GIF, into numpy arrays).

Each measurement runs in its own process so that its peak resident memory is its own; each
way runs on N and 4N pairs to show whether memory grows with the dataset.

    python bench/data_pipeline.py              # 128 and 512 pairs
    python bench/data_pipeline.py --pairs 64   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SIZES = ((256, 384), (640, 960))


def make_data(root: Path, pairs: int) -> None:
    """Two generated cars at native size, hard-linked under new car ids up to `pairs` pairs."""
    from unet.data import carvana, synthetic

    seed_dir = root / "seed"
    if not seed_dir.exists():
        synthetic.make_carvana_like(seed_dir, cars=2, seed=0)
    rows = carvana.read_rle_csv(seed_dir / "train_masks.csv")
    sources = sorted(rows)
    out = root / f"n{pairs}"
    if out.exists():
        return
    (out / "train").mkdir(parents=True)
    (out / "train_masks").mkdir()
    lines = ["img,rle_mask"]
    for index in range(pairs):
        source = sources[index % len(sources)]
        car = f"{index // 16:012x}"
        name = f"{car}_{index % 16 + 1:02d}.jpg"
        os.link(seed_dir / "train" / source, out / "train" / name)
        os.link(seed_dir / "train_masks" / carvana.mask_name(source),
                out / "train_masks" / carvana.mask_name(name))
        lines.append(f"{name},{rows[source]}")
    (out / "train_masks.csv").write_text("\n".join(lines) + "\n")


def measure(way: str, folder: str, height: int, width: int) -> dict:
    """Runs one way over every pair of `folder`; returns images/s and peak memory."""
    import numpy as np

    from unet.data import carvana

    source = "csv" if way == "pipeline_csv" else "gif"
    pairs = carvana.list_pairs(folder, mask_source=source, verify=False)
    start = time.perf_counter()
    if way.startswith("pipeline"):
        from unet.data.sources import FolderSource

        dataset = FolderSource(pairs).make_dataset(image_size=(height, width), batch_size=16)
        count = 0
        for images, _ in dataset:  # what model.fit does: take a batch, let it go
            count += int(images.shape[0])
    else:
        import cv2
        from PIL import Image

        cv2.setNumThreads(0)
        images, masks = [], []
        for pair in pairs:
            image = cv2.cvtColor(cv2.imread(str(pair.image)), cv2.COLOR_BGR2RGB)
            images.append(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
                          .astype(np.float32) / 255.0)
            mask = np.array(Image.open(pair.mask).convert("L")) > 0
            masks.append(cv2.resize(mask.astype(np.uint8), (width, height),
                                    interpolation=cv2.INTER_NEAREST))
        images, masks = np.stack(images), np.stack(masks)
        count = len(images)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"images_per_s": count / seconds, "peak_mb": peak_mb, "count": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=128, help="N: the smaller dataset")
    parser.add_argument("--work-dir", help="where to generate the data (default: a temp dir)")
    parser.add_argument("--measure", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        way, folder, height, width = args.measure
        print(json.dumps(measure(way, folder, int(height), int(width))))
        return

    root = Path(args.work_dir or tempfile.mkdtemp(prefix="unet-bench-"))
    counts = (args.pairs, 4 * args.pairs)
    for count in counts:
        make_data(root, count)
    print(f"# {os.cpu_count()} CPU cores; native 1918x1280 JPEG + GIF pairs\n")
    print("| target | way | images/s (N) | images/s (4N) | peak MB (N) | peak MB (4N) |")
    print("|---|---|---|---|---|---|")
    results = {}
    for height, width in SIZES:
        for way in ("pipeline_gif", "pipeline_csv", "python_loop"):
            row = []
            for count in counts:
                command = [sys.executable, __file__, "--measure", way, str(root / f"n{count}"),
                           str(height), str(width)]
                out = subprocess.run(command, capture_output=True, text=True, check=True)
                row.append(json.loads(out.stdout.strip().splitlines()[-1]))
            results[(height, width, way)] = row
            print(f"| {height}x{width} | {way} | {row[0]['images_per_s']:.0f} | "
                  f"{row[1]['images_per_s']:.0f} | {row[0]['peak_mb']:.0f} | "
                  f"{row[1]['peak_mb']:.0f} |", flush=True)
        loop = results[(height, width, "python_loop")][1]["images_per_s"]
        best = max(results[(height, width, w)][1]["images_per_s"]
                   for w in ("pipeline_gif", "pipeline_csv"))
        print(f"| {height}x{width} | speed-up (4N) | {best / loop:.1f}x | | | |")
    if not args.work_dir:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
