"""Getting the data: Carvana from Kaggle with Kaggle's own CLI (its archives fetched once and
kept, extracted to a local folder and checked), or the generated look-alike when no credentials
are there.

The archives live in `paths.archives_dir()` (on Google Drive in Colab, so a new VM does not
download them again); the extracted files in a local folder (thousands of small files read far
faster from the VM's disk than through Drive's mount). The extracted folder holds a mark,
`.download.json`, written last: a folder that has it is complete and checked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

from tqdm.auto import tqdm

from unet import files, paths
from unet.data import carvana, synthetic
from unet.errors import (
    DataError,
    KaggleCredentialsMissing,
    KaggleRulesNotAccepted,
    UsageError,
)

CARVANA_COMPETITION = "carvana-image-masking-challenge"
CARVANA_TRAIN_FILES = ("train.zip", "train_masks.zip", "train_masks.csv.zip")
RULES_URL = f"https://www.kaggle.com/c/{CARVANA_COMPETITION}/rules"
CREDENTIAL_NAMES = ("KAGGLE_USERNAME", "KAGGLE_KEY")
MARK = ".download.json"

CREDENTIALS_HELP = (
    "no Kaggle credentials: add KAGGLE_USERNAME and KAGGLE_KEY as Colab secrets (the key icon, "
    "with notebook access on) or as environment variables, or put kaggle.json (kaggle.com > "
    "Settings > API > Create New Token) in ~/.kaggle/ or $KAGGLE_CONFIG_DIR; also accept the "
    f"competition rules at {RULES_URL}; then run the command again.")


def kaggle_credentials() -> tuple[str, dict[str, str]] | None:
    """The Kaggle credentials to download with, looked up in Colab's secrets, then the
    environment (`KAGGLE_USERNAME`, `KAGGLE_KEY`), then `kaggle.json` (in `$KAGGLE_CONFIG_DIR`,
    else `~/.kaggle/`).

    Returns:
        `(where they come from, variables to set for Kaggle's CLI)`, or `None` when there are
        none. The variables are empty where the CLI finds the credentials itself.
    """
    secrets = _colab_secrets()
    if secrets:
        return "Colab secrets", secrets
    if all(os.environ.get(name) for name in CREDENTIAL_NAMES):
        return "the environment", {}
    config = Path(os.environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle") / "kaggle.json"
    if config.is_file():
        return str(config), {}
    return None


def kaggle_credentials_available() -> bool:
    """Whether `kaggle_credentials` finds any."""
    return kaggle_credentials() is not None


def _colab_secrets() -> dict[str, str]:
    """`KAGGLE_USERNAME` and `KAGGLE_KEY` from Colab's secrets panel; empty outside Colab or
    when either is missing."""
    try:
        from google.colab import userdata  # only exists in Colab
    except ImportError:
        return {}
    values = {}
    for name in CREDENTIAL_NAMES:
        try:
            values[name] = userdata.get(name)
        # userdata raises its own classes for a secret that is absent or not shared with the
        # notebook, and fails outside the notebook's kernel (a `!python -m unet` process):
        # none of these is an error here, the next source is tried.
        except Exception:
            return {}
    return values if all(values.values()) else {}


def zip_problem(path) -> str | None:
    """What makes `path` an incomplete or corrupt zip archive (every member's checksum is
    verified), or `None` when it is whole."""
    try:
        with zipfile.ZipFile(path) as bundle:
            corrupt = bundle.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        return f"not a complete zip file ({error})"
    return f"its member {corrupt} is corrupt" if corrupt else None


def download_carvana(data_dir=None, archives_dir=None, names=CARVANA_TRAIN_FILES) -> Path:
    """Carvana's training files from Kaggle, extracted into `data_dir` and checked as
    `python -m unet data check` does; the archives are fetched once and kept.

    A rerun does no work once `data_dir` holds them; on a new machine with the archives still
    kept (Google Drive), they are verified and extracted again, not downloaded. An archive that
    is not a complete zip is named and downloaded again.

    Args:
        data_dir: Where the files are extracted (default: `carvana/` in the data root).
        archives_dir: Where the zip archives are kept (default: `paths.archives_dir()`); they
            go in its `carvana/` folder.
        names: The competition's files to fetch (zip archives).

    Returns:
        `data_dir`.

    Raises:
        KaggleCredentialsMissing: an archive must be fetched and there are no credentials.
        KaggleRulesNotAccepted: Kaggle refused (403): the competition's rules are not accepted.
        UsageError: `data_dir` holds other files, or Kaggle's CLI is not installed.
        DataError: a download or an archive is broken, or the files fail the check.
    """
    data_dir = Path(data_dir) if data_dir else paths.data_root() / "carvana"
    archive_dir = paths.archives_dir(archives_dir) / "carvana"
    record = {"competition": CARVANA_COMPETITION, "files": sorted(names)}
    if _read_mark(data_dir) == record:
        print(f"{data_dir} already holds {', '.join(record['files'])}, extracted and checked: "
              "nothing to do.")
        return data_dir
    # 1. Everything is checked before anything is written.
    if data_dir.exists() and any(data_dir.iterdir()):
        raise UsageError(f"{data_dir} is not empty and holds no finished download of "
                         f"{', '.join(record['files'])}: give an empty or new folder "
                         "(--data-dir), or check it with `python -m unet data check`.")
    credentials = None
    if not all((archive_dir / name).is_file() for name in names):
        credentials = kaggle_credentials()
        if credentials is None:
            raise KaggleCredentialsMissing(CREDENTIALS_HELP)
    # 2. The archives: kept ones verified, missing or broken ones fetched.
    with files.lock(archive_dir, "archives folder"):
        files.remove_partials(archive_dir)
        for name in names:
            archive = archive_dir / name
            if archive.is_file():
                problem = zip_problem(archive)
                if problem is None:
                    print(f"{archive}: kept from an earlier download and complete; not "
                          "downloaded again.")
                    continue
                print(f"{archive}: {problem}; downloading it again.")
                archive.unlink()
            credentials = credentials or kaggle_credentials()
            if credentials is None:
                raise KaggleCredentialsMissing(CREDENTIALS_HELP)
            _fetch(name, archive_dir, credentials)
    # 3. Extracted and checked beside `data_dir`, then renamed into place with its mark.
    _extract([archive_dir / name for name in names], data_dir, record)
    return data_dir


def _read_mark(data_dir: Path) -> dict | None:
    try:
        return json.loads((data_dir / MARK).read_text())
    except (OSError, ValueError):
        return None


def _kaggle_command() -> str:
    """Kaggle's CLI: on the `PATH`, else beside this Python (a virtual environment)."""
    found = shutil.which("kaggle") or shutil.which("kaggle", path=str(Path(sys.executable).parent))
    if not found:
        raise UsageError("Kaggle's command line is not installed (Colab has it): pip install "
                         "kaggle, then run the command again.")
    return found


