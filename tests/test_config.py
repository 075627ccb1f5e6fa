import json

import pytest

from unet.config import DataConfig, ModelConfig, RunConfig, format_learning_rate, preset
from unet.presets import PRESETS


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_survives_a_json_round_trip(name):
    config = preset(name)
    text = config.to_json()
    assert RunConfig.from_json(text) == config
    assert list(json.loads(text)) == sorted(json.loads(text))  # sorted keys
    assert config.preset == name


def test_run_name_comes_from_the_grid_axes():
    config = RunConfig().override(train={"learning_rate": 5e-5, "batch_size": 32},
                                  model={"kernel_size": 5})
    assert config.name == "lr5e-5_bs32_k5"
    assert config.train.epochs == RunConfig().train.epochs  # the rest untouched


@pytest.mark.parametrize("value, text", [(1e-4, "1e-4"), (5e-4, "5e-4"), (2.5e-4, "2.5e-4"),
                                         (0.001, "1e-3"), (0.1, "1e-1")])
def test_learning_rates_format_exactly(value, text):
    assert format_learning_rate(value) == text


def test_image_size_is_a_tuple_after_loading():
    loaded = RunConfig.from_json(RunConfig().to_json())
    assert loaded.data.image_size == (128, 192)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: preset("huge"), "Unknown preset 'huge'"),
        (lambda: RunConfig.from_dict({"model": {"width": 3}}), "Unknown ModelConfig keys"),
        (lambda: RunConfig.from_dict({"optimizer": {}}), "Unknown run configuration keys"),
        (lambda: ModelConfig(architecture="resnet"), "architecture must be one of"),
        (lambda: DataConfig(dataset="coco"), "dataset must be one of"),
        (lambda: DataConfig(val_fraction=1.0), "val_fraction must be in"),
    ],
)
def test_bad_configuration_is_rejected(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("name", ["smoke", "cpu", "colab_gpu", "full"])
def test_every_preset_fits_its_network(name):
    config = preset(name)
    multiple = 2 ** config.model.depth
    sizes = [config.data.image_size] + ([config.data.crop_size] if config.data.crop_size else [])
    for size in sizes:
        assert size[0] % multiple == 0 and size[1] % multiple == 0, (name, size)
    if config.data.crop_size:
        assert config.train.schedule == "warmup_cosine"


def test_the_cpu_preset_trains_on_crops_of_larger_images_of_8_cars():
    config = preset("cpu")
    assert config.data.crop_size and config.data.crop_size < config.data.image_size
    cars = config.data.synthetic_cars
    val_cars = min(cars - 1, max(1, round(cars * config.data.val_fraction)))
    assert cars - val_cars == 8  # the budget is stated for 8 training cars (128 photos)


def test_one_rule_says_what_is_a_car_mask():
    from unet import config, metrics
    from unet.data import sources
    from unet.inference import InputSpec

    # By dataset: Carvana and generated data are car masks, CARLA is not, from folders or TFDS.
    assert DataConfig(dataset="carvana").binary and DataConfig(dataset="synthetic").binary
    assert not DataConfig(dataset="carla").binary
    assert DataConfig(dataset="carla", tfds="carla").binary is False
    assert [sources.num_classes_of(DataConfig(dataset=name)) for name in config.DATASETS] == [
        1, 1, 23, None]
    # A folder dataset's masks say: binary ones are, class ids are not (their count is the data's).
    assert DataConfig(dataset="folder", mask_encoding="binary").binary
    assert not DataConfig(dataset="folder", mask_encoding="palette").binary
    # By model, with no dataset known: 1 or 2 outputs are a car mask, for InputSpec and metrics.
    assert [config.binary_model(n) for n in (1, 2, 3, 23)] == [True, True, False, False]
    assert InputSpec((32, 48), num_classes=2).binary
    assert metrics.training_metrics(2)[0].positive_class == 1  # the car's Dice, not the mean
    assert not InputSpec((32, 48), num_classes=23).binary
    for refuse in (lambda: InputSpec((32, 48), num_classes=3, binary=True),
                   lambda: metrics.training_metrics(23, binary=True)):
        with pytest.raises(ValueError, match="1 or 2 output classes; received"):
            refuse()


def test_a_dataset_without_a_folder_says_how_to_generate_one():
    from unet.data import sources

    config = preset("smoke").for_dataset("carla")
    with pytest.raises(ValueError, match="--data-dir.*data synthetic --dataset carla"):
        sources.dataset_dir(config.data)


def test_configuration_modules_and_the_parser_load_no_tensorflow():
    import subprocess
    import sys

    code = ("import sys, unet, unet.config, unet.presets, unet.paths, unet.errors, unet.colab, "
            "unet.cli; unet.cli.build_parser(); "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_a_bad_value_is_a_user_error_naming_its_field_and_still_a_value_error():
    from unet.errors import ConfigError, UserError

    with pytest.raises(ConfigError, match="train.epochs must be a positive") as raised:
        preset("smoke").override(train={"epochs": 0})
    assert isinstance(raised.value, UserError) and isinstance(raised.value, ValueError)
    assert raised.value.field == "train.epochs"
    with pytest.raises(ConfigError) as raised:
        ModelConfig(upsampling="nearest")
    assert raised.value.field == "model.upsampling"


def test_exit_codes_come_from_the_error_class_and_a_bug_keeps_its_traceback():
    from unet import errors
    from unet.cli import exit_code

    assert exit_code(errors.DataError("x.png: corrupt")) == 1
    assert exit_code(errors.CheckpointError("best.keras: damaged")) == 1
    assert exit_code(errors.MissingFile("nowhere.keras")) == 1
    assert exit_code(errors.DamagedFile("config.json: damaged")) == 1
    assert exit_code(errors.StorageError("runs: no space left")) == 1
    assert exit_code(errors.ConfigError("bad", field="train.epochs")) == 2
    assert exit_code(errors.RunConflict("another run")) == 2
    assert exit_code(errors.Locked("in use")) == 2
    assert exit_code(errors.TrainingDiverged("NaN")) == 3
    assert exit_code(ValueError("a bug")) is None and exit_code(KeyError("bug")) is None
    # Builtin errors, subclasses included, are bugs wherever they come from.
    assert exit_code(FileNotFoundError("nowhere")) is None
    assert exit_code(json.JSONDecodeError("bug", "{", 1)) is None
    assert exit_code(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bug")) is None


def test_a_tensorflow_error_carrying_a_data_error_exits_as_that_error():
    """A `DataError` raised inside a tf.data pipeline reaches the CLI as TensorFlow's error,
    its traceback in the message; the CLI recovers the one line that names the file."""
    from unet.data.pairs import data_error_in
    from unet.errors import DataError

    class InvalidArgumentError(Exception):  # stands for TensorFlow's, as it prints
        pass

    message = ("Traceback (most recent call last):\n  ...\n"
               "unet.errors.DataError: a.png: corrupt mask\n\n\t [[{{node PyFunc}}]]")
    recovered = data_error_in(InvalidArgumentError(message))
    assert isinstance(recovered, DataError) and str(recovered) == "a.png: corrupt mask"


def test_every_builder_and_the_cli_use_the_one_vocabulary():
    from unet import cli, config, losses, model, recipes

    assert model.ModelConfig is config.ModelConfig  # the builders check by its rules
    assert losses.LOSSES is config.LOSSES
    parser = cli.build_parser()
    for flag, names in (("--preset", PRESETS), ("--recipe", recipes.RECIPES),
                        ("--loss", config.LOSSES), ("--model", config.ARCHITECTURES)):
        for name in names:
            parser.parse_args(["train", flag, name])
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--loss", "focal"])
