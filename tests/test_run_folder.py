import json
import types
from pathlib import Path

import pytest

from unet import experiments, run_folder
from unet.config import RunConfig, preset
from unet.errors import RunConflict
from unet.run_folder import RunFolder, primary_score


def _folder(tmp_path, config=None, **files) -> RunFolder:
    """A run folder holding `config`'s config.json and the given files' contents."""
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    if config is not None:
        folder.config.write_text(config.to_json())
    for name, contents in files.items():
        path = getattr(folder, name)
        path.write_text(contents if isinstance(contents, str) else json.dumps(contents))
    return folder


def test_the_run_folder_names_its_files(tmp_path):
    folder = RunFolder(tmp_path)
    assert RunFolder.best == "best.keras" and folder.best == tmp_path / "best.keras"
    names = {name: getattr(RunFolder, name) for name in (
        "config", "split", "history", "best", "last", "trained", "metrics", "per_image",
        "diverged", "backup", "logs")}
    assert names == {"config": "config.json", "split": "split.json", "history": "history.csv",
                     "best": "best.keras", "last": "last.keras", "trained": "trained.json",
                     "metrics": "metrics.json", "per_image": "per_image.csv",
                     "diverged": "diverged.json", "backup": "backup", "logs": "logs"}
    assert RunFolder(str(tmp_path)) == folder and Path(folder) == tmp_path
    assert RunFolder.of_model(tmp_path / "best.keras") == folder


def test_state_follows_the_files_a_run_leaves(tmp_path):
    config = preset("smoke")
    folder = RunFolder(tmp_path / "run")
    assert folder.state(config) == "new"
    folder = _folder(tmp_path, config)
    assert folder.state() == folder.state(config) == "interrupted"
    folder.trained.write_text(json.dumps({"epochs": 1}))
    assert folder.state() == "trained"
    folder.metrics.write_text(json.dumps({"dice": 0.5}))
    folder.per_image.write_text("image,dice\na_01.jpg,0.5\n")  # scored before groups
    assert folder.state() == "trained"  # so it is scored again, not trained again
    folder.per_image.write_text("image,group,dice\na_01.jpg,a,0.5\n")
    assert folder.state() == "finished"
    longer = config.override(train={"epochs": 3})
    assert folder.state(longer) == "interrupted"  # more epochs continue it
    folder.diverged.write_text(json.dumps({"message": "diverged"}))
    assert folder.state() == "diverged"


def test_state_refuses_another_configuration_or_fewer_epochs(tmp_path):
    config = preset("smoke").override(train={"epochs": 2})
    folder = _folder(tmp_path, config, trained={"epochs": 2})
    with pytest.raises(RunConflict, match="holds a run of another configuration"):
        folder.state(config.override(model={"filters": 8}))
    with pytest.raises(RunConflict, match="trained for 2 epochs; asked for 1"):
        folder.state(config.override(train={"epochs": 1}))
    assert folder.state(config.override(data={"data_dir": None})) == "trained"


def test_a_summary_row_holds_scores_only_once_finished(tmp_path):
    config = preset("smoke").for_dataset("tfds:carvana")
    history = "epoch,seconds,val_dice\n1,2.0,0.5\n2,1.5,0.7\n"
    folder = _folder(tmp_path, config, history=history, metrics={"dice": 0.9},
                     per_image="image,group,dice\na_01.jpg,a,0.9\n")
    row = folder.summary_row(tmp_path)
    assert row["status"] == "interrupted" and "dice" not in row
    assert row["dataset"] == "tfds-carvana" and row["folder"] == "run"
    assert (row["epochs_done"], row["epochs_planned"]) == (2, config.train.epochs)
    folder.trained.write_text(json.dumps({"epochs": config.train.epochs}))
    row = folder.summary_row()
    assert row["status"] == "finished" and row["dice"] == 0.9


def test_the_primary_score_is_dice_for_a_car_mask_and_mean_dice_for_classes():
    assert primary_score({"dice": 0.9, "iou": 0.8}) == "dice"
    assert primary_score({"mean_dice": 0.4, "per_class": {"road": {"dice": 0.9}}}) == \
        "mean_dice"
    assert primary_score({"status": "interrupted"}, {"dice": 0.9}) == "dice"
    rows = [{"folder": "a", "mean_dice": 0.2}, {"folder": "b"}, {"folder": "c", "mean_dice": 0.6}]
    assert [r["folder"] for r in experiments.sort_rows(rows)] == ["c", "a", "b"]


def test_per_image_rows_come_worst_first_with_their_group(tmp_path):
    folder = _folder(tmp_path, per_image="image,group,dice\ncar1_01,car1,0.9\ncar2_03,car2,0.4\n")
    rows = folder.read_per_image()
    assert rows == [{"image": "car2_03", "group": "car2", "dice": 0.4},
                    {"image": "car1_01", "group": "car1", "dice": 0.9}]


def test_history_rows_are_numbers_and_absent_history_is_empty(tmp_path):
    folder = _folder(tmp_path, history="epoch,loss,val_dice\n1,0.5,\n2,0.25,0.75\n")
    assert folder.read_history() == [{"epoch": 1, "loss": 0.5},
                                     {"epoch": 2, "loss": 0.25, "val_dice": 0.75}]
    assert run_folder.read_history(tmp_path / "absent.csv") == []


def _model(height, width, classes):
    """What `config_for_model` reads of a Keras model."""
    return types.SimpleNamespace(input_shape=(None, height, width, 3),
                                 output_shape=(None, height, width, classes))


def test_a_model_is_scored_with_the_config_beside_it(tmp_path):
    config = preset("smoke").override(data={"resize_mode": "pad"})
    folder = _folder(tmp_path, config, metrics={"dice": 0.5})
    model_path = folder.best
    found = run_folder.config_for_model(model_path, _model(None, None, 1), preset_name="cpu")
    assert found == config
    assert RunFolder.of_model(model_path).scores() == {"dice": 0.5}
    moved = run_folder.config_for_model(model_path, _model(None, None, 1), preset_name="cpu",
                                        dataset="tfds:carvana", data_dir="somewhere",
                                        image_size=[64, 96])
    assert (moved.data.dataset, moved.data.tfds, moved.data.data_dir, moved.data.image_size) \
        == ("carvana", "carvana", "somewhere", (64, 96))


def test_a_bare_model_is_scored_from_what_it_says(tmp_path):
    alone = tmp_path / "alone.keras"
    assert RunFolder.of_model(alone).scores() == {}
    binary = run_folder.config_for_model(alone, _model(64, 96, 1), preset_name="cpu")
    assert binary.data.dataset == "synthetic" and binary.data.crop_size is None
    assert binary.data.image_size == (64, 96) and binary.model.num_classes == 1
    assert binary.train == preset("cpu").train
    classes = run_folder.config_for_model(alone, _model(None, None, 23), preset_name="smoke")
    assert classes.data.dataset == "carla" and classes.model.num_classes == 23
    assert classes.data.image_size == preset("smoke").for_dataset("carla").data.image_size
    two = run_folder.config_for_model(alone, _model(32, 48, 2), preset_name="smoke",
                                      dataset="carvana")
    assert two.data.dataset == "carvana" and two.model.num_classes == 2
    assert isinstance(two, RunConfig)
