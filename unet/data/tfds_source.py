"""Training and validation batches from the prepared `carvana` and `carla` TFDS datasets."""

from __future__ import annotations

import tensorflow as tf

from unet.data import carla
from unet.data.pipeline import AUTOTUNE, model_input, scale

PREFIX = "tfds:"
BUILDERS = ("carvana", "carla")


def parse(name: str) -> str:
    """`"tfds:carvana"` or `"tfds:carvana/128x192"` -> the TFDS name (`"carvana/128x192"`).

    Raises:
        ValueError: not a `tfds:` name, or not one of this project's builders.
    """
    if not name.startswith(PREFIX):
        raise ValueError(f"a TFDS dataset is named tfds:<builder>[/<config>]; received {name!r}.")
    tfds_name = name[len(PREFIX):]
    if tfds_name.split("/")[0] not in BUILDERS:
        raise ValueError(f"{name!r}: the TFDS builders here are {BUILDERS} "
                         "(unet.data.tfds_builders), e.g. tfds:carvana/256x384.")
    return tfds_name


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
    """
    import tensorflow_datasets as tfds

    import unet.data.tfds_builders  # noqa: F401  (registers the builders)

    builder = tfds.builder(parse(name), data_dir=data_dir)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=None if manual_dir is None else str(manual_dir)))
    return builder.as_dataset(split=split, shuffle_files=False)


def groups(examples: tf.data.Dataset) -> set[str]:
    """The cars (Carvana) or frame blocks (CARLA) a split holds: what must not cross splits."""
    found = set()
    for example in examples.as_numpy_iterator():
        if "car_id" in example:
            found.add(example["car_id"].decode())
        else:
            found.add(carla.frame_group(example["file_name"].decode()))
    return found


def batches(examples: tf.data.Dataset, *, image_size, batch_size: int, training: bool = False,
            seed: int = 0) -> tf.data.Dataset:
    """`(images, masks)` batches for `model.fit`: images through `pipeline.model_input` (the
    same pixels the folder pipeline gives), masks resized by nearest neighbour, uint8
    `(H, W, 1)` ({0, 1} for Carvana, class ids for CARLA).

    Args:
        examples: A split from `load`.
        image_size: `(height, width)` the model sees.
        batch_size: Examples per batch.
        training: Shuffle every epoch.
        seed: Shuffling seed.
    """
    image_size = tuple(int(side) for side in image_size)

    def prepare(example):
        image = model_input(example["image"], image_size)
        mask = tf.image.resize(example["mask"], image_size, method="nearest")
        return image, tf.ensure_shape(tf.cast(mask, tf.uint8), (*image_size, 1))

    dataset = examples.map(prepare, num_parallel_calls=AUTOTUNE).cache()
    if training:
        dataset = dataset.shuffle(1024, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(lambda images, masks: (scale(images), masks))
    return dataset.prefetch(AUTOTUNE)
