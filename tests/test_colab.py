"""Colab's storage: what is kept on Google Drive, what stays on the machine, and the one-line
errors of a Drive that cannot be mounted or is full. (The notebooks in a simulated Colab
runtime: test_colab_runtime.py.)"""

import os
import sys
from pathlib import Path

import pytest

from unet import colab, experiments, paths
from unet.config import preset
from unet.errors import DriveError

STANDIN = Path(__file__).resolve().parent / "colab_standin"


@pytest.fixture
def no_checkout(tmp_path, monkeypatch):
    """A working folder outside any checkout (Colab's `/content`), no location variables."""
    content = tmp_path / "content"
    content.mkdir()
    monkeypatch.chdir(content)
    for variable in (paths.RUNS_ENV, paths.REPORT_ENV, paths.DATA_ENV, paths.ARCHIVES_ENV):
        monkeypatch.delenv(variable, raising=False)
    return content


@pytest.fixture
def google_colab(monkeypatch, tmp_path):
    """The stand-in `google.colab`, imported as in Colab, its Drive a folder of `tmp_path`."""
    monkeypatch.syspath_prepend(str(STANDIN))
    for name in [n for n in sys.modules if n == "google" or n.startswith("google.colab")]:
        monkeypatch.delitem(sys.modules, name)
    import google.colab  # noqa: F401
    from google.colab import drive

    persistent = tmp_path / "my-drive"
    persistent.mkdir()
    monkeypatch.setenv(drive.DRIVE_ENV, str(persistent))
    monkeypatch.setenv(colab.MOUNTPOINT_ENV, str(tmp_path / "content" / "drive"))
    yield persistent
    for name in [n for n in sys.modules if n.startswith("google.colab")]:
        del sys.modules[name]


def test_the_mount_point_is_colabs_unless_moved(monkeypatch):
    monkeypatch.delenv(colab.MOUNTPOINT_ENV, raising=False)
    assert colab.drive_mountpoint() == Path("/content/drive")
    monkeypatch.setenv(colab.MOUNTPOINT_ENV, "/elsewhere/drive")
    assert colab.drive_mountpoint() == Path("/elsewhere/drive")


def test_archives_go_under_the_data_root_unless_moved(no_checkout, monkeypatch):
    assert paths.archives_dir() == Path("data") / "archives"
    monkeypatch.setenv(paths.DATA_ENV, "/x/data")
    assert paths.archives_dir() == Path("/x/data/archives")
    monkeypatch.setenv(paths.ARCHIVES_ENV, "/drive/archives")
    assert paths.archives_dir() == Path("/drive/archives")
    assert paths.archives_dir("given") == Path("given")


def test_storage_keeps_runs_report_and_archives_on_drive_and_data_on_the_machine(
        no_checkout, google_colab, capsys):
    where = colab.storage(use_drive=True)
    home = no_checkout / "drive" / "MyDrive" / "unet"
    assert where == {"runs": home / "runs", "report": home / "memory",
                     "archives": home / "archives", "data": Path("data")}
    assert (google_colab / "unet" / "runs").is_dir()  # on the folder that outlives the machine
    assert paths.runs_dir() == home / "runs" and paths.report_dir() == home / "memory"
    assert paths.archives_dir() == home / "archives"
    out = capsys.readouterr().out
    assert f"No checkout of the repository here: what is not on Drive goes under the working " \
           f"folder {no_checkout}." in out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert lines["runs"].endswith("(Google Drive: kept across sessions)")
    assert lines["data"] == (f"data      {no_checkout / 'data'}  (this machine's disk: lost when "
                             "the runtime is recycled)")
    # a second call (the configuration cell rerun) finds Drive mounted and changes nothing
    assert colab.storage(use_drive=True) == where
    assert "Drive already mounted" not in capsys.readouterr().out


def test_storage_without_drive_in_colab_says_what_is_lost(no_checkout, google_colab, capsys):
    where = colab.storage(use_drive=False)
    assert where["runs"] == Path("runs") and where["report"] == Path("memory")
    out = capsys.readouterr().out
    assert "Set USE_DRIVE = True in the configuration cell" in out
    assert "(Google Drive" not in out


def test_storage_outside_colab_ignores_use_drive(no_checkout, capsys):
    assert not colab.in_colab()
    where = colab.storage(use_drive=True)
    assert where["runs"] == Path("runs")
    assert f"runs      {no_checkout / 'runs'}  (this machine's disk)" in capsys.readouterr().out


def test_a_refused_mount_is_one_line_saying_what_to_do(no_checkout, google_colab, monkeypatch):
    from google.colab import drive

    monkeypatch.delenv(drive.DRIVE_ENV)  # the user did not allow access
    with pytest.raises(DriveError, match=r"could not be mounted at .*drive \(mount failed\): "
                                         r"rerun the cell and allow access.*USE_DRIVE = False"):
        colab.keep_on_drive()
    assert os.environ.get(paths.RUNS_ENV) is None  # nothing moved


