"""Run configuration as frozen dataclasses with a JSON round trip, and the named presets.

Field names match the keyword arguments of the builders and the trainer, so a config can be
read as the call it stands for. Every run folder keeps its `config.json`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path

ARCHITECTURES = ("unet", "mobilenetv2")
DATASETS = ("synthetic", "carvana", "carla")
LOSSES = ("bce", "dice", "bce_dice", "sparse_ce")
RESIZE_MODES = ("resize", "pad")
SCHEDULES = ("constant", "cosine")

# What a dataset implies unless a flag says otherwise. CARLA: the Coursera assignment's 23 output
# classes (ids 0-22), sparse categorical cross-entropy, and its 96x128 input size, whole (crops
# of such small scenes would lose the context that tells road from sidewalk).
DATASET_DEFAULTS = {
    "synthetic": {"model": {"num_classes": 1}},
    "carvana": {"model": {"num_classes": 1}},
    "carla": {"model": {"num_classes": 23}, "train": {"loss": "sparse_ce"},
              "data": {"image_size": (96, 128), "crop_size": None}},
}


def _positive_int(owner: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}.{name} must be a positive whole number; received {value!r}.")


def _positive_float(owner: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise ValueError(f"{owner}.{name} must be a positive finite number; received {value!r}.")


def _size(owner: str, name: str, value) -> tuple[int, int]:
    size = tuple(value)
    if len(size) != 2:
        raise ValueError(f"{owner}.{name} must be (height, width); received {value!r}.")
    for item in size:
        _positive_int(owner, name, item)
    return size


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Keyword arguments of `unet.model.build_unet` / `build_mobilenetv2_unet`."""

    architecture: str = "unet"
    num_classes: int = 1
    filters: int = 64
    depth: int = 4
    kernel_size: int = 3
    batch_norm: bool = True
    dropout_rate: float = 0.0
    upsampling: str = "transpose"
    batch_norm_momentum: float = 0.99
    encoder_weights: str | None = None
    freeze_encoder: bool = False

    def __post_init__(self):
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture must be one of {ARCHITECTURES}; received {self.architecture!r}."
            )
        for name in ("num_classes", "filters", "depth", "kernel_size"):
            _positive_int("model", name, getattr(self, name))
        if self.kernel_size % 2 == 0:
            raise ValueError(
                f"model.kernel_size must be odd (3, 5, 7); received {self.kernel_size}.")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(
                f"model.dropout_rate must be in [0, 1); received {self.dropout_rate!r}.")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the data comes from and how it is shaped for the model."""

    dataset: str = "synthetic"
    data_dir: str | None = None
    image_size: tuple[int, int] = (128, 192)
    val_fraction: float = 0.2
    augment: bool = True
    cache: bool = True
    resize_mode: str = "resize"
    synthetic_cars: int = 12
    synthetic_image_size: tuple[int, int] = (320, 480)
    # Training on random crops of the images at `image_size` (validation and prediction see
    # whole images): `None` trains on whole images. A crop larger than the image on a side is
    # cut to the image's size on that side.
    crop_size: tuple[int, int] | None = None

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}; received {self.dataset!r}.")
        if not (isinstance(self.val_fraction, (int, float)) and 0.0 < self.val_fraction < 1.0):
            raise ValueError(f"val_fraction must be in (0, 1); received {self.val_fraction!r}.")
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(
                f"resize_mode must be one of {RESIZE_MODES}; received {self.resize_mode!r}.")
        _positive_int("data", "synthetic_cars", self.synthetic_cars)
        for name in ("image_size", "synthetic_image_size"):
            object.__setattr__(self, name, _size("data", name, getattr(self, name)))
        if self.crop_size is not None:
            object.__setattr__(self, "crop_size", _size("data", "crop_size", self.crop_size))

    @property
    def training_size(self) -> tuple[int, int]:
        """The (height, width) of a training example: the crop, at most the image."""
        if self.crop_size is None:
            return self.image_size
        return tuple(min(crop, side) for crop, side in zip(self.crop_size, self.image_size))


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Keyword arguments of the trainer."""

    epochs: int = 10
    batch_size: int = 16
    learning_rate: float = 1e-4
    loss: str = "bce_dice"
    seed: int = 0
    mixed_precision: bool = False
    jit_compile: bool = False
    early_stopping_patience: int | None = None
    reduce_lr_patience: int | None = None
    steps_per_epoch: int | None = None
    # "constant", or "cosine": a linear warm-up from 0 over `warmup_epochs` epochs, then a
    # cosine decay to 0 at the last epoch (`unet.schedules.learning_rate_for`).
    schedule: str = "constant"
    warmup_epochs: int = 0

    def __post_init__(self):
        _positive_int("train", "epochs", self.epochs)
        _positive_int("train", "batch_size", self.batch_size)
        _positive_float("train", "learning_rate", self.learning_rate)
        if self.loss not in LOSSES:
            raise ValueError(f"train.loss must be one of {LOSSES}; received {self.loss!r}.")
        for name in ("steps_per_epoch", "early_stopping_patience", "reduce_lr_patience"):
            if getattr(self, name) is not None:
                _positive_int("train", name, getattr(self, name))
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"train.schedule must be one of {SCHEDULES}; received {self.schedule!r}.")
        if isinstance(self.warmup_epochs, bool) or not isinstance(self.warmup_epochs, int) or (
                self.warmup_epochs < 0):
            raise ValueError("train.warmup_epochs must be a whole number, 0 or more; received "
                             f"{self.warmup_epochs!r}.")
        if self.schedule != "constant" and self.reduce_lr_patience is not None:
            raise ValueError("train.reduce_lr_patience needs schedule='constant': a "
                             f"{self.schedule!r} schedule already sets every step's rate.")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run; its name and folder derive from it."""

    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    preset: str = "custom"

    def __post_init__(self):
        # A model trained on crops takes any input size (it sees crops in training and whole
        # images in validation), so no input shape checks the sizes: they are checked here.
        if self.data.crop_size is None:
            return
        multiple = 32 if self.model.architecture == "mobilenetv2" else 2**self.model.depth
        for name, size in (("crop_size", self.data.training_size),
                           ("image_size", self.data.image_size)):
            if any(side % multiple for side in size):
                raise ValueError(
                    f"data.{name} {size} must be divisible by {multiple} (each of the "
                    f"{self.model.architecture} model's levels halves it) when training on "
                    "crops.")

    @property
    def name(self) -> str:
        """Run folder name from the grid's axes, e.g. `lr1e-4_bs16_k3`."""
        return (
            f"lr{format_learning_rate(self.train.learning_rate)}"
            f"_bs{self.train.batch_size}_k{self.model.kernel_size}"
        )

    @property
    def folder(self) -> Path:
        """Where the run lives under the runs root: `<dataset>/<preset>/<name>[-<hash>]`.

        A run is its whole configuration. Runs that differ from their preset only in the grid's
        axes (learning rate, batch size, kernel size), the epoch count or the data folder are
        named by those axes; any other change adds a short hash of the configuration, so two
        configurations never share a folder. The epoch count is left out on purpose: raising
        it continues the finished run. Two data folders can share a name; `train` tells them
        apart by the `config.json` inside.
        """
        name = self.name
        base = PRESETS.get(self.preset)
        if base is None or _identity(self) != _identity(base.for_dataset(self.data.dataset)
                                                         .override(**_axes(self))):
            name += "-" + hashlib.sha1(json.dumps(_identity(self), sort_keys=True).encode()
                                       ).hexdigest()[:6]
        return Path(self.data.dataset) / self.preset / name

    def for_dataset(self, dataset: str) -> RunConfig:
        """This configuration moved to `dataset`, with that dataset's defaults (class count,
        loss, CARLA's size) replacing the preset's."""
        if dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}; received {dataset!r}.")
        defaults = DATASET_DEFAULTS[dataset]
        changes = {section: dict(values) for section, values in defaults.items()}
        changes.setdefault("data", {})["dataset"] = dataset
        if dataset != "carla" and self.train.loss == "sparse_ce":
            changes.setdefault("train", {})["loss"] = "bce_dice"
        return self.override(**changes)

    def same_run(self, other: RunConfig) -> bool:
        """Whether `other` describes this run, possibly with another epoch count."""
        return _identity(self, data_dir=True) == _identity(other, data_dir=True)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2)

    @classmethod
    def from_dict(cls, values: dict) -> RunConfig:
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Unknown run configuration keys: {sorted(unknown)}.")
        return cls(
            model=_section(ModelConfig, values.get("model", {})),
            data=_section(DataConfig, values.get("data", {})),
            train=_section(TrainConfig, values.get("train", {})),
            preset=values.get("preset", "custom"),
        )

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path) -> RunConfig:
        return cls.from_json(Path(path).read_text())

    def override(self, **sections) -> RunConfig:
        """A copy with some fields replaced: `config.override(train={"epochs": 3})`."""
        changes = {}
        for section, values in sections.items():
            if section == "preset":
                changes["preset"] = values
                continue
            changes[section] = dataclasses.replace(getattr(self, section), **values)
        return dataclasses.replace(self, **changes)


