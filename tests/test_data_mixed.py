"""Data sets whose images or settings differ from one another: each image loads as if alone,
and the data checks say which split and classes training will use."""
import numpy as np
import pytest
from PIL import Image

from unet.data.pipeline import image_inputs
from unet.errors import DataError, UsageError


def _checkerboard_jpeg(path, height, width, cell):
    rows, cols = np.indices((height, width)) // cell
    pixels = np.where((rows + cols) % 2 == 0, 255, 0).astype(np.uint8)
    Image.fromarray(np.stack([pixels] * 3, -1)).save(path, quality=95)
    return path


def test_a_small_jpeg_after_a_large_one_loads_as_it_does_alone(tmp_path):
    large = _checkerboard_jpeg(tmp_path / "large.jpg", 256, 384, 32)
    small = _checkerboard_jpeg(tmp_path / "small.jpg", 32, 48, 4)
    size = (32, 48)
    alone = [inputs for inputs, _, _ in image_inputs([small], image_size=size)]
    mixed = {index: (inputs, native)
             for inputs, native, index in image_inputs([large, small], image_size=size)}
    inputs, native = mixed[1]
    assert native == (32, 48)
    np.testing.assert_array_equal(inputs, alone[0])
    assert inputs.std() > 0.3  # the checkerboard survives: not a flat grey blur
    # the large one still decodes downscaled in the DCT domain and keeps its pattern
    assert mixed[0][0].std() > 0.3