def _fetch(name: str, archive_dir: Path, credentials: tuple[str, dict]) -> None:
    """Downloads the competition's file `name` with Kaggle's CLI into a folder of its own, and
    moves it into `archive_dir` once it is a complete zip."""
    source, variables = credentials
    print(f"Downloading {name} from Kaggle (credentials from {source}).")
    command = [_kaggle_command(), "competitions", "download", "-c", CARVANA_COMPETITION,
               "-f", name, "-p"]
    staging = files.partial_path(archive_dir / "download")
    staging.mkdir(parents=True)
    try:
        code, output = _run_with_progress([*command, str(staging)], variables, staging, name)
        if code != 0:
            raise _kaggle_error(name, code, output)
        fetched = staging / name
        if not fetched.is_file():
            raise DataError(f"Kaggle's CLI wrote no {name} (it wrote "
                            f"{sorted(p.name for p in staging.iterdir()) or 'nothing'}); run the "
                            "command again.")
        problem = zip_problem(fetched)
        if problem:
            raise DataError(f"the {name} Kaggle sent is {problem}; run the command again.")
        os.replace(fetched, archive_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _run_with_progress(command, variables: dict, folder: Path, name: str) -> tuple[int, str]:
    """Runs `command`, showing the bytes arriving in `folder`; returns its exit code and its
    output (kept for the error, since Kaggle's CLI explains a refusal there)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env={**os.environ, **variables}, text=True)
    with tqdm(desc=name, unit="B", unit_scale=True, file=sys.stdout, leave=False) as bar:
        try:
            while True:
                try:
                    output, _ = process.communicate(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    bar.update(_bytes_in(folder) - bar.n)
        except BaseException:
            process.kill()
            process.wait()
            raise
        bar.update(_bytes_in(folder) - bar.n)
    return process.returncode, output


def _bytes_in(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _kaggle_error(name: str, code: int, output: str) -> Exception:
    """The refusal Kaggle's CLI reported, as a user's error that says what to do."""
    # Kaggle's CLI prints "403 - Forbidden - You must accept this competition's rules..." (1.5,
    # 1.6) or "403 Client Error: Forbidden for url: ..." (1.7 and later).
    if "403" in output and "Forbidden" in output:
        return KaggleRulesNotAccepted(
            f"Kaggle refused the download of {name} (403 Forbidden): accept the competition "
            f"rules at {RULES_URL}, signed in as the account of your credentials, then run the "
            "command again.")
    if "401" in output or "kaggle.json" in output or "log in" in output:
        return KaggleCredentialsMissing(
            "Kaggle did not accept the credentials (401 Unauthorized): create a new API token "
            "(kaggle.com > Settings > API), store it as before, then run the command again.")
    last = output.strip().splitlines()[-1] if output.strip() else "no output"
    return DataError(f"Kaggle's CLI failed to download {name} (exit {code}): {last}")


def _extract(archives: list[Path], data_dir: Path, record: dict) -> None:
    """Extracts `archives` into a folder beside `data_dir`, checks it, marks it and renames it
    to `data_dir`: an interrupted extraction leaves nothing there."""
    files.remove_partials(data_dir.parent)  # what a killed extraction left
    with files.atomic_path(data_dir) as staging:
        staging.mkdir()
        for archive in archives:
            try:
                with zipfile.ZipFile(archive) as bundle:
                    for member in tqdm(bundle.infolist(), desc=f"extracting {archive.name}",
                                       unit="file", file=sys.stdout, leave=False):
                        bundle.extract(member, staging)
            except (zipfile.BadZipFile, zlib.error) as error:
                raise DataError(f"{archive}: corrupt ({error}); delete it and run the command "
                                "again to download it again.") from error
        report = carvana.check(staging)
        print(report.format().replace(str(staging), str(data_dir)))
        if not report.ok:
            first = report.problems[0].replace(str(staging), str(data_dir))
            raise DataError(f"the extracted files fail the check ({len(report.problems)} "
                            f"problem(s), the first: {first}); nothing was kept in {data_dir}.")
        files.write_json(staging / MARK, record)
    print(f"Carvana is ready in {data_dir}.")


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