def test_outside_colab_an_unmounted_drive_says_set_use_drive_false(tmp_path):
    with pytest.raises(DriveError, match="this is not Colab: set USE_DRIVE = False"):
        colab.keep_on_drive(mountpoint=tmp_path / "drive")


def test_a_full_drive_is_found_before_training(tmp_path, monkeypatch):
    """The write check lands on /dev/full, which refuses every write with ENOSPC."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    for variable in (paths.RUNS_ENV, paths.REPORT_ENV, paths.ARCHIVES_ENV):
        monkeypatch.setenv(variable, "unchanged")
    home = tmp_path / "MyDrive" / "unet"
    home.mkdir(parents=True)
    (home / ".unet-write-check").symlink_to("/dev/full")
    with pytest.raises(DriveError, match=r"no space left in .*MyDrive/unet \(Google Drive.*"
                                         r"delete old runs or archives"):
        colab.keep_on_drive(mountpoint=tmp_path)
    assert os.environ[paths.RUNS_ENV] == "unchanged"


def test_in_ipython_a_user_error_or_a_full_disk_is_one_line_and_a_bug_keeps_its_traceback(
        capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        colab.show_user_errors_as_one_line()
        result = shell.run_cell("from unet.errors import DriveError\n"
                                "raise DriveError('Drive is full: free space.')")
        assert isinstance(result.error_in_exec, DriveError)  # the cell still fails
        captured = capsys.readouterr()
        assert captured.err.strip() == "error: Drive is full: free space."
        assert "Traceback" not in captured.out + captured.err
        shell.run_cell("open('/dev/full', 'wb').write(b'x' * 65536)")
        captured = capsys.readouterr()
        assert captured.err.strip().startswith("error: no space left on the disk being written (")
        shell.run_cell("{}['missing']")
        assert "KeyError" in capsys.readouterr().out  # IPython's own traceback
    finally:
        shell.set_custom_exc((), None)
        InteractiveShell.clear_instance()


def test_tensorboard_outside_colab_prints_the_command(capsys):
    assert colab.show_tensorboard(Path("runs dir")) is False
    assert capsys.readouterr().out == "TensorBoard: tensorboard --logdir 'runs dir'\n"


def _write_run(folder, config, epochs_done, scores=None, trained=False):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(config.to_json())
    lines = ["epoch,loss"] + [f"{epoch},0.5" for epoch in range(1, epochs_done + 1)]
    (folder / "history.csv").write_text("\n".join(lines) + "\n")
    if trained:
        (folder / "trained.json").write_text(f'{{"epochs": {config.train.epochs}}}')
    if scores:
        (folder / "metrics.json").write_text(scores)
        (folder / "per_image.csv").write_text("image,group,dice\na,g,0.9\n")


def test_progress_counts_done_interrupted_and_to_do_with_the_best_score(tmp_path):
    base = preset("smoke").override(train={"epochs": 3})
    configs = experiments.grid_configs(base, [1e-3, 2e-3, 3e-3, 5e-3], [4], [3])
    runs = tmp_path / "runs"
    folders = [experiments.run_dir_for(c, runs) for c in configs]
    _write_run(folders[0], configs[0], 3, '{"dice": 0.91}', trained=True)
    _write_run(folders[1], configs[1], 2)  # killed after its second epoch
    _write_run(folders[2], configs[2], 3, '{"dice": 0.93}', trained=True)
    rows = experiments.progress(configs, runs)
    assert [(r["state"], r["epochs_done"], r["score"]) for r in rows] == [
        ("done", 3, 0.91), ("interrupted", 2, None), ("done", 3, 0.93), ("to do", 0, None)]
    table = experiments.progress_table(rows)
    assert table[0] == (f"**4 points: 2 done, 1 interrupted, 1 to do; best so far 0.9300 "
                        f"({configs[2].name})**")
    assert table[5] == f"| {configs[1].name} | interrupted | 2/3 |  |"
    assert table[6] == f"| {configs[2].name} | done | 3/3 | 0.9300 |"
    # more epochs asked for: the done points are interrupted again, nothing is scored yet
    more = [c.override(train={"epochs": 5}) for c in configs]
    assert [r["state"] for r in experiments.progress(more, runs)] == [
        "interrupted", "interrupted", "interrupted", "to do"]
    assert experiments.progress_table(experiments.progress(more, runs))[0].endswith(
        "no point scored yet**")
    # a damaged folder is named as such, not a crash
    (folders[1] / "config.json").write_text("{")
    rows = experiments.progress(configs, runs)
    assert [r["state"] for r in rows] == ["done", "damaged", "done", "to do"]
    assert experiments.progress_table(rows)[0].startswith("**4 points: 2 done, 1 to do, 1 damaged;")
