import csv
import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest

from unet import callbacks, training
from unet.config import preset
from unet.errors import RunConflict
from unet.run_folder import RunFolder, read_history

pytestmark = pytest.mark.slow


def test_a_finished_run_folder_holds_everything_and_is_not_retrained(smoke_sweep, monkeypatch,
                                                                     capsys):
    runs, rows = smoke_sweep
    run_dir = runs / "synthetic" / "smoke" / "lr1e-3_bs4_k3"
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "history.csv", "metrics.json", "per_image.csv", "best.keras",
            "last.keras", "logs"} <= names
    assert "backup" not in names  # the training state is last.keras's
    result = json.loads((run_dir / "metrics.json").read_text())
    assert {"dice", "iou", "pixel_accuracy", "train_images_per_second", "parameters"} <= set(
        result)
    assert 0.0 <= result["dice"] <= 1.0 and result["val_images"] == 16
    with (run_dir / "per_image.csv").open() as stream:
        per_image = list(csv.DictReader(stream))
    assert len(per_image) == 16
    assert np.mean([float(r["dice"]) for r in per_image]) == pytest.approx(result["dice"])
    stamp = (run_dir / "best.keras").stat().st_mtime
    # A finished run neither lists nor splits its data again.
    monkeypatch.setattr(training.sources, "split", lambda *a, **k: pytest.fail("split"))
    capsys.readouterr()
    again = training.train(preset("smoke").override(train={"learning_rate": 1e-3}), run_dir)
    assert again == result and (run_dir / "best.keras").stat().st_mtime == stamp
    assert capsys.readouterr().out == f"Skipped {run_dir}: finished (1 epochs, metrics.json).\n"


def _copy_run(smoke_sweep, tmp_path, name="lr1e-3_bs4_k3"):
    import shutil

    runs, _ = smoke_sweep
    return shutil.copytree(runs / "synthetic" / "smoke" / name, tmp_path / "run")


def test_a_folder_of_another_configuration_is_refused(smoke_sweep, tmp_path):
    run_dir = _copy_run(smoke_sweep, tmp_path)
    before = (run_dir / "metrics.json").read_text()
    other = preset("smoke").override(train={"learning_rate": 1e-3}, model={"filters": 8})
    with pytest.raises(RunConflict, match="holds a run of another configuration"):
        training.train(other, run_dir)
    assert (run_dir / "metrics.json").read_text() == before


def test_more_epochs_continue_a_finished_run_and_fewer_are_refused(smoke_sweep, tmp_path):
    """Defect: `--epochs 3` on a finished 1-epoch run returned the old result untrained."""
    run_dir = _copy_run(smoke_sweep, tmp_path)
    first_rows = read_history(run_dir / "history.csv")
    longer = preset("smoke").override(train={"learning_rate": 1e-3, "epochs": 2})
    result = training.train(longer, run_dir, verbose=0)
    rows = read_history(run_dir / "history.csv")
    assert [r["epoch"] for r in rows] == [1, 2] and rows[0] == first_rows[0]
    assert result["epochs"] == 2
    assert json.loads((run_dir / "config.json").read_text())["train"]["epochs"] == 2
    with pytest.raises(RunConflict, match="trained for 2 epochs; asked for 1"):
        training.train(preset("smoke").override(train={"learning_rate": 1e-3}), run_dir)


def test_a_trained_run_whose_scoring_was_killed_is_scored_not_retrained(smoke_sweep, tmp_path):
    """A kill during the native-size evaluation: the rerun evaluates best.keras only."""
    run_dir = _copy_run(smoke_sweep, tmp_path)
    expected = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").unlink()
    stamps = {name: (run_dir / name).stat().st_mtime_ns
              for name in ("best.keras", "last.keras", "history.csv")}
    result = training.train(preset("smoke").override(train={"learning_rate": 1e-3}), run_dir,
                            verbose=0)
    assert result["dice"] == pytest.approx(expected["dice"], abs=1e-6)
    assert result["best_epoch"] == expected["best_epoch"]
    assert {name: (run_dir / name).stat().st_mtime_ns for name in stamps} == stamps


def test_a_run_killed_after_its_last_epoch_is_scored_not_retrained(smoke_sweep, tmp_path):
    """A kill before `trained.json` was written used to retrain from epoch 1 (the state is
    made here exactly as such a kill leaves it)."""
    run_dir = _copy_run(smoke_sweep, tmp_path)
    expected = json.loads((run_dir / "metrics.json").read_text())
    for name in ("trained.json", "metrics.json", "per_image.csv"):
        (run_dir / name).unlink()
    stamps = {name: (run_dir / name).stat().st_mtime_ns
              for name in ("best.keras", "last.keras", "history.csv")}
    result = training.train(preset("smoke").override(train={"learning_rate": 1e-3}), run_dir,
                            verbose=0)
    assert {name: (run_dir / name).stat().st_mtime_ns for name in stamps} == stamps
    assert result["dice"] == pytest.approx(expected["dice"], abs=1e-6)
    assert json.loads((run_dir / "trained.json").read_text())["epochs_done"] == 1


