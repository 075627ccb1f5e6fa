"""Native-size Dice, boundary F-score and minutes of the old and the new `cpu` preset.

Generates a Carvana-like set (default 12 cars at Kaggle's 1918x1280), trains each preset on 8
cars (128 images) and scores it on the 4 others (64 images) at native size, as the real-photo
measurement did, then prints one table row per preset. Training minutes are the sum of the
epochs; total minutes add the native evaluation (the 15-minute budget covers both).

    python bench/cpu_preset.py                                   # about half an hour, 2 cores
    python bench/cpu_preset.py --cars 6 --image-size 320 480     # a quick look
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from pathlib import Path
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from unet import files, training  # noqa: E402
from unet.config import DataConfig, ModelConfig, RunConfig, TrainConfig, preset  # noqa: E402
from unet.data import synthetic  # noqa: E402
from unet.data.pipeline import Augmentation  # noqa: E402

# The `cpu` preset of the first version: whole images at 96x144, 8 filters, 16 epochs at a
# constant 1e-3, and its augmentation (which also rotated by up to 0.02 of a turn).
OLD_CPU = RunConfig(
    model=ModelConfig(filters=8, depth=4, batch_norm_momentum=0.9),
    data=DataConfig(dataset="carvana", image_size=(96, 144)),
    train=TrainConfig(epochs=16, batch_size=8, learning_rate=1e-3),
    preset="custom",
)
OLD_AUGMENTATION = functools.partial(Augmentation, rotation=0.02)


def generated_set(out: Path, cars: int, image_size) -> Path:
    """The generated Carvana-like folder under `out`, made once."""
    height, width = image_size
    folder = out / f"data_{cars}cars_{height}x{width}"
    if not (folder / "train_masks.csv").is_file():
        with files.atomic_path(folder) as partial:
            synthetic.make_carvana_like(partial, cars=cars, image_size=image_size, seed=0)
    return folder


def measure(name: str, config: RunConfig, run_dir: Path) -> dict:
    """Trains and scores `config` in `run_dir` (reusing a finished run); one table row."""
    if name == "old":
        with mock.patch.object(training, "Augmentation", OLD_AUGMENTATION):
            result = training.train(config, run_dir, verbose=2)
    else:
        result = training.train(config, run_dir, verbose=2)
    boundary = result.get("boundary_f")
    return {
        "preset": name,
        "native dice": f"{result['dice']:.4f}",
        "boundary F (2 px)": "n/a" if boundary is None else f"{boundary:.4f}",
        "training min": f"{result['train_seconds'] / 60:.1f}",
        "total min": f"{(result['train_seconds'] + result.get('seconds', 0)) / 60:.1f}",
        "train images/s": f"{result['train_images_per_second']:.1f}",
        "setting": describe(config),
    }


def describe(config: RunConfig) -> str:
    data, model, train = config.data, config.model, config.train
    crop = "x".join(map(str, data.training_size)) if data.crop_size else "whole"
    return (f"{'x'.join(map(str, data.image_size))} crops {crop}, {model.filters} filters, "
            f"{train.epochs} ep, bs {train.batch_size}, lr {train.learning_rate:g} "
            f"{train.schedule}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cars", type=int, default=12,
                        help="generated cars; a third are scored, the rest train (default 12)")
    parser.add_argument("--image-size", type=int, nargs=2, default=(1280, 1918),
                        metavar=("H", "W"), help="size of the generated images")
    parser.add_argument("--out", type=Path, default=Path("bench/cpu_preset_runs"),
                        help="data, run folders and table.md go here")
    parser.add_argument("--presets", nargs="+", choices=("old", "new"), default=("old", "new"))
    args = parser.parse_args()
    if args.cars < 3:
        parser.error("--cars must be 3 or more (a third of them are scored)")
    folder = generated_set(args.out, args.cars, tuple(args.image_size))
    data = {"data_dir": str(folder), "val_fraction": 1 / 3}
    configs = {"old": OLD_CPU.override(data=data),
               "new": preset("cpu").for_dataset("carvana").override(data=data)}
    rows = [measure(name, configs[name], args.out / "runs" / name) for name in args.presets]
    load = os.getloadavg()
    header = list(rows[0])
    lines = [f"# {args.cars} generated cars at {args.image_size[0]}x{args.image_size[1]}, "
             f"{os.cpu_count()} CPU cores, load average {load[0]:.1f} / {load[1]:.1f} / "
             f"{load[2]:.1f} at the end", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row[key] for key in header) + " |" for row in rows]
    table = "\n".join(lines) + "\n"
    files.write_text(args.out / "table.md", table)
    files.write_json(args.out / "table.json", rows)
    print(table)
    print(json.dumps({"table": str(args.out / "table.md")}))


if __name__ == "__main__":
    main()
