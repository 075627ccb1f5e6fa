"""Getting the data: Kaggle's official CLI for Carvana (only the files training needs), or the
generated look-alike when no credentials are there."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

from unet import paths
from unet.data import carvana, synthetic
from unet.errors import DataError, KaggleCredentialsMissing

CARVANA_COMPETITION = "carvana-image-masking-challenge"
CARVANA_TRAIN_FILES = ("train.zip", "train_masks.zip", "train_masks.csv.zip")

CREDENTIALS_HELP = """No Kaggle credentials found. To download Carvana:
  1. accept the competition rules at kaggle.com/c/carvana-image-masking-challenge/rules;
  2. create an API token (kaggle.com -> Settings -> API -> Create New Token);
  3. put kaggle.json in ~/.kaggle/ (chmod 600), or set KAGGLE_USERNAME and KAGGLE_KEY
     (in Colab: upload kaggle.json, or add both as Colab secrets)."""


def kaggle_credentials_available() -> bool:
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return True
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    return (config_dir / "kaggle.json").is_file()


def _unzip(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(dest)
    except zipfile.BadZipFile as error:
        raise DataError(f"{archive}: not a complete zip file ({error}); delete it and "
                           "download again.") from error


def download_carvana(dest, files=CARVANA_TRAIN_FILES, runner=subprocess.run) -> Path:
    """Downloads and unzips Carvana's training files with the `kaggle` CLI into `dest`.

    Files already unzipped are skipped, so a rerun after a disconnect only fetches what is
    missing. `runner` runs the CLI (replaceable in tests).

    Raises:
        KaggleCredentialsMissing: with the steps to get credentials.
    """
    if not kaggle_credentials_available():
        raise KaggleCredentialsMissing(CREDENTIALS_HELP)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in files:
        unzipped = dest / name.removesuffix(".zip")
        if unzipped.exists():
            continue
        archive = dest / name
        if not archive.is_file():
            runner(["kaggle", "competitions", "download", "-c", CARVANA_COMPETITION, "-f", name,
                    "-p", str(dest)], check=True)
        _unzip(archive, dest)
        archive.unlink()
    return dest


def get_carvana(data_dir=None, fallback_cars: int = 8, fallback_size=(320, 480),
                download: bool = True) -> Path:
    """A Carvana folder: `data_dir` if it holds one, else Kaggle's (with credentials), else a
    generated look-alike (with a message saying so; `synthetic.generated_dir`)."""
    if data_dir is not None:
        data_dir = Path(data_dir)
        if carvana.is_layout(data_dir):
            return data_dir
        if download and kaggle_credentials_available():
            return download_carvana(data_dir)
    print("No Carvana folder and no Kaggle credentials: using generated Carvana-like data "
          "(same file formats; scores not comparable with Kaggle's).")
    return synthetic.generated_dir(paths.data_root(), "carvana", fallback_cars, fallback_size)