def test_a_continued_run_goes_on_from_last_keras(smoke_sweep, tmp_path):
    """A run of 1 epoch asked for 2: the rerun trains epoch 2 only, from last.keras, instead of
    starting again."""
    run_dir = _copy_run(smoke_sweep, tmp_path)
    for name in ("trained.json", "metrics.json", "per_image.csv"):
        (run_dir / name).unlink()
    longer = preset("smoke").override(train={"learning_rate": 1e-3, "epochs": 2})
    (run_dir / "config.json").write_text(longer.to_json())
    first = read_history(run_dir / "history.csv")
    training.train(longer, run_dir, verbose=0)
    rows = read_history(run_dir / "history.csv")
    assert [r["epoch"] for r in rows] == [1, 2] and rows[0] == first[0]


def test_a_continued_run_stopped_right_after_training_is_not_read_as_finished(
        smoke_sweep, tmp_path, monkeypatch):
    """Stopped just after `trained.json` of the longer run was written: the old 1-epoch
    metrics.json must not then pass for the 2-epoch run's scores."""
    from unet import files

    run_dir = _copy_run(smoke_sweep, tmp_path)
    write_json = files.write_json

    def write_then_stop(path, values):
        write_json(path, values)
        if Path(path).name == "trained.json":
            raise KeyboardInterrupt

    monkeypatch.setattr(files, "write_json", write_then_stop)
    longer = preset("smoke").override(train={"learning_rate": 1e-3, "epochs": 2})
    with pytest.raises(KeyboardInterrupt):
        training.train(longer, run_dir, verbose=0)
    assert RunFolder(run_dir).state(longer) == "trained"


