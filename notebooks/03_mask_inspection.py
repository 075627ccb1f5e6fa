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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/unet-segmentation/unet-segmentation/blob/main/notebooks/03_mask_inspection.ipynb)
#
# Load the best model of the grid, predict on validation images at their native size, and look
# where it goes wrong: the per-image Dice distribution, the worst images first with their false
# positives and false negatives, zoomed boundaries, all 16 views of a car; then a CARLA model's
# class maps beside the truth, and its confusion matrix.

# %% [markdown]
# ## Setup
# Inside Colab this installs the package (Colab's TensorFlow is kept); elsewhere it does nothing.

# %%
import os
import sys
from pathlib import Path

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/unet-segmentation/unet-segmentation"], check=True)

# %% [markdown]
# ## Configuration
# The only cell with constants.

# %%
from unet import colab

SMOKE = os.environ.get("UNET_SMOKE") == "1"
CARLA_DIR = None  # the Coursera data/ folder; generated scenes when None
USE_DRIVE = False
if USE_DRIVE and colab.in_colab():
    colab.keep_on_drive()
ROOT = colab.repository_root()
MEMORY = Path(os.environ.get("UNET_MEMORY_DIR", ROOT / "memory"))
WORST = 4  # how many of the worst images to show

# %% [markdown]
# ## The best model
# The best finished grid point (run `02_experiment_grid` first); with none, a smoke run is
# trained here so the notebook stands on its own.

# %%
from unet import checkpoints, experiments
from unet.config import RunConfig, preset

finished = [r for r in experiments.summarize(MEMORY) if r["status"] == "finished"
            and (MEMORY / "runs" / r["run"] / "best.keras").is_file()]
if not finished:
    finished = [experiments.run_point(preset("smoke"), MEMORY)]
run_dir = MEMORY / "runs" / finished[0]["run"]
config = RunConfig.load(run_dir / "config.json")
model = checkpoints.load_model(run_dir / "best.keras", compile=False)
print(f"{run_dir.name}: validation Dice {finished[0]['dice']:.4f} at native size")

# %% [markdown]
# ## Per-image Dice
# Scores from the run's `per_image.csv` (native resolution, Kaggle's per-image rule).

# %%
import matplotlib.pyplot as plt

from unet import viz

per_image = experiments.read_per_image(run_dir)
dice = [row["dice"] for row in per_image]
viz.save_figure(viz.plot_histogram(dice, "validation Dice per image"),
                MEMORY / "inspect_dice_distribution.png")
print(f"{len(dice)} images; worst {dice[0]:.4f}, median {sorted(dice)[len(dice) // 2]:.4f}")

# %% [markdown]
# ## The worst images first
# Prediction over the photo, then errors: red = false positive, blue = false negative.

# %%
from unet import evaluation
from unet.data import image_files, sources

_, val_pairs = sources.split_pairs(config.data, seed=config.train.seed)
by_name = {pair.name: pair for pair in val_pairs}
worst = [by_name[row["image"]] for row in per_image[:WORST]]


def predicted_masks(pairs):
    """(pair, image, truth, prediction) at native size, for a handful of pairs."""
    for pair, probabilities in evaluation.predict_native(
            model, pairs, image_size=config.data.image_size, num_classes=1,
            resize_mode=config.data.resize_mode):
        yield (pair, image_files.decode(pair.image, "RGB"),
               sources.read_native_mask(pair, config.data.dataset),
               evaluation.labels_from_probabilities(probabilities, 1))


panels, titles, worst_masks = [], [], list(predicted_masks(worst))
for (pair, image, truth, prediction), row in zip(worst_masks, per_image):
    panels += [viz.overlay(image, prediction), viz.error_map(image, truth, prediction)]
    titles += [f"{pair.name} Dice {row['dice']:.4f}", "red FP, blue FN"]
viz.save_figure(viz.image_grid(panels, columns=4, titles=titles), MEMORY / "inspect_worst.png")
plt.imshow(plt.imread(MEMORY / "inspect_worst.png"))
plt.axis("off")
plt.show()

# %% [markdown]
# ## Zoomed boundaries
# The square of each worst image that holds the most wrong pixels, enlarged.

