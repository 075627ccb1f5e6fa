"""From a `DataConfig` to train and validation pairs: real folders, or generated data made once."""

from __future__ import annotations

import os
from pathlib import Path

from unet.data import carla, carvana, synthetic

DATA_ROOT_ENV = "UNET_DATA_ROOT"


def data_root() -> Path:
    """Where generated datasets live: `$UNET_DATA_ROOT`, else the checkout's `data/` (found from
    the working folder, so a notebook in `notebooks/` uses the same one), else `./data`."""
    from unet.colab import repository_root

    if os.environ.get(DATA_ROOT_ENV):
        return Path(os.environ[DATA_ROOT_ENV])
    return repository_root() / "data"


def synthetic_carvana_dir(config) -> Path:
    """The generated Carvana-like folder for `config`, made on first use (atomically)."""
    return synthetic.generated_dir(data_root(), "carvana", config.synthetic_cars,
                                   config.synthetic_image_size)


def dataset_dir(config) -> Path:
    """The folder a `DataConfig` reads: its `data_dir`, or the generated set."""
    if config.tfds:
        raise ValueError(f"{config.source} is read through TFDS from --data-dir (its TFDS "
                         "folder), not from a dataset folder.")
    if config.dataset == "synthetic" and config.data_dir is None:
        return synthetic_carvana_dir(config)
    if config.data_dir is None:
        raise ValueError(
            f"dataset {config.dataset!r} needs a data_dir (--data-dir); without the real files, "
            f"generate look-alikes first: python -m unet data synthetic --dataset "
            f"{config.dataset} --out data/{config.dataset}_like")
    return Path(config.data_dir)


def num_classes_of(config) -> int:
    """The classes a `DataConfig`'s labels hold: 1 for a car mask, CARLA's 23 otherwise."""
    return 1 if config.binary else carla.NUM_CLASSES


def split_pairs(config, seed: int = 0):
    """(train, validation) pairs: split by car for Carvana, by frame blocks for CARLA.

    A prepared TFDS dataset (`config.tfds`) gives its own split, made when it was prepared,
    as two `tfds_source.Split`s; `make_dataset` and `native_predictions` take either kind.
    """
    if config.tfds:
        from unet.data import tfds_source

        return tfds_source.split(config.source, config.data_dir)
    folder = dataset_dir(config)
    if config.dataset == "carla":
        return carla.split_by_frames(carla.list_pairs(folder), config.val_fraction, seed)
    # train_masks.csv when Kaggle's is there: its runs are sampled at the training size far
    # faster than GIFs decode (bench/data_pipeline.py); `data check` verifies both agree.
    source = "csv" if (folder / "train_masks.csv").is_file() else "auto"
    pairs = carvana.list_pairs(folder, mask_source=source)
    return carvana.split_by_car(pairs, config.val_fraction, seed)


def read_native_mask(pair, dataset: str):
    """A pair's mask at the image's own size: {0, 1} for Carvana, class ids for CARLA."""
    if dataset == "carla":
        return carla.read_mask(pair.mask)
    return carvana.read_pair_mask(pair)


def _is_tfds(items) -> bool:
    from unet.data import tfds_source

    return isinstance(items, tfds_source.Split)


def select(items, names):
    """The items named in `names`, in their own order: pairs, or a `tfds_source.Split` (kept a
    split, its other examples skipped before decoding).

    Args:
        items: Pairs, or a `tfds_source.Split`.
        names: Image names (`pair.name`) to keep.

    Returns:
        The same kind as `items`.
    """
    wanted = set(names)
    if _is_tfds(items):
        return items.select(wanted)
    return [pair for pair in items if pair.name in wanted]


def make_dataset(items, **kwargs):
    """`pipeline.make_dataset` for pairs, `tfds_source.make_dataset` for a TFDS split (the same
    keyword arguments, the same batches)."""
    if _is_tfds(items):
        from unet.data import tfds_source

        return tfds_source.make_dataset(items, **kwargs)
    from unet.data import pipeline

    return pipeline.make_dataset(items, **kwargs)


def native_predictions(model, items, *, dataset: str, images: bool = False, **kwargs):
    """Yields `(name, true mask, probabilities, image)` at each image's own size, for pairs or
    a TFDS split: `inference.predict_native` (`kwargs` are its own) with the true mask, and
    the RGB image when `images` (else `None`).

    Args:
        model: A Keras model returning logits.
        items: Pairs, or a `tfds_source.Split`.
        dataset: `carvana`, `synthetic` or `carla` (how a folder's masks are read).
        images: Also decode each image.
    """
    if _is_tfds(items):
        from unet.data import tfds_source

        for item, probabilities, mask, image in tfds_source.predict_native(model, items,
                                                                           **kwargs):
            yield item.name, mask, probabilities, image if images else None
        return
    from unet import inference
    from unet.data import image_files

    for pair, probabilities in inference.predict_native(model, items, **kwargs):
        image = image_files.decode(pair.image, "RGB", scan=False) if images else None
        yield pair.name, read_native_mask(pair, dataset), probabilities, image
