"""From examples to batches: decode, resize or pad, cache, shuffle, augment, prefetch.

`Source` is what training, evaluation and prediction read: image files with their masks
(`sources.FolderSource`) or a prepared TFDS split (`tfds_reader.TfdsSource`). Batches are
`(images, masks)`: float32 images in [0, 1] `(B, H, W, 3)` and uint8 masks
`(B, H, W, 1)` ({0, 1} for binary, class ids for multi-class). Nothing is loaded into numpy
first: files are read as the batches are needed, so memory does not grow with the dataset
(unless `cache="memory"` is asked for, which holds the resized examples).
"""

from __future__ import annotations

import abc
import dataclasses
import functools
from collections.abc import Iterator

import keras
import numpy as np
import tensorflow as tf

from unet.config import RESIZE_MODES, crop_fits
from unet.data import image_files
from unet.errors import ConfigError, DataError

AUTOTUNE = tf.data.AUTOTUNE


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """Random changes applied identically to an image and its mask (photometric: image only).

    Attributes:
        flip: Horizontal flips.
        rotation: Largest rotation as a fraction of a full turn (0.02 = 7.2 degrees).
        shift, zoom, contrast: Largest shift (of height and width), zoom, contrast change, as
            fractions.
        brightness: Largest brightness change (images are in [0, 1]).
        hue: Largest hue change as a fraction of the colour wheel.
    """

    flip: bool = True
    rotation: float = 0.0  # turntable photos are upright; rotating adds reflected corners
    shift: float = 0.05
    zoom: float = 0.1
    brightness: float = 0.1
    contrast: float = 0.1
    hue: float = 0.02

    def transform(self, seed: int):
        """The function that augments a batch, `(images, masks) -> (images, masks)`.

        Each geometric change draws one transformation and applies it to the images with
        bilinear and to the masks with nearest-neighbour sampling, so that masks keep exactly
        their class ids (Keras's joint call may interpolate masks bilinearly).
        """
        geometric = []
        if self.flip:
            flip = keras.layers.RandomFlip("horizontal", seed=seed)
            geometric.append((flip, flip))
        for layer_class, factors, offset in (
                (keras.layers.RandomRotation, (self.rotation,), 1),
                (keras.layers.RandomTranslation, (self.shift, self.shift), 2),
                (keras.layers.RandomZoom, (self.zoom,), 3)):
            if factors[0]:
                geometric.append(tuple(
                    layer_class(*factors, interpolation=interpolation, fill_mode="reflect",
                                seed=seed + offset) for interpolation in ("bilinear", "nearest")))
        photometric = [
            layer_class(factor, value_range=(0, 1), seed=seed + offset)
            for layer_class, factor, offset in ((keras.layers.RandomBrightness, self.brightness, 4),
                                                (keras.layers.RandomContrast, self.contrast, 5),
                                                (keras.layers.RandomHue, self.hue, 6))
            if factor]

        def augment(images, masks):
            masks = tf.cast(masks, images.dtype)
            for image_layer, mask_layer in geometric:
                change = image_layer.get_random_transformation(images, training=True)
                images = image_layer.transform_images(images, change, training=True)
                masks = mask_layer.transform_images(masks, change, training=True)
            for layer in photometric:
                images = layer(images, training=True)
            return tf.clip_by_value(images, 0.0, 1.0), tf.cast(masks, tf.uint8)

        return augment


