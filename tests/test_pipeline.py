import re
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from unet.data import carla, carvana, pipeline
from unet.data.pipeline import Augmentation, jpeg_ratio
from unet.data.sources import FolderSource


def make_dataset(pairs, **options):
    return FolderSource(pairs).make_dataset(**options)


def collect(dataset):
    images, masks = zip(*[(x.numpy(), y.numpy()) for x, y in dataset])
    return np.concatenate(images), np.concatenate(masks)


def test_batches_have_the_documented_shapes_types_and_ranges(carvana_dir):
    pairs = carvana.list_pairs(carvana_dir)[:10]
    images, masks = collect(make_dataset(pairs, image_size=(32, 48), batch_size=4))
    assert images.shape == (10, 32, 48, 3) and images.dtype == np.float32
    assert masks.shape == (10, 32, 48, 1) and masks.dtype == np.uint8
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.8
    assert set(np.unique(masks)) == {0, 1}


def test_masks_from_gifs_and_from_the_csv_are_identical(carvana_dir, tmp_path):
    gif_pairs = carvana.list_pairs(carvana_dir)[:8]
    root = shutil.copytree(carvana_dir, tmp_path / "csv_only")
    shutil.rmtree(root / "train_masks")
    csv_pairs = carvana.list_pairs(root)[:8]
    assert csv_pairs[0].rle is not None
    for size in ((64, 96), (32, 48), (16, 24)):  # (16, 24) samples the runs directly
        _, from_gifs = collect(make_dataset(gif_pairs, image_size=size, batch_size=3))
        _, from_csv = collect(make_dataset(csv_pairs, image_size=size, batch_size=3))
        np.testing.assert_array_equal(from_gifs, from_csv)


def test_in_graph_rle_decoding_is_exact_at_native_size(rng):
    mask = (rng.random(carvana.IMAGE_SIZE) < 0.3).astype(np.uint8)
    mask[:, :5] = 1  # runs that wrap across rows
    decoded = pipeline._decode_rle(tf.constant(carvana.rle_encode(mask)), 1280, 1918)
    np.testing.assert_array_equal(decoded.numpy(), mask)
    assert pipeline._decode_rle(tf.constant(""), 2, 3).numpy().sum() == 0


def test_native_size_masks_match_the_files(carvana_dir):
    pairs = carvana.list_pairs(carvana_dir)[:4]
    _, masks = collect(make_dataset(pairs, image_size=(64, 96), batch_size=4))
    expected = np.stack([carvana.read_mask(p.mask) for p in pairs])
    np.testing.assert_array_equal(masks[..., 0], expected)


@pytest.mark.parametrize(
    "native, target, ratio",
    [((1280, 1918), (256, 384), 4), ((1280, 1918), (640, 960), 2),
     ((1280, 1918), (160, 240), 8),
     ((1280, 1918), (1280, 1920), 1), ((1280, 1918), (700, 960), 1),
     ((1280, 1918), (641, 1000), 1), ((64, 96), (32, 48), 2)],
)
def test_jpeg_ratio_downscales_only_while_the_target_still_fits(native, target, ratio):
    assert jpeg_ratio(native, target) == ratio


def test_padding_keeps_every_native_pixel(carvana_dir):
    pairs = carvana.list_pairs(carvana_dir)[:2]
    images, masks = collect(make_dataset(pairs, image_size=(64, 112), batch_size=2,
                                         resize_mode="pad"))
    assert images.shape == (2, 64, 112, 3)
    native = np.stack([carvana.read_mask(p.mask) for p in pairs])
    np.testing.assert_array_equal(masks[:, :, 8:104, 0], native)  # 8 columns each side
    with pytest.raises(tf.errors.InvalidArgumentError, match="no larger than image_size"):
        collect(make_dataset(pairs, image_size=(32, 112), batch_size=2, resize_mode="pad"))


def test_deterministic_mode_repeats_order_and_augmentation(carvana_dir):
    pairs = carvana.list_pairs(carvana_dir)

    def run(seed):
        keras_seeded = make_dataset(pairs, image_size=(32, 48), batch_size=8, training=True,
                                    augmentation=Augmentation(), seed=seed, deterministic=True)
        return collect(keras_seeded.take(2))

    first, again, other = run(1), run(1), run(2)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_training_reshuffles_every_epoch_and_validation_keeps_file_order(carvana_dir):
    pairs = carvana.list_pairs(carvana_dir)
    train = make_dataset(pairs, image_size=(32, 48), batch_size=48, training=True,
                         cache="memory", deterministic=True)
    epoch1, epoch2 = (next(iter(train))[1].numpy() for _ in range(2))
    assert not np.array_equal(epoch1, epoch2)
    assert sorted(m.sum() for m in epoch1) == sorted(m.sum() for m in epoch2)  # same examples
    _, ordered = collect(make_dataset(pairs, image_size=(64, 96), batch_size=5))
    np.testing.assert_array_equal(ordered[7, ..., 0], carvana.read_mask(pairs[7].mask))


