"""Named recipes: published U-Nets as run configurations, each with its published figure."""

from __future__ import annotations

import dataclasses

from unet.config import (
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    format_epochs,
    format_learning_rate,
)
from unet.errors import UsageError
from unet.run_folder import primary_score

# How many fixed validation images every recipe writes to TensorBoard's Images tab each epoch.
PREDICTION_IMAGES = 4


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One published U-Net: the configuration that reproduces it and what was published.

    Attributes:
        name: The recipe's name (`train --recipe NAME`), also its configuration's preset.
        config: The run configuration at the published size (for a GPU); every recipe shows
            `PREDICTION_IMAGES` validation images in TensorBoard.
        figure: The published figure as a reader would quote it (`"—"` when none was).
        metric: The key of our result that compares with the figure (`dice`, `pixel_accuracy`,
            `parameters`).
        published: The published value, or `(low, high)` for a range; `None` when none.
        data, size, epochs: The published figure's data, input size and epochs, as text.
        grid: For a sweep: `experiments.grid_configs` keyword arguments.
        measured: How the published figure was measured (split and measure).
    """

    name: str
    reproduces: str
    config: RunConfig
    figure: str
    metric: str
    published: float | tuple[float, float] | None
    data: str
    size: str
    epochs: str
    source: str
    grid: dict | None = None
    measured: str = "no figure was published"

    def __post_init__(self):
        object.__setattr__(self, "config", self.config.override(
            train={"prediction_images": PREDICTION_IMAGES}, preset=self.name))

    def scaled(self, preset_name: str) -> tuple[RunConfig, str]:
        """The recipe for the preset `preset_name`, as `(config, note)`: as published for a GPU
        preset, scaled down for `smoke` and `cpu`, `note` naming every change.

        A scaled recipe keeps the architecture, class count, loss, schedule and, where its batch
        fits the preset's, its batch and learning rate. It takes the preset's image size (aspect
        kept), filters and budget of images seen: the preset's epochs over the same data, not the
        published epochs, which on a few hundred images would be a few dozen optimizer steps.
        Where the batch shrinks to the preset's, the learning rate follows the square-root rule
        for Adam (scaled by sqrt(new batch / published batch)).
        """
        from unet.config import preset

        base = preset(preset_name)
        if preset_name not in SCALED_PRESETS:
            return self.config, ""
        config = self.config
        size = config.data.image_size
        if base.data.image_size[0] * base.data.image_size[1] < size[0] * size[1]:
            multiple = 2 ** (5 if config.model.architecture == "mobilenetv2"
                             else config.model.depth)
            height = -(-base.data.image_size[0] // multiple) * multiple
            width = -(-height * size[1] // size[0] // multiple) * multiple  # keep the aspect
            size = (height, width)
        filters = min(config.model.filters, base.model.filters)
        epochs = base.train.epochs
        batch_size = min(config.train.batch_size, base.train.batch_size)
        learning_rate = float(
            f"{config.train.learning_rate * (batch_size / config.train.batch_size) ** 0.5:.2g}")
        scaled = config.override(
            model={"filters": filters,
                   "batch_norm_momentum": base.model.batch_norm_momentum
                   if config.model.batch_norm else config.model.batch_norm_momentum,
                   "encoder_weights": None},
            data={"image_size": size, "synthetic_cars": base.data.synthetic_cars,
                  "synthetic_image_size": base.data.synthetic_image_size,
                  "val_fraction": base.data.val_fraction},
            train={"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate},
            preset=f"{self.name}-{preset_name}",
        )
        changes = []
        if size != config.data.image_size:
            changes.append(f"{'x'.join(map(str, size))} instead of "
                           f"{'x'.join(map(str, config.data.image_size))}")
        if filters != config.model.filters and config.model.architecture == "unet":
            changes.append(f"{filters} base filters instead of {config.model.filters}")
        if epochs != config.train.epochs:
            changes.append(f"{format_epochs(epochs)} of the preset's data (its budget of images "
                           f"seen) instead of {config.train.epochs}")
        if batch_size != config.train.batch_size:
            changes.append(f"batch {batch_size} instead of {config.train.batch_size}, so learning "
                           f"rate {format_learning_rate(learning_rate)} instead of "
                           f"{format_learning_rate(config.train.learning_rate)} (square-root "
                           "rule)")
        if config.model.encoder_weights:
            changes.append("random encoder weights instead of imagenet")
        return scaled, f"scaled down for CPU ({preset_name}): " + ", ".join(changes)

    def beside(self, metrics: dict, config: RunConfig, run: str | None = None) -> str:
        """Our figure (a run's `metrics.json` values and `config`, its folder `run` named when
        given) beside the published one, each with its data, size and epochs, and what keeps
        them from comparing: a Markdown table row under `BESIDE_HEADER`."""
        key = primary_score(metrics) if self.metric == "dice" else self.metric
        ours = metrics.get(key)
        ours_text = f"{ours:.4f}" if isinstance(ours, float) else str(ours)
        size = "x".join(map(str, config.data.image_size))
        epochs = metrics.get("epochs", config.train.epochs)
        where = f", run `{run}`" if run else ""
        scaling = next((self.scaled(name)[1] for name in SCALED_PRESETS
                        if config.preset == f"{self.name}-{name}"), "")
        scaling = f"{scaling[0].upper()}{scaling[1:]}. " if scaling else ""
        size_text = "size not stated" if self.size == "not stated" else self.size
        epochs_text = ("epochs not stated" if self.epochs == "not stated"
                       else f"{self.epochs} epochs")
        return (f"| `{self.name}` | published: {self.figure} ({self.data}, {size_text}, "
                f"{epochs_text}) | ours: {key} {ours_text} ({config.data.source} "
                f"validation, {size}, {format_epochs(epochs)}, preset "
                f"{config.preset}{where}) | "
                f"{scaling}{self.differences(config, epochs)} |")

    def differences(self, config: RunConfig, epochs: int | None = None) -> str:
        """What keeps a run's figure from comparing with the published one: every field of the
        run's identity that differs from the recipe at its published size, then how each figure
        is measured (ours: validation, each image at its own size; theirs: `measured`). For a
        parameter count only the network's fields count, and nothing is `"nothing (...)"`.

        Args:
            config: The run's configuration.
            epochs: The epochs it trained (default: those it asked for).

        Returns:
            `"; "`-separated differences, e.g. `"learning rate (1e-3, published 1e-4); ..."`.
        """
        published = self.config
        epochs = config.train.epochs if epochs is None else epochs
        found = []
        if config.data.source != published.data.source:
            found.append(f"data ({config.data.source}, published {published.data.source})")
        sections = ("model",) if self.metric == "parameters" else ("data", "model", "train")
        for section in sections:
            if section == "model" and self.metric != "parameters" and (
                    epochs != published.train.epochs):
                found.append(f"epochs ({epochs}, published {published.train.epochs})")
            ours, theirs = getattr(config, section), getattr(published, section)
            for field in dataclasses.fields(ours):
                if field.name in _NOT_COMPARED or (
                        field.name.startswith("synthetic_")
                        and "synthetic" not in (config.data.dataset, published.data.dataset)):
                    continue
                mine, other = getattr(ours, field.name), getattr(theirs, field.name)
                if mine != other:
                    label = _LABELS.get(field.name, field.name.replace("_", " "))
                    found.append(f"{label} ({_shown(field.name, mine)}, published "
                                 f"{_shown(field.name, other)})")
        if self.metric == "parameters":
            return "; ".join(found) or "nothing (the count depends on the network alone)"
        found.append(f"measure (ours: validation {self.metric} at each image's own size, "
                     f"published: {self.measured})")
        return "; ".join(found)


SCALED_PRESETS = ("smoke", "cpu")

# The published Carvana grid (a batch-norm U-Net at 160x240, 10 epochs a point): all points
# within validation Dice 0.988-0.990. `sweep` runs it by default.
PUBLISHED_GRID = {"learning_rates": (5e-5, 1e-4, 2e-4, 5e-4), "batch_sizes": (16, 32),
                  "kernel_sizes": (3, 5)}

_RECIPES = (
    Recipe(
        name="tf2-unet",
        reproduces="TensorFlow 2 U-Net from scratch for Carvana: 64->1024 filters, batch norm, "
                   "2x2 transposed convolutions, sigmoid head",
        config=RunConfig(
            model=ModelConfig(filters=64, depth=4, batch_norm=True, upsample_kernel_size=2),
            data=DataConfig(dataset="carvana", image_size=(256, 256)),
            train=TrainConfig(epochs=10, batch_size=16, learning_rate=1e-4, loss="bce")),
        figure="— (the canonical net, 31,049,409 parameters)",
        metric="parameters", published=31_049_409,
        data="Carvana train", size="set by flags", epochs="set by flags",
        source="a TensorFlow 2 U-Net project for Carvana (train flags lr, batch, epochs, size)",
        measured="the network's parameter count",
    ),
    Recipe(
        name="ctu-grid",
        reproduces="batch-norm padded U-Net, Carvana at 160x240, the 16-point grid lr x batch x "
                   "kernel, accuracy + Dice",
        config=RunConfig(
            model=ModelConfig(filters=64, depth=4, batch_norm=True),
            data=DataConfig(dataset="carvana", image_size=(160, 240)),
            train=TrainConfig(epochs=10, batch_size=16, learning_rate=1e-4)),
        figure="best validation Dice 0.9876", metric="dice", published=0.9876,
        data="Carvana, validation split of whole cars", size="160x240", epochs="10 per point",
        source="a university course project (CTU): grid lr {5e-5, 1e-4, 2e-4, 5e-4} x batch "
               "{16, 32} x kernel {3, 5}",
        grid=PUBLISHED_GRID,
        measured="validation Dice of the best of 16 grid points, at 160x240",
    ),
    Recipe(
        name="softmax-unet",
        reproduces="Carvana as 2 classes: one logit per class, softmax, pixel accuracy + Dice "
                   "on the car class",
        config=RunConfig(
            model=ModelConfig(filters=64, depth=4, num_classes=2),
            data=DataConfig(dataset="carvana", image_size=(128, 192)),
            train=TrainConfig(epochs=10, batch_size=16, learning_rate=1e-4, loss="sparse_ce")),
        figure="test Dice 0.9805", metric="dice", published=0.9805,
        data="Carvana, held-out test cars", size="not stated", epochs="not stated",
        source="a Keras softmax U-Net project for Carvana (TensorBoard curves)",
        measured="Dice on held-out test cars",
    ),
    Recipe(
        name="mobilenetv2-pix2pix",
        reproduces="MobileNetV2 encoder (imagenet weights) + pix2pix upsample blocks "
                   "(transposed conv, batch norm, ReLU), as in the TensorFlow segmentation "
                   "tutorial",
        config=RunConfig(
            model=ModelConfig(architecture="mobilenetv2", encoder_weights="imagenet",
                              freeze_encoder=True),
            data=DataConfig(dataset="carvana", image_size=(128, 128)),
            train=TrainConfig(epochs=20, batch_size=64, learning_rate=1e-3, loss="bce")),
        figure="—", metric="dice", published=None,
        data="the tutorial's Oxford pets; here Carvana", size="128x128", epochs="20",
        source="the TensorFlow image segmentation tutorial (pix2pix upsample blocks)",
    ),
    Recipe(
        name="coursera-carla",
        reproduces="the Coursera U-Net for CARLA: 32->512 filters, no batch norm, dropout 0.3 "
                   "in the two deepest blocks, 3x3 transposed convolutions, 3x3 conv before "
                   "the 1x1 head, he_normal, 23 logits",
        config=RunConfig(
            model=ModelConfig(filters=32, depth=4, num_classes=23, batch_norm=False,
                              dropout_rate=0.3, dropout_levels=2, upsample_kernel_size=3,
                              head_conv=True, kernel_initializer="he_normal"),
            data=DataConfig(dataset="carla", image_size=(96, 128), augment=False),
            train=TrainConfig(epochs=40, batch_size=32, learning_rate=1e-3, loss="sparse_ce")),
        figure="8,640,471 parameters; training pixel accuracy 0.97-0.98",
        metric="pixel_accuracy", published=(0.97, 0.98),
        data="CARLA, 1,060 frames, training set", size="96x128", epochs="40",
        source="the Coursera Deep Learning Specialization (course 4, U-Net assignment)",
        measured="pixel accuracy on the training set",
    ),
)

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in _RECIPES}

# Fields `differences` leaves to others: fields that cannot change a figure (where batches are
# kept, TensorBoard's pictures, the data's folder), those compared on their own (the data as
# `source`, the epochs as trained). It compares every other field of a run's identity.
_NOT_COMPARED = ("cache", "prediction_images", "data_dir", "dataset", "tfds", "epochs")
_LABELS = {"image_size": "size", "filters": "base filters", "learning_rate": "learning rate",
           "batch_size": "batch size", "kernel_size": "kernel", "num_classes": "classes",
           "encoder_weights": "encoder weights"}


def _shown(name: str, value) -> str:
    if name == "encoder_weights":
        return value or "random"
    if name == "learning_rate":
        return format_learning_rate(value)
    if isinstance(value, tuple) and len(value) == 2 and name.endswith("size"):
        return "x".join(map(str, value))
    return str(value)

# The columns of `Recipe.beside` rows.
BESIDE_HEADER = ("| recipe | published figure (data, size, epochs) | ours (data, size, epochs, "
                 "preset) | differs in |\n|---|---|---|---|")


def recipe_of(config: RunConfig) -> Recipe | None:
    """The recipe a run was trained from, or `None`: a run records it as its preset, `NAME` at
    the published size, `NAME-smoke` or `NAME-cpu` scaled down (`Recipe.scaled`)."""
    for item in _RECIPES:
        if config.preset in (item.name, *(f"{item.name}-{name}" for name in SCALED_PRESETS)):
            return item
    return None


def recipe(name: str) -> Recipe:
    """The recipe called `name`.

    Raises:
        ValueError: naming the recipes there are.
    """
    if name not in RECIPES:
        raise UsageError(f"Unknown recipe {name!r}; choose from {sorted(RECIPES)}.")
    return RECIPES[name]


def table() -> str:
    """The recipes as a Markdown table: name, what it reproduces, the figure, its data, size and
    epochs, and the source."""
    header = ("recipe", "reproduces", "published figure", "data", "size", "epochs", "source")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for item in _RECIPES:
        cells = [f"`{item.name}`", item.reproduces, item.figure, item.data, item.size,
                 item.epochs, item.source]
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines)
