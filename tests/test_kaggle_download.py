"""`python -m unet data download`: Kaggle's CLI stood in for by a `kaggle` executable on the PATH
that answers as Kaggle's does, serving zips of the generated Carvana set."""

import json
import os
import shutil
import sys
import zipfile

import pytest

from unet.data import download

FILES = download.CARVANA_TRAIN_FILES
PAIRS = 48  # the `carvana_dir` fixture: 3 cars x 16 views

# Answers as Kaggle's CLI 2.x does: no credentials -> its message and exit 1; rules not
# accepted -> the HTTP error on standard error and exit 1; else the file, written in pieces.
FAKE_KAGGLE = '''\
#!{python}
import json, os, pathlib, sys, time

served, log = pathlib.Path({served!r}), pathlib.Path({log!r})
args = sys.argv[1:]
name, folder = args[args.index("-f") + 1], pathlib.Path(args[args.index("-p") + 1])
with log.open("a") as calls:
    calls.write(json.dumps({{"file": name, "user": os.environ.get("KAGGLE_USERNAME")}}) + "\\n")
config = pathlib.Path(os.environ.get("KAGGLE_CONFIG_DIR") or pathlib.Path.home() / ".kaggle")
if not (os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY")) and not (
        config / "kaggle.json").is_file():
    print(f"Could not find kaggle.json. Make sure it's located in {{config}}. Or use the "
          "environment method. See setup instructions at https://github.com/Kaggle/kaggle-api/")
    sys.exit(1)
if os.environ.get("FAKE_KAGGLE_RULES") == "not accepted":
    print("403 Client Error: Forbidden for url: https://www.kaggle.com/api/v1/competitions/"
          f"data/download/carvana-image-masking-challenge/{{name}}", file=sys.stderr)
    sys.exit(1)
data = (served / name).read_bytes()
folder.mkdir(parents=True, exist_ok=True)
with open(folder / name, "wb") as out:
    for start in range(0, len(data), 1 << 16):
        out.write(data[start:start + (1 << 16)])
        out.flush()
        time.sleep(0.01)
print(f"Downloading {{name}} to {{folder}}")
'''

# Colab's `google.colab.userdata`: `get` answers for the secrets set, raises otherwise.
FAKE_USERDATA = '''\
class SecretNotFoundError(Exception):
    pass


SECRETS = {secrets!r}


def get(name):
    if name not in SECRETS:
        raise SecretNotFoundError(name)
    return SECRETS[name]
'''


@pytest.fixture(scope="module")
def kaggle_zips(carvana_dir, tmp_path_factory):
    """The competition's three training archives, built as Kaggle's are from the generated set."""
    out = tmp_path_factory.mktemp("kaggle_served")
    contents = {"train.zip": ["train"], "train_masks.zip": ["train_masks"],
                "train_masks.csv.zip": ["train_masks.csv"]}
    for name, tops in contents.items():
        with zipfile.ZipFile(out / name, "w", zipfile.ZIP_DEFLATED) as bundle:
            for top in tops:
                paths = [carvana_dir / top]
                if (carvana_dir / top).is_dir():
                    paths = sorted((carvana_dir / top).iterdir())
                for path in paths:
                    bundle.write(path, path.relative_to(carvana_dir).as_posix())
    return out


class Kaggle:
    """The stand-in's folder (put first on the PATH) and the calls it answered."""

    def __init__(self, root, served):
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log = root / "kaggle_calls.jsonl"
        script = self.bin / "kaggle"
        script.write_text(FAKE_KAGGLE.format(python=sys.executable, served=str(served),
                                             log=str(self.log)))
        script.chmod(0o755)

    @property
    def calls(self) -> list[dict]:
        if not self.log.is_file():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def kaggle(tmp_path, kaggle_zips):
    return Kaggle(tmp_path, kaggle_zips)


@pytest.fixture
def env(tmp_path, kaggle):
    """No credentials anywhere, the archives on a "Drive" folder, Kaggle's CLI stood in for."""
    environment = {"PATH": f"{kaggle.bin}{os.pathsep}{os.environ['PATH']}",
                   "KAGGLE_CONFIG_DIR": str(tmp_path / "no_kaggle_json"),
                   "UNET_ARCHIVES_DIR": str(tmp_path / "drive" / "archives"),
                   "UNET_DATA_ROOT": str(tmp_path / "local")}
    for name in download.CREDENTIAL_NAMES:
        if os.environ.get(name):
            environment[name] = ""  # blank reads as absent, to Kaggle's CLI too
    return environment


