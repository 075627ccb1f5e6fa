"""From a `DataConfig` to its train and validation `Source`s: image files (`FolderSource`) from
real folders or generated data made once, or a prepared TFDS dataset (`tfds_reader`)."""

from __future__ import annotations

from pathlib import Path

from unet.data import carla, carvana, image_files, pipeline, synthetic, tfds_reader
from unet.errors import UsageError
from unet.paths import data_root


def dataset_dir(config) -> Path:
    """The folder a `DataConfig` reads: its `data_dir`, or the generated set."""
    if config.tfds:
        raise UsageError(f"{config.source} is read through TFDS from --data-dir (its TFDS "
                         "folder), not from a dataset folder.")
    if config.dataset == "synthetic" and config.data_dir is None:
        return synthetic.generated_dir(data_root(), "carvana", config.synthetic_cars,
                                       config.synthetic_image_size)
    if config.data_dir is None:
        raise UsageError(
            f"dataset {config.dataset!r} needs a data_dir (--data-dir); without the real files, "
            f"generate look-alikes first: python -m unet data synthetic --dataset "
            f"{config.dataset} --out data/{config.dataset}_like")
    return Path(config.data_dir)


def num_classes_of(config) -> int:
    """The classes a `DataConfig`'s labels hold: 1 for a car mask, CARLA's 23 otherwise."""
    return 1 if config.binary else carla.NUM_CLASSES


def split(config, seed: int = 0) -> tuple[pipeline.Source, pipeline.Source]:
    """`(train, validation)` sources: split by car for Carvana, by frame blocks for CARLA.

    A prepared TFDS dataset (`config.tfds`) gives its own split, made when it was prepared.
    """
    if config.tfds:
        return tfds_reader.split(config.source, config.data_dir)
    folder = dataset_dir(config)
    if config.dataset == "carla":
        train, val = carla.split_by_frames(carla.list_pairs(folder), config.val_fraction, seed)
    else:
        # train_masks.csv when there: its runs are sampled far faster than GIFs decode.
        source = "csv" if (folder / "train_masks.csv").is_file() else "auto"
        pairs = carvana.list_pairs(folder, mask_source=source)
        train, val = carvana.split_by_car(pairs, config.val_fraction, seed)
    return FolderSource(train, config.dataset), FolderSource(val, config.dataset)


def read_native_mask(pair, dataset: str):
    """A pair's mask at the image's own size: {0, 1} for Carvana, class ids for CARLA."""
    if dataset == "carla":
        return carla.read_mask(pair.mask)
    return carvana.read_pair_mask(pair)


class FolderSource(pipeline.Source):
    """`unet.data.Pair`s from a dataset folder, as a `pipeline.Source`; `dataset` says how
    native-size masks are read (`read_native_mask`)."""

    def __init__(self, pairs, dataset: str = "carvana"):
        self.items = list(pairs)
        self.dataset = dataset

    def head(self, count: int) -> FolderSource:
        return FolderSource(self.items[:count], self.dataset)

    def select(self, names) -> FolderSource:
        wanted = set(names)
        return FolderSource([pair for pair in self.items if pair.name in wanted], self.dataset)

    def concatenate(self, other: FolderSource) -> FolderSource:
        return FolderSource(self.items + other.items, self.dataset)

    def examples(self, *, image_size, num_classes: int, resize_mode: str,
                 shuffle_seed: int | None, ordered: bool):
        return pipeline.pair_examples(self.items, image_size=image_size, num_classes=num_classes,
                                      resize_mode=resize_mode, shuffle_seed=shuffle_seed,
                                      ordered=ordered)

    def native_inputs(self, *, input_size, resize_mode: str, images: bool = False):
        if not self.items:
            return
        inputs = pipeline.image_inputs([pair.image for pair in self.items],
                                       image_size=input_size, resize_mode=resize_mode)
        for pixels, native_size, index in inputs:
            pair = self.items[index]
            image = image_files.decode(pair.image, "RGB", scan=False) if images else None
            truth = read_native_mask(pair, self.dataset)
            yield pixels, native_size, pipeline.Labelled(pair.name, truth, image)
