import hashlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from unet.data import carla, carvana, synthetic


def digest(folder):
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a = synthetic.make_carvana_like(tmp_path / "a", cars=1, image_size=(32, 48), seed=5,
                                    progress=False)
    b = synthetic.make_carvana_like(tmp_path / "b", cars=1, image_size=(32, 48), seed=5,
                                    progress=False)
    c = synthetic.make_carvana_like(tmp_path / "c", cars=1, image_size=(32, 48), seed=6,
                                    progress=False)
    assert digest(a) == digest(b) != digest(c)
    d = synthetic.make_carla_like(tmp_path / "d", count=2, image_size=(24, 32), seed=5,
                                  progress=False)
    e = synthetic.make_carla_like(tmp_path / "e", count=2, image_size=(24, 32), seed=5,
                                  progress=False)
    assert digest(d) == digest(e)


def test_carvana_like_files_have_the_real_formats(carvana_dir):
    image = Image.open(next((carvana_dir / "train").glob("*_01.jpg")))
    assert image.format == "JPEG" and image.mode == "RGB" and image.size == (96, 64)
    gif_path = next((carvana_dir / "train_masks").glob("*_01_mask.gif"))
    gif = Image.open(gif_path)
    assert gif.format == "GIF" and gif.mode == "P"
    # As PIL gives for Kaggle's {0, 1} palette GIFs.
    assert set(np.unique(np.asarray(gif.convert("L")))) == {0, 255}
    frames = tf.io.decode_gif(tf.io.read_file(str(gif_path))).numpy()
    assert frames.shape == (1, 64, 96, 3)  # frames x H x W x 3, as tf.io.decode_gif gives
    np.testing.assert_array_equal(frames[0, ..., 0] > 0, carvana.read_mask(gif_path) == 1)
    assert open(carvana_dir / "train_masks.csv").readline().strip() == "img,rle_mask"


def test_the_car_turns_through_16_views(carvana_dir):
    pairs = [p for p in carvana.list_pairs(carvana_dir) if p.group == carvana.list_pairs(
        carvana_dir)[0].group]
    coverage = [carvana.read_mask(p.mask).mean() for p in pairs]
    assert len(coverage) == 16
    # Side views show the car's length, front and rear views its width (and, from above, its
    # bonnet and roof).
    side, front = max(coverage[4], coverage[12]), max(coverage[0], coverage[8])
    assert side > 1.3 * front


def test_light_cars_are_not_separable_by_brightness_alone(tmp_path):
    assert {"white", "silver", "light_grey"} <= set(synthetic.PAINTS)
    root = synthetic.make_carvana_like(tmp_path, cars=6, image_size=(64, 96), seed=0,
                                       progress=False)
    rows = list(open(root / "metadata.csv"))[1:]
    assert any(row.strip().endswith(("white", "silver", "light_grey")) for row in rows)
    # Some car pixels are as bright as the backdrop around them.
    pair = next(p for p in carvana.list_pairs(root) if p.view == 5 and any(
        row.startswith(p.group) and row.strip().endswith(("white", "silver", "light_grey"))
        for row in rows))
    image = np.asarray(Image.open(pair.image).convert("L"), float)
    mask = carvana.read_mask(pair.mask).astype(bool)
    assert np.percentile(image[mask], 90) > np.percentile(image[~mask], 10)


def test_carla_like_masks_hold_real_class_ids(carla_dir):
    ids = set()
    for pair in carla.list_pairs(carla_dir):
        ids |= set(np.unique(carla.read_mask(pair.mask)).tolist())
        rgb = Image.open(pair.image)
        assert rgb.mode == "RGBA" and rgb.size == (64, 48)
    assert {7, 8, 13, 22} <= ids  # road, sidewalk, sky, terrain
    assert ids <= set(range(23))


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """Six cars (one of each body type) at 240x360, with their masks and metadata."""
    root = synthetic.make_carvana_like(tmp_path_factory.mktemp("studio"), cars=6,
                                       image_size=(240, 360), seed=2, progress=False)
    return root


def _views(root, car=None):
    from unet.data import carvana

    for image_path in sorted((root / "train").glob("*.jpg")):
        if car is None or image_path.name.startswith(car):
            mask = carvana.read_mask(root / "train_masks" / carvana.mask_name(image_path.name))
            yield image_path, np.asarray(Image.open(image_path).convert("L"), float), mask


def test_every_body_type_appears_and_each_car_has_16_consistent_views(studio):
    import csv

    with (studio / "metadata.csv").open() as stream:
        cars = list(csv.DictReader(stream))
    assert {row["model"] for row in cars} == set(synthetic.BODY_TYPES)
    for row in cars:
        views = list(_views(studio, row["id"]))
        assert len(views) == 16
        widths = [np.ptp(np.nonzero(mask.any(0))[0]) for _, _, mask in views]
        # Opposite views (01 and 09, 05 and 13) see the same silhouette width, mirrored.
        assert abs(widths[0] - widths[8]) <= 0.1 * widths[0]
        assert abs(widths[4] - widths[12]) <= 0.1 * widths[4]
        assert widths[4] > 1.5 * widths[0]  # a side view is far wider than a front view


def test_the_contact_shadow_is_dark_and_not_car(studio):
    darker = 0
    for _, grey, mask in _views(studio):
        rows = np.nonzero(mask.any(1))[0]
        columns = np.nonzero(mask.any(0))[0]
        bottom, left, right = rows.max(), columns.min(), columns.max()
        below = grey[bottom + 2:bottom + 6, left:right + 1][mask[bottom + 2:bottom + 6,
                                                                  left:right + 1] == 0]
        floor = grey[bottom + 2:bottom + 6, :8]  # the same rows at the image's edge
        darker += below.mean() < floor.mean() - 15
        assert mask[bottom + 2:, :].sum() == 0  # nothing below the car is car in the mask
    assert darker >= 0.75 * 6 * 16


def test_thin_parts_stand_out_of_the_body_and_are_car(studio):
    import cv2

    with_thin = 0
    for _, _, mask in _views(studio):
        opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
        thin = (mask == 1) & (opened == 0)
        near_body = cv2.dilate(opened, np.ones((9, 9), np.uint8)) > 0
        with_thin += (thin & ~near_body).sum() >= 4  # the antenna's upper part, in the mask
    assert with_thin >= 0.75 * 6 * 16


def test_some_paint_is_as_light_or_dark_as_the_studio_behind(studio):
    close = 0
    for _, grey, mask in _views(studio):
        car = np.median(grey[mask == 1])
        background = np.median(grey[mask == 0])
        close += abs(car - background) < 25
    assert close >= 16  # at least a car's worth of views is hard to tell from the background
