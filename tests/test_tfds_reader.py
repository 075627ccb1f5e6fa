from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow_datasets")

from unet.config import TFDS_VAL_FRACTION  # noqa: E402
from unet.data import tfds_reader  # noqa: E402
from unet.model import build_unet  # noqa: E402

pytestmark = pytest.mark.slow


def test_names_are_checked():
    assert tfds_reader.parse("tfds:carvana/128x192") == "carvana/128x192"
    with pytest.raises(ValueError, match="TFDS datasets here are"):
        tfds_reader.parse("tfds:mnist")
    with pytest.raises(ValueError, match="tfds:<builder>"):
        tfds_reader.parse("carvana")


def test_folders_and_tfds_select_head_and_join_named_examples_in_their_order():
    import tensorflow as tf

    from unet.data import sources
    from unet.data.pairs import Pair

    pairs = [Pair(Path(f"{name}.jpg")) for name in ("a", "b", "c")]
    folder = sources.FolderSource(pairs)
    assert folder.select(["c.jpg", "a.jpg"]).items == [pairs[0], pairs[2]]
    assert folder.head(2).items == pairs[:2] and len(folder.head(5)) == 3
    assert folder.head(1).concatenate(folder.select(["c.jpg"])).names == ["a.jpg", "c.jpg"]
    names = [b"a.jpg", b"b.jpg", b"c.jpg"]
    split = tfds_reader.TfdsSource(tf.data.Dataset.from_tensor_slices({"file_name": names}),
                                   [tfds_reader.Item(name.decode(), "car") for name in names])

    def stored(source):
        return [example["file_name"] for example in source.encoded.as_numpy_iterator()]

    chosen = split.select(["c.jpg", "a.jpg"])
    assert chosen.names == ["a.jpg", "c.jpg"] and stored(chosen) == [b"a.jpg", b"c.jpg"]
    assert split.head(2).names == ["a.jpg", "b.jpg"] and stored(split.head(2)) == names[:2]
    joined = split.head(1).concatenate(chosen)
    assert joined.names == ["a.jpg", "a.jpg", "c.jpg"] and stored(joined) == [
        b"a.jpg", b"a.jpg", b"c.jpg"]


def test_training_records_stored_car_by_car_are_shuffled_across_the_whole_split():
    import tensorflow as tf

    records = tf.data.Dataset.range(3000)  # in stored order: car by car
    shuffled = tfds_reader.shuffle(records, 3000, seed=0)
    epochs = [list(shuffled.as_numpy_iterator()) for _ in range(2)]
    for order in epochs:
        assert sorted(order) == list(range(3000))  # each record once an epoch
        assert max(order[:16]) > 1100  # the first batch reaches past the first 1,024 records
    assert epochs[0] != epochs[1]  # a new order every epoch


def test_the_prepare_hint_is_a_valid_command_for_any_folder(tmp_path):
    import ast
    import shlex

    from unet.errors import DataError

    folder = tmp_path / "it's \"here\""
    with pytest.raises(DataError, match="not prepared") as raised:
        tfds_reader.split("tfds:carvana/128x192", folder)
    command = shlex.split(str(raised.value).split("prepare it once: ")[1])
    assert command[:2] == ["python", "-c"]
    call = ast.parse(command[2]).body[1].value  # tfds_reader.load(...), as Python reads it
    assert [ast.literal_eval(argument) for argument in call.args] == [
        "tfds:carvana/128x192", "train"]
    keywords = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
    assert keywords["data_dir"] == str(folder)


def test_carvana_from_tfds_is_split_by_car_and_trains(carvana_dir, tmp_path):
    data_dir = tmp_path / "tfds"
    train = tfds_reader.load("tfds:carvana/native", "train", data_dir=data_dir,
                             manual_dir=carvana_dir)
    validation = tfds_reader.load("tfds:carvana/native", "validation", data_dir=data_dir)
    train_cars, val_cars = tfds_reader.groups(train), tfds_reader.groups(validation)
    assert train_cars and val_cars and not train_cars & val_cars
    assert len(train_cars | val_cars) == 3
    # Prepared once: a second load reads data_dir only (no manual folder needed).
    assert tfds_reader.groups(tfds_reader.load("tfds:carvana/native", "validation",
                                               data_dir=data_dir)) == val_cars
    train, validation = tfds_reader.split("tfds:carvana/native", data_dir)
    assert {item.group for item in validation.items} == val_cars
    batches = train.make_dataset(image_size=(32, 48), batch_size=8, training=True)
    images, masks = next(iter(batches))
    assert images.shape == (8, 32, 48, 3) and masks.shape == (8, 32, 48, 1)
    assert 0.0 <= float(np.min(images)) and float(np.max(images)) <= 1.0
    assert set(np.unique(masks)) <= {0, 1}
    model = build_unet(input_shape=(32, 48, 3), filters=4, depth=2)
    model.compile("adam", "binary_crossentropy")
    history = model.fit(batches, epochs=1, verbose=0, validation_data=validation.make_dataset(
        image_size=(32, 48), batch_size=8))
    assert np.isfinite(history.history["val_loss"][0])


