"""The training recipe: random crops that follow the image, studio augmentation, a model
trained on crops and scored on whole images."""

import json

import numpy as np
import pytest
import tensorflow as tf

from unet.config import preset
from unet.data import carvana, pipeline
from unet.data.pipeline import Augmentation
from unet.data.sources import FolderSource


def random_crops(dataset, crop_size, seed):
    image_size = dataset.element_spec[0].shape[:2]
    return pipeline.random_crops(dataset, image_size, crop_size, seed, ordered=True)


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


def test_training_batches_are_crops_and_validation_batches_whole_images(carvana_dir):
    pairs = carvana.list_pairs(carvana_dir)[:16]
    train = FolderSource(pairs).make_dataset(
        image_size=(64, 96), batch_size=8, training=True, augmentation=Augmentation(),
        cache="memory", crop_size=(32, 48), deterministic=True)
    images, masks = next(iter(train))
    assert images.shape == (8, 32, 48, 3) and masks.shape == (8, 32, 48, 1)
    assert images.dtype == tf.float32 and masks.dtype == tf.uint8
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    assert set(np.unique(masks.numpy())) <= {0, 1}  # augmentation keeps masks binary
    whole = FolderSource(pairs).make_dataset(image_size=(64, 96), batch_size=8,
                                             crop_size=(32, 48))
    assert next(iter(whole))[0].shape == (8, 64, 96, 3)


@pytest.mark.slow
def test_a_model_trained_on_crops_is_scored_on_whole_images(tmp_path):
    from unet import training

    config = preset("smoke").override(
        data={"crop_size": (16, 24), "augment": True},
        train={"epochs": 2, "schedule": "warmup_cosine", "warmup_epochs": 1})
    result = training.train(config, tmp_path / "run", verbose=0)
    assert 0.0 <= result["dice"] <= 1.0 and "boundary_f" in result
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["data"]["crop_size"] == [16, 24] and saved["train"]["schedule"] == "warmup_cosine"
