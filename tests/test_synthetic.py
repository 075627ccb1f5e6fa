import hashlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from unet.data import carla, carvana, synthetic


def digest(folder):
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


@pytest.fixture(scope="module")
def cars():
    """Eight generated cars, every view at 160x240, with the per-pixel part maps."""
    return [synthetic.render_car_views(0, index, (160, 240), parts=True) for index in range(8)]


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
    assert set(np.unique(np.asarray(gif))) == {0, 1}  # palette indices, as Kaggle's
    # As PIL gives for Kaggle's {0, 1} palette GIFs.
    assert set(np.unique(np.asarray(gif.convert("L")))) == {0, 255}
    frames = tf.io.decode_gif(tf.io.read_file(str(gif_path))).numpy()
    assert frames.shape == (1, 64, 96, 3)  # frames x H x W x 3, as tf.io.decode_gif gives
    np.testing.assert_array_equal(frames[0, ..., 0] > 0, carvana.read_mask(gif_path) == 1)
    assert open(carvana_dir / "train_masks.csv").readline().strip() == "img,rle_mask"
    assert len(list((carvana_dir / "test").glob("*.jpg"))) == 16


def test_csv_runs_equal_the_gif_masks_exactly(carvana_dir):
    rows = carvana.read_rle_csv(carvana_dir / "train_masks.csv")
    assert len(rows) == 48
    for name, rle in rows.items():
        gif = carvana.read_mask(carvana_dir / "train_masks" / carvana.mask_name(name))
        np.testing.assert_array_equal(carvana.rle_decode(rle, shape=(64, 96)), gif)
        assert gif.any()


@pytest.mark.slow
def test_the_car_turns_through_16_consistent_views(carvana_dir, cars):
    pairs = carvana.list_pairs(carvana_dir)
    assert {p.group for p in pairs} == {p.group for p in pairs if p.view == 16}
    assert sorted(p.view for p in pairs if p.group == pairs[0].group) == list(range(1, 17))
    for _, _, _, views in cars:
        masks = [mask for _, mask, _ in views]
        areas = np.array([mask.mean() for mask in masks])
        widths = [np.ptp(np.flatnonzero(mask.any(0))) + 1 for mask in masks]
        # Side views (05, 13) show the car's length, front and rear views (01, 09) its width.
        assert min(widths[4], widths[12]) > 1.5 * max(widths[0], widths[8])
        # Opposite views are near-mirror silhouettes; the area changes smoothly with the angle.
        assert abs(widths[4] - widths[12]) <= 0.03 * widths[4]
        assert abs(widths[0] - widths[8]) <= 0.2 * widths[0]
        ratios = areas / np.roll(areas, 1)
        assert 0.65 < ratios.min() and ratios.max() < 1.5


@pytest.mark.slow
def test_every_body_type_appears_and_paint_is_mostly_neutral(cars):
    assert {body for _, body, _, _ in cars[:6]} == set(synthetic.BODY_TYPES)
    specs = [synthetic.render_car_views(0, index, (32, 48), views=[])[1:3] for index in range(16)]
    neutral = sum(paint in ("white", "pearl", "light_grey", "silver", "grey", "dark_grey",
                            "black") for _, paint in specs)
    assert 0.4 * len(specs) < neutral < len(specs)


