"""The old and the new `cpu` preset, trained on the same generated Carvana set, scored at native
size: Dice, outline F-score (2 px), both with flip TTA, and training minutes.

    python bench/cpu_preset.py                    # 12 cars at 1918x1280: 8 to train, 4 held out
    python bench/cpu_preset.py --seeds 0          # one run of each (seed 0 is `make demo`'s)
    python bench/cpu_preset.py --runs-dir /tmp/r  # finished runs there are reused, not retrained

Each seed trains both presets (about 1 and 7-12 minutes on 2 cores). Prints a Markdown table per
run, then the mean and spread over the seeds. Each run is an ordinary run folder (`config.json`,
`metrics.json`, ...) under the runs root, so the numbers can be checked there.
"""

from __future__ import annotations

import argparse
import json

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


def spread(values: list[float], digits: int = 4) -> str:
    """`0.9650 ± 0.0040` (mean ± half the range), or the one value."""
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {(max(values) - min(values)) / 2:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cars", type=int, default=12, help="generated cars (a third held out)")
    parser.add_argument("--image-size", type=int, nargs=2, default=(1280, 1918),
                        metavar=("H", "W"), help="size of the generated photos")
    parser.add_argument("--seeds", type=int, nargs="+", default=(0, 1, 2),
                        help="one run of each preset per seed (the seed draws the held-out cars, "
                             "the initial weights and the crops)")
    parser.add_argument("--runs-dir", default="runs/bench", help="where the runs live")
    args = parser.parse_args()

    new = preset("cpu")
    data = {"synthetic_cars": args.cars, "synthetic_image_size": tuple(args.image_size),
            "val_fraction": new.data.val_fraction}
    rows = []
    for seed in args.seeds:
        for name, config in (("old cpu", OLD_CPU), ("new cpu", new)):
            config = config.override(data=data, train={"seed": seed})
            run_dir = experiments.run_dir_for(config, args.runs_dir)
            print(f"== {name}, seed {seed}: {run_dir}", flush=True)
            metrics = training.train(config, run_dir, verbose=2)
            rows.append((name, seed, config, metrics, run_dir))

    print("\n| preset | seed | native Dice | boundary F (2 px) | Dice, flip TTA | "
          "boundary F, flip TTA | best epoch | training min | run |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, seed, _, m, run_dir in rows:
        print(f"| {name} | {seed} | {m['dice']:.4f} | {m['boundary_f']:.4f} | "
              f"{m.get('dice_flip_tta', float('nan')):.4f} | "
              f"{m.get('boundary_f_flip_tta', float('nan')):.4f} | {m.get('best_epoch', '-')} | "
              f"{m['train_seconds'] / 60:.1f} | `{run_dir}` |")

    print(f"\nMean ± half the range over seeds {', '.join(map(str, args.seeds))} (each seed "
          "holds out other cars; the two presets share each seed's split):\n")
    print("| preset | native Dice | boundary F (2 px) | Dice, flip TTA | training min |")
    print("|---|---|---|---|---|")
    for name in ("old cpu", "new cpu"):
        runs = [(config, m) for n, _, config, m, _ in rows if n == name]
        cells = [spread([m[key] * scale for _, m in runs if key in m], digits)
                 for key, scale, digits in (("dice", 1, 4), ("boundary_f", 1, 4),
                                            ("dice_flip_tta", 1, 4),
                                            ("train_seconds", 1 / 60, 1))]
        print(f"| {name} ({describe(runs[0][0])}) | {' | '.join(cells)} |")
    print("\nTraining minutes are wall-clock: other work on the cores lengthens them.")
    sizes = {key: rows[0][3][key] for key in ("train_images", "val_images")}
    print(f"\n{json.dumps(sizes)}")


if __name__ == "__main__":
    main()