def _identity(config: RunConfig, data_dir: bool = False) -> dict:
    """The configuration less the epoch count (raising it continues a run), and less the data
    folder unless `data_dir`."""
    values = config.to_dict()
    values["train"].pop("epochs")
    if not data_dir:
        values["data"].pop("data_dir")
    return values


def _axes(config: RunConfig) -> dict:
    """The grid axes of `config`, as `override` arguments."""
    return {"train": {"learning_rate": config.train.learning_rate,
                      "batch_size": config.train.batch_size},
            "model": {"kernel_size": config.model.kernel_size}}


def _section(kind, values: dict):
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(
            f"Unknown {kind.__name__} keys: {sorted(unknown)}; known: {sorted(known)}.")
    return kind(**values)


def format_learning_rate(learning_rate: float) -> str:
    """Short, exact scientific notation: 1e-4, 5e-5, 2.5e-4."""
    mantissa, exponent = f"{learning_rate:e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


PRESETS: dict[str, RunConfig] = {
    # Seconds on a CPU: for tests, CI and notebooks in smoke mode.
    "smoke": RunConfig(
        model=ModelConfig(filters=4, depth=3, batch_norm_momentum=0.9),
        data=DataConfig(image_size=(32, 48), synthetic_cars=3, synthetic_image_size=(64, 96),
                        val_fraction=0.34, augment=False),
        train=TrainConfig(epochs=1, batch_size=4, learning_rate=1e-3),
        preset="smoke",
    ),
    # Minutes on 2 CPU cores (the README's demo grid; at most 15 minutes for 8 Carvana cars,
    # native-size evaluation included). Whole images at 192x288 for validation and prediction,
    # training on random 128x192 crops of them: boundaries are learnt at twice the first
    # version's scale (96x144) for half the cost per example of whole 192x288 images.
    # Provisional: chosen by `bench/cpu_preset.py` on the generated set.
    "cpu": RunConfig(
        model=ModelConfig(filters=8, depth=4, batch_norm_momentum=0.9),
        data=DataConfig(image_size=(192, 288), crop_size=(128, 192), synthetic_cars=16,
                        synthetic_image_size=(320, 480), val_fraction=0.25),
        train=TrainConfig(epochs=40, batch_size=8, learning_rate=2e-3, schedule="cosine",
                          warmup_epochs=2),
        preset="cpu",
    ),
    # A free Colab GPU (T4, 16 GB, mixed float16): the canonical 64-filter U-Net (31 million
    # parameters) on 256x384 crops of 384x576 images (a third of Carvana's size per side; the
    # cache of 5,088 images at 384x576 takes about 4.5 GB of RAM). Estimated, not measured:
    # roughly 40 crops/s in training on a T4, so an epoch of the 4,070 training images about
    # 2 minutes with validation, about an hour for 30 epochs.
    "colab_gpu": RunConfig(
        model=ModelConfig(filters=64, depth=4),
        data=DataConfig(dataset="carvana", image_size=(384, 576), crop_size=(256, 384),
                        synthetic_cars=48),
        train=TrainConfig(epochs=30, batch_size=16, learning_rate=2e-4, mixed_precision=True,
                          schedule="cosine", warmup_epochs=1),
        preset="colab_gpu",
    ),
    # Native resolution (1918 padded to 1920), the Carvana winners' setting, on a large GPU
    # (40 GB or more): 512x768 crops of the padded images, whole images in validation and
    # prediction. Not cached (5,088 native images would take 50 GB of RAM): decoded every
    # epoch. Estimated, not measured: an epoch about 4 minutes on an A100, 40 epochs under 3
    # hours.
    "full": RunConfig(
        model=ModelConfig(filters=64, depth=5),
        data=DataConfig(dataset="carvana", image_size=(1280, 1920), resize_mode="pad",
                        crop_size=(512, 768), cache=False, synthetic_cars=48,
                        synthetic_image_size=(1280, 1918)),
        train=TrainConfig(epochs=40, batch_size=4, learning_rate=2e-4, mixed_precision=True,
                          schedule="cosine", warmup_epochs=2),
        preset="full",
    ),
}


def preset(name: str) -> RunConfig:
    """The named preset (`smoke`, `cpu`, `colab_gpu`, `full`)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose from {sorted(PRESETS)}.")
    return PRESETS[name]
