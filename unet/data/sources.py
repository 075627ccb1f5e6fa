"""From a `DataConfig` to its train and validation `Source`s: image files (`FolderSource`) from
real folders or generated data made once, or a prepared TFDS dataset (`tfds_reader`)."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from unet.data import carla, carvana, folder, image_files, pipeline, synthetic, tfds_reader
from unet.errors import ConfigError, UsageError
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


def num_classes_of(config) -> int | None:
    """The classes a `DataConfig`'s labels hold: 1 for a car mask, CARLA's 23; `None` for a
    multi-class folder dataset (its masks are checked against the model's count as read)."""
    if config.binary:
        return 1
    return None if config.dataset == "folder" else carla.NUM_CLASSES


def complete(config, *, num_classes: int | None = None):
    """A `RunConfig` on a folder dataset completed from its data (`folder.scan`, every mask
    read): the mask encoding, the class count (`num_classes`, else the data's), VOC's void, and
    the loss (`bce_dice` for binary masks, else `sparse_ce` where the loss is a binary one).
    Other datasets come back unchanged.

    Raises:
        DataError: any problem of the folder (`folder.scan`), before anything is written.
    """
    data = config.data
    if data.dataset != "folder" or data.tfds:
        return config
    found = folder.scan(dataset_dir(data), ignore_index=data.ignore_index,
                        num_classes=num_classes, group_by=data.group_by)
    fmt = found.format
    loss = config.train.loss
    if fmt.encoding == "binary" and loss == "sparse_ce" and config.model.num_classes != 2:
        loss = "bce_dice"
    elif fmt.encoding != "binary" and loss in ("bce", "bce_dice"):
        loss = "sparse_ce"
    classes = fmt.num_classes
    if fmt.encoding == "binary" and num_classes in (1, 2):
        classes = num_classes
        loss = "sparse_ce" if num_classes == 2 else loss
    return config.override(data={"mask_encoding": fmt.encoding,
                                 "ignore_index": fmt.ignore_index},
                           model={"num_classes": classes}, train={"loss": loss})


def mask_format(config, num_classes: int | None = None,
                layout: folder.Layout | None = None) -> folder.MaskFormat:
    """The `folder.MaskFormat` of a completed folder `DataConfig` (names, colours, void);
    `layout` is the folder's `folder.find_layout`, where the caller has it already."""
    if config.mask_encoding is None:
        raise ConfigError("a folder dataset's configuration is completed from its data first "
                          "(unet.data.sources.complete): data.mask_encoding is not set.",
                          field="data.mask_encoding")
    return folder.mask_format(dataset_dir(config), encoding=config.mask_encoding,
                              ignore_index=config.ignore_index, num_classes=num_classes,
                              layout=layout)


def split(config, seed: int = 0) -> tuple[pipeline.Source, pipeline.Source]:
    """`(train, validation)` sources: split by car for Carvana, by frame blocks for CARLA.

    A prepared TFDS dataset (`config.tfds`) gives its own split, made when it was prepared.
    """
    if config.tfds:
        return tfds_reader.split(config.source, config.data_dir)
    root = dataset_dir(config)
    if config.dataset == "folder":
        layout = folder.find_layout(root)
        fmt = mask_format(config, layout=layout)
        pairs = folder.list_pairs(root, config.group_by, layout=layout)
        train, val, how = folder.split(pairs, layout, config.val_fraction, seed)
        return (FolderSource(train, "folder", fmt, how), FolderSource(val, "folder", fmt, how))
    if config.dataset == "carla":
        train, val = carla.split_by_frames(carla.list_pairs(root), config.val_fraction, seed)
    else:
        # train_masks.csv when there: its runs are sampled far faster than GIFs decode.
        source = "csv" if (root / "train_masks.csv").is_file() else "auto"
        pairs = carvana.list_pairs(root, mask_source=source)
        train, val = carvana.split_by_car(pairs, config.val_fraction, seed)
    return FolderSource(train, config.dataset), FolderSource(val, config.dataset)


def read_native_mask(pair, dataset: str, fmt: folder.MaskFormat | None = None):
    """A pair's mask at the image's own size: {0, 1} for Carvana, class ids for CARLA, and
    for a folder dataset what `folder.decode_mask` reads with `fmt`."""
    if dataset == "folder":
        return folder.decode_mask(pair.mask, fmt)
    if dataset == "carla":
        return carla.read_mask(pair.mask)
    return carvana.read_pair_mask(pair)


class FolderSource(pipeline.Source):
    """`unet.data.Pair`s from a dataset folder, as a `pipeline.Source`; `dataset` says how
    native-size masks are read (`read_native_mask`), with `fmt` for a folder dataset's masks;
    `split_by` says how the examples were split."""

    def __init__(self, pairs, dataset: str = "carvana", fmt: folder.MaskFormat | None = None,
                 split_by: str = ""):
        self.items = list(pairs)
        self.dataset = dataset
        self.fmt = fmt
        self.split_by = split_by
        self.class_names = fmt.names if fmt is not None and fmt.names else None
        self.class_colors = fmt.colors if fmt is not None else None

    def _with(self, pairs) -> FolderSource:
        return FolderSource(pairs, self.dataset, self.fmt, self.split_by)

    def head(self, count: int) -> FolderSource:
        return self._with(self.items[:count])

    def select(self, names) -> FolderSource:
        wanted = set(names)
        return self._with([pair for pair in self.items if pair.name in wanted])

    def concatenate(self, other: FolderSource) -> FolderSource:
        return self._with(self.items + other.items)

    def examples(self, *, image_size, num_classes: int, resize_mode: str,
                 shuffle_seed: int | None, ordered: bool):
        read_mask = None
        if self.fmt is not None:
            fmt = self.fmt
            if fmt.encoding != "binary" and num_classes != fmt.num_classes:
                # the ids are checked against the model's classes as they are read
                fmt = dataclasses.replace(fmt, names=tuple(str(i) for i in range(num_classes)))
            read_mask = functools.partial(folder.decode_mask, fmt=fmt)
        return pipeline.pair_examples(self.items, image_size=image_size, num_classes=num_classes,
                                      resize_mode=resize_mode, shuffle_seed=shuffle_seed,
                                      ordered=ordered, read_mask=read_mask)

    def native_inputs(self, *, input_size, resize_mode: str, images: bool = False):
        if not self.items:
            return
        inputs = pipeline.image_inputs([pair.image for pair in self.items],
                                       image_size=input_size, resize_mode=resize_mode)
        for pixels, native_size, index in inputs:
            pair = self.items[index]
            image = image_files.decode(pair.image, "RGB", scan=False) if images else None
            truth = read_native_mask(pair, self.dataset, self.fmt)
            yield pixels, native_size, pipeline.Labelled(pair.name, truth, image)
