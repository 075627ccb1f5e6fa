"""Training and validation batches from the prepared `carvana` and `carla` TFDS datasets."""

from __future__ import annotations

import dataclasses
import shlex

import tensorflow as tf

from unet.config import TFDS_PREFIX, dataset_fields
from unet.data import carla
from unet.data.pairs import DataError
from unet.data.pipeline import (
    AUTOTUNE,
    Augmentation,
    batch_examples,
    fit_mask,
    model_input,
    scale,
)


def parse(name: str) -> str:
    """`"tfds:carvana"` or `"tfds:carvana/128x192"` -> the TFDS name (`"carvana/128x192"`), as
    `config.dataset_fields` reads it.

    Raises:
        ValueError: not a `tfds:` name, or not one of this project's builders.
    """
    if not name.startswith(TFDS_PREFIX):
        raise ValueError(f"a TFDS dataset is named tfds:<builder>[/<config>]; received {name!r}.")
    return dataset_fields(name)["tfds"]


def _builder(name: str, data_dir=None, manual_dir=None):
    """The prepared builder of `name`, prepared from `manual_dir` first when given.

    Raises:
        DataError: not prepared in `data_dir` and no `manual_dir` to prepare it from.
    """
    import tensorflow_datasets as tfds

    import unet.data.tfds_builders  # noqa: F401  (registers the builders)

    tfds_name = parse(name)
    try:
        builder = tfds.builder(tfds_name, data_dir=None if data_dir is None else str(data_dir))
    except Exception as error:  # TFDS raises its own kinds for an unknown config
        raise ValueError(f"{name}: {error}") from None
    if manual_dir is not None or not builder.is_prepared():
        if manual_dir is None:
            where = data_dir or "TFDS' default folder (~/tensorflow_datasets)"
            # repr() quotes any path (a quote or backslash in it included) as a Python literal.
            folder = None if data_dir is None else str(data_dir)
            prepare = ("from unet.data import tfds_source; tfds_source.load("
                       f"{name!r}, 'train', data_dir={folder!r}, "
                       "manual_dir='<Kaggle folder or zips>')")
            raise DataError(f"{name} is not prepared in {where}; prepare it once: python -c "
                            f"{shlex.quote(prepare)}")
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            manual_dir=str(manual_dir)))
    return builder


def load(name: str, split: str, data_dir=None, manual_dir=None) -> tf.data.Dataset:
    """The examples (`image`, `mask`, `file_name`, and for Carvana `car_id`, `view`) of one split.

    Prepares the dataset on first use from `manual_dir` (Kaggle's files, or the assignment's
    `CameraRGB/` and `CameraMask/`) into `data_dir`; afterwards only `data_dir` is read, so a
    `data_dir` on Google Drive is prepared once and reused by every Colab session.

    Args:
        name: `tfds:carvana[/<config>]` or `tfds:carla[/<config>]`.
        split: `"train"` or `"validation"`: the builders split Carvana by car and CARLA by
            blocks of consecutive frames, as the folder readers do.
        data_dir: The TFDS folder (default: TFDS' own, `~/tensorflow_datasets`).
        manual_dir: Where the downloaded files are, for the first preparation.

    Raises:
        DataError: not prepared and no `manual_dir`.
    """
    builder = _builder(name, data_dir, manual_dir)
    return builder.as_dataset(split=split, shuffle_files=False)


def _group(example) -> str:
    if "car_id" in example:
        return example["car_id"].decode()
    return carla.frame_group(example["file_name"].decode())


def groups(examples: tf.data.Dataset) -> set[str]:
    """The cars (Carvana) or frame blocks (CARLA) a split holds: what must not cross splits."""
    return {_group(example) for example in examples.as_numpy_iterator()}


@dataclasses.dataclass(frozen=True)
class Item:
    """One example of a split, by name: what a `Pair` is to a folder (`name`, `group`)."""

    name: str
    group: str


class Split:
    """One split of a prepared TFDS dataset, read where training, evaluation and the report read
    a list of pairs: `len()`, iteration over `Item`s (name and car or frame block), `[:n]`,
    `+`, and `examples` (still encoded: decoded where they are used, so that `select` and
    `[:n]` skip the others' pixels)."""

    def __init__(self, encoded: tf.data.Dataset, items: list[Item]):
        self.encoded = encoded
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __getitem__(self, index):
        if not isinstance(index, slice) or index.start or index.step:
            raise TypeError("a TFDS split takes [:n] only.")
        count = len(self.items[index])
        return Split(self.encoded.take(count), self.items[:count])

    def __add__(self, other: Split) -> Split:
        return Split(self.encoded.concatenate(other.encoded), self.items + other.items)

    def select(self, names) -> Split:
        """The examples named in `names`, in the split's order."""
        wanted = set(names)
        keys = tf.constant(sorted(wanted) or [""])
        encoded = self.encoded.filter(
            lambda example: tf.reduce_any(tf.equal(example["file_name"], keys)))
        return Split(encoded, [item for item in self.items if item.name in wanted])

    def examples(self) -> tf.data.Dataset:
        """The examples with `image` (uint8 `(H, W, 3)`) and `mask` (uint8 `(H, W, 1)`)
        decoded, as `load` gives them."""
        def decode(example):
            image = tf.io.decode_image(example["image"], channels=3, expand_animations=False)
            mask = tf.io.decode_png(example["mask"], channels=1)
            return {**example, "image": image, "mask": mask}

        return self.encoded.map(decode, num_parallel_calls=AUTOTUNE, deterministic=True)


