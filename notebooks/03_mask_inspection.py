# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Mask inspection
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/unet-segmentation/unet-segmentation/blob/v0.1.0/notebooks/03_mask_inspection.ipynb)
#
# Load the best model of the grid, predict on validation images at their native size, and look
# where it goes wrong: the per-image Dice distribution, the worst images first with their false
# positives and false negatives, zoomed boundaries, all 16 views of a car; then a CARLA model's
# class maps beside the truth, and its confusion matrix.

# %% [markdown]
# ## Setup
# Inside Colab this installs the package at `REF`, the release this notebook belongs to
# (Colab's TensorFlow is kept); elsewhere it does nothing.

# %%
import os
import sys

REF = "v0.1.0"  # the release this notebook belongs to: its badge opens this tag
REPOSITORY = "https://github.com/unet-segmentation/unet-segmentation"
if "google.colab" in sys.modules:
    import subprocess

    # --no-deps: Colab has every dependency already, so its TensorFlow, Keras, numpy and
    # OpenCV stay as they are (pip would add a second OpenCV, opencv-python-headless).
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                              f"git+{REPOSITORY}@{REF}"], capture_output=True, text=True)
    if install.returncode:
        print(install.stderr.strip()[-1500:], file=sys.stderr)
        raise SystemExit(f"error: pip could not install {REPOSITORY} at {REF} (its message is "
                         "above): set REF to a tag or commit of that repository, then rerun.")

# %% [markdown]
# ## Configuration
# The only cell with constants.

# %%
from unet import colab, paths

SMOKE = os.environ.get("UNET_SMOKE") == "1"
CARLA_DIR = None  # the Coursera data/ folder; generated scenes when None
USE_DRIVE = True  # Colab: runs, the report and downloads on Google Drive (kept)
WHERE = colab.storage(USE_DRIVE)  # prints where each thing is kept
RUNS = paths.runs_dir()  # where 02 trained its grid
REPORT = paths.report_dir()
WORST = 4  # how many of the worst images to show

# %% [markdown]
# ## The best model
# The best finished binary run under `runs/` (run `02_experiment_grid` first); with none, a
# smoke run is trained here so the notebook stands on its own.

# %%
from unet import experiments
from unet.config import preset
from unet.run_folder import RunFolder, primary_score

finished = [r for r in experiments.summarize(RUNS) if r["status"] == "finished"
            and primary_score(r) == "dice" and RunFolder(RUNS / r["folder"]).best.is_file()]
if not finished:
    finished = [experiments.run_point(preset("smoke"), RUNS)]
run = RunFolder(RUNS / finished[0]["folder"])
print(f"{finished[0]['folder']}: validation Dice {finished[0]['dice']:.4f} at native size")

# %% [markdown]
# ## Per-image Dice
# Scores from the run's `per_image.csv` (native resolution, Kaggle's per-image rule).

# %%
from unet import viz

per_image = run.read_per_image()
dice = [row["dice"] for row in per_image]
viz.save_figure(viz.plot_histogram(dice, "validation Dice per image"),
                REPORT / "inspect_dice_distribution.png", show=True)
print(f"{len(dice)} images; worst {dice[0]:.4f}, median {sorted(dice)[len(dice) // 2]:.4f}")

# %% [markdown]
# ## The worst images first
# Prediction over the photo, then the errors, with their colours in the legend.

# %%
from unet import evaluation

worst = evaluation.examples(run, [row["image"] for row in per_image[:WORST]])
panels, titles = [], []
for example, row in zip(worst, per_image):
    panels += [viz.overlay(example.image, example.prediction),
               viz.error_map(example.image, example.truth, example.prediction)]
    titles += [f"{example.name} Dice {row['dice']:.4f}", "errors"]
viz.save_figure(viz.image_grid(panels, columns=4, titles=titles, legend=viz.ERROR_LEGEND),
                REPORT / "inspect_worst.png", show=True)

# %% [markdown]
# ## Zoomed boundaries
# The square of each worst image that holds the most wrong pixels, enlarged.

