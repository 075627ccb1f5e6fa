"""Run configuration as frozen dataclasses with a JSON round trip, and the named presets.

Field names match the keyword arguments of the builders and the trainer, so a config can be
read as the call it stands for. Every run folder keeps its `config.json`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

ARCHITECTURES = ("unet", "mobilenetv2")
DATASETS = ("synthetic", "carvana", "carla")


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

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}; received {self.dataset!r}.")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1); received {self.val_fraction!r}.")
        for name in ("image_size", "synthetic_image_size"):
            object.__setattr__(self, name, tuple(int(s) for s in getattr(self, name)))


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
        return (
            f"lr{format_learning_rate(self.train.learning_rate)}"
            f"_bs{self.train.batch_size}_k{self.model.kernel_size}"
        )

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
    # Minutes on 2 CPU cores: the README's demo grid.
    "cpu": RunConfig(
        model=ModelConfig(filters=8, depth=4, batch_norm_momentum=0.9),
        data=DataConfig(image_size=(96, 144), synthetic_cars=16, synthetic_image_size=(320, 480),
                        val_fraction=0.25),
        train=TrainConfig(epochs=16, batch_size=8, learning_rate=1e-3),
        preset="cpu",
    ),
    # A free Colab GPU (T4, 15 GB): the canonical U-Net at a quarter of Carvana's size per side.
    "colab_gpu": RunConfig(
        model=ModelConfig(filters=64, depth=4),
        data=DataConfig(dataset="carvana", image_size=(256, 384), synthetic_cars=48),
        train=TrainConfig(epochs=10, batch_size=16, learning_rate=1e-4, mixed_precision=True),
        preset="colab_gpu",
    ),
    # Native resolution (1918 padded to 1920): the Carvana winners' setting, a large GPU.
    "full": RunConfig(
        model=ModelConfig(filters=64, depth=5),
        data=DataConfig(dataset="carvana", image_size=(1280, 1920), resize_mode="pad",
                        synthetic_cars=48, synthetic_image_size=(1280, 1918)),
        train=TrainConfig(epochs=30, batch_size=4, learning_rate=1e-4, mixed_precision=True,
                          reduce_lr_patience=3, early_stopping_patience=8),
        preset="full",
    ),
}


def preset(name: str) -> RunConfig:
    """The named preset (`smoke`, `cpu`, `colab_gpu`, `full`)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose from {sorted(PRESETS)}.")
    return PRESETS[name]
