"""A run folder: the names of its files, what state it is in, its summary row and its score.

A run folder holds `config.json`, `split.json` (the groups on each side), `history.csv`,
`best.keras`, `last.keras` (with its optimizer state: what a resumed run goes on from), `logs/`
(TensorBoard) and `predictions/` (the validation images' predictions as PNG, epoch by epoch),
`trained.json` once its epochs are done, then `metrics.json` and `per_image.csv` once scored,
or `diverged.json` when its loss diverged.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from unet import files, paths
from unet.config import RunConfig, binary_model, dataset_fields, preset
from unet.errors import ConfigError, RunConflict

# `best.keras` is the epoch with the highest validation Dice at the training size.
MONITOR = "val_dice"


def primary_score(*scores: dict) -> str:
    """The key a run is ranked by: `"dice"` when any of `scores` (`metrics.json` contents,
    summary rows or `per_image.csv` rows) scores a car mask, else `"mean_dice"` (classes)."""
    return "dice" if any("dice" in row for row in scores) else "mean_dice"


def read_history(path) -> list[dict]:
    """Rows of a `history.csv` as dicts of floats (`epoch` as int); [] when there is none.

    Raises:
        DamagedFile: the file does not read back (truncated, emptied, edited).
    """
    path = Path(path)
    if not path.is_file():
        return []
    rows = files.read_csv(path, _remedy(path), required=("epoch",))
    for line, row in enumerate(rows, start=2):
        epoch = row.get("epoch")
        if epoch is None or epoch != int(epoch) or epoch < 1:
            raise files.damaged(path, f"line {line}: epoch is {epoch}", _remedy(path))
        row["epoch"] = int(epoch)
    return rows


# What a user can do about each damaged file of a run folder, `{folder}` being its folder.
_START_OVER = "delete the folder {folder} to start the run over"
_REMEDIES = {
    "config.json": "restore it, or " + _START_OVER,
    "history.csv": _START_OVER,
    "trained.json": "remove it, then run train again: the run is scored again from its "
                    "checkpoints (or " + _START_OVER + ")",
    "metrics.json": "remove it to rescore the run (run train again)",
    "per_image.csv": "remove it to rescore the run (run train again)",
    "diverged.json": "remove it to train the run again, or " + _START_OVER,
}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _remedy(path: Path) -> str:
    return _REMEDIES.get(path.name, _START_OVER).format(folder=path.parent)


def _read_json(path: Path, keys: dict | None = None) -> dict:
    """A run file's JSON object (checked: `files.read_json`), or {} when there is none."""
    return files.read_json(path, _remedy(path), keys) if path.is_file() else {}


class _Entry:
    """A file or folder of a run folder: its name on the class, its path on an instance."""

    def __init__(self, name: str):
        self.name = name

    def __get__(self, folder, owner):
        return self.name if folder is None else folder.path / self.name


def config_differences(saved: RunConfig, asked: RunConfig) -> list[str]:
    """The settings in which `asked` differs from `saved` as a run: each as
    `"train.learning_rate 0.001 → 0.0003"` (the epoch count is left out: raising it continues
    a run).

    Args:
        saved: The configuration a run folder holds.
        asked: The one a command asks for.

    Returns:
        One phrase per differing setting, by name; empty when `asked` is `saved`'s run.
    """
    old, new = _flat(saved.to_dict()), _flat(asked.to_dict())
    return [f"{key} {old.get(key)} → {new.get(key)}" for key in sorted(set(old) | set(new))
            if key != "train.epochs" and old.get(key) != new.get(key)]


