"""The report names each run by the folder it lies in, not the one its configuration implies."""
import csv
import json

from unet import report
from unet.config import preset
from unet.run_folder import RunFolder


def _finished_run(path, config, dice: float) -> RunFolder:
    """A finished run folder of `config` scored `dice`, made without training."""
    folder = RunFolder(path)
    folder.path.mkdir(parents=True)
    folder.config.write_text(config.to_json())
    folder.history.write_text(f"epoch,seconds,dice,val_dice\n1,1.0,0.5,{dice}\n")
    folder.trained.write_text(json.dumps({"epochs": config.train.epochs}))
    folder.metrics.write_text(json.dumps({"dice": dice}))
    folder.per_image.write_text(f"image,group,dice\na_01.jpg,a,{dice}\n")
    return folder


def test_runs_of_one_configuration_in_two_run_dirs_are_reported_apart(tmp_path):
    runs = tmp_path / "runs"
    config = preset("smoke").override(train={"epochs": 1})
    worse = _finished_run(runs / "mine" / "first", config, 0.6)
    better = _finished_run(runs / "mine" / "second", config, 0.8)
    outside = _finished_run(tmp_path / "elsewhere", config, 0.7)
    readme = report.write_report(runs, tmp_path / "report", "test", overlays=False,
                                 run_dirs=[worse.path, better.path, outside.path])
    with open(tmp_path / "report" / "sweep.csv") as f:
        folders = [(row["folder"], float(row["dice"])) for row in csv.DictReader(f)]
    assert folders == [("mine/second", 0.8), (str(outside.path), 0.7), ("mine/first", 0.6)]
    text = readme.read_text()
    assert "Best: `mine/second` with validation dice 0.8000" in text
    assert str(config.folder) not in text
    assert worse.summary_row(runs)["folder"] == "mine/first"