STRONG = Augmentation(rotation=0.05, shift=0.1, zoom=0.2, brightness=0, contrast=0, hue=0)


def test_augmentation_moves_image_and_mask_together(tmp_path):
    # Images whose red channel *is* the mask: after augmentation they must still agree.
    from unet.data import synthetic

    root = synthetic.make_carvana_like(tmp_path, cars=1, image_size=(64, 96), seed=0,
                                       progress=False)
    pairs = carvana.list_pairs(root)
    plain = make_dataset(pairs, image_size=(64, 96), batch_size=16)
    augmented = make_dataset(pairs, image_size=(64, 96), batch_size=16, training=True,
                             augmentation=STRONG, deterministic=True)
    images, masks = next(iter(plain))
    images = tf.concat([tf.cast(masks, tf.float32), images[..., 1:]], -1)
    moved_images, moved = (t.numpy() for t in STRONG.transform(seed=0)(images, masks))
    assert set(np.unique(moved)) <= {0, 1}
    assert not np.array_equal(moved, masks.numpy())  # something moved
    assert np.mean((moved_images[..., 0] > 0.5) == (moved[..., 0] > 0.5)) > 0.97
    _, augmented_masks = collect(augmented)
    assert set(np.unique(augmented_masks)) <= {0, 1}


@pytest.mark.parametrize("augmentation", [STRONG, Augmentation()], ids=["strong", "default"])
def test_augmentation_keeps_every_class_id(augmentation):
    # Masks with ids 0, 3 and 10: bilinear sampling would put 1-9 along the outlines.
    masks = np.zeros((4, 64, 64, 1), np.uint8)
    masks[:, 8:40, 6:30] = 3
    masks[:, 28:60, 24:62] = 10
    images = tf.random.stateless_uniform((4, 64, 64, 3), seed=(0, 1))
    _, moved = augmentation.transform(seed=0)(images, tf.constant(masks))
    assert moved.dtype == tf.uint8 and set(np.unique(moved.numpy())) == {0, 3, 10}
    assert not np.array_equal(moved.numpy(), masks)


def test_carla_augmentation_keeps_class_ids(carla_dir):
    pairs = carla.list_pairs(carla_dir)
    ids = set(np.unique(collect(make_dataset(pairs, image_size=(48, 64), batch_size=8,
                                             num_classes=23))[1]))
    _, moved = collect(make_dataset(pairs, image_size=(48, 64), batch_size=8, num_classes=23,
                                    training=True, augmentation=STRONG, deterministic=True))
    assert set(np.unique(moved)) <= ids


def test_default_augmentation_keeps_horizontal_lines_horizontal():
    # The studio's photos are upright: flips, shifts and zooms keep each row of a striped mask
    # one colour; a rotation would not.
    masks = np.zeros((4, 64, 96, 1), np.uint8)
    masks[:, ::8] = 1
    images = tf.zeros((4, 64, 96, 3))

    def rows_stay_one_colour(augmentation):
        rows = augmentation.transform(seed=0)(images, tf.constant(masks))[1].numpy()[..., 0]
        return (rows.min(axis=2) == rows.max(axis=2)).all()

    assert rows_stay_one_colour(Augmentation())
    assert not rows_stay_one_colour(STRONG)  # which rotates


def test_carla_masks_are_class_ids_and_out_of_range_ids_name_the_file(carla_dir):
    pairs = carla.list_pairs(carla_dir)
    images, masks = collect(make_dataset(pairs, image_size=(48, 64), batch_size=4,
                                         num_classes=23))
    assert images.shape == (8, 48, 64, 3)
    np.testing.assert_array_equal(masks[3, ..., 0], carla.read_mask(pairs[3].mask))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"CameraMask/000000.png: class id 22 is out of range for "
                             r"num_classes=13"):
        collect(make_dataset(pairs, image_size=(48, 64), batch_size=4, num_classes=13))


def test_an_empty_pair_list_is_an_error():
    from unet.data import DataError

    with pytest.raises(DataError, match="No image/mask pairs"):
        make_dataset([], image_size=(32, 32), batch_size=2)


@pytest.mark.parametrize("size", [(256, 384), (100, 150), (1280, 1918), (37, 1000)])
def test_rle_sampling_equals_decoding_then_nearest_resizing(size, rng):
    mask = (rng.random((1280, 1918)) < 0.5).astype(np.uint8)
    mask[300:900, 200:1700] = 1
    rle = tf.constant(carvana.rle_encode(mask))
    sampled = pipeline._sample_rle(rle, 1280, 1918, size).numpy()
    resized = tf.image.resize(mask[..., None], size, method="nearest").numpy()
    np.testing.assert_array_equal(sampled, resized)
    empty = pipeline._sample_rle(tf.constant(""), 1280, 1918, size).numpy()
    assert empty.shape == (*size, 1) and empty.sum() == 0


