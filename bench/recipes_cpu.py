"""Every recipe scaled down with `--preset cpu`, beside the `cpu` preset on the same generated
data: each trained through the command line a user runs, then one report of them all.

    python bench/recipes_cpu.py                        # all recipes, about 80 min on 2 cores
    python bench/recipes_cpu.py --recipes softmax-unet # one
    python bench/recipes_cpu.py --report-dir /tmp/m    # the report elsewhere than memory/recipes

Carvana recipes train on the `cpu` preset's generated set (12 cars, 4 held out by car), the
CARLA recipe on generated CARLA scenes; the `cpu` preset is trained on each (a finished run
under `--runs-dir` is reused: `bench/cpu_preset.py`'s seed-0 run is the Carvana one). Prints a
Markdown table (recipe, published figure, ours, Dice beside the preset's, minutes) and writes the
report (`README.md` with each recipe beside its published figure and the preset) to
`--report-dir`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from unet import cli, experiments, paths, recipes, report
from unet.cli.runs import config_from_args
from unet.data import synthetic
from unet.run_folder import RunFolder, primary_score

CARLA_SCENES = 120  # the Coursera set has 1,060; a CPU's budget of images seen at 96x128


def train(args: list[str], runs_dir: str) -> Path:
    """Runs `python -m unet train ARGS` (its output streams through) and returns its run folder,
    found from ARGS the way `train` finds it."""
    parsed = cli.build_parser().parse_args(["train", *args, "--runs-dir", runs_dir])
    run_dir = experiments.run_dir_for(config_from_args(parsed), runs_dir)
    command = [sys.executable, "-m", "unet", "train", *args, "--runs-dir", runs_dir,
               "--verbose", "2"]
    print("$ " + " ".join(command[1:]), flush=True)
    if subprocess.run(command).returncode != 0:
        sys.exit(f"error: {' '.join(command[1:])} failed.")
    return run_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", choices=tuple(recipes.RECIPES),
                        default=tuple(recipes.RECIPES))
    parser.add_argument("--runs-dir", default="runs/bench", help="where the runs live")
    parser.add_argument("--report-dir", default="memory/recipes", help="where the report goes")
    parser.add_argument("--preset", choices=recipes.SCALED_PRESETS, default="cpu",
                        help="the preset every recipe is scaled to and set beside (smoke: a "
                             "check of this script in seconds)")
    parser.add_argument("--carla-frames", type=int, default=CARLA_SCENES,
                        help="generated CARLA scenes for the CARLA recipe")
    args = parser.parse_args()

    carla_dir = synthetic.generated_dir(paths.data_root(), "carla", args.carla_frames)
    baselines, runs = {}, []
    for name in args.recipes:
        data = ["--dataset", "carla", "--data-dir", str(carla_dir)] if (
            recipes.recipe(name).config.data.dataset == "carla") else []
        if tuple(data) not in baselines:
            baselines[tuple(data)] = train(["--preset", args.preset, *data], args.runs_dir)
        runs.append((name, train(["--recipe", name, "--preset", args.preset, *data], args.runs_dir),
                     baselines[tuple(data)]))

    path = report.write_report(args.runs_dir, args.report_dir,
                               command="python bench/recipes_cpu.py",
                               run_dirs=[*baselines.values(), *(run for _, run, _ in runs)])
    print(f"\nReport: {path}\n")
    print(f"| recipe | published | ours, scaled to `{args.preset}` | score beside the "
          f"`{args.preset}` preset's | "
          "training min |")
    print("|---|---|---|---|---|")
    for name, run_dir, baseline in runs:
        item = recipes.recipe(name)
        metrics, preset = (RunFolder(d).scores() for d in (run_dir, baseline))
        key = primary_score(metrics, preset)
        figure = item.metric if item.metric != "dice" else key
        ours = metrics.get(figure)
        ours = f"{figure} {ours:.4f}" if isinstance(ours, float) else f"{figure} {ours:,}"
        print(f"| `{name}` | {item.figure} | {ours} | {key} {metrics[key]:.4f} vs "
              f"{preset[key]:.4f} ({metrics[key] - preset[key]:+.4f}) | "
              f"{metrics['train_seconds'] / 60:.1f} |")


if __name__ == "__main__":
    main()
