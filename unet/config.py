"""Run configuration as frozen dataclasses with a JSON round trip, and every name the package
accepts (losses, architectures, modes, formats).

Field names match the keyword arguments of the builders and the trainer, so a config can be
read as the call it stands for. Every run folder keeps its `config.json`. Every rule on a value
lives here; a broken one raises `unet.errors.ConfigError` naming the field.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path

from unet.errors import ConfigError
from unet.presets import PRESETS

# The vocabularies: each defined here only; the builders, the pipeline and the CLI import them.
ARCHITECTURES = ("unet", "mobilenetv2")
DATASETS = ("synthetic", "carvana", "carla", "folder")
# How a folder dataset's masks encode classes (`unet.data.folder` says how they are told apart).
MASK_ENCODINGS = ("binary", "ids", "palette", "rgb")
VOID_LABEL = 255  # void pixels in decoded masks: in no loss and no metric
VOID_COLOR = (224, 224, 192)  # void pixels drawn, and in generated masks: VOC's colour
LOSSES = ("bce", "dice", "bce_dice", "sparse_ce")
RESIZE_MODES = ("resize", "pad")
SCHEDULES = ("constant", "warmup_cosine")
UPSAMPLING_MODES = ("transpose", "bilinear")
UPSAMPLE_KERNEL_SIZES = (2, 3)
KERNEL_INITIALIZERS = ("he_normal", "glorot_uniform")
ENCODER_WEIGHTS = ("imagenet", None)
TTA_MODES = ("none", "flip")
EXPORT_FORMATS = ("saved_model", "tflite")
# Prepared TensorFlow Datasets (`unet.data.tfds_builders`), named `tfds:<builder>[/<config>]`;
# their split is made once, when prepared: a fifth of the cars (frame blocks), seed 0.
TFDS_PREFIX = "tfds:"
TFDS_BUILDERS = ("carvana", "carla")
TFDS_VAL_FRACTION = 0.2
# A car mask ({0, 1}: Carvana, generated data) is predicted from one logit (sigmoid) or from two
# (softmax over background and car); CARLA's 23 classes are the only multi-class data here.
CAR_MASK_CLASSES = (1, 2)


def crop_fits(crop_size, image_size) -> bool:
    """Whether a `crop_size` window (H, W) lies inside images of `image_size` (H, W)."""
    return crop_size[0] <= image_size[0] and crop_size[1] <= image_size[1]


def binary_dataset(dataset: str) -> bool:
    """Whether `dataset` (a name of `DATASETS`) labels a car mask, {0, 1}: `carvana` and
    `synthetic` do, `carla` does not; a `folder` dataset's masks say (`DataConfig.binary`).
    The one test of "is this a car mask?"."""
    return dataset not in ("carla", "folder")


def binary_model(num_classes: int) -> bool:
    """Whether a model with `num_classes` outputs predicts a car mask, when its dataset is not
    known (a model without its run's `config.json`): `num_classes in CAR_MASK_CLASSES`."""
    return num_classes in CAR_MASK_CLASSES


def check_car_mask_classes(num_classes: int) -> None:
    """Raises `ConfigError` for a car-mask model or metric with other than 1 or 2 output
    classes (`CAR_MASK_CLASSES`)."""
    if num_classes not in CAR_MASK_CLASSES:
        raise ConfigError(f"a car mask comes from 1 or 2 output classes; received {num_classes}.",
                          field="model.num_classes")


def dataset_fields(name: str) -> dict:
    """A dataset name as `DataConfig` fields: `"carla"` -> `{"dataset": "carla", "tfds": None}`,
    `"tfds:carvana/128x192"` -> `{"dataset": "carvana", "tfds": "carvana/128x192",
    "val_fraction": 0.2}` (the prepared split's fraction).

    Raises:
        ConfigError: an unknown dataset or TFDS builder, naming the known ones.
    """
    if name.startswith(TFDS_PREFIX):
        tfds_name = name[len(TFDS_PREFIX):]
        builder = tfds_name.split("/")[0]
        if builder not in TFDS_BUILDERS or not tfds_name.strip("/") == tfds_name:
            raise ConfigError(f"{name!r}: the TFDS datasets here are "
                              f"{', '.join(TFDS_PREFIX + b for b in TFDS_BUILDERS)}, optionally "
                              "with a size, e.g. tfds:carvana/256x384.", field="data.dataset")
        return {"dataset": builder, "tfds": tfds_name, "val_fraction": TFDS_VAL_FRACTION}
    if name not in DATASETS:
        raise ConfigError(f"dataset must be one of {DATASETS} or "
                          f"{', '.join(TFDS_PREFIX + b for b in TFDS_BUILDERS)}; "
                          f"received {name!r}.", field="data.dataset")
    return {"dataset": name, "tfds": None}


CARLA_CLASSES = 23  # the Coursera assignment's class ids, 0-22

# What a dataset implies unless a flag says otherwise. CARLA: its classes, sparse categorical
# cross-entropy, and the assignment's 96x128 input size.
DATASET_DEFAULTS = {
    "synthetic": {"model": {"num_classes": 1}},
    "carvana": {"model": {"num_classes": 1}},
    "carla": {"model": {"num_classes": CARLA_CLASSES}, "train": {"loss": "sparse_ce"},
              "data": {"image_size": (96, 128)}},
    # Completed from the data (`unet.data.sources.complete`): classes, loss, encoding.
    "folder": {},
}


def dropout_per_block(dropout_rate, depth: int, dropout_levels: int = 2) -> tuple[float, ...]:
    """The dropout rate of each block, `encoder1 .. encoder<depth>, bottleneck`.

    Args:
        dropout_rate: One rate for the `dropout_levels` deepest blocks, or a sequence of
            `depth + 1` rates (one per encoder level, then the bottleneck).
        depth: Number of encoder levels.
        dropout_levels: How many of the deepest blocks (the bottleneck counts) take a single
            rate: 2, the default, is the deepest encoder level and the bottleneck.

    Returns:
        `depth + 1` rates, each in [0, 1), e.g. `(0.0, 0.0, 0.0, 0.3, 0.3)` for 0.3 at depth 4.
    """
    if isinstance(dropout_rate, (int, float)) and not isinstance(dropout_rate, bool):
        if isinstance(dropout_levels, bool) or not isinstance(dropout_levels, int) or not (
                0 <= dropout_levels <= depth + 1):
            raise ConfigError(f"dropout_levels must be a whole number in [0, depth + 1 = "
                              f"{depth + 1}]; received {dropout_levels!r}.",
                              field="model.dropout_levels")
        rates = (0.0,) * (depth + 1 - dropout_levels) + (float(dropout_rate),) * dropout_levels
    else:
        rates = tuple(float(rate) for rate in dropout_rate)
        if len(rates) != depth + 1:
            raise ConfigError(
                f"dropout_rate needs one rate per encoder level and one for the bottleneck "
                f"({depth + 1} for depth {depth}); received {tuple(dropout_rate)}.",
                field="model.dropout_rate")
    for rate in rates:
        if not 0.0 <= rate < 1.0:
            raise ConfigError(f"dropout_rate must be in [0, 1); received {dropout_rate!r}.",
                              field="model.dropout_rate")
    return rates


def _positive_int(owner: str, name: str, value, least: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        what = "a positive whole number" if least == 1 else f"a whole number >= {least}"
        raise ConfigError(f"{owner}.{name} must be {what}; received {value!r}.",
                          field=f"{owner}.{name}")


def _positive_float(owner: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise ConfigError(f"{owner}.{name} must be a positive finite number; received {value!r}.",
                          field=f"{owner}.{name}")


def _one_of(owner: str, name: str, value, names) -> None:
    if value not in names:
        raise ConfigError(f"{owner}.{name} must be one of {names}; received {value!r}.",
                          field=f"{owner}.{name}")


def _size(owner: str, name: str, value) -> tuple[int, int]:
    size = tuple(value)
    if len(size) != 2:
        raise ConfigError(f"{owner}.{name} must be (height, width); received {value!r}.",
                          field=f"{owner}.{name}")
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
    dropout_levels: int = 2
    upsample_kernel_size: int = 2
    kernel_initializer: str = "he_normal"
    head_conv: bool = False

    def __post_init__(self):
        _one_of("model", "architecture", self.architecture, ARCHITECTURES)
        for name in ("num_classes", "filters", "depth", "kernel_size"):
            _positive_int("model", name, getattr(self, name))
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"model.kernel_size must be odd (3, 5, 7); received "
                              f"{self.kernel_size}.", field="model.kernel_size")
        if isinstance(self.dropout_rate, (list, tuple)):  # one rate per block (JSON: a list)
            object.__setattr__(self, "dropout_rate", tuple(float(r) for r in self.dropout_rate))
            if self.architecture != "unet":
                raise ConfigError("model.dropout_rate per block needs architecture 'unet'.",
                                  field="model.dropout_rate")
        dropout_per_block(self.dropout_rate, self.depth, self.dropout_levels)
        _one_of("model", "upsampling", self.upsampling, UPSAMPLING_MODES)
        _one_of("model", "upsample_kernel_size", self.upsample_kernel_size, UPSAMPLE_KERNEL_SIZES)
        _one_of("model", "kernel_initializer", self.kernel_initializer, KERNEL_INITIALIZERS)
        _one_of("model", "encoder_weights", self.encoder_weights, ENCODER_WEIGHTS)


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
    crop_size: tuple[int, int] | None = None  # train on random crops of image_size examples
    # A prepared TFDS dataset read instead of folders (`carvana`, `carla/96x128`), from
    # `data_dir` (TFDS' folder); `None` reads the dataset's folders.
    tfds: str | None = None
    # A folder dataset's: how its masks encode classes (one of MASK_ENCODINGS, found in the
    # data), the file value marking void pixels, and a regular expression whose first group
    # names an image's group (kept on one side of the split).
    mask_encoding: str | None = None
    ignore_index: int | None = None
    group_by: str | None = None

    def __post_init__(self):
        _one_of("data", "dataset", self.dataset, DATASETS)
        if self.tfds is not None:
            fields = dataset_fields(TFDS_PREFIX + self.tfds)
            if fields["dataset"] != self.dataset:
                raise ConfigError(f"data.tfds {self.tfds!r} holds {fields['dataset']}, not "
                                  f"{self.dataset}.", field="data.tfds")
            if self.val_fraction != TFDS_VAL_FRACTION:
                raise ConfigError(
                    f"tfds:{self.tfds} is split once, when prepared ({TFDS_VAL_FRACTION:.0%} "
                    f"for validation); val_fraction {self.val_fraction} cannot change it.",
                    field="data.val_fraction")
        if not (isinstance(self.val_fraction, (int, float)) and 0.0 < self.val_fraction < 1.0):
            raise ConfigError(f"data.val_fraction must be in (0, 1); received "
                              f"{self.val_fraction!r}.", field="data.val_fraction")
        _one_of("data", "resize_mode", self.resize_mode, RESIZE_MODES)
        _positive_int("data", "synthetic_cars", self.synthetic_cars)
        self._check_folder_fields()
        for name in ("image_size", "synthetic_image_size"):
            object.__setattr__(self, name, _size("data", name, getattr(self, name)))
        if self.crop_size is not None:
            object.__setattr__(self, "crop_size", _size("data", "crop_size", self.crop_size))
            if not crop_fits(self.crop_size, self.image_size):
                raise ConfigError(f"data.crop_size {self.crop_size} must fit in image_size "
                                  f"{self.image_size}.", field="data.crop_size")

    def _check_folder_fields(self) -> None:
        folder_only = {"mask_encoding": self.mask_encoding, "ignore_index": self.ignore_index,
                       "group_by": self.group_by}
        if self.dataset != "folder":
            for name, value in folder_only.items():
                if value is not None:
                    raise ConfigError(f"data.{name} is a folder dataset's (--dataset folder); "
                                      f"received {value!r} for {self.dataset}.",
                                      field=f"data.{name}")
            return
        if self.mask_encoding is not None:
            _one_of("data", "mask_encoding", self.mask_encoding, MASK_ENCODINGS)
        if self.ignore_index is not None:
            _positive_int("data", "ignore_index", self.ignore_index, least=0)
        if self.group_by is not None:
            import re

            try:
                groups = re.compile(self.group_by).groups
            except re.error as error:
                raise ConfigError(f"data.group_by {self.group_by!r} is not a regular expression "
                                  f"({error}).", field="data.group_by") from None
            if groups < 1:
                raise ConfigError(f"data.group_by {self.group_by!r} has no group: put the part "
                                  "of a name that names its group in parentheses, e.g. "
                                  "'^(patient\\d+)_'.", field="data.group_by")

    @property
    def binary(self) -> bool:
        """Whether the labels are a binary mask ({0, 1}): `binary_dataset(dataset)`, or for a
        folder dataset its masks' encoding."""
        if self.dataset == "folder":
            return self.mask_encoding == "binary"
        return binary_dataset(self.dataset)

    @property
    def void_label(self) -> int | None:
        """The label of void pixels in decoded masks (`VOID_LABEL`), left out of the loss and
        every metric, when the data has void (`ignore_index`); else `None`."""
        return VOID_LABEL if self.ignore_index is not None else None

    @property
    def source(self) -> str:
        """The dataset as `--dataset` names it: `carvana`, or `tfds:carvana/128x192`."""
        return TFDS_PREFIX + self.tfds if self.tfds else self.dataset


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
    schedule: str = "constant"  # one of SCHEDULES (unet.schedules)
    warmup_epochs: int = 1
    # Fixed validation images drawn with their predicted masks in TensorBoard each epoch (0: off).
    prediction_images: int = 0

    def __post_init__(self):
        _positive_int("train", "epochs", self.epochs)
        _positive_int("train", "batch_size", self.batch_size)
        _positive_float("train", "learning_rate", self.learning_rate)
        _one_of("train", "loss", self.loss, LOSSES)
        _positive_int("train", "prediction_images", self.prediction_images, least=0)
        for name in ("steps_per_epoch", "early_stopping_patience", "reduce_lr_patience"):
            if getattr(self, name) is not None:
                _positive_int("train", name, getattr(self, name))
        _one_of("train", "schedule", self.schedule, SCHEDULES)
        if self.schedule != "constant" and self.reduce_lr_patience:
            raise ConfigError("train.reduce_lr_patience needs schedule 'constant' (a schedule "
                              "sets the learning rate itself).", field="train.reduce_lr_patience")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run; its name and folder derive from it."""

    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    preset: str = "custom"

    @property
    def name(self) -> str:
        """Run folder name from the grid's axes, e.g. `lr1e-4_bs16_k3`."""
        return (f"lr{format_learning_rate(self.train.learning_rate)}"
                f"_bs{self.train.batch_size}_k{self.model.kernel_size}")

    @property
    def folder(self) -> Path:
        """Where the run lives under the runs root: `<dataset>/<preset>/<name>[-<hash>]`.

        Runs that differ from their preset only in the grid's axes, the epoch count (raising it
        continues the run) or the data folder are named by the axes; any other change adds a
        short hash of the configuration, so two configurations never share a folder (`train`
        tells two data folders apart by the `config.json` inside).
        """
        name = self.name
        base = _PRESET_CONFIGS.get(self.preset)
        if base is None or _identity(self) != _identity(base.for_dataset(self.data.source)
                                                         .override(**_axes(self))):
            name += "-" + _digest(_identity(self))
        top = f"tfds-{self.data.dataset}" if self.data.tfds else self.data.dataset
        return Path(top) / self.preset / name

    @property
    def grid(self) -> str:
        """What the points of one grid share: `<dataset>/<preset>/` and a short hash of the
        configuration less the grid's axes (learning rate, batch size, kernel size).
        Runs of other presets or settings have another `grid`, so a plot never joins them."""
        values = _identity(self)
        for section, axes in _axes(self).items():
            for axis in axes:
                values[section].pop(axis)
        return f"{self.folder.parent.as_posix()}/{_digest(values)}"

    def for_dataset(self, dataset: str) -> RunConfig:
        """This configuration moved to `dataset` (`carvana`, or a prepared TFDS dataset,
        `tfds:carvana`), with that dataset's defaults (class count, loss, CARLA's size)
        replacing the preset's; crops that do not fit in the dataset's size give way to whole
        images."""
        fields = dataset_fields(dataset)
        dataset = fields["dataset"]
        changes = {section: dict(values) for section, values in DATASET_DEFAULTS[dataset].items()}
        changes.setdefault("data", {}).update(fields)
        size, crop = changes["data"].get("image_size"), self.data.crop_size
        if size and crop and not crop_fits(crop, size):
            changes["data"]["crop_size"] = None  # the dataset's size is smaller: whole images
        if binary_dataset(dataset) and self.train.loss == "sparse_ce":
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
            raise ConfigError(f"Unknown run configuration keys: {sorted(unknown)}.")
        return cls(
            model=_section(ModelConfig, values.get("model", {})),
            data=_section(DataConfig, values.get("data", {})),
            train=_section(TrainConfig, values.get("train", {})),
            preset=values.get("preset", "custom"),
        )

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    def override(self, **sections) -> RunConfig:
        """A copy with some fields replaced: `config.override(train={"epochs": 3})`."""
        changes = {section: values if section == "preset"
                   else dataclasses.replace(getattr(self, section), **values)
                   for section, values in sections.items()}
        return dataclasses.replace(self, **changes)


def _identity(config: RunConfig, data_dir: bool = False) -> dict:
    """The configuration less the epoch count (raising it continues a run), and less the data
    folder unless `data_dir`."""
    values = config.to_dict()
    values["train"].pop("epochs")
    if not data_dir:
        values["data"].pop("data_dir")
    for field in ("tfds", "mask_encoding", "ignore_index", "group_by"):
        if values["data"][field] is None:
            values["data"].pop(field)  # runs that do not use a field are named without it
    return values


def _digest(values: dict) -> str:
    """A short, stable hash of a configuration's values (run folders, grids)."""
    return hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()[:6]


def _axes(config: RunConfig) -> dict:
    """The grid axes of `config`, as `override` arguments."""
    return {"train": {"learning_rate": config.train.learning_rate,
                      "batch_size": config.train.batch_size},
            "model": {"kernel_size": config.model.kernel_size}}


def _section(kind, values: dict):
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(
            f"Unknown {kind.__name__} keys: {sorted(unknown)}; known: {sorted(known)}.")
    return kind(**values)


def format_learning_rate(learning_rate: float) -> str:
    """Short, exact scientific notation: 1e-4, 5e-5, 2.5e-4."""
    mantissa, exponent = f"{learning_rate:e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def format_epochs(epochs: int) -> str:
    """`1 epoch`, `40 epochs`."""
    return f"{epochs} epoch{'s' * (epochs != 1)}"


def preset(name: str) -> RunConfig:
    """The named preset (`unet.presets.PRESETS`: `smoke`, `cpu`, `colab_gpu`, `full`).

    Raises:
        ConfigError: an unknown name, naming the presets there are.
    """
    if name not in _PRESET_CONFIGS:
        raise ConfigError(f"Unknown preset {name!r}; choose from {sorted(PRESETS)}.",
                          field="preset")
    return _PRESET_CONFIGS[name]


_PRESET_CONFIGS = {name: RunConfig.from_dict({**values, "preset": name})
                   for name, values in PRESETS.items()}
