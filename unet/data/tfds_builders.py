"""TensorFlow Datasets builders `carvana` and `carla` (manual download), registered on import.

Prepared once (through `tfds_reader.load`; data/README.md), a TFDS dataset is a few large
TFRecord files: on Colab with Google Drive that loads far faster than thousands of small files.
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from unet.config import TFDS_VAL_FRACTION
from unet.data import carla, carvana, image_files

SPLIT_SEED = 0


@dataclasses.dataclass
class ResolutionConfig(tfds.core.BuilderConfig):
    """Examples stored at (height, width); `None` keeps the native size."""

    image_size: tuple[int, int] | None = None


def _resized(image: np.ndarray, mask: np.ndarray, image_size):
    if image_size is None:
        return image, mask
    height, width = image_size
    image = np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR,
                                                     reducing_gap=2.0))
    mask = np.asarray(Image.fromarray(mask).resize((width, height), Image.NEAREST))
    return image, mask


def _unzipped(manual_dir: Path, name: str, dl_manager) -> Path | None:
    """`manual_dir/name` as given, or found inside Kaggle's `name.zip`."""
    if (manual_dir / name).exists():
        return manual_dir / name
    archive = manual_dir / f"{name}.zip"
    if archive.is_file() and zipfile.is_zipfile(archive):
        extracted = Path(dl_manager.extract(archive))
        return extracted / name if (extracted / name).exists() else extracted
    return None


def _dataset_info(builder, image_format: str, extra=None, **kwargs) -> tfds.core.DatasetInfo:
    """Both builders' features: `image`, `mask`, the `extra` ones, `file_name`."""
    size = builder.builder_config.image_size or (None, None)
    return builder.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(*size, 3), encoding_format=image_format),
            "mask": tfds.features.Image(shape=(*size, 1), encoding_format="png"),
            **(extra or {}),
            "file_name": tfds.features.Text(),
        }),
        supervised_keys=("image", "mask"), **kwargs)


class Carvana(tfds.core.GeneratorBasedBuilder):
    """Kaggle's Carvana Image Masking Challenge: car photos with binary masks."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Train and validation split by car."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Accept the competition rules on Kaggle, then `kaggle competitions download -c
    carvana-image-masking-challenge -f train.zip` (and `train_masks.zip`, `train_masks.csv.zip`).
    Put the zip files, or the unzipped `train/`, `train_masks/` and `train_masks.csv`, in the
    manual folder (`manual_dir`).
    """
    BUILDER_CONFIGS = [
        ResolutionConfig(name="native", description="1918x1280", image_size=None),
        ResolutionConfig(name="640x960", description="half size", image_size=(640, 960)),
        ResolutionConfig(name="256x384", description="a fifth", image_size=(256, 384)),
        ResolutionConfig(name="128x192", description="a tenth", image_size=(128, 192)),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        return _dataset_info(self, "jpeg", {"car_id": tfds.features.Text(),
                                            "view": tfds.features.Scalar(dtype=np.int32)},
                             homepage="https://www.kaggle.com/c/carvana-image-masking-challenge")

    def _split_generators(self, dl_manager):
        root = self._root(Path(dl_manager.manual_dir), dl_manager)
        train, validation = carvana.split_by_car(carvana.list_pairs(root), TFDS_VAL_FRACTION,
                                                 SPLIT_SEED)
        return {"train": self._generate_examples(train),
                "validation": self._generate_examples(validation)}

    def _root(self, manual_dir: Path, dl_manager) -> Path:
        if carvana.is_layout(manual_dir):
            return manual_dir
        # Kaggle's zips: assemble the layout the reader expects from what they hold.
        root = Path(dl_manager.download_dir) / "carvana_layout"
        root.mkdir(parents=True, exist_ok=True)
        for name in ("train", "train_masks", "train_masks.csv"):
            found = _unzipped(manual_dir, name, dl_manager)
            link = root / name
            if found is not None and not link.exists():
                link.symlink_to(found)
        return root

    def _generate_examples(self, pairs):
        for pair in pairs:
            image = image_files.decode(pair.image, "RGB")
            mask = carvana.read_pair_mask(pair)
            image, mask = _resized(image, mask, self.builder_config.image_size)
            yield pair.name, {
                "image": image,
                "mask": mask[..., None],
                "car_id": pair.group,
                "view": pair.view,
                "file_name": pair.name,
            }


class Carla(tfds.core.GeneratorBasedBuilder):
    """CARLA driving scenes of the Coursera U-Net assignment: 23 semantic classes."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Train and validation split by blocks of consecutive frames."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Put the assignment's `CameraRGB/` and `CameraMask/` folders (or their `data/` parent) in the
    manual folder (`manual_dir`).
    """
    BUILDER_CONFIGS = [
        ResolutionConfig(name="native", description="640x480", image_size=None),
        ResolutionConfig(name="96x128", description="the assignment's size", image_size=(96, 128)),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        return _dataset_info(self, "png")

    def _split_generators(self, dl_manager):
        pairs = carla.list_pairs(Path(dl_manager.manual_dir))
        train, validation = carla.split_by_frames(pairs, TFDS_VAL_FRACTION, SPLIT_SEED)
        return {"train": self._generate_examples(train),
                "validation": self._generate_examples(validation)}

    def _generate_examples(self, pairs):
        for pair in pairs:
            image = image_files.decode(pair.image, "RGB")
            mask = carla.read_mask(pair.mask)
            image, mask = _resized(image, mask, self.builder_config.image_size)
            yield pair.name, {"image": image, "mask": mask[..., None], "file_name": pair.name}
