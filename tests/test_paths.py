import os
from pathlib import Path

from unet import colab, paths


def test_an_explicit_path_then_the_variable_then_the_checkout_root(tmp_path, monkeypatch):
    checkout = tmp_path / "checkout"
    (checkout / "unet").mkdir(parents=True)
    (checkout / "unet" / "__init__.py").touch()
    (checkout / "notebooks").mkdir()
    monkeypatch.chdir(checkout / "notebooks")
    for variable in (paths.RUNS_ENV, paths.REPORT_ENV, paths.DATA_ENV):
        monkeypatch.delenv(variable, raising=False)
    assert paths.runs_dir() == checkout / "runs"
    assert paths.report_dir() == checkout / "memory"
    assert paths.data_root() == checkout / "data"
    assert paths.runs_dir("elsewhere") == Path("elsewhere")
    monkeypatch.setenv(paths.REPORT_ENV, str(tmp_path / "drive"))
    assert paths.report_dir() == tmp_path / "drive"
    monkeypatch.chdir(checkout)  # in the root: relative names, as printed to the user
    assert paths.runs_dir() == Path("runs")
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    assert paths.data_root() == Path("data") and paths.repository_root() == outside


def test_keep_on_drive_puts_the_runs_and_the_report_on_drive(tmp_path, monkeypatch, capsys):
    """Both, so that a Colab disconnect loses no checkpoint."""
    (tmp_path / "MyDrive").mkdir()  # stands for the mounted Drive
    for variable in (paths.RUNS_ENV, paths.REPORT_ENV):
        monkeypatch.setenv(variable, str(tmp_path / "local"))  # restored after the test
    where = colab.keep_on_drive("unet", drive=tmp_path)
    assert where == {"runs": tmp_path / "MyDrive" / "unet" / "runs",
                     "report": tmp_path / "MyDrive" / "unet" / "memory"}
    assert paths.runs_dir() == where["runs"] and paths.report_dir() == where["report"]
    assert where["runs"].is_dir() and where["report"].is_dir()
    assert str(where["runs"]) in capsys.readouterr().out
    assert os.environ[paths.RUNS_ENV] == str(where["runs"])
