import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from unet import checkpoints, evaluation, inference
from unet.data import carvana, sources
from unet.submission import SubmissionWriter

pytestmark = pytest.mark.slow


def test_masks_are_written_at_native_size_and_match_evaluation(trained, tmp_path):
    model_path, config = trained
    _, val_pairs = sources.split_pairs(config.data, seed=config.train.seed)
    pairs = val_pairs[:5]
    inputs = tmp_path / "in"
    inputs.mkdir()
    for pair in pairs:
        (inputs / pair.name).symlink_to(pair.image)
    result = inference.predict_folder(model_path, inputs, tmp_path / "out", overlay=True,
                                      tta="flip", progress=False)
    assert result == {"images": 5, "skipped": 0, "submission": None}
    model = checkpoints.load_model(model_path, compile=False)
    expected = evaluation.predict_native(model, pairs, image_size=config.data.image_size,
                                         num_classes=1, tta="flip")
    for pair, probabilities in expected:
        written = np.asarray(Image.open(tmp_path / "out" / f"{pair.image.stem}_mask.png"))
        assert written.shape == (64, 96) and set(np.unique(written)) <= {0, 255}
        np.testing.assert_array_equal(written // 255,
                                      evaluation.labels_from_probabilities(probabilities, 1))
        assert (tmp_path / "out" / f"{pair.image.stem}_overlay.jpg").is_file()


def test_flip_tta_averages_the_flipped_logits(trained):
    model_path, config = trained
    model = checkpoints.load_model(model_path, compile=False)
    images = np.random.default_rng(0).random((2, *config.data.image_size, 3)).astype("float32")
    plain = evaluation.predict_logits(model, images)
    flipped = evaluation.predict_logits(model, images[:, :, ::-1])[:, :, ::-1]
    both = evaluation.predict_logits(model, images, tta="flip")
    np.testing.assert_allclose(both, (plain + flipped) / 2, atol=1e-5)
    assert not np.allclose(both, plain, atol=1e-3)  # the flip does change the prediction
    np.testing.assert_array_equal(evaluation.predict_logits(model, images, tta="none"), plain)
    with pytest.raises(ValueError, match="tta must be one of"):
        evaluation.predict_logits(model, images, tta="rotate")


def test_the_submission_decodes_back_to_the_written_masks(trained, carvana_dir, tmp_path):
    model_path, _ = trained
    submission = tmp_path / "submission.csv.gz"
    result = inference.predict_folder(model_path, carvana_dir / "test", tmp_path / "masks",
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
    partial = tmp_path / "submission.csv.gz.partial.csv"
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

    with pytest.raises(DataError, match="No .jpg or .png images"):
        inference.predict_folder(model_path, tmp_path, tmp_path / "out")
    with pytest.raises(DataError, match="no such file or folder"):
        inference.predict_folder(model_path, tmp_path / "absent.jpg", tmp_path / "out")
    with pytest.raises(ValueError, match="Nothing to write"):
        inference.predict_folder(model_path, tmp_path)


def test_predict_killed_mid_submission_resumes_to_each_image_once(trained, carvana_dir,
                                                                  tmp_path):
    import signal
    import time

    model_path, _ = trained
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    submission = tmp_path / "sub.csv.gz"
    partial = tmp_path / "sub.csv.gz.partial.csv"
    command = [sys.executable, "-m", "unet", "predict", "--model", str(model_path), "--input",
               str(carvana_dir / "test"), "--submission", str(submission), "--batch-size", "1"]

    def rows():
        return partial.read_text().count("\n") - 1 if partial.is_file() else 0

    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while rows() < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 3 <= rows() < 16 and not submission.exists()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout[done.stdout.index("{"):])
    assert result["skipped"] >= 3 and result["images"] + result["skipped"] == 16
    with gzip.open(submission, "rt") as stream:
        names = [line.split(",")[0] for line in stream.read().splitlines()[1:]]
    assert sorted(names) == sorted(p.name for p in (carvana_dir / "test").glob("*.jpg"))


def test_predict_uses_flip_tta_where_validation_scored_higher_with_it(trained, tmp_path):
    import shutil

    model_path, config = trained
    _, val_pairs = sources.split_pairs(config.data, seed=config.train.seed)
    image = val_pairs[0].image
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
        inference.predict_folder(run / "best.keras", image, tmp_path / name, progress=False)
        written[name] = np.asarray(Image.open(tmp_path / name / f"{image.stem}_mask.png"))
    for tta in ("flip", "none"):
        inference.predict_folder(run / "best.keras", image, tmp_path / tta, tta=tta,
                                 progress=False)
        written[tta] = np.asarray(Image.open(tmp_path / tta / f"{image.stem}_mask.png"))
    np.testing.assert_array_equal(written["helps"], written["flip"])
    np.testing.assert_array_equal(written["hurts"], written["none"])
    with pytest.raises(ValueError, match="tta must be one of"):
        inference.predict_folder(model_path, image, tmp_path / "x", tta="rotate")


def test_a_model_predicts_and_is_scored_at_another_size(trained, carvana_dir, capsys):
    from unet import cli

    model_path, config = trained
    model = checkpoints.load_model(model_path, compile=False)
    bigger = tuple(2 * s for s in config.data.image_size)
    resized = evaluation.model_at_size(model, bigger)
    assert resized.input_shape[1:3] == bigger and evaluation.model_at_size(model, (32, 48))
    image = np.random.default_rng(0).random((1, *bigger, 3)).astype("float32")
    assert resized(image).shape[1:3] == bigger
    settings = inference.settings_for(model_path, model, prediction_size=bigger)
    assert settings.input_size == bigger and settings.image_size == config.data.image_size
    assert inference.settings_for(model_path, model).input_size == config.data.image_size
    with pytest.raises(ValueError, match="cannot predict at 13x17"):
        evaluation.model_at_size(model, (13, 17))
    _, val_pairs = sources.split_pairs(config.data, seed=config.train.seed)
    native = dict(evaluation.predict_native(model, val_pairs[:2], image_size=config.data.image_size,
                                            num_classes=1, prediction_size=bigger))
    assert all(p.shape == (64, 96, 1) for p in native.values())
    code = cli.main(["evaluate", "--model", str(model_path), "--data-dir", str(carvana_dir),
                     "--dataset", "carvana", "--prediction-size", *map(str, bigger),
                     "--tta", "flip"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and 0 <= summary["dice"] <= 1 and 0 <= summary["boundary_f"] <= 1
