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
# # 01 · Data exploration
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/unet-segmentation/unet-segmentation/blob/v0.1.0/notebooks/01_data_exploration.ipynb)
#
# Get the data (Kaggle's Carvana, the Coursera CARLA scenes, your own folder of images and masks,
# or generated look-alikes in the same formats), validate every file, and look at it: counts,
# sizes, the 16 views of a car with its mask, how much of each image the car covers, and the
# class balance of CARLA and of a folder dataset. Figures go to the report folder `memory/`.

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
# The only cell with constants. `UNET_SMOKE=1` makes the notebook run in about a minute on a CPU.

# %%
from unet import colab, paths

SMOKE = os.environ.get("UNET_SMOKE") == "1"
CARVANA_DIR = None  # a Kaggle folder (train/, train_masks/...), e.g. "/content/carvana"
CARLA_DIR = None  # the Coursera data/ folder (CameraRGB/, CameraMask/)
FOLDER_DIR = None  # your own images/ + masks/ (or Pascal VOC) folder; README: "Your own data"
USE_DRIVE = True  # Colab: runs, the report and downloads on Google Drive (kept)
WHERE = colab.storage(USE_DRIVE)  # prints where each thing is kept
REPORT = paths.report_dir()
REPORT.mkdir(parents=True, exist_ok=True)
print(f"smoke mode: {SMOKE}; figures go to {REPORT}")

# %% [markdown]
# ## Get Carvana
# From `CARVANA_DIR`; else, in Colab with Kaggle credentials (the secrets `KAGGLE_USERNAME` and
# `KAGGLE_KEY`, or `kaggle.json`; accept the competition rules first), from Kaggle, once: the
# archives are kept (on Drive with `USE_DRIVE`), extracted to the VM's disk and checked, as
# `python -m unet data download --dataset carvana` does; else generated Carvana-like data, with
# a message saying so.

# %%
from unet.data import download

if CARVANA_DIR is None and colab.in_colab() and download.kaggle_credentials_available():
    CARVANA_DIR = download.download_carvana()  # a rerun, or a new VM with Drive, fetches nothing
carvana_root = download.get_carvana(
    CARVANA_DIR, fallback_cars=2 if SMOKE else 8,
    fallback_size=(160, 240) if SMOKE else (640, 960))
print(carvana_root)

# %% [markdown]
# ## Validate
# Every image and mask is decoded; sizes, mask values and `train_masks.csv` are checked.

# %%
from unet.data import carvana

report = carvana.check(carvana_root)
print(report.format())
assert report.ok, report.problems

# %% [markdown]
# ## What is there
# Cars, views per car, and image sizes.

# %%
import collections

pairs = carvana.list_pairs(carvana_root)
cars = collections.Counter(pair.group for pair in pairs)
print(f"{len(pairs)} images of {len(cars)} cars; views per car: {sorted(set(cars.values()))}")
print("sizes:", report.summary["image_sizes"])
assert set(cars.values()) == {16}

# %% [markdown]
# ## The 16 views of one car
# The mask is drawn over the photo: views of one car are near-duplicates, which is why the
# validation split is made by car.

# %%
import matplotlib.pyplot as plt

from unet import viz
from unet.data import image_files, sources

car = sorted(cars)[0]
views = [pair for pair in pairs if pair.group == car]
panels = [viz.overlay(image_files.decode(p.image, "RGB"), sources.read_native_mask(p, "carvana"))
          for p in views]
figure = viz.image_grid(panels, columns=4, titles=[f"{car} view {p.view:02d}" for p in views])
viz.save_figure(figure, REPORT / "data_car_views.png")
plt.imshow(plt.imread(REPORT / "data_car_views.png"))
plt.axis("off")
plt.show()

# %% [markdown]
# ## Mask coverage
# The share of each image that is car (a sample of up to 500 images).

# %%
import numpy as np

sample = pairs[:: max(1, len(pairs) // 500)]
coverage = [float(sources.read_native_mask(p, "carvana").mean()) for p in sample]
viz.save_figure(viz.plot_histogram(coverage, "fraction of pixels that are car"),
                REPORT / "data_mask_coverage.png")
print(f"coverage: mean {np.mean(coverage):.3f}, min {np.min(coverage):.3f}, "
      f"max {np.max(coverage):.3f}")
assert 0 < np.mean(coverage) < 1

# %% [markdown]
# ## CARLA: class balance and colour legend
# From `CARLA_DIR`, else generated CARLA-like scenes. Road and sky dominate; the long tail is
# why per-class IoU matters more than pixel accuracy.

# %%
from unet.data import carla, synthetic

carla_root = CARLA_DIR or synthetic.generated_dir(
    paths.data_root(), "carla", 8 if SMOKE else 60, progress=False)
carla_report = carla.check(carla_root)
print(carla_report.format())
assert carla_report.ok, carla_report.problems
carla_pairs = carla.list_pairs(carla_root)
fractions = carla.class_fractions(carla_pairs[:200])
viz.save_figure(viz.plot_class_histogram(fractions), REPORT / "data_carla_classes.png")
scenes = carla_pairs[:3]
panels = []
for pair in scenes:
    panels += [image_files.decode(pair.image, "RGB"), viz.class_map(carla.read_mask(pair.mask))]
viz.save_figure(viz.image_grid(panels, columns=2, titles=[p.name for p in scenes for _ in "ab"]),
                REPORT / "data_carla_scenes.png")
for class_id, share in sorted(fractions.items(), key=lambda item: -item[1]):
    print(f"{class_id:2d} {carla.CLASS_NAMES[class_id]:13s} {share:7.2%}")

# %% [markdown]
# ## Your own data: a folder of images and masks
# From `FOLDER_DIR`, else a generated folder in Pascal VOC's layout (palette masks, a void band
# along class edges, two image sizes). `folder.check` reads every mask as training reads it
# (`folder.decode_mask`), and says which layout and mask encoding it found, the classes with
# their pixel share, and the split. Train on it with `--dataset folder --data-dir DIR`.

# %%
from unet.data import folder

folder_root = FOLDER_DIR or synthetic.make_folder_like(
    paths.data_root() / "folder_like", count=6 if SMOKE else 24, layout="voc", void_band=2,
    mixed_sizes=True, progress=False)
folder_report = folder.check(folder_root)
print(folder_report.format())
assert folder_report.ok, folder_report.problems
found = folder.scan(folder_root)
shown = found.pairs[:3]
masks = [folder.decode_mask(pair.mask, found.format) for pair in shown]
panels = []
for pair, mask in zip(shown, masks):
    panels += [image_files.decode(pair.image, "RGB"), viz.class_map(mask, found.format.colors)]
legend = viz.class_legend(masks, found.format.names, found.format.colors)
viz.save_figure(viz.image_grid(panels, columns=2, titles=[p.name for p in shown for _ in "ab"],
                               legend=legend), REPORT / "data_folder_masks.png", show=True)

# %% [markdown]
# ## Results
# Written to `memory/`: `data_car_views.png`, `data_mask_coverage.png`,
# `data_carla_classes.png`, `data_carla_scenes.png`, `data_folder_masks.png`.

# %%
written = ["data_car_views.png", "data_mask_coverage.png", "data_carla_classes.png",
           "data_carla_scenes.png", "data_folder_masks.png"]
assert all((REPORT / name).is_file() for name in written)
print("\n".join(str(REPORT / name) for name in written))