def jpeg_ratio(native_size, target_size) -> int:
    """The largest DCT-domain downscale (8, 4, 2, or 1) for decoding a JPEG bound for
    `target_size`: one whose ceil(native / ratio) pixels stay within 1% of the target."""
    native_h, native_w = native_size
    target_h, target_w = target_size
    for ratio in (8, 4, 2):
        decoded_h, decoded_w = -(-native_h // ratio), -(-native_w // ratio)
        if decoded_h >= 0.99 * target_h and decoded_w >= 0.99 * target_w:
            return ratio
    return 1


def _mask_kind(pairs) -> str:
    def kind_of(pair):
        if pair.mask is None:
            return "rle"
        return "gif" if pair.mask.suffix.lower() == ".gif" else "png"

    kind = kind_of(pairs[0])
    for pair in pairs:
        if (other := kind_of(pair)) != kind:
            raise DataError(f"{pair.image}: its mask is {other} but the first pair's is {kind}; "
                            "one dataset, one mask format.")
    return kind


def _read_gif_mask(path: bytes) -> np.ndarray:
    # `carvana.read_mask`, as `data check` reads GIFs; PIL decodes them ~3x faster than TF.
    from unet.data import carvana

    return carvana.read_mask(path.decode())


def _read_png_mask(path: bytes, num_classes: int) -> np.ndarray:
    # `carla.read_mask`, as `data check` and evaluation read class ids; binary: {0, 1} or
    # {0, 255}, as Carvana's GIFs.
    from unet.data import carla, carvana

    path = path.decode()
    if num_classes == 1:
        return carvana.as_binary_mask(carla.read_mask(path, None), path)
    return carla.read_mask(path, num_classes)


_JPEG_RATIOS = (1, 2, 4, 8)  # the DCT downscales `tf.io.decode_jpeg` offers


def _checked(path: bytes, image_size=None) -> tuple[bytes, np.ndarray, np.int32]:
    # `image_files.inspect` before decoding. The path comes back out, so reading the file
    # depends on the check as data (control dependencies alone are not waited on). The
    # third value indexes `_JPEG_RATIOS`: this image's own DCT downscale for `image_size`
    # (None: decode at full size), so images of mixed sizes each decode sharp.
    info = image_files.inspect(path.decode())
    native = (info.height, info.width)
    ratio = 1 if image_size is None else jpeg_ratio(native, image_size)
    return path, np.array(native, np.int32), np.int32(_JPEG_RATIOS.index(ratio))


def _decode_rle(rle, height, width):
    """Carvana RLE -> uint8 (H, W) mask, in the graph (as `carvana.rle_decode`): +1 at each
    run's start, -1 after its end, then a running sum."""
    numbers = tf.strings.to_number(tf.strings.split(rle), tf.int32)
    starts = numbers[0::2] - 1
    ends = starts + numbers[1::2]
    size = height * width
    steps = tf.concat([tf.ones_like(starts), -tf.ones_like(ends)], 0)
    delta = tf.math.unsorted_segment_sum(steps, tf.concat([starts, ends], 0), size + 1)
    mask = tf.cast(tf.cumsum(delta[:-1]), tf.uint8)
    return tf.reshape(mask, tf.stack([height, width]))


def nearest_indices(in_size, out_size):
    """Source rows (or columns) that `tf.image.resize(..., method="nearest")` samples."""
    scale = tf.cast(in_size, tf.float64) / tf.cast(out_size, tf.float64)
    positions = tf.floor((tf.cast(tf.range(out_size), tf.float64) + 0.5) * scale)
    return tf.minimum(tf.cast(positions, tf.int64), tf.cast(in_size, tf.int64) - 1)


def _sample_rle(rle, height, width, image_size):
    """The nearest-neighbour resize of an RLE mask, looking up only the pixels kept (a binary
    search among the runs for each): as decoding then resizing, many times faster."""
    numbers = tf.strings.to_number(tf.strings.split(rle), tf.int64)
    # A sentinel run [-1, 0) before the first keeps every lookup in range, empty masks too.
    starts = tf.concat([[-1], numbers[0::2] - 1], 0)
    ends = tf.concat([[0], numbers[0::2] - 1 + numbers[1::2]], 0)
    rows = nearest_indices(height, image_size[0])
    columns = nearest_indices(width, image_size[1])
    pixels = tf.reshape(rows[:, None] * tf.cast(width, tf.int64) + columns[None, :], [-1])
    run = tf.searchsorted(starts, pixels, side="right") - 1
    inside = pixels < tf.gather(ends, run)
    return tf.reshape(tf.cast(inside, tf.uint8), (*image_size, 1))


def _resize_or_pad(tensor, image_size, resize_mode, method="bilinear", antialias=False):
    """Resizes `([N,] H, W, C)` to `image_size`, or pads it there by reflection."""
    if resize_mode == "resize":
        return tf.image.resize(tensor, image_size, method=method, antialias=antialias)
    height, width = tf.shape(tensor)[-3], tf.shape(tensor)[-2]
    fits = tf.debugging.assert_less_equal(
        tf.stack([height, width]), tf.constant(image_size, tf.int32),
        message=f"resize_mode='pad' needs images no larger than image_size={image_size}")
    with tf.control_dependencies([fits]):  # check before tf.pad fails on negative padding
        tensor = tf.identity(tensor)
    extra_h, extra_w = image_size[0] - height, image_size[1] - width
    paddings = [[extra_h // 2, extra_h - extra_h // 2], [extra_w // 2, extra_w - extra_w // 2],
                [0, 0]]
    if tensor.shape.rank == 4:
        paddings = [[0, 0]] + paddings
    return tf.pad(tensor, paddings, mode="REFLECT")


def image_at_size(image, image_size, resize_mode: str = "resize"):
    """Pixels `([N,] H, W, 3)`, 0-255, uint8 or float -> uint8 at `image_size` (resized,
    antialiased when shrinking over 2x, or padded by reflection): what datasets cache."""
    if resize_mode not in RESIZE_MODES:
        raise ValueError(f"resize_mode must be one of {RESIZE_MODES}; received {resize_mode!r}.")
    image_size = tuple(int(s) for s in image_size)
    pixels = tf.cast(image, tf.float32)
    if resize_mode == "resize":
        shape = tf.cast(tf.shape(pixels)[-3:-1], tf.float32)
        shrink = tf.reduce_max(shape / tf.constant(image_size, tf.float32))
        fitted = tf.cond(shrink > 2.0,
                         lambda: _resize_or_pad(pixels, image_size, resize_mode, antialias=True),
                         lambda: _resize_or_pad(pixels, image_size, resize_mode, antialias=False))
    else:
        fitted = _resize_or_pad(pixels, image_size, resize_mode)
    fitted = tf.ensure_shape(fitted, [*([None] * (pixels.shape.rank - 3)), *image_size, 3])
    return tf.cast(tf.clip_by_value(tf.round(fitted), 0, 255), tf.uint8)


def _scale(images):
    return tf.cast(images, tf.float32) / 255.0


def model_input(image, image_size, resize_mode: str = "resize"):
    """Pixels `([N,] H, W, 3)`, 0-255, uint8 or float -> what the model sees: float32 in
    [0, 1] at `image_size`. The batches of `Source.make_dataset` take the same two steps
    (`image_at_size`, cached as uint8, then the scaling), so training, evaluation, prediction,
    the SavedModel and the web app all feed a model the same pixels.
    """
    return _scale(image_at_size(image, image_size, resize_mode))


def make_image_loader(*, image_size, resize_mode: str = "resize"):
    """The function mapping an image path to `(uint8 image at image_size, native size, bytes)`.

    Each JPEG decodes with the DCT `ratio` its own size allows (`jpeg_ratio`; 1 unless
    `resize_mode` is "resize"), other images at full size; every header is checked first
    (`image_files.inspect`).
    """
    if resize_mode not in RESIZE_MODES:
        raise ValueError(f"resize_mode must be one of {RESIZE_MODES}; received {resize_mode!r}.")
    image_size = tuple(int(s) for s in image_size)
    check = functools.partial(_checked,
                              image_size=image_size if resize_mode == "resize" else None)

    def load_image(path):
        checked_path, native, ratio_index = tf.numpy_function(
            check, [path], (tf.string, tf.int32, tf.int32), stateful=False)
        native = tf.ensure_shape(native, (2,))
        data = tf.io.read_file(tf.ensure_shape(checked_path, ()))  # read once its header passed

        def decode_jpeg():
            # `ratio` is an attribute of the op, not an input: one branch per allowed value.
            return tf.switch_case(ratio_index, [
                functools.partial(tf.io.decode_jpeg, data, channels=3, ratio=ratio)
                for ratio in _JPEG_RATIOS])

        image = tf.cond(
            tf.io.is_jpeg(data), decode_jpeg,
            lambda: tf.io.decode_image(data, channels=3, expand_animations=False))
        return image_at_size(image, image_size, resize_mode), native, data

    return load_image


def image_inputs(paths, *, image_size, resize_mode: str = "resize",
                 skip_errors: bool = False) -> Iterator[tuple[np.ndarray, tuple[int, int], int]]:
    """`(model input, native (height, width), index into paths)` for each image file, in file
    order, loaded as training loads them. With `skip_errors`, an image that fails to decode is
    left out (its index is missing) instead of stopping the stream.
    """
    load_image = make_image_loader(image_size=image_size, resize_mode=resize_mode)

    def load(index, path):
        image, native, _ = load_image(path)
        return _scale(image), native, index

    dataset = tf.data.Dataset.from_tensor_slices((tf.range(len(paths)), [str(p) for p in paths]))
    dataset = dataset.map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
    if skip_errors:
        dataset = dataset.ignore_errors()
    for inputs, native, index in dataset.prefetch(AUTOTUNE).as_numpy_iterator():
        yield inputs, (int(native[0]), int(native[1])), int(index)


def make_loader(pairs, *, image_size, num_classes: int = 1, resize_mode: str = "resize",
                read_mask=None):
    """The function mapping `(image path, mask path, rle)` to uint8 `(image, mask (H, W, 1))`
    at `image_size`; `read_mask(path) -> uint8 (H, W)` reads the masks where given (a folder
    dataset's `folder.decode_mask`), else their format decides."""
    if not pairs:
        raise DataError("No image/mask pairs to load (empty list).")
    image_size = tuple(int(s) for s in image_size)
    kind = "custom" if read_mask is not None else _mask_kind(pairs)
    load_image = make_image_loader(image_size=image_size, resize_mode=resize_mode)
    read_png_mask = functools.partial(_read_png_mask, num_classes=num_classes)
    if read_mask is not None:
        read_png_mask = lambda path: read_mask(path.decode())  # noqa: E731

    def load(image_path, mask_path, rle):
        image, native, _ = load_image(image_path)
        if kind == "gif":
            mask = tf.numpy_function(_read_gif_mask, [mask_path], tf.uint8, stateful=False)
        elif kind == "rle":
            if resize_mode == "resize":
                mask = _sample_rle(rle, native[0], native[1], image_size)[..., 0]
            else:
                mask = _decode_rle(rle, native[0], native[1])
        else:
            mask = tf.numpy_function(read_png_mask, [mask_path], tf.uint8, stateful=False)
        mask = tf.ensure_shape(mask, (None, None))[..., None]
        if mask.shape[:2] != image_size:
            mask = mask_at_size(mask, image_size, resize_mode)
        return image, tf.ensure_shape(mask, (*image_size, 1))

    return load


def mask_at_size(mask, image_size, resize_mode: str = "resize"):
    """A mask `(H, W, 1)` at `image_size`: resized by nearest neighbour (ids stay ids), or
    padded there by reflection, as `image_at_size` fits its image."""
    return _resize_or_pad(mask, tuple(int(s) for s in image_size), resize_mode, method="nearest")


def random_crops(dataset, image_size, crop_size, seed: int, ordered: bool):
    """The same random `crop_size` window of each image and its mask, new every epoch (a
    `tf.data` random stream seeds stateless crops, so deterministic mode repeats them)."""
    crop_size = tuple(int(s) for s in crop_size)
    if not crop_fits(crop_size, image_size):
        raise ConfigError(f"crop_size {crop_size} must fit in image_size {tuple(image_size)}.")
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def crop(example, pair_seed):
        image, mask = example
        stacked = tf.concat([image, mask], axis=-1)
        window = tf.image.stateless_random_crop(stacked, (*crop_size, 4), seed=pair_seed)
        return window[..., :3], window[..., 3:]

    return tf.data.Dataset.zip((dataset, seeds)).map(
        crop, num_parallel_calls=AUTOTUNE, deterministic=ordered)


def pair_examples(pairs, *, image_size, num_classes: int = 1, resize_mode: str = "resize",
                  shuffle_seed: int | None = None, ordered: bool = True,
                  read_mask=None) -> tf.data.Dataset:
    """uint8 `(image, mask)` examples of `unet.data.Pair`s at `image_size` (`make_loader`,
    with `read_mask`), as `Source.examples`; file names are shuffled every epoch when
    `shuffle_seed` is given."""
    load = make_loader(pairs, image_size=image_size, num_classes=num_classes,
                       resize_mode=resize_mode, read_mask=read_mask)
    columns = (
        [str(p.image) for p in pairs],
        [str(p.mask) if p.mask is not None else "" for p in pairs],
        [p.rle if p.rle is not None else "" for p in pairs],
    )
    dataset = tf.data.Dataset.from_tensor_slices(columns)
    if shuffle_seed is not None:
        # Shuffling file names costs nothing; shuffling decoded images would hold a buffer.
        dataset = dataset.shuffle(len(pairs), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.map(load, num_parallel_calls=AUTOTUNE, deterministic=ordered)


@dataclasses.dataclass(frozen=True)
class Labelled:
    """One example at its own size, as prediction and scoring read it.

    Attributes:
        truth: `(H, W)` true labels, {0, 1} or class ids.
        image: `(H, W, 3)` uint8 RGB, when asked for, else `None`.
    """

    name: str
    truth: np.ndarray
    image: np.ndarray | None = None


class Source(abc.ABC):
    """Named examples that training, evaluation and prediction read: `items` (each with a
    `name` and a `group`, what must not straddle the split), batched by `make_dataset`."""

    items: list
    split_by = ""  # how the examples were split, when the source says (for split.json)
    class_names = None  # the names of the class ids, where the data gives them
    class_colors = None  # and their colours (RGB), where it gives them

    def __len__(self) -> int:
        return len(self.items)

    @property
    def names(self) -> list[str]:
        return [item.name for item in self.items]

    @abc.abstractmethod
    def head(self, count: int) -> Source:
        """The first `count` examples."""

    @abc.abstractmethod
    def select(self, names) -> Source:
        """The examples named in `names`, in this source's order (others skipped undecoded)."""

    @abc.abstractmethod
    def concatenate(self, other: Source) -> Source:
        """These examples, then `other`'s (a source of the same kind)."""

    @abc.abstractmethod
    def examples(self, *, image_size, num_classes: int, resize_mode: str,
                 shuffle_seed: int | None, ordered: bool) -> tf.data.Dataset:
        """uint8 `(image, mask)` examples at `image_size`, shuffled every epoch before
        decoding when `shuffle_seed` is not `None`; `ordered` keeps the order."""

    @abc.abstractmethod
    def native_inputs(self, *, input_size, resize_mode: str,
                      images: bool = False) -> Iterator[tuple[np.ndarray, tuple, Labelled]]:
        """`(model input at input_size, native (height, width), Labelled)` for each example in
        order; the `Labelled` holds the image too when `images`."""

    def make_dataset(self, *, image_size, batch_size: int, num_classes: int = 1,
                     training: bool = False, augmentation: Augmentation | None = None,
                     cache: str | None = None, resize_mode: str = "resize", seed: int = 0,
                     deterministic: bool = False, drop_remainder: bool = False,
                     crop_size=None, repeat: bool = False) -> tf.data.Dataset:
        """Batches of `(images, masks)` for `model.fit`, `evaluate` and `predict`.

        Args:
            image_size: (height, width) the model sees.
            num_classes: 1 for binary masks, else the class count (ids are checked against it).
            training: Shuffle every epoch (and augment, if `augmentation` is given).
            augmentation: Random changes for training; `None` for validation.
            cache: `None`, `"memory"` (resized examples kept in RAM after the first epoch), or
                a file path prefix for a cache on disk.
            resize_mode: `"resize"` to `image_size`, or `"pad"` up to it (reflection) to keep
                every native pixel (Carvana's 1918 -> 1920).
            seed: Seed of shuffling and augmentation.
            deterministic: Same order and same augmentation on every run (for tests).
            drop_remainder: Drop the last, smaller batch.
            crop_size: (height, width) of random crops of each `image_size` example for
                training (`random_crops`); `None` trains on whole images.
            repeat: Repeat the examples without end (reshuffled each pass), before batching:
                for epochs of `steps_per_epoch` full batches, whatever the data holds.

        Raises:
            DataError: no examples.
        """
        image_size = tuple(int(s) for s in image_size)
        ordered = deterministic or not training  # evaluation pairs scores with file names
        dataset = self.examples(image_size=image_size, num_classes=num_classes,
                                resize_mode=resize_mode,
                                shuffle_seed=seed if training and cache is None else None,
                                ordered=ordered)
        return _batches(dataset, len(self), image_size=image_size, batch_size=batch_size,
                        training=training, augmentation=augmentation, cache=cache, seed=seed,
                        deterministic=deterministic, drop_remainder=drop_remainder,
                        crop_size=crop_size, repeat=repeat)


def _batches(dataset, count: int, *, image_size, batch_size: int, training: bool,
             augmentation: Augmentation | None, cache: str | None, seed: int,
             deterministic: bool, drop_remainder: bool, crop_size,
             repeat: bool = False) -> tf.data.Dataset:
    """`count` uint8 examples -> `Source.make_dataset`'s batches: cached, shuffled (uncached
    ones come shuffled before decoding), cropped, batched, scaled, augmented."""
    ordered = deterministic or not training
    if cache is not None:
        dataset = dataset.cache("" if cache == "memory" else str(cache))
        if training:
            dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    if training and crop_size is not None:
        dataset = random_crops(dataset, image_size, crop_size, seed, ordered)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.map(lambda images, masks: (_scale(images), masks),
                          num_parallel_calls=AUTOTUNE)
    if training and augmentation is not None:
        augment = augmentation.transform(seed)
        # Keras' random layers share one seed state: deterministic mode augments serially.
        if deterministic:
            dataset = dataset.map(augment)
        else:
            dataset = dataset.map(augment, num_parallel_calls=AUTOTUNE, deterministic=ordered)
    options = tf.data.Options()
    options.deterministic = ordered
    return dataset.with_options(options).prefetch(AUTOTUNE)

