import io
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from unet import tensorboard_images, viz
from unet.config import preset
from unet.training import train


def _events(folder):
    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    return accumulator


def test_panels_show_the_image_the_prediction_and_the_errors_in_colour():
    image = np.full((1, 4, 6, 3), 0.5, np.float32)
    truth = np.zeros((1, 4, 6, 1), np.uint8)
    truth[0, :, :3] = 1
    predicted = np.zeros((1, 4, 6), np.uint8)
    predicted[0, :, 2:5] = 1  # column 2 right, 3-4 false car, 0-1 missed
    panels = tensorboard_images.prediction_panels(image, truth, predicted, binary=True)
    assert panels.shape == (1, 4, 18, 3) and panels.dtype == np.uint8
    left, middle, right = panels[0, :, :6], panels[0, :, 6:12], panels[0, :, 12:]
    assert (left == 128).all()
    assert (middle[:, 2:5] != 128).any(axis=-1).all() and (middle[:, 5] == 128).all()
    false_car, missed = right[0, 3], right[0, 0]
    assert false_car[0] > false_car[2] and missed[2] > missed[0]  # red, blue
    assert np.argmax(false_car) == np.argmax(viz.FALSE_POSITIVE)


@pytest.fixture(scope="module")
def run_with_images(tmp_path_factory):
    config = preset("smoke").override(train={"epochs": 2, "prediction_images": 3})
    run_dir = tmp_path_factory.mktemp("run") / "smoke"
    metrics = train(config, run_dir, verbose=0)
    return config, run_dir, metrics


@pytest.mark.slow
def test_every_epoch_writes_the_fixed_images_to_tensorboard(run_with_images):
    config, run_dir, _ = run_with_images
    events = _events(run_dir / "logs" / "predictions")
    (tag,) = events.Tags()["tensors"]
    assert tag.startswith("predictions")
    written = events.Tensors(tag)
    assert [event.step for event in written] == [0, 1]
    height, width = config.data.image_size
    values = written[-1].tensor_proto.string_val
    assert (int(values[0]), int(values[1])) == (3 * width, height)
    pictures = [np.asarray(Image.open(io.BytesIO(png))) for png in values[2:]]
    assert len(pictures) == 3 and pictures[0].shape == (height, 3 * width, 3)
    pngs = sorted(path.name for path in (run_dir / "predictions").iterdir())
    assert pngs == ["epoch001.png", "epoch002.png"]
    assert Image.open(run_dir / "predictions" / "epoch002.png").size == (3 * width, 3 * height)


@pytest.mark.slow
def test_tensorboard_carries_the_native_dice_of_the_best_epoch(run_with_images):
    _, run_dir, _ = run_with_images
    saved = json.loads((run_dir / "metrics.json").read_text())
    events = _events(run_dir / "logs" / "native")
    (dice,) = events.Tensors("native_size/dice")
    assert dice.step == saved["best_epoch"] - 1
    assert float(tf.make_ndarray(dice.tensor_proto)) == pytest.approx(saved["dice"])
    assert "native_size/boundary_f" in events.Tags()["tensors"]


def test_no_images_unless_asked(tmp_path):
    config = preset("smoke")
    assert config.train.prediction_images == 0
    assert tensorboard_images.prediction_image_callbacks(config, tmp_path, ["x"]) == []
