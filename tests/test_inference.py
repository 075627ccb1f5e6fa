import gzip
import json
import os
import signal

import numpy as np
import pytest
from PIL import Image

from unet import checkpoints, cli, files, inference, postprocess, predict_files
from unet.data import carvana, sources
from unet.submission import SubmissionWriter

pytestmark = pytest.mark.slow


def test_masks_are_written_at_native_size_and_match_evaluation(trained, tmp_path):
    model_path, config = trained
    _, val_pairs = sources.split(config.data, seed=config.train.seed)
    pairs = val_pairs.head(5)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for pair in pairs.items:
        (inputs / pair.name).symlink_to(pair.image)
    result = predict_files.predict_folder(model_path, inputs, tmp_path / "out", overlay=True,
                                      tta="flip", progress=False)
    assert result == {"images": 5, "skipped": 0, "submission": None, "failed": {},
                      "ignored": []}
    model = checkpoints.load_model(model_path, compile=False)
    expected = inference.predict_items(model, pairs, image_size=config.data.image_size,
                                       num_classes=1, tta="flip")
    for example, probabilities in expected:
        stem = example.name.rsplit(".", 1)[0]
        written = np.asarray(Image.open(tmp_path / "out" / f"{stem}_mask.png"))
        assert written.shape == (64, 96) and set(np.unique(written)) <= {0, 255}
        np.testing.assert_array_equal(written // 255,
                                      postprocess.labels_from_probabilities(probabilities, 1))
        assert example.truth.shape == (64, 96) and example.image is None
        assert (tmp_path / "out" / f"{stem}_overlay.jpg").is_file()


def test_flip_tta_averages_the_flipped_logits(trained):
    model_path, config = trained
    model = checkpoints.load_model(model_path, compile=False)
    images = np.random.default_rng(0).random((2, *config.data.image_size, 3)).astype("float32")
    plain = inference.predict_logits(model, images)
    flipped = inference.predict_logits(model, images[:, :, ::-1])[:, :, ::-1]
    both = inference.predict_logits(model, images, tta="flip")
    np.testing.assert_allclose(both, (plain + flipped) / 2, atol=1e-5)
    assert not np.allclose(both, plain, atol=1e-3)  # the flip does change the prediction
    np.testing.assert_array_equal(inference.predict_logits(model, images, tta="none"), plain)
    with pytest.raises(ValueError, match="tta must be one of"):
        inference.predict_logits(model, images, tta="rotate")


