"""Files that do not read back: a run folder's files damaged, CSVs a user gives in another
encoding, a disk that is full or read-only. Each is one `DamagedFile`, `DataError` or
`StorageError` naming the file (or folder) and what to do; the command-line cases are in
`test_cli_robustness.py`."""

import errno
import json

import numpy as np
import pytest

from unet import errors, faults, files
from unet.config import preset
from unet.run_folder import RunFolder

# (file, what the reader is, contents that must be refused)
CONFIG = preset("smoke").to_json()
DAMAGES = {
    "truncated": lambda good: good[: len(good) // 2],
    "empty": lambda good: "",
    "empty object": lambda good: "{}\n",
    "foreign object": lambda good: '{"foo": 1}\n',
    "a list": lambda good: "[1, 2]\n",
    "not UTF-8": lambda good: good[:10] + "\udcff" + good[10:],
}
GOOD = {
    "config": CONFIG,
    "trained": json.dumps({"epochs": 1, "epochs_done": 1, "precision": "float32"}),
    "metrics": json.dumps({"dice": 0.5, "epochs": 1}),
    "diverged": json.dumps({"epoch": 1, "batch": 2, "message": "diverged"}),
}
READERS = {
    "config": lambda folder: folder.read_config(),
    "trained": lambda folder: folder.state(),
    "metrics": lambda folder: folder.scores(),
    "diverged": lambda folder: folder.divergence(),
    "history": lambda folder: folder.read_history(),
    "per_image": lambda folder: folder.read_per_image(),
}
REMEDY = {"config": "delete the folder", "trained": "remove it", "metrics": "remove it to rescore",
          "diverged": "remove it", "history": "delete the folder",
          "per_image": "remove it to rescore"}


def _write(path, text: str) -> None:
    path.write_bytes(text.encode("utf-8", "surrogateescape"))


def _folder(tmp_path) -> RunFolder:
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    _write(folder.config, CONFIG)
    return folder


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("name", GOOD)
def test_a_damaged_json_file_of_a_run_is_named_with_what_to_do(tmp_path, name, damage):
    folder = _folder(tmp_path)
    path = getattr(folder, name)
    _write(path, GOOD[name])
    READERS[name](folder)  # the good file reads
    _write(path, DAMAGES[damage](GOOD[name]))
    with pytest.raises(errors.DamagedFile) as raised:
        READERS[name](folder)
    message = str(raised.value)
    assert message.startswith(f"{path} is damaged (") and REMEDY[name] in message
    assert raised.value.path == path and raised.value.exit_code == 1


@pytest.mark.parametrize(("name", "values"), [
    ("config", {**json.loads(CONFIG), "train": {"epochs": "2"}}),  # a value of another type
    ("config", {**json.loads(CONFIG), "preset": 3}),
    ("config", {**json.loads(CONFIG), "foo": 1}),  # a key no configuration has
    ("trained", {"epochs": "2"}),
    ("trained", {"epochs": True}),
    ("metrics", {"dice": "0.5"}),
    ("diverged", {"message": None}),
])
def test_a_run_file_with_a_value_of_another_type_is_damaged(tmp_path, name, values):
    folder = _folder(tmp_path)
    _write(getattr(folder, name), json.dumps(values))
    with pytest.raises(errors.DamagedFile, match=f"{getattr(folder, name)} is damaged"):
        READERS[name](folder)


HISTORY = "epoch,seconds,loss,val_dice\n1,2.5,0.7,0.4\n2,1.5,0.6,0.5\n"
PER_IMAGE = "image,group,dice\na_01.jpg,a,0.5\nb_01.jpg,b,0.25\n"


@pytest.mark.parametrize(("name", "good", "bad", "problem"), [
    ("history", HISTORY, HISTORY[:-10], "cut short"),
    ("history", HISTORY, "", "empty"),
    ("history", HISTORY, HISTORY.replace("0.6", "x"), "line 3: loss is 'x', not a number"),
    ("history", HISTORY, HISTORY.replace("1,2.5", "1.5,2.5"), "line 2: epoch is 1.5"),
    ("history", HISTORY, HISTORY.replace("epoch,", "step,"), "no column 'epoch'"),
    ("history", HISTORY, HISTORY.replace("2,1.5,", "2,"), "line 3 has 3 fields"),
    ("history", HISTORY, '{"foo": 1}\n', "no column 'epoch'"),
    ("per_image", PER_IMAGE, PER_IMAGE.replace("0.25", "none"), "dice is 'none'"),
    ("per_image", PER_IMAGE, PER_IMAGE[:-3], "cut short"),
    ("per_image", PER_IMAGE, "image,group\na_01.jpg,a\n", "no 'dice' or 'mean_dice' column"),
])
def test_a_damaged_csv_file_of_a_run_names_its_line(tmp_path, name, good, bad, problem):
    folder = _folder(tmp_path)
    path = getattr(folder, name)
    _write(path, good)
    assert len(READERS[name](folder)) == 2
    _write(path, bad)
    with pytest.raises(errors.DamagedFile) as raised:
        READERS[name](folder)
    assert str(raised.value).startswith(f"{path} is damaged (") and problem in str(raised.value)


def test_user_csv_text_reads_a_byte_order_mark_and_names_the_line_of_a_foreign_byte(tmp_path):
    path = tmp_path / "train_masks.csv"
    path.write_bytes("\ufeffimg,rle_mask\na.jpg,1 2\n".encode())  # Excel's "CSV UTF-8"
    assert files.read_user_text(path) == "img,rle_mask\na.jpg,1 2\n"
    path.write_bytes(b"\xef\xbb\xbfimg,rle_mask\na.jpg,1 2\nb\xe9.jpg,1 2\n")  # Latin-1 e-acute
    with pytest.raises(errors.DataError, match=r"train_masks.csv, line 3: byte 0xe9 is not UTF-8"):
        files.read_user_text(path)


def test_train_masks_csv_from_a_spreadsheet_reads_as_from_kaggle(carvana_copy):
    from unet.data import carvana

    path = carvana_copy / "train_masks.csv"
    rows = carvana.read_rle_csv(path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # Excel's "CSV UTF-8"
    assert carvana.read_rle_csv(path) == rows and len(rows) == 48


def test_a_damaged_report_json_is_named_before_anything_is_read(tmp_path):
    from unet import report

    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "report.json").write_text('{"command": "x", "runs": [')
    with pytest.raises(errors.DamagedFile, match=r"report.json is damaged .*remove it"):
        report.write_report(tmp_path / "runs", tmp_path / "report")


def test_a_missing_model_is_a_missing_file_error(tmp_path):
    from unet import checkpoints

    with pytest.raises(errors.MissingFile, match="No checkpoint at") as raised:
        checkpoints.load_model(tmp_path / "absent.keras")
    assert isinstance(raised.value, FileNotFoundError) and raised.value.exit_code == 1


def test_a_full_disk_names_the_folder_and_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "report" / "README.md"
    files.write_text(target, "previous")
    monkeypatch.setenv(faults.ENV, "nospace:in_atomic_write:README.md")
    with pytest.raises(errors.StorageError) as raised:
        files.write_text(target, "new")
    assert str(raised.value).startswith(f"cannot write in {target.parent}: No space left")
    assert isinstance(raised.value, OSError) and raised.value.exit_code == 1
    assert target.read_text() == "previous" and files.partials_of(target) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT])
