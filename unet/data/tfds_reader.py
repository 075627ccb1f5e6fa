"""Reading the prepared `carvana` and `carla` TFDS datasets (`tfds_builders` writes them):
their splits as `TfdsSource`s."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import tensorflow as tf

from unet import files
from unet.config import TFDS_PREFIX, dataset_fields
from unet.data import carla, pipeline
from unet.data.pipeline import AUTOTUNE
from unet.errors import DataError, UsageError


def parse(name: str) -> str:
    """`"tfds:carvana"` or `"tfds:carvana/128x192"` -> the TFDS name (`"carvana/128x192"`).

    Raises:
        UsageError: not a `tfds:` name.
    """
    if not name.startswith(TFDS_PREFIX):
        raise UsageError(f"a TFDS dataset is named tfds:<builder>[/<config>]; received {name!r}.")
    return dataset_fields(name)["tfds"]


def _builder(name: str, data_dir=None, manual_dir=None):
    """The prepared builder of `name`, prepared from `manual_dir` first when given."""
    import tensorflow_datasets as tfds

    import unet.data.tfds_builders  # noqa: F401  (registers the builders)

    tfds_name = parse(name)
    try:
        builder = tfds.builder(tfds_name, data_dir=None if data_dir is None else str(data_dir))
    except Exception as error:  # TFDS raises its own kinds for an unknown config
        raise UsageError(f"{name}: {error}") from None
    if manual_dir is not None or not builder.is_prepared():
        if manual_dir is None:
            where = data_dir or "TFDS' default folder (~/tensorflow_datasets)"
            folder = None if data_dir is None else str(data_dir)
            prepare = ("from unet.data import tfds_reader; tfds_reader.load("
                       f"{name!r}, 'train', data_dir={folder!r}, "
                       "manual_dir='<Kaggle folder or zips>')")
            raise DataError(f"{name} is not prepared in {where}; prepare it once: python -c "
                            f"{shlex.quote(prepare)}")
        # One process prepares, the others wait and then read what it prepared.
        version = Path(builder.data_dir)
        with files.lock(version.parent, "TFDS preparation", version.name, wait=True):
            builder = tfds.builder(tfds_name, data_dir=None if data_dir is None
                                   else str(data_dir))
            if not builder.is_prepared():
                builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
                    manual_dir=str(manual_dir)))
    return builder


def load(name: str, split: str, data_dir=None, manual_dir=None) -> tf.data.Dataset:
    """The examples (`image`, `mask`, `file_name`, and for Carvana `car_id`, `view`) of one split.

    Prepares the dataset on first use from `manual_dir` (Kaggle's files, or the assignment's
    `CameraRGB/` and `CameraMask/`) into `data_dir`; afterwards only `data_dir` is read.

    Args:
        name: `tfds:carvana[/<config>]` or `tfds:carla[/<config>]`.
        split: `"train"` or `"validation"` (split by car or by frame blocks).
        data_dir: The TFDS folder (default: TFDS' own, `~/tensorflow_datasets`).

    Raises:
        DataError: not prepared and no `manual_dir`.
    """
    return _builder(name, data_dir, manual_dir).as_dataset(split=split, shuffle_files=False)


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


class TfdsSource(pipeline.Source):
    """One split of a prepared TFDS dataset, as a `pipeline.Source`: `encoded` records (kept
    encoded until used, so `select` and `head` skip the others' pixels) and their `items`."""

    def __init__(self, encoded: tf.data.Dataset, items: list[Item]):
        self.encoded = encoded
        self.items = list(items)

    def head(self, count: int) -> TfdsSource:
        items = self.items[:count]
        return TfdsSource(self.encoded.take(len(items)), items)

    def select(self, names) -> TfdsSource:
        wanted = set(names)
        keys = tf.constant(sorted(wanted) or [""])
        encoded = self.encoded.filter(
            lambda example: tf.reduce_any(tf.equal(example["file_name"], keys)))
        return TfdsSource(encoded, [item for item in self.items if item.name in wanted])

    def concatenate(self, other: TfdsSource) -> TfdsSource:
        return TfdsSource(self.encoded.concatenate(other.encoded), self.items + other.items)

    def examples(self, *, image_size, num_classes: int, resize_mode: str,
                 shuffle_seed: int | None, ordered: bool) -> tf.data.Dataset:
        del num_classes  # the builders checked the class ids when preparing
        if not self.items:
            raise DataError("No examples to load (an empty TFDS split).")
        encoded = self.encoded
        if shuffle_seed is not None:  # shuffled still encoded, as folders shuffle file names
            encoded = shuffle(encoded, len(self.items), shuffle_seed)

        def at_size(example):
            image = pipeline.image_at_size(example["image"], image_size, resize_mode)
            mask = pipeline.mask_at_size(example["mask"], image_size, resize_mode)
            return image, tf.ensure_shape(mask, (*image_size, 1))

        return _decoded(encoded).map(at_size, num_parallel_calls=AUTOTUNE, deterministic=ordered)

    def native_inputs(self, *, input_size, resize_mode: str, images: bool = False):
        def prepare(example):
            return (pipeline.model_input(example["image"], input_size, resize_mode),
                    example["image"],
                    example["mask"], example["file_name"])

        examples = _decoded(self.encoded).map(prepare, num_parallel_calls=AUTOTUNE,
                                              deterministic=True)
        for inputs, image, mask, name in examples.prefetch(AUTOTUNE).as_numpy_iterator():
            yield inputs, mask.shape[:2], pipeline.Labelled(name.decode(), mask[..., 0],
                                                             image if images else None)


def _decoded(encoded: tf.data.Dataset) -> tf.data.Dataset:
    """Records with `image` (uint8 `(H, W, 3)`) and `mask` (uint8 `(H, W, 1)`) decoded."""
    def decode(example):
        image = tf.io.decode_image(example["image"], channels=3, expand_animations=False)
        mask = tf.io.decode_png(example["mask"], channels=1)
        return {**example, "image": image, "mask": mask}

    return encoded.map(decode, num_parallel_calls=AUTOTUNE, deterministic=True)


def split(source: str, data_dir=None) -> tuple[TfdsSource, TfdsSource]:
    """`(train, validation)` of `source` (`tfds:carvana[/<config>]` or `tfds:carla[...]`)
    prepared in `data_dir`, as the builders split it.

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
        splits.append(TfdsSource(encoded, items))
    return splits[0], splits[1]


def shuffle(encoded: tf.data.Dataset, count: int, seed: int = 0) -> tf.data.Dataset:
    """The `count` records of `encoded` in a new order every epoch: a full permutation, since
    a split is stored car by car (a smaller buffer would fill batches from neighbouring cars);
    the buffer holds encoded bytes, far less than decoded pixels."""
    return encoded.shuffle(max(count, 1), seed=seed, reshuffle_each_iteration=True)