def test_the_submission_decodes_back_to_the_written_masks(trained, carvana_dir, tmp_path):
    model_path, _ = trained
    submission = tmp_path / "submission.csv.gz"
    result = predict_files.predict_folder(model_path, carvana_dir / "test", tmp_path / "masks",
                                      submission=submission, progress=False)
    assert result["images"] == 16
    with gzip.open(submission, "rt") as stream:
        lines = stream.read().splitlines()
    assert lines[0] == "img,rle_mask" and len(lines) == 17
    for line in lines[1:]:
        name, rle = line.split(",")
        mask = np.asarray(Image.open(tmp_path / "masks" / name.replace(".jpg", "_mask.png")))
        np.testing.assert_array_equal(carvana.rle_decode(rle, mask.shape), mask // 255)


def test_a_submission_resumes_after_a_cut_and_holds_each_image_once(tmp_path):
    path = tmp_path / "submission.csv.gz"
    with SubmissionWriter(path) as writer:
        writer.write("a_01.jpg", "1 2")
        writer.write("a_02.jpg", "")
    partial = writer.partial
    assert partial.parent == tmp_path and partial.name.startswith(".submission.csv.gz.partial-")
    partial.write_text(partial.read_text() + "a_03.jpg,5 ")  # killed mid-row
    with SubmissionWriter(path) as writer:
        assert writer.done == {"a_01.jpg", "a_02.jpg"}
        writer.write("a_03.jpg", "5 6")
        with pytest.raises(ValueError, match="already in the submission"):
            writer.write("a_01.jpg", "1 2")
        with pytest.raises(ValueError, match="1 image\\(s\\) have no row, e.g. a_04.jpg"):
            writer.finish(expected=["a_01.jpg", "a_02.jpg", "a_03.jpg", "a_04.jpg"])
    with SubmissionWriter(path) as writer:
        writer.finish(expected=["a_01.jpg", "a_02.jpg", "a_03.jpg"])
    with gzip.open(path, "rt") as stream:
        assert stream.read() == "img,rle_mask\na_01.jpg,1 2\na_02.jpg,\na_03.jpg,5 6\n"
    assert not partial.exists()


def test_bad_inputs_are_refused_clearly(trained, tmp_path):
    model_path, _ = trained
    from unet.data import DataError

    with pytest.raises(DataError, match="No .jpg/.jpeg/.png/.tif/.tiff/.bmp images"):
        predict_files.predict_folder(model_path, tmp_path, tmp_path / "out")
    with pytest.raises(DataError, match="no such file or folder"):
        predict_files.predict_folder(model_path, tmp_path / "absent.jpg", tmp_path / "out")
    with pytest.raises(ValueError, match="Nothing to write"):
        predict_files.predict_folder(model_path, tmp_path)


def test_predict_killed_mid_submission_resumes_to_each_image_once(trained, carvana_dir,
                                                                  tmp_path, run_cli):
    model_path, _ = trained
    submission = tmp_path / "sub.csv.gz"
    command = ("predict", "--model", model_path, "--input", carvana_dir / "test",
               "--submission", submission, "--batch-size", "1")
    killed = run_cli(*command, env={"UNET_FAULT": "kill:submission_rows:3"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (partial,) = tmp_path.glob(".sub.csv.gz.partial-*.csv")  # the killed writer's rows
    assert partial.read_text().count("\n") == 1 + 3 and not submission.exists()
    done = run_cli(*command, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout[done.stdout.index("{"):])
    assert result["skipped"] == 3 and result["images"] == 13
    with gzip.open(submission, "rt") as stream:
        names = [line.split(",")[0] for line in stream.read().splitlines()[1:]]
    assert sorted(names) == sorted(p.name for p in (carvana_dir / "test").glob("*.jpg"))
    assert list(tmp_path.glob(".*partial*")) == []


def test_predict_uses_flip_tta_where_validation_scored_higher_with_it(trained, tmp_path, capsys):
    import shutil

    model_path, config = trained
    _, val_pairs = sources.split(config.data, seed=config.train.seed)
    image = val_pairs.items[0].image
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(model_path, run / "best.keras")
    assert inference.auto_tta(run / "best.keras")[0] == "none"  # nothing scored: off
    written = {}
    for scores, name in (({"dice": 0.9, "dice_flip_tta": 0.91}, "helps"),
                         ({"dice": 0.9, "dice_flip_tta": 0.89}, "hurts")):
        (run / "metrics.json").write_text(json.dumps(scores))
        tta, reason = inference.auto_tta(run / "best.keras")
        assert tta == ("flip" if name == "helps" else "none") and "0.9000 without" in reason
        predict_files.predict_folder(run / "best.keras", image, tmp_path / name)
        assert reason in capsys.readouterr().out  # "auto" is resolved by the library, and says why
        written[name] = np.asarray(Image.open(tmp_path / name / f"{image.stem}_mask.png"))
    for tta in ("flip", "none"):
        predict_files.predict_folder(run / "best.keras", image, tmp_path / tta, tta=tta,
                                 progress=False)
        written[tta] = np.asarray(Image.open(tmp_path / tta / f"{image.stem}_mask.png"))
    np.testing.assert_array_equal(written["helps"], written["flip"])
    np.testing.assert_array_equal(written["hurts"], written["none"])
    with pytest.raises(ValueError, match="tta must be one of"):
        predict_files.predict_folder(model_path, image, tmp_path / "x", tta="rotate")


def test_a_model_predicts_and_is_scored_at_another_size(trained, carvana_dir, capsys):
    from unet import cli

    model_path, config = trained
    model = checkpoints.load_model(model_path, compile=False)
    bigger = tuple(2 * s for s in config.data.image_size)
    resized = inference.model_at_size(model, bigger)
    assert resized.input_shape[1:3] == bigger and inference.model_at_size(model, (32, 48))
    image = np.random.default_rng(0).random((1, *bigger, 3)).astype("float32")
    assert resized(image).shape[1:3] == bigger
    settings = inference.input_spec_for(model_path, model, prediction_size=bigger)
    assert settings.input_size == bigger and settings.image_size == config.data.image_size
    assert inference.input_spec_for(model_path, model).input_size == config.data.image_size
    with pytest.raises(ValueError, match="cannot predict at 13x17"):
        inference.model_at_size(model, (13, 17))
    _, val_pairs = sources.split(config.data, seed=config.train.seed)
    native = list(inference.predict_items(model, val_pairs.head(2),
                                          image_size=config.data.image_size, num_classes=1,
                                          prediction_size=bigger))
    assert len(native) == 2 and all(p.shape == (64, 96, 1) for _, p in native)
    code = cli.main(["evaluate", "--model", str(model_path), "--data-dir", str(carvana_dir),
                     "--dataset", "carvana", "--prediction-size", *map(str, bigger),
                     "--tta", "flip"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and 0 <= summary["dice"] <= 1 and 0 <= summary["boundary_f"] <= 1


def _test_images(folder, count=3, size=(64, 96)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    for index in range(count):
        pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"car_{index:02d}.jpg")
    return folder


def _read_submission(path):
    import csv

    with gzip.open(path, "rt", newline="") as stream:
        return list(csv.reader(stream))


def test_a_finished_submission_is_reported_not_redone(trained, tmp_path, capsys):
    model_path, _ = trained
    inputs = _test_images(tmp_path / "in")
    submission = tmp_path / "sub.csv.gz"
    # TTA named: "auto" would follow scores other tests leave beside the shared model.
    first = predict_files.predict_folder(model_path, inputs, submission=submission, tta="none",
                                         progress=False)
    assert first["images"] == 3 and first["submission"] == str(submission)
    before = submission.stat().st_mtime_ns
    again = predict_files.predict_folder(model_path, inputs, submission=submission, tta="none",
                                         progress=False)
    assert again["complete"] and again["images"] == 0 and again["skipped"] == 3
    assert submission.stat().st_mtime_ns == before
    # Masks wanted too: they are written, and the finished submission is named, not redone.
    code = cli.main(["predict", "--model", str(model_path), "--input", str(inputs), "--output",
                     str(tmp_path / "masks"), "--submission", str(submission), "--tta", "none"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["submission"] == str(submission) and result["complete"]
    assert result["images"] == 3 and len(list((tmp_path / "masks").glob("*_mask.png"))) == 3
    assert submission.stat().st_mtime_ns == before
    (inputs / "car_09.jpg").write_bytes((inputs / "car_00.jpg").read_bytes())
    with pytest.raises(ValueError, match="complete with other settings: --input: 1 image"
                                         "\\(s\\) not in the earlier input \\(e.g. \\S*car_09"):
        predict_files.predict_folder(model_path, inputs, submission=submission, tta="none",
                                     progress=False)


def test_a_kill_after_the_last_row_finishes_on_the_rerun(trained, tmp_path):
    model_path, _ = trained
    inputs = _test_images(tmp_path / "in")
    submission = tmp_path / "sub.csv.gz"
    paths = sorted(inputs.iterdir())
    model = checkpoints.load_model(model_path, compile=False)
    settings = predict_files.prediction_settings(
        model_path, inference.input_spec_for(model_path, model), "none", 0.5, paths)
    with SubmissionWriter(submission, settings) as writer:  # every row written, killed before gzip
        for path in paths:
            writer.write(path.name, "1 2")
    result = predict_files.predict_folder(model_path, inputs, submission=submission,
                                          tta="none", progress=False)
    assert result["images"] == 0 and result["skipped"] == 3
    assert result["submission"] == str(submission)
    rows = _read_submission(submission)
    assert rows[0] == ["img", "rle_mask"] and sorted(r[0] for r in rows[1:]) == [
        "car_00.jpg", "car_01.jpg", "car_02.jpg"]
    assert list(tmp_path.glob(".sub.csv.gz.partial-*")) == []


def test_submission_rows_are_quoted_once_each_and_locked(tmp_path):
    path = tmp_path / "submission.csv.gz"
    with SubmissionWriter(path) as writer:
        writer.write('odd, "name".jpg', "1 2")
        writer.write("b.jpg", "3 4")
        with pytest.raises(ValueError, match="line break"):
            writer.write("c\n.jpg", "")
        with pytest.raises(files.Locked, match=f"submission is in use by process {os.getpid()}"):
            SubmissionWriter(path)
    partial = writer.partial
    partial.write_text(partial.read_text() + "b.jpg,3 4\n")  # a row repeated
    with SubmissionWriter(path) as writer:
        assert writer.done == {'odd, "name".jpg', "b.jpg"}
        writer.finish(expected=['odd, "name".jpg', "b.jpg"])
    assert _read_submission(path) == [["img", "rle_mask"], ['odd, "name".jpg', "1 2"],
                                      ["b.jpg", "3 4"]]
    with SubmissionWriter(path) as writer:  # the lock was released; finished stays finished
        assert writer.complete and writer.finish() == path


def test_a_bad_image_anywhere_is_named_and_the_others_predicted(trained, tmp_path, capsys):
    from unet import cli

    model_path, _ = trained
    inputs = _test_images(tmp_path / "in", count=3)
    (inputs / "car_01.jpg").write_bytes(b"not a jpeg at all")
    broken = Image.new("RGB", (96, 64), (9, 9, 9))
    broken.save(tmp_path / "flat.png")
    data = bytearray((tmp_path / "flat.png").read_bytes())
    start = data.index(b"IDAT") + 8
    data[start:start + 8] = b"\xff" * 8  # pixel data corrupt, header and end intact
    (inputs / "car_03.png").write_bytes(bytes(data))
    submission = tmp_path / "sub.csv.gz"
    code = cli.main(["predict", "--model", str(model_path), "--input", str(inputs),
                     "--output", str(tmp_path / "out"), "--submission", str(submission)])
    captured = capsys.readouterr()
    assert code == 1
    assert f"{inputs / 'car_01.jpg'}: not a readable image" in captured.err
    assert str(inputs / "car_03.png") in captured.err and "2 image(s) not predicted" in captured.err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.*g")) == ["car_00_mask.png",
                                                                      "car_02_mask.png"]
    assert not submission.exists()  # unfinished until every image has a row
    (inputs / "car_01.jpg").unlink()
    (inputs / "car_03.png").unlink()
    assert cli.main(["predict", "--model", str(model_path), "--input", str(inputs),
                     "--submission", str(submission)]) == 0
    assert len(_read_submission(submission)) == 3


def test_inputs_are_checked_before_anything_is_written(trained, tmp_path):
    from unet.data import DataError, image_files

    model_path, _ = trained
    inputs = _test_images(tmp_path / "in", count=2)
    (inputs / "._car_00.jpg").write_bytes(b"\x00\x05\x16\x07")  # macOS resource fork
    (inputs / "notes.txt").write_text("hello")
    (inputs / "more").mkdir()
    (inputs / "UPPER.JPG").write_bytes((inputs / "car_00.jpg").read_bytes())
    ignored = []
    paths = predict_files.list_inputs(inputs, ignored)
    assert [p.name for p in paths] == ["UPPER.JPG", "car_00.jpg", "car_01.jpg"]
    assert sorted(ignored) == sorted([f"{inputs / '._car_00.jpg'} (hidden file)",
                                      f"{inputs / 'more'} (folder)",
                                      f"{inputs / 'notes.txt'} "
                                      "(not .jpg/.jpeg/.png/.tif/.tiff/.bmp)"])
    (inputs / "car_00.png").write_bytes((inputs / "car_01.jpg").read_bytes())
    with pytest.raises(DataError, match="car_00.jpg and .*car_00.png would write the same mask"):
        predict_files.predict_folder(model_path, inputs, tmp_path / "out", progress=False)
    other = _test_images(tmp_path / "other", count=1)
    with pytest.raises(DataError, match="would write the same submission row"):
        predict_files.predict_folder(model_path, [inputs / "car_00.jpg", other / "car_00.jpg"],
                                 submission=tmp_path / "s.csv.gz", progress=False)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("s.csv.gz*"))
    bomb = tmp_path / "bomb.png"
    Image.new("1", (10_000, 6_000)).save(bomb)  # 60 million pixels in a few kilobytes
    assert bomb.stat().st_size < 100_000
    with pytest.raises(DataError, match="over the limit of 50,000,000; refused"):
        image_files.decode(bomb)
    result = predict_files.predict_folder(model_path, [bomb, inputs / "car_01.jpg"],
                                      tmp_path / "masks", progress=False)
    assert result["images"] == 1 and "refused before decoding" in result["failed"][str(bomb)]


def test_damaged_jpeg_scan_data_is_caught(tmp_path):
    import io

    from unet.data import DataError, image_files

    buffer = io.BytesIO()
    pixels = np.random.default_rng(0).integers(0, 256, (128, 192, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    data = buffer.getvalue()
    (tmp_path / "whole.jpg").write_bytes(data)
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2] + b"\xff\xd9")  # marker re-added
    assert image_files.decode(tmp_path / "whole.jpg").shape == (128, 192, 3)
    image_files.inspect(tmp_path / "cut.jpg")  # the header and end marker look fine
    with pytest.raises(DataError, match="cut.jpg: damaged JPEG data .*premature end"):
        image_files.decode(tmp_path / "cut.jpg")


def test_a_two_class_carvana_model_predicts_car_masks_and_a_submission(softmax_run,
                                                                      carvana_dir, tmp_path):
    """`softmax-unet` (2 logits a pixel): 0/255 car masks (car = class 1, by the one
    logits -> labels path), car overlays, and a submission of the car class."""
    model_path = softmax_run / "best.keras"
    model = checkpoints.load_model(model_path, compile=False)
    assert model.output_shape[-1] == 2
    settings = inference.input_spec_for(model_path, model)
    assert settings.binary and settings.num_classes == 2
    from unet import cli

    submission = tmp_path / "submission.csv.gz"
    assert cli.main(["predict", "--model", str(model_path), "--input", str(carvana_dir / "test"),
                     "--output", str(tmp_path / "masks"), "--overlay", "--submission",
                     str(submission), "--tta", "none"]) == 0
    assert submission.is_file()
    paths = sorted((carvana_dir / "test").iterdir())
    expected = dict(inference.predict_images(model, paths, settings))
    with gzip.open(submission, "rt") as stream:
        rows = dict(line.strip().split(",") for line in stream.readlines()[1:])
    for path in paths:
        car = postprocess.labels_from_probabilities(expected[path], 2)  # argmax: car = 1
        written = np.asarray(Image.open(tmp_path / "masks" / f"{path.stem}_mask.png"))
        assert set(np.unique(written)) <= {0, 255}
        np.testing.assert_array_equal(written, car * 255)
        np.testing.assert_array_equal(carvana.rle_decode(rows[path.name], car.shape), car)
        overlay = np.asarray(Image.open(tmp_path / "masks" / f"{path.stem}_overlay.jpg"))
        assert overlay.shape == (*car.shape, 3)
    config = json.loads((softmax_run / "config.json").read_text())
    assert config["data"]["dataset"] == "carvana"


def test_a_23_class_model_is_refused_a_submission_naming_it(tmp_path):
    import re

    from unet.model import build_unet

    model = build_unet(input_shape=(32, 48, 3), filters=4, depth=2, num_classes=23)
    model_path = checkpoints.save_model(model, tmp_path / "carla.keras")
    inputs = _test_images(tmp_path / "in", count=1)
    submission = tmp_path / "submission.csv.gz"
    with pytest.raises(ValueError, match=re.escape(str(model_path)) + ": a Carvana submission "
                       "needs a car-mask model .* predicts 23 classes"):
        predict_files.predict_folder(model_path, inputs, tmp_path / "masks", submission=submission,
                                 progress=False)
    assert not submission.exists() and not (tmp_path / "masks").exists()  # nothing written


def test_one_stream_predicts_for_folders_and_tfds_in_order_across_batches(rng):
    from unet.model import build_unet

    model = build_unet(input_shape=(None, None, 3), filters=4, depth=2, num_classes=3)
    inputs = rng.random((5, 16, 24, 3)).astype(np.float32)
    sizes = [(16, 24), (32, 48), (8, 12), (16, 24), (33, 50)]
    stream = ((image, size, f"key{index}")
              for index, (image, size) in enumerate(zip(inputs, sizes)))
    results = list(inference.predict_stream(model, stream, num_classes=3, batch_size=2))
    assert [key for key, _ in results] == [f"key{index}" for index in range(5)]
    for (_, probabilities), image, size in zip(results, inputs, sizes):
        alone = postprocess.to_native_size(model(image[None], training=False)[0], size)
        np.testing.assert_allclose(probabilities, postprocess.probabilities_from_logits(alone, 3),
                                   atol=1e-5)
        assert probabilities.shape == (*size, 3)


def test_a_resumed_submission_with_masks_predicts_only_what_is_missing(trained, tmp_path):
    model_path, _ = trained
    inputs = _test_images(tmp_path / "in")
    submission, masks = tmp_path / "sub.csv.gz", tmp_path / "masks"
    paths = sorted(inputs.iterdir())
    model = checkpoints.load_model(model_path, compile=False)
    settings = predict_files.prediction_settings(
        model_path, inference.input_spec_for(model_path, model), "none", 0.5, paths)
    with SubmissionWriter(submission, settings) as writer:  # killed after two rows
        writer.write("car_00.jpg", "1 2")
        writer.write("car_01.jpg", "3 4")
    masks.mkdir()
    predict_files.claim_mask_folder(masks, settings)
    Image.fromarray(np.full((64, 96), 7, np.uint8)).save(masks / "car_00_mask.png")
    result = predict_files.predict_folder(model_path, inputs, masks, submission=submission,
                                          tta="none", progress=False)
    # car_00 has its row and its mask; car_01 lacks its mask; car_02 lacks both.
    assert result["images"] == 2 and result["skipped"] == 2 and not result["failed"]
    assert set(np.unique(np.asarray(Image.open(masks / "car_00_mask.png")))) == {7}
    assert sorted(p.name for p in masks.glob("*_mask.png")) == [
        "car_00_mask.png", "car_01_mask.png", "car_02_mask.png"]
    rows = dict(_read_submission(submission)[1:])
    assert rows["car_00.jpg"] == "1 2" and rows["car_01.jpg"] == "3 4" and len(rows) == 3
