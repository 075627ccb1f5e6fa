"""The training recipe: random crops, studio augmentation, warm-up + cosine, the presets."""

import json

import numpy as np
import pytest
import tensorflow as tf

from unet import schedules
from unet.config import PRESETS, DataConfig, RunConfig, TrainConfig, preset
from unet.data import carvana
from unet.data.pipeline import Augmentation, make_dataset, random_crops


def _patterned(count=6, size=(40, 60)):
    """Examples whose mask is a function of the image: 1 where the red channel is above 127."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, *size, 3), dtype=np.uint8)
    masks = (images[..., :1] > 127).astype(np.uint8)
    return tf.data.Dataset.from_tensor_slices((images, masks)), images


def test_crops_cut_image_and_mask_at_the_same_place():
    dataset, images = _patterned()
    windows = list(random_crops(dataset, (16, 24), seed=1).as_numpy_iterator())
    assert len(windows) == len(images)
    corners = set()
    for (image, mask), whole in zip(windows, images):
        assert image.shape == (16, 24, 3) and mask.shape == (16, 24, 1)
        assert image.dtype == np.uint8 and mask.dtype == np.uint8
        np.testing.assert_array_equal(mask, (image[..., :1] > 127).astype(np.uint8))
        # The window is a piece of its own image: find where.
        found = [(top, left) for top in range(40 - 16 + 1) for left in range(60 - 24 + 1)
                 if np.array_equal(whole[top:top + 16, left:left + 24], image)]
        assert len(found) == 1
        corners.add(found[0])
    assert len(corners) > 1  # the windows move


def test_crops_repeat_from_run_to_run_and_change_every_epoch():
    dataset, _ = _patterned()

    def epochs(seed):
        cropped = random_crops(dataset, (16, 24), seed=seed)
        return [np.stack([image for image, _ in cropped.as_numpy_iterator()]) for _ in range(2)]

    first, again, other = epochs(3), epochs(3), epochs(4)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])
    assert not np.array_equal(first[0], other[0])


def test_a_crop_larger_than_the_image_takes_the_whole_side():
    dataset, images = _patterned(count=2)
    image, _ = next(random_crops(dataset, (32, 200), seed=0).as_numpy_iterator())
    assert image.shape == (32, 60, 3)


def test_training_batches_are_crops_and_validation_batches_whole_images(carvana_dir):
    pairs = carvana.list_pairs(carvana_dir)[:16]
    train = make_dataset(pairs, image_size=(64, 96), batch_size=8, training=True,
                         augmentation=Augmentation(), cache="memory", crop_size=(32, 48),
                         deterministic=True)
    images, masks = next(iter(train))
    assert images.shape == (8, 32, 48, 3) and masks.shape == (8, 32, 48, 1)
    assert images.dtype == tf.float32 and masks.dtype == tf.uint8
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    assert set(np.unique(masks.numpy())) <= {0, 1}  # augmentation keeps masks binary
    whole = make_dataset(pairs, image_size=(64, 96), batch_size=8, crop_size=(32, 48))
    assert next(iter(whole))[0].shape == (8, 64, 96, 3)


def test_studio_augmentation_does_not_rotate():
    stack = Augmentation().layers(seed=0)
    names = [type(layer).__name__ for layer in stack.layers]
    assert "RandomRotation" not in names and "RandomFlip" in names


def _rate(schedule, step):
    return float(schedule(step)) if callable(schedule) else schedule


def test_constant_schedule_is_the_learning_rate():
    assert schedules.learning_rate_for(TrainConfig(learning_rate=3e-4), 10) == 3e-4


def test_cosine_schedule_warms_up_then_decays_to_zero():
    config = TrainConfig(epochs=10, learning_rate=2e-3, schedule="cosine", warmup_epochs=2)
    schedule = schedules.learning_rate_for(config, steps_per_epoch=5)
    assert _rate(schedule, 0) == 0.0
    assert _rate(schedule, 5) == pytest.approx(1e-3)  # half-way through the warm-up
    assert _rate(schedule, 10) == pytest.approx(2e-3)  # end of warm-up: the peak
    assert _rate(schedule, 30) == pytest.approx(1e-3, rel=1e-5)  # half-way down the cosine
    assert _rate(schedule, 50) == pytest.approx(0.0, abs=1e-9)  # the last step
    rates = [_rate(schedule, step) for step in range(10, 51)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_a_warm_up_longer_than_the_run_leaves_a_step_of_decay():
    config = TrainConfig(epochs=1, learning_rate=1e-3, schedule="cosine", warmup_epochs=3)
    schedule = schedules.learning_rate_for(config, steps_per_epoch=4)
    assert _rate(schedule, 3) == pytest.approx(1e-3)
    assert _rate(schedule, 4) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("changes, message", [
    ({"train": {"schedule": "step"}}, "train.schedule"),
    ({"train": {"warmup_epochs": -1}}, "warmup_epochs"),
    ({"train": {"schedule": "cosine", "reduce_lr_patience": 3}}, "reduce_lr_patience"),
    ({"data": {"crop_size": (40, 48)}}, "crop_size"),
    ({"data": {"crop_size": (32, 48), "image_size": (100, 144)}}, "image_size"),
])
def test_bad_recipe_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        RunConfig().override(**changes)


def test_training_size_is_the_crop_cut_to_the_image():
    assert DataConfig(image_size=(64, 96)).training_size == (64, 96)
    assert DataConfig(image_size=(64, 96), crop_size=(32, 128)).training_size == (32, 96)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_train_on_sizes_their_model_accepts(name):
    config = preset(name)
    multiple = 2**config.model.depth
    for side in (*config.data.training_size, *config.data.image_size):
        assert side % multiple == 0
    assert RunConfig.from_json(config.to_json()) == config


def test_cpu_preset_is_the_measured_recipe():
    config = preset("cpu")
    assert config.data.crop_size is not None
    assert config.data.training_size < config.data.image_size  # crops, not whole images
    assert config.train.schedule == "cosine" and 0 < config.train.warmup_epochs < (
        config.train.epochs)
    assert config.train.loss == "bce_dice"


@pytest.mark.slow
def test_a_model_trained_on_crops_is_scored_on_whole_images(tmp_path):
    from unet import training

    config = preset("smoke").override(
        data={"crop_size": (16, 24), "augment": True},
        train={"epochs": 2, "schedule": "cosine", "warmup_epochs": 1})
    result = training.train(config, tmp_path / "run", verbose=0)
    assert 0.0 <= result["dice"] <= 1.0 and "boundary_f" in result
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["data"]["crop_size"] == [16, 24] and saved["train"]["schedule"] == "cosine"