def test_writes_refused_by_the_system_become_one_storage_error(tmp_path, code):
    with pytest.raises(errors.StorageError, match=f"cannot write in {tmp_path}"):
        with files.writing(tmp_path):
            raise OSError(code, "refused")
    with pytest.raises(OSError) as raised, files.writing(tmp_path):  # others are bugs
        raise OSError(errno.EBADF, "bad file descriptor")
    assert not isinstance(raised.value, errors.UserError)


def test_a_sixteen_bit_class_id_is_quoted_against_the_configured_count(tmp_path):
    from unet.data import carla

    mask = np.zeros((4, 4), np.uint16)
    mask[0, 0] = 300
    with pytest.raises(errors.DataError, match=r"class id 300 is out of range for "
                                               r"num_classes=23 \(ids 0-22\)"):
        carla.check_class_ids(mask, 23, "m.png")
    with pytest.raises(errors.DataError, match="class id 300 does not fit a class-id mask"):
        carla.check_class_ids(mask, None, "m.png")


def test_a_file_where_a_folder_should_be_is_named(tmp_path):
    (tmp_path / "report").write_text("a file")
    with pytest.raises(errors.StorageError, match="a file stands where a folder should be"):
        files.write_text(tmp_path / "report" / "README.md", "text")
    with pytest.raises(errors.StorageError, match=f"cannot write in {tmp_path / 'report'}"):
        with files.lock(tmp_path / "report", "run folder"):
            pass
