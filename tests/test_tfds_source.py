import numpy as np
import pytest

pytest.importorskip("tensorflow_datasets")

from unet.data import tfds_source  # noqa: E402
from unet.model import build_unet  # noqa: E402

pytestmark = pytest.mark.slow


def test_names_are_checked():
    assert tfds_source.parse("tfds:carvana/128x192") == "carvana/128x192"
    with pytest.raises(ValueError, match="builders here are"):
        tfds_source.parse("tfds:mnist")
    with pytest.raises(ValueError, match="tfds:<builder>"):
        tfds_source.parse("carvana")


def test_carvana_from_tfds_is_split_by_car_and_trains(carvana_dir, tmp_path):
    data_dir = tmp_path / "tfds"
    train = tfds_source.load("tfds:carvana/native", "train", data_dir=data_dir,
                             manual_dir=carvana_dir)
    validation = tfds_source.load("tfds:carvana/native", "validation", data_dir=data_dir)
    train_cars, val_cars = tfds_source.groups(train), tfds_source.groups(validation)
    assert train_cars and val_cars and not train_cars & val_cars
    assert len(train_cars | val_cars) == 3
    # Prepared once: a second load reads data_dir only (no manual folder needed).
    assert tfds_source.groups(tfds_source.load("tfds:carvana/native", "validation",
                                               data_dir=data_dir)) == val_cars
    batches = tfds_source.batches(train, image_size=(32, 48), batch_size=8, training=True)
    images, masks = next(iter(batches))
    assert images.shape == (8, 32, 48, 3) and masks.shape == (8, 32, 48, 1)
    assert 0.0 <= float(np.min(images)) and float(np.max(images)) <= 1.0
    assert set(np.unique(masks)) <= {0, 1}
    model = build_unet(input_shape=(32, 48, 3), filters=4, depth=2)
    model.compile("adam", "binary_crossentropy")
    history = model.fit(batches, epochs=1, verbose=0,
                        validation_data=tfds_source.batches(
                            validation, image_size=(32, 48), batch_size=8))
    assert np.isfinite(history.history["val_loss"][0])
