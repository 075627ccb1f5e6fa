"""The old and the new `cpu` preset, trained on the same generated Carvana set, scored at native
size: Dice, outline F-score (2 px), both with flip TTA, and training minutes.

    python bench/cpu_preset.py                    # 12 cars at 1918x1280: 8 to train, 4 held out
    python bench/cpu_preset.py --runs-dir /tmp/r  # finished runs there are reused, not retrained

Prints a Markdown table. Each run is an ordinary run folder (`config.json`, `metrics.json`, ...)
under the runs root, so the numbers can be checked there.
"""

from __future__ import annotations

import argparse
import json
import time

from unet import experiments, training
from unet.config import DataConfig, ModelConfig, RunConfig, TrainConfig, preset

# The first version's `cpu` preset (real-car Dice 0.961): whole 96x144 images, 8 filters,
# constant learning rate, 16 epochs.
OLD_CPU = RunConfig(
    model=ModelConfig(filters=8, depth=4, batch_norm_momentum=0.9),
    data=DataConfig(image_size=(96, 144)),
    train=TrainConfig(epochs=16, batch_size=8, learning_rate=1e-3),
    preset="custom",
)


def describe(config: RunConfig) -> str:
    """`192x288, 128x192 crops, 16 filters, 40 epochs, lr 0.001 warmup_cosine`, from the config."""
    data, train = config.data, config.train
    size = "x".join(map(str, data.image_size))
    crops = f", {'x'.join(map(str, data.crop_size))} crops" if data.crop_size else ""
    return (f"{size}{crops}, {config.model.filters} filters, {train.epochs} epochs, "
            f"lr {train.learning_rate:g} {train.schedule}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cars", type=int, default=12, help="generated cars (a third held out)")
    parser.add_argument("--image-size", type=int, nargs=2, default=(1280, 1918),
                        metavar=("H", "W"), help="size of the generated photos")
    parser.add_argument("--runs-dir", default="runs/bench", help="where the two runs live")
    args = parser.parse_args()

    new = preset("cpu")
    data = {"synthetic_cars": args.cars, "synthetic_image_size": tuple(args.image_size),
            "val_fraction": new.data.val_fraction}
    rows = []
    for name, config in (("old cpu", OLD_CPU), ("new cpu", new)):
        config = config.override(data=data)
        name = f"{name} ({describe(config)})"
        run_dir = experiments.run_dir_for(config, args.runs_dir)
        started = time.perf_counter()
        metrics = training.train(config, run_dir, verbose=2)
        rows.append((name, metrics, time.perf_counter() - started, run_dir))
    print("\n| preset | native Dice | boundary F (2 px) | Dice, flip TTA | boundary F, flip TTA "
          "| training min | evaluation s | run |")
    print("|---|---|---|---|---|---|---|---|")
    for name, m, _, run_dir in rows:
        print(f"| {name} | {m['dice']:.4f} | {m['boundary_f']:.4f} | "
              f"{m.get('dice_flip_tta', float('nan')):.4f} | "
              f"{m.get('boundary_f_flip_tta', float('nan')):.4f} | "
              f"{m['train_seconds'] / 60:.1f} | {m['seconds']:.0f} | `{run_dir}` |")
    sizes = {key: rows[0][1][key] for key in ("train_images", "val_images")}
    print(f"\n{json.dumps(sizes)}")


if __name__ == "__main__":
    main()