def _flat(values: dict, prefix: str = "") -> dict:
    """`values`'s nested sections as one level of dotted names."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


@dataclasses.dataclass(frozen=True)
class RunFolder:
    """One run's folder. `RunFolder.best` is the file's name, `folder.best` its path; the
    folder itself serves as a path (`os.PathLike`)."""

    config = _Entry("config.json")
    split = _Entry("split.json")
    history = _Entry("history.csv")
    best = _Entry("best.keras")
    last = _Entry("last.keras")
    trained = _Entry("trained.json")
    metrics = _Entry("metrics.json")
    per_image = _Entry("per_image.csv")
    diverged = _Entry("diverged.json")
    backup = _Entry("backup")  # Keras' backup, written by older versions: removed on resume
    logs = _Entry("logs")
    predictions = _Entry("predictions")

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    def __fspath__(self) -> str:
        return str(self.path)

    @classmethod
    def of_model(cls, model_path) -> RunFolder:
        """The run folder a `.keras` file lies in: its `config.json` and `metrics.json` are the
        ones beside it (either may be missing for a model copied elsewhere)."""
        return cls(Path(model_path).parent)

    def read_config(self) -> RunConfig:
        """The run's `config.json`.

        Raises:
            FileNotFoundError: the folder holds no run.
            DamagedFile: `config.json` does not read back as a whole configuration.
        """
        values = files.read_json(self.config, _remedy(self.config),
                                 {"model": dict, "data": dict, "train": dict, "preset": str})
        try:
            return RunConfig.from_dict(values)
        except (ConfigError, TypeError) as error:  # an unknown key, a value out of its range
            raise files.damaged(self.config, str(error), _remedy(self.config)) from None

    def read_history(self) -> list[dict]:
        """`history.csv`'s rows (see `read_history`); [] before the first epoch."""
        return read_history(self.history)

    def scores(self) -> dict:
        """`metrics.json`'s contents; {} while the run is not scored."""
        scores = _read_json(self.metrics)
        if self.metrics.is_file() and not any(
                _is_number(scores.get(key)) for key in ("dice", "mean_dice")):
            raise files.damaged(self.metrics, "no 'dice' or 'mean_dice' score",
                                _remedy(self.metrics))
        return scores

    def training_record(self) -> dict:
        """`trained.json`'s contents (`epochs`, `epochs_done`, `precision`); {} until the run's
        epochs are done."""
        return _read_json(self.trained, {"epochs": int})

    def divergence(self) -> dict:
        """`diverged.json`'s contents (`epoch`, `batch`, `message`); {} unless it diverged."""
        return _read_json(self.diverged, {"message": str})

    def read_per_image(self) -> list[dict]:
        """`per_image.csv`'s rows, worst first: `image` and `group` as text, scores as floats."""
        rows = files.read_csv(self.per_image, _remedy(self.per_image), required=("image",),
                              text=("image", "group"))
        score = primary_score(*rows[:1])
        if rows and score not in rows[0]:
            raise files.damaged(self.per_image, "no 'dice' or 'mean_dice' column",
                                _remedy(self.per_image))
        return sorted(rows, key=lambda row: row[score])

    def state(self, asked: RunConfig | None = None) -> str:
        """What the folder holds, for the run `asked` (default: the one it holds).

        Returns:
            `new` (no run yet), `interrupted` (fewer epochs trained than asked: training goes
            on), `trained` (its epochs done, not scored), `finished` (scored) or `diverged`.

        Raises:
            RunConflict: the folder holds another configuration, or more epochs than asked,
                or a run whose learning-rate schedule spans another epoch count (trained
                epochs cannot be continued on it).
        """
        if not self.config.is_file():
            return "new"
        saved = self.read_config()
        asked = asked or saved
        if not saved.same_run(asked):
            raise RunConflict(
                f"{self.path} holds a run of another configuration ({self.config}: "
                f"{'; '.join(config_differences(saved, asked))}); use another --run-dir or "
                "delete that folder.")
        if self.diverged.is_file():
            return "diverged"
        planned = saved.train.epochs
        if (asked.train.epochs != planned and saved.train.schedule != "constant"
                and self.read_history()):
            # The trained optimizer (`last.keras`) keeps its schedule over `planned` epochs:
            # the epochs past them would run at its floor, not on the recorded schedule.
            raise RunConflict(
                f"{self.path} holds a run whose {saved.train.schedule} schedule spans "
                f"{planned} epochs; it cannot be continued to {asked.train.epochs} (its "
                f"learning rate would stay at the schedule's end). Train {asked.train.epochs} "
                f"epochs from the start in another --run-dir, or ask for {planned}.")
        done = self.training_record().get("epochs")
        if done is None:
            return "interrupted"
        if asked.train.epochs < done:
            raise RunConflict(
                f"{self.path} holds a run trained for {done} epochs; asked for "
                f"{asked.train.epochs}. Ask for {done} or more (more continues it), or use "
                "another --run-dir.")
        if asked.train.epochs > done:
            return "interrupted"
        return "finished" if self._scored() else "trained"

    def _scored(self) -> bool:
        """Scored: `metrics.json`, and `per_image.csv` with its `group` column (runs scored
        without it are scored again, not trained again)."""
        if not (self.metrics.is_file() and self.per_image.is_file()):
            return False
        rows = self.read_per_image()
        return bool(rows) and "group" in rows[0]

    def location(self, runs=None) -> str:
        """Where this folder lies: its path below the runs root `runs` (default
        `paths.runs_dir()`) when it lies there, else its path as given."""
        root = paths.runs_dir(runs).resolve()
        here = self.path.resolve()
        return here.relative_to(root).as_posix() if here.is_relative_to(root) else str(self.path)

    def summary_row(self, runs=None) -> dict:
        """One row for the report: the run's identity and axes, its state as `status`, and
        once finished its `metrics.json` scores. `folder` is where the folder lies (see
        `location`), not where its configuration would put it: a run trained with `--run-dir`
        lies where it was asked to."""
        config = self.read_config()
        status = self.state()
        row = {
            "run": config.name,
            "folder": self.location(runs),
            "dataset": config.folder.parts[0],  # `carvana`, or `tfds-carvana` read through TFDS
            "preset": config.preset,
            "grid": config.grid,
            "learning_rate": config.train.learning_rate,
            "batch_size": config.train.batch_size,
            "kernel_size": config.model.kernel_size,
            "epochs_planned": config.train.epochs,
            "epochs_done": len(self.read_history()),
            "status": status,
        }
        if status == "finished":
            row.update(self.scores())
        return row


def config_for_model(model_path, model, *, preset_name: str, dataset: str | None = None,
                     data_dir=None, image_size=None) -> RunConfig:
    """The configuration to score a model with: its run's `config.json` beside it, else one
    made from `preset_name` and what the model says (its input size and class count; a car
    mask from 1 or 2 output classes, `config.binary_model`), scored on whole images.

    Args:
        model_path: The `.keras` file `model` was loaded from.
        model: The loaded model (only `input_shape` and `output_shape` are read).
        preset_name: The preset a model without `config.json` is taken to come from.
        dataset: Score on this dataset instead (`carvana`, `tfds:carvana`, ...).
        data_dir: Read the data from this folder instead.
        image_size: Feed the model at this `(height, width)` instead.

    """
    folder = RunFolder.of_model(model_path)
    if folder.config.is_file():
        config = folder.read_config()
    else:
        num_classes = int(model.output_shape[-1])
        guessed = dataset or ("synthetic" if binary_model(num_classes) else "carla")
        config = preset(preset_name).for_dataset(guessed).override(
            data={"crop_size": None}, model={"num_classes": num_classes})
        height, width = model.input_shape[1:3]
        if height and width:
            config = config.override(data={"image_size": (height, width)})
    data = dataset_fields(dataset) if dataset else {}
    if data_dir:
        data["data_dir"] = data_dir
    if image_size:
        data["image_size"] = tuple(image_size)
    return config.override(data=data)