def test_random_crops_cut_image_and_mask_alike(tmp_path):
    """Crops of a pattern whose mask is a function of the image keep that function."""
    from unet.data import Pair

    rng = np.random.default_rng(0)
    pairs = []
    for index in range(4):
        image = rng.integers(0, 256, (48, 64, 3), np.uint8)
        mask = (image[..., 0] > 127).astype(np.uint8)  # the mask is the red channel's top half
        image[..., 0] = np.where(mask, 255, 0)  # exact values: no resize blur in this test
        Image.fromarray(image).save(tmp_path / f"{index:06d}.png")
        Image.fromarray(np.dstack([mask] * 3 + [np.full_like(mask, 255)])).save(
            tmp_path / f"{index:06d}_mask.png")
        pairs.append(Pair(tmp_path / f"{index:06d}.png", tmp_path / f"{index:06d}_mask.png",
                          None, f"block{index}", index))
    dataset = make_dataset(pairs, image_size=(48, 64), batch_size=4, num_classes=2,
                           training=True, crop_size=(16, 32), seed=1, deterministic=True)
    first = [(i.numpy(), m.numpy()) for i, m in dataset]
    second = [(i.numpy(), m.numpy()) for i, m in dataset]
    images, masks = first[0]
    assert images.shape == (4, 16, 32, 3) and masks.shape == (4, 16, 32, 1)
    np.testing.assert_array_equal(images[..., 0] > 0.5, masks[..., 0] == 1)
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(first, second))  # new crops


def test_warmup_cosine_schedule_values():
    from unet.config import TrainConfig
    from unet.schedules import learning_rate_for

    config = TrainConfig(epochs=10, learning_rate=1e-3, schedule="warmup_cosine",
                         warmup_epochs=1)
    schedule = learning_rate_for(config, steps_per_epoch=10)
    assert float(schedule(0)) == pytest.approx(1e-4)  # a tenth at the start
    assert float(schedule(10)) == pytest.approx(1e-3)  # the peak after one epoch
    assert float(schedule(55)) == pytest.approx(0.505e-3, rel=1e-3)  # half-way down the cosine
    assert float(schedule(100)) == pytest.approx(1e-5)  # 1% at the end
    assert learning_rate_for(TrainConfig(learning_rate=3e-4), 10) == 3e-4


def test_training_refuses_a_gif_mask_that_data_check_refuses(carvana_copy):
    pairs = carvana.list_pairs(carvana_copy, mask_source="gif")
    bad = pairs[0].mask
    Image.fromarray(np.full((64, 96), 128, np.uint8)).convert("P").save(bad)
    with pytest.raises(carvana.DataError, match=bad.name):
        carvana.read_mask(bad)
    dataset = make_dataset(pairs[:1], image_size=(32, 48), batch_size=1)
    with pytest.raises(Exception, match=str(bad.name)):
        next(iter(dataset))