def test_train_and_evaluate_read_a_prepared_tfds_dataset(carvana_dir, tmp_path, capsys):
    """`--dataset tfds:carvana --data-dir <TFDS folder>`: trained on the prepared split (by
    car, as the folders are split), scored at native size like the folders, named as such."""
    import json

    from unet import cli, evaluation
    from unet.data import carvana, sources, tfds_builders
    from unet.run_folder import RunFolder

    data_dir = tmp_path / "tfds"
    runs = tmp_path / "runs"
    args = ["train", "--preset", "smoke", "--dataset", "tfds:carvana", "--data-dir",
            str(data_dir), "--runs-dir", str(runs), "--verbose", "0"]
    # Not prepared yet: one line saying how, and nothing written.
    assert cli.main(args) == 1
    assert "error: tfds:carvana is not prepared in" in capsys.readouterr().err
    assert not runs.exists()
    tfds_reader.load("tfds:carvana", "train", data_dir=data_dir, manual_dir=carvana_dir)
    assert cli.main(args) == 0
    run_dir = runs / "tfds-carvana" / "smoke" / "lr1e-3_bs4_k3"
    config = RunFolder(run_dir).read_config()
    assert config.data.source == "tfds:carvana" and config.data.dataset == "carvana"
    assert config.data.val_fraction == TFDS_VAL_FRACTION
    train, val = carvana.split_by_car(carvana.list_pairs(carvana_dir), TFDS_VAL_FRACTION,
                                      tfds_builders.SPLIT_SEED)
    assert json.loads((run_dir / "split.json").read_text()) == {
        "train": sorted({p.group for p in train}), "val": sorted({p.group for p in val})}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0.0 <= metrics["dice"] <= 1.0 and "dice_flip_tta" in metrics
    assert metrics["train_images"] == len(train) and metrics["images"] == len(val)
    with (run_dir / "per_image.csv").open() as stream:
        assert sorted(line.split(",")[0] for line in stream.readlines()[1:]) == sorted(
            p.name for p in val)
    # `evaluate` scores the same split at native size; the Kaggle folders' copy of those
    # images (TFDS re-encodes the JPEGs) scores within a hair of it.
    capsys.readouterr()
    assert cli.main(["evaluate", "--model", str(run_dir / "best.keras")]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{"):])
    assert summary["dice"] == pytest.approx(metrics["dice"]) and summary["images"] == len(val)
    from unet import checkpoints

    folders, _ = evaluation.evaluate(
        checkpoints.load_model(run_dir / "best.keras", compile=False),
        sources.FolderSource(val), dataset="carvana",
        image_size=config.data.image_size, num_classes=1, progress=False)
    assert folders["dice"] == pytest.approx(metrics["dice"], abs=0.02)
    # The report draws its overlays from the TFDS examples too.
    from unet import report

    text = report.write_report(runs, tmp_path / "memory", command="pytest").read_text()
    assert (tmp_path / "memory" / "tfds-carvana_overlays_best_worst.png").is_file()
    assert "## Dataset `tfds-carvana`" in text
    assert "- Data: `tfds:carvana` (a prepared TFDS dataset), validation split by car (20%, " \
           "made when prepared)" in text


def test_tfds_names_in_the_configuration():
    from unet.config import dataset_fields, preset

    config = preset("smoke").for_dataset("tfds:carla/96x128")
    assert (config.data.dataset, config.data.tfds, config.data.source) == (
        "carla", "carla/96x128", "tfds:carla/96x128")
    assert config.model.num_classes == 23 and str(config.folder).startswith("tfds-carla/smoke/")
    assert preset("smoke").for_dataset("carvana").data.tfds is None
    with pytest.raises(ValueError, match="split once, when prepared"):
        config.override(data={"val_fraction": 0.3})
    with pytest.raises(ValueError, match="TFDS datasets here are"):
        dataset_fields("tfds:mnist")
    # Folder runs keep the names they had before TFDS could be read (hashes included).
    assert str(preset("smoke").override(model={"filters": 8}).folder) == (
        "synthetic/smoke/lr1e-3_bs4_k3-cade1d")
    assert str(preset("smoke").for_dataset("carla").override(model={"filters": 8}).folder) == (
        "carla/smoke/lr1e-3_bs4_k3-3b4e54")


def test_carla_trains_from_tfds_split_by_frame_blocks_and_is_scored_per_class(tmp_path):
    import json

    from unet import cli
    from unet.data import carla, synthetic, tfds_builders

    root = tmp_path / "carla"
    synthetic.make_carla_like(root, count=3 * carla.FRAMES_PER_GROUP, image_size=(48, 64),
                              seed=4, progress=False)
    data_dir = tmp_path / "tfds"
    tfds_reader.load("tfds:carla", "train", data_dir=data_dir, manual_dir=root)
    runs = tmp_path / "runs"
    assert cli.main(["train", "--preset", "smoke", "--dataset", "tfds:carla", "--data-dir",
                     str(data_dir), "--runs-dir", str(runs), "--image-size", "32", "48",
                     "--verbose", "0"]) == 0
    (run_dir,) = (path.parent for path in (runs / "tfds-carla").rglob("config.json"))
    train, val = carla.split_by_frames(carla.list_pairs(root), TFDS_VAL_FRACTION,
                                       tfds_builders.SPLIT_SEED)
    assert json.loads((run_dir / "split.json").read_text()) == {
        "train": sorted({p.group for p in train}), "val": sorted({p.group for p in val})}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0.0 <= metrics["mean_dice"] <= 1.0 and metrics["per_class"]
    assert metrics["images"] == len(val) == carla.FRAMES_PER_GROUP
