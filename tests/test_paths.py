from pathlib import Path

from unet import paths


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
    assert paths.data_root() == Path("data") and paths.repository_root() is None

