"""Folder datasets (`--dataset folder`): layouts, mask encodings, void, classes, split, bad
input, and training each generated kind for a step through the command line."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from unet.config import VOID_LABEL
from unet.data import DataError, folder, synthetic
from unet.errors import UsageError

SIZE = (32, 48)


def make(tmp_path, name="data", **options):
    options = {"count": 6, "image_size": SIZE, "progress": False, **options}
    return synthetic.make_folder_like(tmp_path / name, **options)


@pytest.mark.parametrize("encoding, expected, classes", [
    ("binary", "binary", 1), ("ids", "ids", None), ("ids16", "ids", None),
    ("palette", "palette", None), ("rgb", "rgb", 6)])
def test_each_encoding_is_found_and_decodes_to_the_same_class_ids(tmp_path, encoding, expected,
                                                                   classes):
    root = make(tmp_path, encoding=encoding)
    found = folder.scan(root)
    assert found.format.encoding == expected
    reference = make(tmp_path, "reference", encoding="ids")
    truth = np.array(Image.open(reference / "masks" / "scene_0001.png"))
    decoded = folder.decode_mask(root / "masks" / "scene_0001.png", found.format)
    if encoding == "binary":
        np.testing.assert_array_equal(decoded, (truth == 3).astype(np.uint8))  # the vehicles
    else:
        np.testing.assert_array_equal(decoded, truth)
        # ids: the highest id present + 1; rgb: the label map's six classes
        highest = max(int(np.array(Image.open(p)).max())
                      for p in (reference / "masks").iterdir())
        assert found.format.num_classes == (classes or highest + 1)
    if encoding == "ids16":
        assert found.format.bits == 16
    if encoding == "rgb":
        assert found.format.names == tuple(name for name, _ in synthetic.FOLDER_CLASSES)


def test_binary_0_255_is_foreground_not_void_and_0_1_reads_the_same(tmp_path):
    root = make(tmp_path, encoding="binary")
    fmt = folder.scan(root).format
    mask = root / "masks" / "scene_0002.png"
    decoded = folder.decode_mask(mask, fmt)
    assert set(np.unique(decoded)) == {0, 1} and VOID_LABEL not in decoded
    Image.fromarray((np.array(Image.open(mask)) > 0).astype(np.uint8)).save(mask)  # now 0/1
    assert folder.scan(root).format.encoding == "binary"
    np.testing.assert_array_equal(folder.decode_mask(mask, fmt), decoded)


def test_voc_layout_uses_its_lists_its_void_and_its_label_map_names(tmp_path):
    root = make(tmp_path, layout="voc", void_band=1, mixed_sizes=True)
    report = folder.check(root)
    summary = report.summary
    assert report.ok, report.problems
    assert summary["layout"].startswith("voc") and summary["encoding"] == "palette"
    assert summary["void"] == "label 255" and summary["num_classes"] == 6
    assert "1 road:" in summary["classes (pixel share)"]
    assert "void:" in summary["classes (pixel share)"]
    assert summary["image_sizes"] == {"48x32": 3, "60x40": 3}
    assert summary["split"].startswith("VOC's lists") and "4 train, 2 val" in summary["split"]
    decoded = folder.decode_mask(root / "SegmentationClass" / "scene_0000.png",
                                 folder.scan(root).format)
    assert (decoded == VOID_LABEL).any() and decoded[decoded != VOID_LABEL].max() < 6


def test_classes_csv_names_classes_and_a_header_line_is_skipped(tmp_path):
    root = make(tmp_path, encoding="rgb")
    lines = ["name,r,g,b"] + [f"{n},{r},{g},{b}" for n, (r, g, b) in synthetic.FOLDER_CLASSES]
    (root / "labelmap.txt").unlink()
    (root / "classes.csv").write_text("\n".join(lines) + "\n")
    fmt = folder.scan(root).format
    assert fmt.encoding == "rgb" and fmt.names[3] == "vehicle" and fmt.num_classes == 6


def test_group_by_keeps_each_group_on_one_side(tmp_path):
    root = make(tmp_path, count=8, groups=4, encoding="ids")
    pairs = folder.list_pairs(root, group_by=r"^(g\d+)_")
    assert {p.group for p in pairs} == {"g0", "g1", "g2", "g3"}
    train, val, how = folder.split(pairs, folder.find_layout(root), 0.25, seed=1)
    assert how.startswith("by group") and len(val) == 2
    assert not {p.group for p in train} & {p.group for p in val}


def test_a_dataset_too_small_for_a_split_by_group_splits_by_image_and_says_so(tmp_path, capsys):
    root = make(tmp_path, count=3, groups=1, encoding="ids")
    pairs = folder.list_pairs(root, group_by=r"^(g\d+)_")
    train, val, _ = folder.split(pairs, folder.find_layout(root), 0.2)
    assert (len(train), len(val)) == (2, 1)
    assert "one group (g0), too few for a split by group: split by image" in capsys.readouterr().err
    one = make(tmp_path, "one", count=1, encoding="ids")
    train, val, _ = folder.split(folder.list_pairs(one), folder.find_layout(one), 0.2)
    assert train == val and len(train) == 1
    assert "validating on the training image" in capsys.readouterr().err


@pytest.mark.parametrize("breakage, message", [
    (lambda d: Image.new("L", (10, 10)).save(d / "masks" / "scene_0001.png"),
     r"scene_0001.png: mask is 10x10 but its image is 48x32"),
    (lambda d: [(d / "masks" / f"scene_000{i}.png").unlink() for i in (1, 2)],
     r"2 image\(s\) without a mask in .*masks: scene_0001.jpg, scene_0002.jpg"),
    (lambda d: shutil.copy(d / "masks" / "scene_0001.png", d / "masks" / "extra.png"),
     r"1 mask\(s\) without an image in .*images: extra.png"),
    (lambda d: (d / "images" / "scene_0003.jpg").write_bytes(b"not an image"),
     r"scene_0003.jpg: not a readable image"),
    (lambda d: Image.fromarray(np.full((*SIZE, 3), (128, 64, 128), np.uint8)).save(
        d / "masks" / "scene_0004.png"),
     r"mixed encodings in one folder"),
    (lambda d: [shutil.rmtree(d / "images"), (d / "images").mkdir()],
     r"images: empty folder"),
    (lambda d: Image.open(d / "images" / "scene_0001.jpg").save(d / "images" / "scene_0001.PNG"),
     r"scene_0001.jpg: same stem as scene_0001.PNG; keep one"),
])
def test_bad_input_is_named(tmp_path, breakage, message):
    root = make(tmp_path, encoding="ids")
    breakage(root)
    with pytest.raises(DataError, match=message):
        folder.scan(root)


def test_a_photo_stored_sideways_with_an_exif_turn_is_named_as_such(tmp_path):
    """A phone photo stored sideways, with EXIF saying to turn it: its mask drawn on the upright
    view is of the other size, and the error says why."""
    root = make(tmp_path, encoding="ids")
    path = root / "images" / "scene_0002.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # turn 90 degrees clockwise for display
    Image.open(path).transpose(Image.Transpose.ROTATE_90).save(path, exif=exif)
    with pytest.raises(DataError, match=r"scene_0002.png: mask is 48x32 but its image is 32x48 "
                                        r"\(its EXIF orientation 6 shows it turned"):
        folder.scan(root)


def test_colour_missing_from_the_label_map_and_ids_over_num_classes_are_named(tmp_path):
    root = make(tmp_path, encoding="rgb")
    mask = root / "masks" / "scene_0002.png"
    pixels = np.array(Image.open(mask))
    pixels[0, 0] = (1, 2, 3)
    Image.fromarray(pixels).save(mask)
    with pytest.raises(DataError, match=r"scene_0002.png: colour \(1, 2, 3\) .* not in the label"):
        folder.scan(root)
    ids = make(tmp_path, "ids", encoding="ids")
    with pytest.raises(DataError, match=r"scene_0000.png: class id 5 is out of range for 3 "):
        folder.scan(ids, num_classes=3)


def test_group_by_without_a_group_or_matching_nothing_is_refused(tmp_path):
    root = make(tmp_path, encoding="ids")
    with pytest.raises(DataError, match="has no group"):
        folder.list_pairs(root, group_by=r"scene_\d+")
    with pytest.raises(DataError, match=r"matches no image name .*scene_0000.jpg"):
        folder.list_pairs(root, group_by=r"^(patient\d+)_")


def test_a_void_pixel_changes_neither_the_loss_nor_any_metric(rng):
    """Predictions changed only where the truth is void leave every value as it was; the same
    change without `ignore_index` moves them (the test can fail)."""
    from unet import evaluation, losses, metrics

    labels = rng.integers(0, 3, (2, 16, 16)).astype(np.int32)
    labels[:, 6:9, :] = VOID_LABEL
    void = labels == VOID_LABEL
    logits = rng.normal(size=(2, 16, 16, 3)).astype(np.float32)
    changed = logits.copy()
    changed[void] = rng.normal(size=(int(void.sum()), 3)) * 5
    all_labels = labels

    def values(y_pred, ignore):
        # Without `ignore_index` void pixels are read as class 0, to show that they would count.
        labels = all_labels if ignore is not None else np.where(void, 0, all_labels)
        binary_labels = np.where(labels == VOID_LABEL, VOID_LABEL, labels > 0).astype(np.int32)
        one_logit = y_pred[..., :1]
        scores = {
            "sparse_ce": losses.sparse_categorical_crossentropy(labels, y_pred,
                                                                ignore_index=ignore),
            "weighted_ce": losses.sparse_categorical_crossentropy(
                labels, y_pred, class_weights=[1, 2, 3], ignore_index=ignore),
            "dice_loss": losses.soft_dice_loss(labels, y_pred, num_classes=3,
                                               ignore_index=ignore),
            "bce_dice": losses.bce_dice_loss(binary_labels, one_logit, ignore_index=ignore),
        }
        for metric in metrics.training_metrics(3, ignore_index=ignore) + metrics.training_metrics(
                1, ignore_index=ignore):
            truth, prediction = ((labels, y_pred) if metric.num_classes == 3
                                 else (binary_labels, one_logit))
            metric.update_state(truth, prediction)
            scores[f"{metric.name}{metric.num_classes}"] = metric.result()
        predicted = np.argmax(y_pred, -1).astype(np.uint8)
        for image in range(2):
            scores[f"boundary_f{image}"] = metrics.boundary_f_score(
                labels[image], predicted[image], num_classes=3, ignore_index=ignore)
            counts = metrics.confusion_counts(labels[image:image + 1], predicted[image:image + 1]
                                              .astype(np.int32), 3, ignore)
            tp, fp, fn = (np.asarray(c)[0] for c in counts)
            row = evaluation._image_row("x", tp, fp, fn, labels[image], predicted[image], 3,
                                        ignore)
            scores.update({f"{key}{image}": value for key, value in row.items()
                           if key != "image"})
        return {key: np.asarray(value) for key, value in scores.items()}

    before, after = values(logits, VOID_LABEL), values(changed, VOID_LABEL)
    for key in before:
        np.testing.assert_allclose(after[key], before[key], rtol=1e-6, err_msg=key)
    unguarded_before, unguarded_after = values(logits, None), values(changed, None)
    moved = [key for key in ("sparse_ce", "dice_loss", "pixel_accuracy3", "mean_dice0")
             if not np.allclose(unguarded_before[key], unguarded_after[key])]
    assert len(moved) == 4, moved


def test_a_void_colour_inside_the_label_map_is_no_class_and_never_scored(tmp_path):
    """`--ignore-index 1` on colour masks names the label map's second line: its pixels are void,
    it is not among the classes, and the classes after it move up one id (and are written back
    in their own colours)."""
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "labelmap.txt").write_text("background:0,0,0::\nvoid:224,224,192::\n"
                                       "car:200,0,0::\nroad:0,0,200::\n")
    colours = np.array([(0, 0, 0), (224, 224, 192), (200, 0, 0), (0, 0, 200)], np.uint8)
    lines = np.array([[0, 1, 2, 3], [3, 2, 1, 0], [2, 2, 3, 3]])
    for name in ("a", "b"):
        Image.new("RGB", (4, 3), (90, 90, 90)).save(root / "images" / f"{name}.png")
        Image.fromarray(colours[lines]).save(root / "masks" / f"{name}.png")
    fmt = folder.scan(root, ignore_index=1).format
    assert fmt.names == ("background", "car", "road") and fmt.num_classes == 3
    decoded = folder.decode_mask(root / "masks" / "a.png", fmt)
    np.testing.assert_array_equal(decoded, [[0, VOID_LABEL, 1, 2], [2, 1, VOID_LABEL, 0],
                                            [1, 1, 2, 2]])
    folder.write_mask(tmp_path / "out.png", np.array([[0, 1, 2]]), fmt)
    np.testing.assert_array_equal(np.array(Image.open(tmp_path / "out.png")),
                                  [[(0, 0, 0), (200, 0, 0), (0, 0, 200)]])
    with pytest.raises(UsageError, match="line of the void colour .* \\(0-3\\)"):
        folder.scan(root, ignore_index=4)
    # Without --ignore-index the line named void is a class: `data check` says which to give.
    summary = folder.check(root).summary
    assert summary["void"] == (f"none: line 1 of {root / 'labelmap.txt'} ('void') is trained "
                               "as a class; give --ignore-index 1 to leave its pixels out "
                               "instead")
    assert folder.check(root, ignore_index=1).summary["void"] == "label 1"


def test_predicted_masks_come_out_in_the_data_encoding(tmp_path):
    labels = np.array([[0, 1, 2], [5, 4, 3]], np.uint8)
    for encoding in ("palette", "rgb", "ids16"):
        root = make(tmp_path, encoding, encoding=encoding, count=2)
        fmt = folder.scan(root).format
        out = tmp_path / f"{encoding}.png"
        folder.write_mask(out, labels, fmt)
        mode = Image.open(out).mode
        assert mode == {"palette": "P", "rgb": "RGB", "ids16": "I;16"}[encoding]
        np.testing.assert_array_equal(folder.decode_mask(out, fmt), labels)


@pytest.mark.slow
@pytest.mark.parametrize("options, extra, classes, predicted_mode", [
    ({"encoding": "binary", "mixed_sizes": True}, [], 1, "L"),
    ({"encoding": "ids16", "groups": 3}, ["--group-by", r"^(g\d+)_"], 6, None),
    # the label map's void colour is its seventh line, ignored: six classes
    ({"encoding": "rgb", "void_band": 1}, ["--ignore-index", "6"], 6, None),
    ({"encoding": "palette", "layout": "voc", "void_band": 1, "mixed_sizes": True}, [], 6, "P"),
])
def test_each_kind_of_folder_trains_from_the_command_line(run_cli, tmp_path, options, extra,
                                                          classes, predicted_mode):
    """About 30 s a process on 2 CPU cores: a check, a step of training, a prediction."""
    root = make(tmp_path, **options)
    runs = tmp_path / "runs"
    encoding = "ids" if options["encoding"] == "ids16" else options["encoding"]
    checked = run_cli("data", "check", "--dataset", "folder", "--data-dir", root, *extra)
    assert checked.returncode == 0, checked.stderr
    assert f"encoding: {encoding}" in checked.stdout
    trained = run_cli("train", "--dataset", "folder", "--data-dir", root, "--preset", "smoke",
                      "--image-size", "32", "32", "--epochs", "1", "--steps-per-epoch", "1",
                      "--runs-dir", runs, "--verbose", "0", *extra)
    assert trained.returncode == 0, trained.stderr
    [run_dir] = list((runs / "folder" / "smoke").iterdir())
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data"]["mask_encoding"] == encoding
    assert config["model"]["num_classes"] == classes
    assert config["train"]["loss"] == ("bce_dice" if encoding == "binary" else "sparse_ce")
    split = json.loads((run_dir / "split.json").read_text())
    if "groups" in options:
        assert set(split["train"]) | set(split["val"]) == {"g0", "g1", "g2"}
        assert not set(split["train"]) & set(split["val"]) and split["by"].startswith("by group")
    if extra[:1] == ["--ignore-index"] or options.get("layout") == "voc":
        assert config["data"]["ignore_index"] is not None
    if predicted_mode:
        images = root / ("JPEGImages" if options.get("layout") == "voc" else "images")
        predicted = run_cli("predict", "--model", run_dir / "best.keras", "--input", images,
                            "--output", tmp_path / "out", "--overlay")
        assert predicted.returncode == 0, predicted.stderr
        mask = Image.open(tmp_path / "out" / "scene_0001_mask.png")
        assert mask.size == Image.open(images / "scene_0001.jpg").size == (60, 40)  # native
        assert mask.mode == predicted_mode
        overlay = Image.open(tmp_path / "out" / "scene_0001_overlay.jpg")
        assert overlay.width == 60 and (overlay.height > 40) == (encoding != "binary")  # legend


@pytest.mark.slow
def test_bad_folder_input_is_one_error_line_and_writes_nothing(run_cli, tmp_path):
    root = make(tmp_path, encoding="ids")
    Image.new("L", (10, 10)).save(root / "masks" / "scene_0001.png")
    result = run_cli("train", "--dataset", "folder", "--data-dir", root, "--runs-dir",
                     tmp_path / "runs", "--epochs", "1")
    assert result.returncode == 1
    assert "error:" in result.stderr and "scene_0001.png: mask is 10x10" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_generated_carla_with_default_count_trains(run_cli, tmp_path):
    made = run_cli("data", "synthetic", "--dataset", "carla", "--out", tmp_path / "carla",
                   "--image-size", "48", "64")
    assert made.returncode == 0, made.stderr
    result = run_cli("train", "--dataset", "carla", "--data-dir", tmp_path / "carla",
                     "--preset", "smoke", "--epochs", "1", "--steps-per-epoch", "1",
                     "--runs-dir", tmp_path / "runs", "--verbose", "0")
    assert result.returncode == 0, result.stderr
    assert "one frame block (block0000), too few for a split by frame block: split by image " \
        "instead" in result.stderr and "by car" not in result.stderr


def test_boundary_f_scores_class_edges_along_a_void_band(tmp_path):
    """VOC's void covers every true edge: those edges still count, as the void band's rim."""
    from unet import metrics

    root = make(tmp_path, layout="voc", void_band=2)
    found = folder.scan(root)
    truth = folder.decode_mask(found.pairs[0].mask, found.format)
    guess = np.where(truth == VOID_LABEL, 0, truth)
    scores = [metrics.boundary_f_score(truth, np.roll(guess, shift, 1), num_classes=6,
                                       ignore_index=VOID_LABEL) for shift in (0, 1, 5)]
    assert scores[0] == 1.0 and 0.5 < scores[1] < 1.0 and scores[2] < scores[1]


def test_a_binary_folder_model_with_two_logits_is_scored_on_the_foreground(tmp_path):
    """Binary folder masks trained as 2 classes are scored as training scores them: Dice of
    the foreground class per image, not a mean over background and foreground."""
    from unet import evaluation
    from unet.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from unet.data import sources, synthetic
    from unet.model import build_model

    data_dir = synthetic.make_folder_like(tmp_path / "d", count=4, image_size=(32, 48),
                                          encoding="binary", progress=False)
    config = sources.complete(RunConfig(
        model=ModelConfig(filters=4, depth=2, num_classes=2),
        data=DataConfig(dataset="folder", data_dir=str(data_dir), image_size=(32, 48),
                        crop_size=None),
        train=TrainConfig(loss="sparse_ce")), num_classes=2)
    assert config.data.binary and config.model.num_classes == 2
    _, val = sources.split(config.data)
    model = build_model(config.model, (32, 48, 3))
    head = model.get_layer("head")
    head.kernel.assign(np.zeros(head.kernel.shape))
    head.bias.assign([-100.0, 100.0])  # the foreground wins everywhere
    summary, rows = evaluation.evaluate(model, val, dataset="folder", binary=True,
                                        image_size=(32, 48), num_classes=2, progress=False)
    truth = sources.read_native_mask(val.items[0], "folder", val.fmt) > 0
    assert "mean_dice" not in summary
    assert rows[0]["dice"] == pytest.approx(2 * truth.sum() / (truth.sum() + truth.size),
                                            rel=1e-6)


def test_ignore_index_judges_the_whole_folder_not_its_last_mask(tmp_path):
    """A last mask holding only background is no 'one class' folder when the others hold more."""
    root = make(tmp_path, encoding="ids")
    masks = sorted((root / "masks").iterdir())
    highest = max(int(np.array(Image.open(p)).max()) for p in masks[:-1])
    Image.fromarray(np.zeros_like(np.array(Image.open(masks[-1])))).save(masks[-1])
    found = folder.scan(root, ignore_index=VOID_LABEL)
    assert found.format.encoding == "ids" and found.format.num_classes == highest + 1


def test_a_layout_is_found_up_to_two_folders_below_and_no_deeper(tmp_path):
    for parts in (("a",), ("b", "c")):  # "a/images" alone is no layout; "b/c" is VOCdevkit-like
        (tmp_path.joinpath(*parts) / "images").mkdir(parents=True)
    (tmp_path / "b" / "c" / "masks").mkdir()
    assert folder.find_layout(tmp_path).root == tmp_path / "b" / "c"
    deep = tmp_path / "deep"
    (deep / "x" / "y" / "z" / "images").mkdir(parents=True)
    (deep / "x" / "y" / "z" / "masks").mkdir()
    with pytest.raises(DataError, match="one or two folders below"):
        folder.find_layout(deep)


def test_a_label_map_with_a_byte_order_mark_reads_and_one_not_in_utf8_is_named(tmp_path):
    root = make(tmp_path, encoding="rgb")
    lines = [f"{n},{r},{g},{b}" for n, (r, g, b) in synthetic.FOLDER_CLASSES]
    (root / "labelmap.txt").unlink()
    (root / "classes.csv").write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")
    fmt = folder.scan(root).format
    assert fmt.names == tuple(name for name, _ in synthetic.FOLDER_CLASSES)
    (root / "classes.csv").write_bytes("\n".join(lines + ["caf\xe9,1,2,3"]).encode("latin-1"))
    with pytest.raises(DataError, match=f"classes.csv, line {len(lines) + 1}: .* not UTF-8"):
        folder.scan(root)