CREDENTIALS = {"KAGGLE_USERNAME": "someone", "KAGGLE_KEY": "0123abcd"}


def command(data_dir):
    return ("data", "download", "--dataset", "carvana", "--data-dir", data_dir)


def only_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.slow
def test_download_happens_once_and_a_new_vm_extracts_from_the_kept_archives(run_cli, kaggle, env,
                                                                            tmp_path):
    data_dir = tmp_path / "local" / "carvana"
    archives = tmp_path / "drive" / "archives" / "carvana"

    first = run_cli(*command(data_dir), env={**env, **CREDENTIALS})
    assert first.returncode == 0, first.stderr
    assert [call["file"] for call in kaggle.calls] == list(FILES)
    assert sorted(p.name for p in archives.iterdir() if p.suffix == ".zip") == sorted(FILES)
    assert len(list((data_dir / "train").glob("*.jpg"))) == PAIRS
    assert len(list((data_dir / "train_masks").glob("*_mask.gif"))) == PAIRS
    assert f"pairs: {PAIRS}" in first.stdout and "problems: none" in first.stdout
    assert not list(data_dir.parent.glob(".*partial*"))

    again = run_cli(*command(data_dir), env={**env, **CREDENTIALS})
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout
    assert len(kaggle.calls) == 3  # nothing fetched, nothing extracted or checked again
    assert "problems:" not in again.stdout

    # A new VM: the local folder is gone, Drive kept the archives; no credentials needed.
    shutil.rmtree(data_dir)
    fresh = run_cli(*command(data_dir), env=env)
    assert fresh.returncode == 0, fresh.stderr
    assert len(kaggle.calls) == 3
    assert fresh.stdout.count("not downloaded again") == 3
    assert len(list((data_dir / "train").glob("*.jpg"))) == PAIRS


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "flipped byte"])
def test_a_broken_archive_is_named_and_fetched_again(run_cli, kaggle, env, tmp_path,
                                                      kaggle_zips, damage):
    data_dir = tmp_path / "local" / "carvana"
    archives = tmp_path / "drive" / "archives" / "carvana"
    archives.mkdir(parents=True)
    for name in FILES:
        shutil.copy(kaggle_zips / name, archives / name)
    data = bytearray((kaggle_zips / "train.zip").read_bytes())
    if damage == "truncated":  # a download cut short
        data = data[: len(data) // 2]
    else:  # one bit flipped inside a member's data: only its checksum tells
        data[len(data) // 3] ^= 0x40
    (archives / "train.zip").write_bytes(bytes(data))

    result = run_cli(*command(data_dir), env={**env, **CREDENTIALS})
    assert result.returncode == 0, result.stderr
    assert [call["file"] for call in kaggle.calls] == ["train.zip"]
    named = [line for line in result.stdout.splitlines() if "downloading it again" in line]
    assert len(named) == 1 and str(archives / "train.zip") in named[0]
    assert (archives / "train.zip").read_bytes() == (kaggle_zips / "train.zip").read_bytes()
    assert len(list((data_dir / "train").glob("*.jpg"))) == PAIRS


def test_no_credentials_is_one_line_that_says_where_to_put_them(run_cli, kaggle, env, tmp_path):
    data_dir = tmp_path / "local" / "carvana"
    result = run_cli(*command(data_dir), env=env)
    assert result.returncode == 1
    line = only_error_line(result)
    assert "no Kaggle credentials" in line
    assert "Colab secrets" in line and "kaggle.json" in line and "KAGGLE_KEY" in line
    assert kaggle.calls == []
    assert not (tmp_path / "local").exists() and not (tmp_path / "drive").exists()


def test_kaggle_json_is_a_credential_source(tmp_path, monkeypatch):
    for name in download.CREDENTIAL_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    assert download.kaggle_credentials() is None
    (tmp_path / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    assert download.kaggle_credentials() == (str(tmp_path / "kaggle.json"), {})


@pytest.mark.slow
def test_rules_not_accepted_is_one_line_and_leaves_nothing(run_cli, kaggle, env, tmp_path):
    data_dir = tmp_path / "local" / "carvana"
    result = run_cli(*command(data_dir),
                     env={**env, **CREDENTIALS, "FAKE_KAGGLE_RULES": "not accepted"})
    assert result.returncode == 1
    line = only_error_line(result)
    assert "403 Forbidden" in line and "accept the competition rules" in line
    assert download.RULES_URL in line
    assert [call["file"] for call in kaggle.calls] == ["train.zip"]
    assert not data_dir.exists() and not (tmp_path / "local").exists()
    archives = tmp_path / "drive" / "archives" / "carvana"
    assert sorted(p.name for p in archives.iterdir()) == [".lock"]  # no zip, no partial


@pytest.mark.slow
def test_colab_secrets_are_the_first_credential_source(run_cli, kaggle, env, tmp_path):
    def stand_in_colab(folder, secrets):
        # `google` stays a namespace package, so the installed google.protobuf still imports.
        package = tmp_path / folder / "google" / "colab"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "userdata.py").write_text(FAKE_USERDATA.format(secrets=secrets))
        return {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path / folder),
                                                           os.environ.get("PYTHONPATH")]))}

    colab = stand_in_colab("colab", {"KAGGLE_USERNAME": "from-secrets", "KAGGLE_KEY": "s3cret"})
    data_dir = tmp_path / "local" / "carvana"
    result = run_cli(*command(data_dir), env={**env, **colab, **CREDENTIALS})
    assert result.returncode == 0, result.stderr
    assert "credentials from Colab secrets" in result.stdout
    assert {call["user"] for call in kaggle.calls} == {"from-secrets"}

    # A secret missing is no error: the environment is asked next.
    half = stand_in_colab("colab_half", {"KAGGLE_USERNAME": "from-secrets"})
    other = tmp_path / "local" / "other"
    result = run_cli(*command(other), env={**env, **half, **CREDENTIALS,
                                            "UNET_ARCHIVES_DIR": str(tmp_path / "other_drive")})
    assert result.returncode == 0, result.stderr
    assert "credentials from the environment" in result.stdout
    assert kaggle.calls[-1]["user"] == "someone"