# %%
crops = []
for example in worst:
    size = max(32, example.image.shape[0] // 4)
    top, left, bottom, right = viz.error_window(example.truth, example.prediction, size=size)
    crops.append(viz.error_map(example.image, example.truth, example.prediction)
                 [top:bottom, left:right])
viz.save_figure(viz.image_grid(crops, columns=len(crops), titles=[e.name for e in worst],
                               legend=viz.ERROR_LEGEND),
                REPORT / "inspect_boundaries.png", show=True)

# %% [markdown]
# ## All 16 views of the hardest car
# The car with the lowest mean Dice: which angles fail?

# %%
import collections

by_car = collections.defaultdict(list)
for row in per_image:
    by_car[row["group"]].append(row)
hardest = min(by_car, key=lambda car: sum(r["dice"] for r in by_car[car]) / len(by_car[car]))
views = sorted(row["image"] for row in by_car[hardest])
panels = [viz.error_map(e.image, e.truth, e.prediction)
          for e in evaluation.examples(run, views)]
viz.save_figure(viz.image_grid(panels, columns=4, titles=views, legend=viz.ERROR_LEGEND),
                REPORT / "inspect_car_views.png", show=True)
print(f"hardest car {hardest}: mean Dice "
      f"{sum(r['dice'] for r in by_car[hardest]) / len(by_car[hardest]):.4f}")

# %% [markdown]
# ## CARLA: class maps and confusion matrix
# A multi-class model on CARLA scenes (`CARLA_DIR`, else generated ones), trained here with the
# same trainer and the dataset's defaults: 23 classes, sparse cross-entropy, 96x128 as in the
# assignment.

# %%
import numpy as np
import tensorflow as tf

from unet.data import carla, synthetic

carla_root = CARLA_DIR or synthetic.generated_dir(
    paths.data_root(), "carla", 40 if SMOKE else 200, progress=False)
carla_config = preset("smoke" if SMOKE else "cpu").for_dataset("carla").override(
    data={"data_dir": str(carla_root)})
carla_result = experiments.run_point(carla_config, RUNS)
carla_run = RunFolder(experiments.run_dir_for(carla_config, RUNS))
print(f"CARLA mean IoU {carla_result['mean_iou']:.4f}, pixel accuracy "
      f"{carla_result['pixel_accuracy']:.4f}")

scenes = [row["image"] for row in carla_run.read_per_image()]
carla_examples = evaluation.examples(carla_run, scenes)
truths = np.concatenate([e.truth.ravel() for e in carla_examples])
predictions = np.concatenate([e.prediction.ravel() for e in carla_examples])
panels = [panel for e in carla_examples[:3]
          for panel in (e.image, viz.class_map(e.truth), viz.class_map(e.prediction))]
legend = viz.class_legend([e.truth for e in carla_examples[:3]]
                          + [e.prediction for e in carla_examples[:3]])
viz.save_figure(viz.image_grid(panels, columns=3, titles=["photo", "truth", "prediction"] * 3,
                               legend=legend),
                REPORT / "inspect_carla_class_maps.png", show=True)
present = sorted(set(truths) | set(predictions))
matrix = tf.math.confusion_matrix(truths, predictions, num_classes=carla.NUM_CLASSES).numpy()
matrix = matrix[np.ix_(present, present)]
viz.save_figure(viz.plot_confusion_matrix(matrix, [carla.CLASS_NAMES[i] for i in present]),
                REPORT / "inspect_carla_confusion.png", show=True)

# %% [markdown]
# ## Results
# Written to `memory/`: `inspect_dice_distribution.png`, `inspect_worst.png`,
# `inspect_boundaries.png`, `inspect_car_views.png`, `inspect_carla_class_maps.png`,
# `inspect_carla_confusion.png`.

# %%
written = ["inspect_dice_distribution.png", "inspect_worst.png", "inspect_boundaries.png",
           "inspect_car_views.png", "inspect_carla_class_maps.png", "inspect_carla_confusion.png"]
assert all((REPORT / name).is_file() for name in written)
print("\n".join(str(REPORT / name) for name in written))
