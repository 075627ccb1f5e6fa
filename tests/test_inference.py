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
                                      progress=False)
    assert result == {"images": 5, "skipped": 0, "submission": None}
    model = checkpoints.load_model(model_path, compile=False)
    expected = evaluation.predict_native(model, pairs, image_size=config.data.image_size,
                                         num_classes=1)
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
    with pytest.raises(ValueError, match="tta must be None or 'flip'"):
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