def split(source: str, data_dir=None) -> tuple[Split, Split]:
    """`(train, validation)` of a prepared dataset, as the builders split it when preparing
    (by car for Carvana, by blocks of consecutive frames for CARLA).

    Args:
        source: `tfds:carvana[/<config>]` or `tfds:carla[/<config>]`.
        data_dir: The TFDS folder it was prepared in.

    Raises:
        DataError: not prepared there.
    """
    import tensorflow_datasets as tfds

    builder = _builder(source, data_dir)
    skip = {"image": tfds.decode.SkipDecoding(), "mask": tfds.decode.SkipDecoding()}
    splits = []
    for name in ("train", "validation"):
        encoded = builder.as_dataset(split=name, shuffle_files=False, decoders=skip)
        names = encoded.map(lambda example: {k: v for k, v in example.items()
                                             if k in ("file_name", "car_id")})
        items = [Item(example["file_name"].decode(), _group(example))
                 for example in names.as_numpy_iterator()]
        splits.append(Split(encoded, items))
    return splits[0], splits[1]


def make_dataset(items: Split, *, image_size, batch_size: int, num_classes: int = 1,
                 training: bool = False, augmentation: Augmentation | None = None,
                 cache: str | None = None, resize_mode: str = "resize", seed: int = 0,
                 deterministic: bool = False, drop_remainder: bool = False,
                 crop_size=None) -> tf.data.Dataset:
    """`pipeline.make_dataset` for a TFDS split: the same arguments, the same batches (images
    through `pipeline.model_input`, masks fitted by nearest neighbour, then
    `pipeline.batch_examples`).

    Raises:
        DataError: an empty split.
    """
    del num_classes  # the builders checked the class ids when preparing
    if not len(items):
        raise DataError("No examples to load (an empty TFDS split).")
    image_size = tuple(int(side) for side in image_size)
    encoded = items.encoded
    if training and cache is None:  # shuffled still encoded, as folders shuffle file names
        encoded = shuffle(encoded, len(items), seed)
    ordered = deterministic or not training
    dataset = Split(encoded, items.items).examples().map(
        _fitter(image_size, resize_mode), num_parallel_calls=AUTOTUNE, deterministic=ordered)
    return batch_examples(dataset, len(items), image_size=image_size, batch_size=batch_size,
                          training=training, augmentation=augmentation, cache=cache, seed=seed,
                          deterministic=deterministic, drop_remainder=drop_remainder,
                          crop_size=crop_size)


def shuffle(encoded: tf.data.Dataset, count: int, seed: int = 0) -> tf.data.Dataset:
    """The `count` records of `encoded` in a new order every epoch: a full permutation, as the
    folder pipeline shuffles its file names.

    A prepared split is stored car by car (CARLA: frame block by frame block), so a buffer
    smaller than the split would fill each batch from a few neighbouring cars, early batches
    from the first cars only. A full-size buffer of the still encoded records costs the split's
    size on disk in memory while it fills (compressed JPEG and PNG bytes, far less than the
    decoded pixels that `cache="memory"` holds), and nothing else; TFDS' `shuffle_files` would
    only reorder its few shards.

    Args:
        encoded: A split's records (`Split.encoded`).
        count: How many records it holds.
        seed: The shuffling seed.
    """
    return encoded.shuffle(max(count, 1), seed=seed, reshuffle_each_iteration=True)


def _fitter(image_size, resize_mode: str = "resize"):
    """The map from a decoded example to `(image, mask)` at `image_size`: the image through
    `pipeline.model_input`, the mask through `pipeline.fit_mask`, as folders load them."""
    def fit(example):
        image = model_input(example["image"], image_size, resize_mode)
        mask = fit_mask(tf.cast(example["mask"], tf.uint8), image_size, resize_mode)
        return image, tf.ensure_shape(mask, (*image_size, 1))

    return fit


def predict_native(model, items: Split, *, image_size, num_classes: int, batch_size: int = 8,
                   resize_mode: str = "resize", tta: str | None = None, prediction_size=None):
    """`inference.predict_native` for a TFDS split: yields `(item, probabilities, mask, image)`
    at each example's stored size (native for the `native` configs), in the split's order,
    through the same steps (`model_input`, then `inference.predict_stream`)."""
    from unet import inference

    size = tuple(int(side) for side in (prediction_size or image_size))
    model = inference.model_at_size(model, size)

    def prepare(example):
        return (scale(model_input(example["image"], size, resize_mode)), example["image"],
                example["mask"], example["file_name"])

    examples = items.examples().map(prepare, num_parallel_calls=AUTOTUNE, deterministic=True)
    stream = ((inputs, mask.shape[:2], (name, mask, image))
              for inputs, image, mask, name in examples.prefetch(AUTOTUNE).as_numpy_iterator())
    by_name = {item.name: item for item in items}
    for (name, mask, image), probabilities in inference.predict_stream(
            model, stream, num_classes=num_classes, batch_size=batch_size,
            resize_mode=resize_mode, tta=tta):
        yield by_name[name.decode()], probabilities, mask[..., 0], image


def batches(examples: tf.data.Dataset, *, image_size, batch_size: int, training: bool = False,
            seed: int = 0) -> tf.data.Dataset:
    """`(images, masks)` batches for `model.fit` from a split of `load`: images through
    `pipeline.model_input` (the same pixels the folder pipeline gives), masks resized by
    nearest neighbour, uint8 `(H, W, 1)` ({0, 1} for Carvana, class ids for CARLA).

    Args:
        examples: A split from `load`.
        image_size: `(height, width)` the model sees.
        batch_size: Examples per batch.
        training: Shuffle every epoch.
        seed: Shuffling seed.
    """
    image_size = tuple(int(side) for side in image_size)
    dataset = examples.map(_fitter(image_size), num_parallel_calls=AUTOTUNE)
    return batch_examples(dataset, 1024, image_size=image_size, batch_size=batch_size,
                          training=training, cache="memory", seed=seed)
