"""Where `export` and `predict` write: no symbolic link, device or user's file replaced, no
mask folder read back as input."""

import os
from pathlib import Path

import pytest

from unet import export, files, predict_files
from unet.errors import StorageError, UsageError


def test_an_atomic_write_refuses_a_symbolic_link_and_leaves_it_and_its_target(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("kept")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    with pytest.raises(StorageError, match="link.txt is a symbolic link"):
        files.write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "kept"
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(tmp_path / "missing")
    with pytest.raises(StorageError, match="symbolic link"):
        files.write_text(dangling, "new")
    assert dangling.is_symlink()


def test_an_atomic_write_refuses_a_device_and_a_folder_for_a_file(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(StorageError, match="pipe is not a regular file"):
        files.write_bytes(fifo, b"x")
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(StorageError, match="folder is a folder: give the path of a file"):
        files.write_bytes(folder, b"x")
    assert folder.is_dir() and not any(folder.iterdir())
    files.write_text(tmp_path / "plain.txt", "one")  # a regular file is still replaced
    files.write_text(tmp_path / "plain.txt", "two")
    assert (tmp_path / "plain.txt").read_text() == "two"


def test_a_folder_where_a_file_goes_is_named_the_right_way_round(tmp_path):
    folder = tmp_path / "x.png"
    folder.mkdir()
    (tmp_path / "a").write_text("a")
    with pytest.raises(StorageError, match="a folder stands where a file should be"):
        with files.writing(tmp_path):
            os.replace(tmp_path / "a", folder)  # EISDIR
    with pytest.raises(StorageError, match="a file stands where a folder should be"):
        with files.writing(tmp_path):
            (tmp_path / "a" / "b").mkdir()  # ENOTDIR


@pytest.mark.parametrize("fmt", ["tflite", "saved_model"])
def test_export_refuses_a_symbolic_link_before_loading_the_model(tmp_path, fmt, run_cli):
    target = tmp_path / "target"
    link = tmp_path / "link"
    link.symlink_to(target)
    # The model does not exist: the refusal comes first, so nothing is loaded or written.
    result = run_cli("export", "--model", str(tmp_path / "none.keras"), "--format", fmt,
                     "--out", str(link))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"error: {link} is a symbolic link: writing would replace the link, not its target; "
        "give the target's path or another one."]
    assert link.is_symlink() and not target.exists()


def test_export_tflite_refuses_a_folder_a_device_and_standard_output(tmp_path):
    model = tmp_path / "none.keras"
    with pytest.raises(StorageError, match="is a folder: give the path of a file"):
        export.export(model, "tflite", tmp_path)
    if Path("/dev/null").exists():
        with pytest.raises(StorageError, match="/dev/null is not a regular file"):
            export.export(model, "tflite", "/dev/null")
    with pytest.raises(UsageError, match="--out -: an export is written to a file or folder"):
        export.export(model, "tflite", "-")
    assert not Path("-").exists()


def test_export_saved_model_keeps_a_users_files(tmp_path):
    model = tmp_path / "none.keras"
    out = tmp_path / "exports"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"exports is a folder holding other files \(notes.txt"
                                         r"\).*give a new or empty folder"):
        export.export(model, "saved_model", out)
    assert (out / "notes.txt").read_text() == "mine"
    # A previous export that someone added a file to is refused too.
    (out / "saved_model.pb").write_bytes(b"")
    (out / "variables").mkdir()
    with pytest.raises(UsageError, match="notes.txt"):
        export.export(model, "saved_model", out)
    with pytest.raises(StorageError, match="is a file: give the path of a folder"):
        export.export(model, "saved_model", out / "notes.txt")


def test_export_saved_model_may_replace_a_previous_export_or_an_empty_folder(tmp_path):
    """Past the checks, the missing model is what stops it."""
    from unet.errors import UserError

    out = tmp_path / "exports"
    out.mkdir()
    for name in ("saved_model.pb", "fingerprint.pb"):
        (out / name).write_bytes(b"")
    (out / "variables").mkdir()
    (out / "assets").mkdir()
    for folder in (out, tmp_path / "empty"):
        folder.mkdir(exist_ok=True)
        with pytest.raises(UserError) as refused:
            export.export(tmp_path / "none.keras", "saved_model", folder)
        assert "none.keras" in str(refused.value)
    assert sorted(p.name for p in out.iterdir()) == [
        "assets", "fingerprint.pb", "saved_model.pb", "variables"]


def test_predict_refuses_an_output_that_is_an_input_folder(tmp_path, run_cli):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"")
    with pytest.raises(UsageError, match="is also an --input folder"):
        predict_files.predict_folder(tmp_path / "none.keras", [images], images / ".")
    result = run_cli("predict", "--model", str(tmp_path / "none.keras"), "--input",
                     str(images), "--output", str(images))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --output {images} is also an --input folder: the masks written there would "
        "be read as images next time; choose another --output folder."]
    assert sorted(p.name for p in images.iterdir()) == ["a.png"]
    predict_files.check_output_apart([images / "a.png"], images / "masks")  # apart: accepted


def test_predict_refuses_an_output_folder_that_holds_input_files(tmp_path, run_cli):
    """`--input photos/*.jpg --output photos` (the shell expands the glob): the overlays written
    there (`a_overlay.jpg`) would match the glob next time and be predicted as photos."""
    images = tmp_path / "photos"
    images.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (images / name).write_bytes(b"")
    with pytest.raises(UsageError, match="holds the input"):
        predict_files.check_output_apart([images / "a.jpg", images / "b.jpg"], images)
    result = run_cli("predict", "--model", str(tmp_path / "none.keras"), "--input",
                     str(images / "a.jpg"), str(images / "b.jpg"), "--output", str(images),
                     "--overlay")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --output {images} holds the input {images / 'a.jpg'}: the masks and overlays "
        "written beside it would be read as images next time; choose another --output "
        "folder."]
    assert sorted(p.name for p in images.iterdir()) == ["a.jpg", "b.jpg"]
    predict_files.check_output_apart([images / "a.jpg"], tmp_path / "masks")  # apart: accepted