def _png(path, ids, bit_depth, color_type):
    """A PNG written byte by byte, for encodings PIL does not write (2-bit grey, 16-bit RGB)."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    height, width = ids.shape
    if bit_depth == 2:  # four pixels a byte, first pixel in the high bits
        packed = ids.reshape(height, width // 4, 4) << np.array([6, 4, 2, 0], np.uint8)
        rows = packed.sum(-1, dtype=np.uint8)
    else:  # 16-bit RGB, big-endian, the ids in red
        rows = np.zeros((height, width, 3), ">u2")
        rows[..., 0] = ids
        rows = rows.reshape(height, -1).view(np.uint8)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _palette_mask(ids):
    image = Image.fromarray(ids, "P")
    # Colours unlike the ids: index 3 is drawn (200, 10, 10); it must still train as class 3.
    colors = [(0, 0, 0), (90, 0, 0), (150, 150, 150), (200, 10, 10)]
    image.putpalette([value for color in colors for value in color] * 64)
    return image


MASK_ENCODINGS = {
    "8-bit grey": lambda ids, path: Image.fromarray(ids, "L").save(path),
    "16-bit grey": lambda ids, path: Image.fromarray(ids.astype(np.uint16)).save(path),
    "palette": lambda ids, path: _palette_mask(ids).save(path),
    "RGB red channel": lambda ids, path: Image.fromarray(
        np.dstack([ids, ids // 2, np.full_like(ids, 7)])).save(path),
    "RGBA red channel": lambda ids, path: Image.fromarray(
        np.dstack([ids, np.zeros_like(ids), np.zeros_like(ids), np.full_like(ids, 255)])
    ).save(path),
    "2-bit grey": lambda ids, path: _png(path, ids, bit_depth=2, color_type=0),
    "16-bit RGB": lambda ids, path: _png(path, ids, bit_depth=16, color_type=2),
}


@pytest.mark.parametrize("encoding", sorted(MASK_ENCODINGS))
def test_training_and_data_check_read_every_png_mask_encoding_as_the_ids_written(
        encoding, tmp_path, rng):
    from unet.data import Pair

    pairs, written = [], []
    for index in range(3):
        ids = rng.integers(0, 4, (48, 64), np.uint8)
        ids[0, :4] = [0, 1, 2, 3]  # every id, in each mask
        image_path, mask_path = tmp_path / f"{index}.png", tmp_path / f"{index}_mask.png"
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), np.uint8)).save(image_path)
        MASK_ENCODINGS[encoding](ids, mask_path)
        pairs.append(Pair(image_path, mask_path, None, str(index)))
        written.append(ids)
    _, masks = collect(make_dataset(pairs, image_size=(48, 64), batch_size=2, num_classes=23))
    checked = np.stack([carla.read_mask(pair.mask) for pair in pairs])  # what `data check` reads
    np.testing.assert_array_equal(checked, np.stack(written))
    np.testing.assert_array_equal(masks[..., 0], np.stack(written))


def test_out_of_range_and_non_binary_png_masks_stop_training_naming_the_file(tmp_path):
    from unet.data import DataError, Pair
    from unet.data.pairs import data_error_in

    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(tmp_path / "image.png")
    ids = np.zeros((48, 64), np.uint16)
    ids[5, 5] = 300  # a 16-bit id: read unscaled, so out of range, not taken for 300 // 257 = 1
    Image.fromarray(ids).save(tmp_path / "wide.png")
    binary = np.zeros((48, 64), np.uint8)
    binary[:10], binary[10:20] = 255, 128
    Image.fromarray(binary).save(tmp_path / "grey.png")
    cases = [("wide.png", 23, r"wide.png: class id 300 is out of range for num_classes=23"),
             ("grey.png", 1, r"grey.png: mask values must be \{0, 1\} or \{0, 255\}; found 0, "
                             r"128, 255")]
    for name, num_classes, message in cases:
        pair = Pair(tmp_path / "image.png", tmp_path / name, None, "a")
        if num_classes > 1:
            with pytest.raises(DataError, match=message):  # as `data check` says
                carla.read_mask(pair.mask, num_classes)
        with pytest.raises(tf.errors.InvalidArgumentError) as raised:
            collect(make_dataset([pair], image_size=(48, 64), batch_size=1,
                                 num_classes=num_classes))
        recovered = data_error_in(raised.value)
        assert recovered is not None and "\n" not in str(recovered)
        assert re.search(message, str(recovered)) and str(recovered).startswith(str(tmp_path))
    binary[10:20] = 0  # {0, 255} trains as {0, 1}
    Image.fromarray(binary).save(tmp_path / "grey.png")
    pair = Pair(tmp_path / "image.png", tmp_path / "grey.png", None, "a")
    _, masks = collect(make_dataset([pair], image_size=(48, 64), batch_size=1))
    np.testing.assert_array_equal(masks[0, ..., 0], binary // 255)


def test_every_image_and_mask_is_checked_against_the_pixel_limit_before_decoding(tmp_path):
    """Pairs listed without checks (`verify=False`, or made by hand): the loader still reads
    each file's header first, not only the first image's, and names the file."""
    import struct
    import zlib

    from unet.data import Pair, image_files
    from unet.data.pairs import data_error_in

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    # A 100-byte file declaring 10,000 x 10,000 pixels: over the limit, refused unread.
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 10_000, 10_000, 8, 0,
                                                                 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    image = np.zeros((48, 64, 3), np.uint8)
    Image.fromarray(image).save(tmp_path / "good.png")
    Image.fromarray(image[..., 0]).save(tmp_path / "good_mask.png")
    (tmp_path / "bomb.png").write_bytes(bomb)
    good = Pair(tmp_path / "good.png", tmp_path / "good_mask.png", None, "a")
    over = f"10000x10000 pixels is over the limit of {image_files.MAX_PIXELS:,}"
    for pair, named in [(Pair(tmp_path / "bomb.png", good.mask, None, "b"), "bomb.png"),
                        (Pair(good.image, tmp_path / "bomb.png", None, "b"), "bomb.png")]:
        with pytest.raises(tf.errors.InvalidArgumentError) as raised:
            collect(make_dataset([good, pair], image_size=(48, 64), batch_size=2,
                                 num_classes=23))
        assert str(data_error_in(raised.value)) == (
            f"{tmp_path / named}: {over}; refused before decoding.")