def test_a_folder_with_other_files_is_refused_before_anything_is_fetched(run_cli, kaggle, env,
                                                                          tmp_path):
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    (data_dir / "notes.txt").write_text("mine")
    result = run_cli(*command(data_dir), env={**env, **CREDENTIALS})
    assert result.returncode == 2
    assert str(data_dir) in only_error_line(result)
    assert kaggle.calls == [] and sorted(p.name for p in data_dir.iterdir()) == ["notes.txt"]


def test_kaggle_cli_messages_become_what_to_do():
    old = download._kaggle_error("train.zip", 1, "403 - Forbidden - You must accept this "
                                 "competition's rules before you'll be able to download files.")
    assert isinstance(old, download.KaggleRulesNotAccepted)
    unauthorized = download._kaggle_error("train.zip", 1, "401 Client Error: Unauthorized for "
                                          "url: https://www.kaggle.com/api/v1/...")
    assert isinstance(unauthorized, download.KaggleCredentialsMissing)
    other = download._kaggle_error("train.zip", 1, "Downloading...\n404 Client Error: Not Found")
    assert "404 Client Error: Not Found" in str(other) and "train.zip" in str(other)


def test_zip_problem_finds_truncation_and_bad_checksums(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as bundle:
        bundle.writestr("a.txt", "x" * 1000)
    assert download.zip_problem(path) is None
    data = bytearray(path.read_bytes())
    data[100] ^= 1  # inside the stored member
    path.write_bytes(bytes(data))
    assert "a.txt" in download.zip_problem(path)
    path.write_bytes(bytes(data[:500]))
    assert "not a complete zip" in download.zip_problem(path)


@pytest.mark.slow
def test_a_run_killed_before_the_folder_is_in_place_leaves_nothing_and_resumes(run_cli, kaggle,
                                                                              env, tmp_path):
    data_dir = tmp_path / "local" / "carvana"
    killed = run_cli(*command(data_dir), env={**env, **CREDENTIALS,
                                              "UNET_FAULT": "kill:in_atomic_write:carvana"})
    assert killed.returncode == -9
    assert not data_dir.exists() and list(data_dir.parent.glob(".carvana.partial-*"))
    assert len(kaggle.calls) == 3  # the archives were whole and kept before the kill

    result = run_cli(*command(data_dir), env={**env, **CREDENTIALS})
    assert result.returncode == 0, result.stderr
    assert len(kaggle.calls) == 3
    assert len(list((data_dir / "train").glob("*.jpg"))) == PAIRS
    assert not list(data_dir.parent.glob(".carvana.partial-*"))