def _check(capsys, *argv):
    from unet.cli import main

    code = main(["data", "check", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _split_line(out):
    return next(line for line in out.splitlines() if line.startswith("split:"))


def test_data_check_shows_the_split_train_makes_by_default(tmp_path, capsys):
    from unet.config import preset
    from unet.data import folder, synthetic

    root = synthetic.make_folder_like(tmp_path / "set", count=12, image_size=(32, 48),
                                      progress=False)
    code, out, _ = _check(capsys, "--dataset", "folder", "--data-dir", str(root))
    assert code == 0
    config = preset("cpu")  # train's default preset
    _, val, _ = folder.split(folder.list_pairs(root), folder.find_layout(root),
                             config.data.val_fraction, config.train.seed)
    assert config.data.val_fraction != 0.2  # the old default of data check differed
    line = _split_line(out)
    assert f"{12 - len(val)} train, {len(val)} val" in line
    assert f"train --preset cpu splits: val_fraction {config.data.val_fraction}" in line
    code, out, _ = _check(capsys, "--dataset", "folder", "--data-dir", str(root),
                          "--val-fraction", "0.5")
    assert "6 train, 6 val" in _split_line(out)


@pytest.fixture(scope="module")
def ids_folder(tmp_path_factory):
    from unet.data import synthetic

    return synthetic.make_folder_like(tmp_path_factory.mktemp("ids") / "set", count=4,
                                      image_size=(32, 48), encoding="ids", progress=False)


@pytest.mark.parametrize("encoding", ["ids", "ids16"])
def test_more_classes_than_a_folder_holds_is_one_usage_error(tmp_path, encoding):
    from unet.data import folder, synthetic

    root = synthetic.make_folder_like(tmp_path / "set", count=2, image_size=(32, 48),
                                      encoding=encoding, progress=False)
    with pytest.raises(UsageError, match="--num-classes 300: .* at most 255"):
        folder.check(root, num_classes=300)
    assert folder.check(root, num_classes=255).summary["num_classes"] == 255


def test_a_void_id_among_the_class_ids_is_refused(ids_folder):
    from unet.data import folder

    with pytest.raises(UsageError, match="--ignore-index 3 is one of the class ids 0-5"):
        folder.check(ids_folder, ignore_index=3)
    with pytest.raises(UsageError, match="--ignore-index 3"):
        folder.mask_format(ids_folder, encoding="ids", ignore_index=3, num_classes=6)
    # the highest id marking void leaves the others as the classes
    assert folder.check(ids_folder, ignore_index=5).summary["num_classes"] == 5


@pytest.mark.parametrize("void", [255, 0])
def test_void_taking_a_whole_class_of_a_binary_mask_is_refused(tmp_path, void):
    from unet.data import folder, synthetic

    root = synthetic.make_folder_like(tmp_path / "set", count=2, image_size=(32, 48),
                                      encoding="binary", progress=False)
    with pytest.raises(UsageError, match=f"--ignore-index {void}: .* one class"):
        folder.check(root, ignore_index=void)


@pytest.fixture
def voc_folder(tmp_path):
    from unet.data import synthetic

    root = synthetic.make_folder_like(tmp_path / "voc", count=6, image_size=(32, 48),
                                      layout="voc", progress=False)
    return root, root / "ImageSets" / "Segmentation"


def test_voc_lists_naming_an_image_on_both_sides_are_refused(voc_folder):
    from unet.data import folder

    root, lists = voc_folder
    with (lists / "val.txt").open("a") as val:
        val.write("scene_0001\n")  # also in train.txt
    with pytest.raises(DataError, match=r"1 name\(s\) in both train.txt and val.txt "
                                        r"\(scene_0001\)"):
        folder.check(root)


def test_voc_lists_say_what_they_leave_out(voc_folder, capsys):
    from unet.data import folder

    root, lists = voc_folder
    val_names = (lists / "val.txt").read_text().split()
    (lists / "val.txt").write_text("\n".join(val_names[:-1]) + "\n")  # one pair in no list
    listed = (lists / "train.txt").read_text().split() + val_names[:-1]
    unlisted = sorted({f"scene_{i:04d}" for i in range(6)} - set(listed))
    with (lists / "train.txt").open("a") as train:
        train.write("scene_0099\n")  # no such image
    report = folder.check(root)
    err = capsys.readouterr().err
    assert "1 listed name(s) have no image/mask pair and are left out (e.g. scene_0099)" in err
    assert unlisted == [val_names[-1]]
    assert (f"{len(unlisted)} image/mask pair(s) are in neither train.txt nor val.txt "
            f"and are left out (e.g. {unlisted[0]})") in err
    train = len((lists / "train.txt").read_text().split()) - 1  # less the missing one
    val = len((lists / "val.txt").read_text().split())
    assert report.summary["split"].endswith(f": {train} train, {val} val")


def test_group_by_on_voc_lists_is_refused(voc_folder):
    from unet.data import folder

    root, _ = voc_folder
    with pytest.raises(UsageError, match="--group-by: .* decide this split"):
        folder.check(root, group_by=r"scene_(\d)")


def test_split_change_counts_added_removed_and_moved_names():
    from unet.data.pairs import split_change

    recorded = {"train": ["a", "b", "c"], "val": ["d"]}
    assert split_change(recorded, {"train": ["a", "b", "c"], "val": ["d"]}) == ""
    change = split_change(recorded, {"train": ["a", "d", "e", "f"], "val": ["b"]})
    assert change == ("2 added (e.g. e); 1 removed (e.g. c); 2 moved between train and val "
                      "(e.g. b)")


def test_resuming_on_data_that_splits_otherwise_is_refused(tmp_path):
    import json

    from unet import training
    from unet.config import preset
    from unet.data import sources, synthetic
    from unet.errors import RunConflict
    from unet.run_folder import RunFolder

    root = synthetic.make_folder_like(tmp_path / "set", count=6, image_size=(32, 48),
                                      progress=False)
    config = sources.complete(preset("smoke").for_dataset("folder").override(
        data={"data_dir": str(root), "image_size": (32, 48)}))
    train, val = sources.split(config.data, seed=config.train.seed)
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    # an interrupted run (config, no epochs) whose split was recorded before one image came
    run.config.write_text(json.dumps(config.to_dict()))
    names = {"train": sorted(p.group for p in train.items),
             "val": sorted(p.group for p in val.items)}
    added = names["train"].pop()
    run.split.write_text(json.dumps({**names, "by": train.split_by} if train.split_by
                                    else names))
    assert run.state(config) == "interrupted"
    with pytest.raises(RunConflict, match=rf"split.json records .* 1 added \(e.g. {added}\)"
                                          r".* new --run-dir"):
        training.train(config, run.path, verbose=0)
    assert not list(run.path.glob("history*")) and not (run.path / "metrics.json").exists()