# %%
crops = []
for _, image, truth, prediction in worst_masks:
    size = max(32, image.shape[0] // 4)
    top, left, bottom, right = viz.error_window(truth, prediction, size=size)
    crops.append(viz.error_map(image, truth, prediction)[top:bottom, left:right])
viz.save_figure(viz.image_grid(crops, columns=len(crops), titles=[p.name for p, *_ in worst_masks]),
                MEMORY / "inspect_boundaries.png")

# %% [markdown]
# ## All 16 views of the hardest car
# The car with the lowest mean Dice: which angles fail?

# %%
import collections

by_car = collections.defaultdict(list)
for row in per_image:
    by_car[by_name[row["image"]].group].append(row["dice"])
hardest = min(by_car, key=lambda car: sum(by_car[car]) / len(by_car[car]))
views = sorted((p for p in val_pairs if p.group == hardest), key=lambda p: p.view)
panels = [viz.error_map(image, truth, prediction)
          for _, image, truth, prediction in predicted_masks(views)]
viz.save_figure(viz.image_grid(panels, columns=4, titles=[f"view {p.view:02d}" for p in views]),
                MEMORY / "inspect_car_views.png")
print(f"hardest car {hardest}: mean Dice {sum(by_car[hardest]) / len(by_car[hardest]):.4f}")

# %% [markdown]
# ## CARLA: class maps and confusion matrix
# A multi-class model on CARLA scenes (`CARLA_DIR`, else generated ones), trained here with the
# same trainer: 23 classes, sparse cross-entropy, 96x128 as in the assignment.

# %%
import numpy as np
from sklearn.metrics import confusion_matrix

from unet.data import carla, synthetic

carla_root = CARLA_DIR or synthetic.make_carla_like(
    sources.data_root() / "carla_like_inspection", count=40 if SMOKE else 200, progress=False)
carla_config = preset("smoke" if SMOKE else "cpu").override(
    data={"dataset": "carla", "data_dir": str(carla_root), "image_size": (96, 128)},
    model={"num_classes": carla.NUM_CLASSES}, train={"loss": "sparse_ce"})
carla_memory = MEMORY / "carla"
carla_result = experiments.run_point(carla_config, carla_memory)
carla_run = carla_memory / "runs" / carla_config.name
carla_model = checkpoints.load_model(carla_run / "best.keras", compile=False)
print(f"CARLA mean IoU {carla_result['mean_iou']:.4f}, pixel accuracy "
      f"{carla_result['pixel_accuracy']:.4f}")

_, carla_val = sources.split_pairs(carla_config.data, seed=carla_config.train.seed)
truths, predictions, panels = [], [], []
for pair, probabilities in evaluation.predict_native(
        carla_model, carla_val, image_size=(96, 128), num_classes=carla.NUM_CLASSES):
    truth = carla.read_mask(pair.mask)
    prediction = evaluation.labels_from_probabilities(probabilities, carla.NUM_CLASSES)
    truths.append(truth.ravel())
    predictions.append(prediction.ravel())
    if len(panels) < 9:
        panels += [image_files.decode(pair.image, "RGB"), viz.class_map(truth),
                   viz.class_map(prediction)]
viz.save_figure(viz.image_grid(panels, columns=3, titles=["photo", "truth", "prediction"] * 3),
                MEMORY / "inspect_carla_class_maps.png")
present = sorted(set(np.concatenate(truths)) | set(np.concatenate(predictions)))
matrix = confusion_matrix(np.concatenate(truths), np.concatenate(predictions), labels=present)
viz.save_figure(viz.plot_confusion_matrix(matrix, [carla.CLASS_NAMES[i] for i in present]),
                MEMORY / "inspect_carla_confusion.png")

# %% [markdown]
# ## Results
# Written to `memory/`: `inspect_dice_distribution.png`, `inspect_worst.png`,
# `inspect_boundaries.png`, `inspect_car_views.png`, `inspect_carla_class_maps.png`,
# `inspect_carla_confusion.png`.

# %%
written = ["inspect_dice_distribution.png", "inspect_worst.png", "inspect_boundaries.png",
           "inspect_car_views.png", "inspect_carla_class_maps.png", "inspect_carla_confusion.png"]
assert all((MEMORY / name).is_file() for name in written)
print("\n".join(str(MEMORY / name) for name in written))
