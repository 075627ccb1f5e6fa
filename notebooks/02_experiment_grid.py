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
# # 02 · The experiment grid, cell by cell
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/unet-segmentation/unet-segmentation/blob/v0.1.0/notebooks/02_experiment_grid.ipynb)
#
# The published Carvana grid: learning rate {5e-5, 1e-4, 2e-4, 5e-4} x batch size x kernel size,
# one cell per learning rate. Rerun any cell at any time: finished points are skipped, an
# interrupted one resumes from its last epoch, so a Colab disconnect loses nothing (runs,
# checkpoints and the report are kept on Google Drive). The report is rewritten at the end.

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
# The only cell with constants. On a GPU the `colab_gpu` preset trains the canonical 31M-parameter
# U-Net at 256x384 with mixed precision; on a CPU the small `cpu` preset; `UNET_SMOKE=1` runs a
# one-epoch toy grid in about a minute.

# %%
from unet import colab, environment, experiments, paths, recipes
from unet.config import preset
from unet.data import sources

SMOKE = os.environ.get("UNET_SMOKE") == "1"
DATASET = "synthetic"  # or "carvana" with CARVANA_DIR, or "folder" with FOLDER_DIR
RECIPE = None  # or a Carvana recipe of `python -m unet recipes`, e.g. "ctu-grid", "softmax-unet"
CARVANA_DIR, FOLDER_DIR = None, None  # FOLDER_DIR: "Your own data", images/ + masks/ or VOC
DATA_DIR = {"carvana": CARVANA_DIR, "folder": FOLDER_DIR}.get(DATASET)
USE_DRIVE = True  # Colab: runs, the report and downloads on Google Drive (kept)
WHERE = colab.storage(USE_DRIVE)  # prints where each thing is kept
RUNS = paths.runs_dir()  # git-ignored: checkpoints, logs
REPORT = paths.report_dir()  # the report
HAS_GPU = environment.gpu_count() > 0
PRESET = "smoke" if SMOKE else ("colab_gpu" if HAS_GPU else "cpu")
LEARNING_RATES = recipes.PUBLISHED_GRID["learning_rates"]
BATCH_SIZES = (4,) if SMOKE else ((16, 32) if HAS_GPU else (8,))
KERNEL_SIZES = (3,) if SMOKE else (3, 5)
EPOCHS = 1 if SMOKE else 10

# Raising EPOCHS later continues finished points to the new count; any other change trains
# new points in their own folders (a run is its whole configuration).
base = preset(PRESET).for_dataset(DATASET).override(
    train={"epochs": EPOCHS}, data={"data_dir": DATA_DIR})
if RECIPE:  # the recipe's network and training; scaled down (and said so) on a CPU
    base, note = recipes.recipe(RECIPE).scaled(PRESET)
    print(note or f"Recipe {RECIPE} at its published size.")
    base = base.override(data={"dataset": DATASET, "data_dir": DATA_DIR})
if DATASET == "folder":  # its classes, mask encoding and loss come from its masks
    base = sources.complete(base)
configs = experiments.grid_configs(base, LEARNING_RATES, BATCH_SIZES, KERNEL_SIZES)
print(f"{len(configs)} grid points, preset {PRESET}, runs in {RUNS}, report in {REPORT}")


def points(learning_rate):
    """The grid points of one learning rate: one cell runs them."""
    return [c for c in configs if c.train.learning_rate == learning_rate]


# %% [markdown]
# ## Progress
# Points done, interrupted and to do, with the best native-size score so far. Rerun this cell
# at any time to refresh it (after a disconnect: the cells above first, then this one).

# %%
from IPython.display import Markdown, display

display(Markdown("\n".join(experiments.progress_table(experiments.progress(configs, RUNS)))))

# %% [markdown]
# In Colab, TensorBoard over every run (curves, prediction images, the HParams dashboard);
# elsewhere the command that serves it.

# %%
colab.show_tensorboard(RUNS);

# %% [markdown]
# ## Learning rate 5e-5
# Each cell trains its points in turn and prints one line per epoch.

# %%
experiments.run_grid(points(5e-5), RUNS);

# %% [markdown]
# ## Learning rate 1e-4

# %%
experiments.run_grid(points(1e-4), RUNS);

# %% [markdown]
# ## Learning rate 2e-4

# %%
experiments.run_grid(points(2e-4), RUNS);

# %% [markdown]
# ## Learning rate 5e-4
# The largest rate: the published grid saw some runs unstable mid-run here.

# %%
experiments.run_grid(points(5e-4), RUNS);

# %% [markdown]
# ## Results
# The report is rebuilt from these points' run folders into `memory/`: `README.md`, `sweep.csv`,
# learning curves, Dice against learning rate, and the best and worst validation images. The
# same figures are drawn here.

# %%
from unet import report
from unet.run_folder import RunFolder

folders = {str(c.folder): RunFolder(experiments.run_dir_for(c, RUNS)) for c in configs}
rows = experiments.sort_rows([folder.summary_row() for folder in folders.values()])
assert sorted(r["folder"] for r in rows) == sorted(folders)
report.write_report(RUNS, REPORT, command="notebooks/02_experiment_grid",
                    run_dirs=list(folders.values()))
display(Markdown("\n".join(report.markdown_table(rows))))

# %%
import matplotlib.pyplot as plt

from unet import viz

histories = {r["run"]: folders[r["folder"]].read_history() for r in rows}
display(viz.plot_learning_curves(histories))
finished = [r for r in rows if r["status"] == "finished"]
if len(finished) > 1:
    display(viz.plot_score_vs_learning_rate(finished))
display(report.overlay_figure(folders[finished[0]["folder"]]))
plt.close("all")