@pytest.mark.slow
def test_contact_shadow_is_dark_and_not_car(cars):
    for _, _, _, views in cars:
        image, mask, parts = views[2]
        shadow = (parts["shadow"] > 0.4) & (mask == 0)
        assert shadow.sum() > 200  # the shadow reaches out beyond the car's outline
        darkening = parts["backdrop"].mean(-1) - image.astype(float).mean(-1)
        assert darkening[shadow].mean() > 30
        far_floor = (parts["shadow"] < 0.01) & (mask == 0)
        far_floor[: image.shape[0] // 2] = False  # the floor, not the wall
        assert image[shadow].mean() < image[far_floor].mean() - 20
    darker = 0
    for _, _, _, views in cars:
        for image, mask, parts in views:  # just below the car: darker floor, never car
            grey = image.astype(float).mean(-1)
            rows, columns = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
            bottom, left, right = rows.max(), columns.min(), columns.max()
            assert not mask[bottom + 1:].any()
            below = np.s_[bottom + 1:bottom + 4, left:right + 1]
            floor = parts["backdrop"].mean(-1)  # the studio without the car
            darker += grey[below].mean() < floor[below].mean() - 15
    assert darker >= 0.75 * 16 * len(cars)


@pytest.mark.slow
def test_thin_parts_are_car_and_thin():
    car_id, _, _, views = synthetic.render_car_views(0, 1, (1280, 1918), parts=True, views=[5])
    image, mask, parts = views[0]
    antenna = parts["antenna"]
    assert antenna.sum() > 50
    assert mask[antenna].mean() > 0.9
    rows, columns = np.nonzero(antenna)
    length = np.hypot(np.ptp(rows), np.ptp(columns))
    assert 1 <= antenna.sum() / length <= 3.5  # 1-3 px wide at Kaggle's 1918 width
    thin = parts["thin"]
    assert mask[thin].mean() > 0.9


@pytest.mark.slow
def test_glass_is_car_but_shows_the_studio(cars):
    found = 0
    for _, _, paint, views in cars:
        image, mask, parts = views[4]
        glass = parts["glass"]
        assert mask[glass].all()
        difference = np.abs(image.astype(float) - parts["backdrop"]).mean(-1)
        # Closer to the studio behind than an opaque dark window (grey 40) would be.
        opaque = np.abs(parts["backdrop"] - 40).mean(-1)
        assert np.median(difference[glass]) < 0.65 * np.median(opaque[glass])
        body = (mask == 1) & ~glass
        if paint not in ("white", "pearl", "light_grey", "silver", "grey"):
            assert np.median(difference[glass]) < np.median(difference[body])
        found += glass.sum() > 100
    assert found == len(cars)


@pytest.mark.slow
def test_some_paint_is_as_light_as_the_studio_behind_it(cars):
    close = []
    for _, _, _, views in cars:
        image, mask, parts = views[2]
        difference = np.abs(image.astype(float) - parts["backdrop"]).mean(-1)
        close.append((difference[mask == 1] < 15).mean())
    assert max(close) > 0.08  # some car pixels match the studio behind them


@pytest.mark.slow
def test_light_cars_are_written_in_the_metadata(tmp_path):
    assert {"white", "silver", "light_grey"} <= set(synthetic.PAINTS)
    root = synthetic.make_carvana_like(tmp_path, cars=6, image_size=(64, 96), seed=0,
                                       progress=False)
    rows = [row.strip().split(",") for row in list(open(root / "metadata.csv"))[1:]]
    assert {row[2] for row in rows} <= set(synthetic.BODY_TYPES)
    assert {row[3] for row in rows} <= set(synthetic.PAINTS)
    assert any(row[3] in ("white", "silver", "light_grey", "pearl") for row in rows)


def test_carla_like_masks_hold_real_class_ids(carla_dir):
    ids = set()
    for pair in carla.list_pairs(carla_dir):
        ids |= set(np.unique(carla.read_mask(pair.mask)).tolist())
        rgb = Image.open(pair.image)
        assert rgb.mode == "RGBA" and rgb.size == (64, 48)
    assert {7, 8, 13, 22} <= ids  # road, sidewalk, sky, terrain
    assert ids <= set(range(23))


@pytest.mark.slow
def test_every_car_stands_before_the_same_lettering(cars):
    # The real studio shows one word behind every car; a set whose word changed per car would
    # score a model on letters it never saw as background. Compare the dark lettering of the
    # backdrops (the studio without the car), each cut to its bounding box: the same word
    # matches closely, whatever small shift and scale each car's camera adds.
    import tensorflow as tf

    def lettering(parts):
        grey = parts["backdrop"].mean(-1)
        dark = grey < np.percentile(grey[: grey.shape[0] // 3], 90) - 60
        # The first band of rows from the top with dark pixels is the lettering (the floor's
        # dark corners come below it).
        rows = np.flatnonzero(dark.sum(1) > 2)
        bottom = rows[0] + np.flatnonzero(np.diff(rows) > 1)[0] + 1 if np.any(
            np.diff(rows) > 1) else rows[-1] + 1
        band = dark[rows[0]: bottom]
        columns = np.flatnonzero(band.any(0))
        box = band[:, columns[0]: columns[-1] + 1]
        return tf.image.resize(box[..., None].astype(np.float32), (24, 160)).numpy()[..., 0]

    # Same word: correlation 0.78-0.93 over these cars; an anagram of it about 0.4-0.65.
    first = lettering(cars[0][3][0][2]).ravel()
    for car in cars[1:]:
        similarity = np.corrcoef(first, lettering(car[3][0][2]).ravel())[0, 1]
        assert similarity > 0.7, f"car {car[0]}: lettering correlation {similarity:.2f}"


def test_generated_sets_are_made_once_in_a_versioned_folder(tmp_path, capsys):
    folder = synthetic.generated_dir(tmp_path, "carla", 2, (24, 32), progress=False)
    assert folder == tmp_path / f"synthetic_carla_v{synthetic.CARLA_VERSION}_2frames_24x32"
    assert len(carla.list_pairs(folder)) == 2 and "Generating 2" in capsys.readouterr().out
    assert synthetic.generated_dir(tmp_path, "carla", 2, (24, 32)) == folder
    assert capsys.readouterr().out == ""  # not made again
    cars = synthetic.generated_dir(tmp_path, "carvana", 1, (32, 48), progress=False)
    assert cars.name == f"synthetic_carvana_v{synthetic.CARVANA_VERSION}_1cars_32x48"
    assert len(carvana.list_pairs(cars)) == 16 and len(carvana.list_test_images(cars)) == 16
    made = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))  # locks
    assert made == sorted([folder.name, cars.name])
    with pytest.raises(ValueError, match="dataset must be"):
        synthetic.generated_dir(tmp_path, "cityscapes", 1)


def test_generate_removes_a_killed_generation_s_partial_and_refuses_a_full_folder(tmp_path):
    import subprocess
    import sys

    from unet import files

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    left = tmp_path / f".old{files.PARTIAL_MARK}{int(dead.stdout)}"
    (left / "images").mkdir(parents=True)
    def write(name):
        def make(partial):
            partial.mkdir()
            (partial / name).write_text(name)
        return make

    out = tmp_path / "set"
    assert synthetic.generate(out, write("a.txt"), wait=False)
    assert not left.exists() and (out / "a.txt").read_text() == "a.txt"
    assert not synthetic.generate(out, write("b.txt"), wait=False)
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]
