import json

import pytest

from unet.config import PRESETS, DataConfig, ModelConfig, RunConfig, format_learning_rate, preset


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
    from unet.inference import Settings

    # By dataset: Carvana and generated data are car masks, CARLA is not, from folders or TFDS.
    assert DataConfig(dataset="carvana").binary and DataConfig(dataset="synthetic").binary
    assert not DataConfig(dataset="carla").binary
    assert DataConfig(dataset="carla", tfds="carla").binary is False
    assert [sources.num_classes_of(DataConfig(dataset=name)) for name in config.DATASETS] == [
        1, 1, 23]
    # By model, with no dataset known: 1 or 2 outputs are a car mask, for Settings and metrics.
    assert [config.binary_model(n) for n in (1, 2, 3, 23)] == [True, True, False, False]
    assert Settings((32, 48), num_classes=2).binary
    assert metrics.training_metrics(2)[0].positive_class == 1  # the car's Dice, not the mean
    assert not Settings((32, 48), num_classes=23).binary
    for refuse in (lambda: Settings((32, 48), num_classes=3, binary=True),
                   lambda: metrics.training_metrics(23, binary=True)):
        with pytest.raises(ValueError, match="1 or 2 output classes; received"):
            refuse()


def test_a_dataset_without_a_folder_says_how_to_generate_one():
    from unet.data import sources

    config = preset("smoke").for_dataset("carla")
    with pytest.raises(ValueError, match="--data-dir.*data synthetic --dataset carla"):
        sources.dataset_dir(config.data)