def test_a_failed_start_writes_nothing(tmp_path):
    """Defect: a missing --data-dir left a config.json that refused the corrected command."""
    config = preset("smoke").for_dataset("carvana").override(
        data={"data_dir": str(tmp_path / "missing")})
    with pytest.raises(Exception, match="missing"):
        training.train(config, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_a_run_folder_in_use_is_refused_with_its_holder_named(tmp_path):
    from unet import files

    with files.lock(tmp_path / "run", "run folder"):
        with pytest.raises(files.Locked, match=r"in use by process \d+"):
            training.train(preset("smoke"), tmp_path / "run", verbose=0)
    assert not (tmp_path / "run" / "config.json").exists()


def test_the_split_is_written_into_the_run_folder(smoke_sweep):
    runs, _ = smoke_sweep
    run_dir = runs / "synthetic" / "smoke" / "lr1e-3_bs4_k3"
    split = json.loads((run_dir / "split.json").read_text())
    assert split["train"] and split["val"] and not set(split["train"]) & set(split["val"])
    per_image = RunFolder(run_dir).read_per_image()
    assert {row["group"] for row in per_image} == set(split["val"])
    assert all(row["image"].rsplit("_", 1)[0] == row["group"] for row in per_image)


def test_an_absurd_learning_rate_stops_with_a_clear_message(tmp_path):
    config = preset("smoke").override(train={"learning_rate": 1e12, "epochs": 2})
    with pytest.raises(training.TrainingDiverged,
                       match=r"loss became NaN or infinite at epoch 1, batch \d+, with "
                             r"learning rate 1e\+12"
                             r"\. Lower the learning rate"):
        training.train(config, tmp_path / "run", verbose=0)
    saved = json.loads((tmp_path / "run" / "diverged.json").read_text())
    assert saved["epoch"] == 1
    with pytest.raises(training.TrainingDiverged):  # a rerun reports it instead of retrying
        training.train(config, tmp_path / "run", verbose=0)


def _nan_after(threshold):
    """A loss that is fine until the model's step counter passes `threshold`, then NaN."""
    def loss(y_true, y_pred):
        value = keras.ops.mean((keras.ops.cast(y_true, "float32") - y_pred) ** 2)
        return keras.ops.where(counter.value >= threshold, math.nan, value)

    counter = keras.Variable(0.0, trainable=False)
    return loss, counter


def test_the_last_good_checkpoint_survives_a_nan_in_a_later_epoch(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    loss, counter = _nan_after(threshold=5)
    model.compile(optimizer="sgd", loss=loss)

    class Count(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            counter.assign_add(1.0)

    guard = callbacks.StopOnDivergence()
    saver = callbacks.RunCheckpoints(tmp_path, monitor="loss", mode="min", guard=guard)
    x, y = np.ones((8, 4)), np.ones((8, 1))
    model.fit(x, y, batch_size=2, epochs=3, verbose=0,
              callbacks=[Count(), guard, saver, callbacks.HistoryCSV(tmp_path / "history.csv")])
    assert guard.diverged_at == (2, 1)  # 4 batches per epoch: the 5th batch is epoch 2's first
    good = keras.models.load_model(tmp_path / "last.keras", compile=False)
    assert np.isfinite(good.predict(x, verbose=0)).all()


def test_a_loss_that_explodes_without_becoming_nan_stops_as_diverged(tmp_path):
    """A learning rate of 1e6 gave losses near 1e12, Dice 0.0 and exit 0."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    counter = keras.Variable(0.0, trainable=False)

    def loss(y_true, y_pred):
        value = keras.ops.mean((keras.ops.cast(y_true, "float32") - y_pred) ** 2) + 1.0
        return value * keras.ops.where(counter.value >= 9, 1e9, 1.0)

    class Count(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            counter.assign_add(1.0)

    model.compile(optimizer="sgd", loss=loss)
    guard = callbacks.StopOnDivergence()
    x, y = np.ones((8, 4)), np.ones((8, 1))
    model.fit(x, y, batch_size=2, epochs=5, verbose=0, callbacks=[Count(), guard])
    assert guard.diverged_at == (3, 1)  # the 9th batch: epoch 3, batch 1
    assert "exploded" in guard.reason
    assert counter.value == 9  # stopped there


def test_history_keeps_each_epoch_once_when_an_epoch_is_redone(tmp_path):
    history = callbacks.HistoryCSV(tmp_path / "history.csv")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history.set_model(model)
    for epoch, loss in [(0, 3.0), (1, 2.0), (2, 1.5)]:
        history.on_epoch_begin(epoch)
        history.on_epoch_end(epoch, {"loss": loss})
    # A kill after epoch 3 was logged but before its checkpoint: the resumed run redoes it.
    history.on_epoch_begin(2)
    history.on_epoch_end(2, {"loss": 1.4})
    rows = read_history(tmp_path / "history.csv")
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[-1]["loss"] == pytest.approx(1.4)


def test_best_checkpoint_remembers_the_best_score_across_a_restart(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,val_dice\n1,0.5\n2,0.8\n")
    saver = callbacks.RunCheckpoints(tmp_path, monitor="val_dice")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    saver.set_model(model)
    saver.on_epoch_end(2, {"val_dice": 0.7})  # worse than epoch 2 before the restart
    assert (tmp_path / "last.keras").is_file() and not (tmp_path / "best.keras").exists()
    saver.on_epoch_end(3, {"val_dice": 0.9})
    assert (tmp_path / "best.keras").is_file()


def test_multiclass_carla_training_reports_per_class_scores(carla_dir, tmp_path):
    config = preset("smoke").override(
        data={"dataset": "carla", "data_dir": str(carla_dir), "image_size": (32, 64),
              "val_fraction": 0.5},
        model={"num_classes": 23}, train={"loss": "sparse_ce"})
    # Eight frames are one block of consecutive frames: split by image instead, said clearly.
    from unet.data import carla, synthetic

    train_pairs, val_pairs = carla.split_by_frames(carla.list_pairs(carla_dir), 0.5)
    assert len(train_pairs) == len(val_pairs) == 4

    root = synthetic.make_carla_like(tmp_path / "carla", count=40, image_size=(48, 64),
                                     progress=False)
    result = training.train(config.override(data={"data_dir": str(root)}), tmp_path / "run",
                            verbose=0)
    assert {"mean_dice", "mean_iou", "pixel_accuracy", "per_class"} <= set(result)
    assert "road" in result["per_class"] and 0 <= result["per_class"]["road"]["iou"] <= 1
    assert result["val_images"] == 20


def test_dataset_and_model_class_counts_must_agree(tmp_path):
    config = preset("smoke").override(model={"num_classes": 3})
    with pytest.raises(ValueError, match="has 1 class\\(es\\) but the model has num_classes=3"):
        training.train(config, tmp_path, verbose=0)


def test_mixed_precision_falls_back_to_float32_without_an_accelerator(capsys):
    assert training.precision_policy(False) == "float32"
    assert training.precision_policy(True) == "float32"
    assert "no GPU or TPU" in capsys.readouterr().out


def test_xla_compiled_training_runs_and_scores(tmp_path):
    config = preset("smoke").override(train={"jit_compile": True})
    result = training.train(config, tmp_path / "run", verbose=0)
    assert 0.0 <= result["dice"] <= 1.0 and result["epochs"] == 1
