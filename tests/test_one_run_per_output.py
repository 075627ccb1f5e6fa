"""A submission or a mask folder holds one run's results: a rerun with another model, threshold,
TTA, size or input is refused naming what differs, or started over with `--restart`."""

import gzip
import json

import numpy as np
import pytest
from PIL import Image

from unet import checkpoints, cli
from unet.config import preset
from unet.model import build_unet
from unet.submission import SubmissionWriter


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """An untrained U-Net of any input size, saved as `.keras` beside the `config.json` of a
    32x48 run (so that it predicts at 32x48, or at another `--prediction-size`)."""
    folder = tmp_path_factory.mktemp("model")
    config = preset("smoke").override(data={"image_size": (32, 48)},
                                      model={"filters": 4, "depth": 2})
    (folder / "config.json").write_text(config.to_json())
    model = build_unet(input_shape=(None, None, 3), filters=4, depth=2)
    return checkpoints.save_model(model, folder / "tiny.keras")


def _images(folder, names, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)).save(folder / name)
    return folder


def _predict(*args, capsys):
    code = cli.main(["predict", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _names(submission):
    with gzip.open(submission, "rt") as stream:
        return sorted(line.split(",")[0] for line in stream.read().splitlines()[1:])


def test_a_stopped_submission_resumes_only_with_its_own_settings_and_inputs(
        tiny_model, tmp_path, capsys):
    first = _images(tmp_path / "first", ["a.jpg", "b.jpg", "c.jpg"])
    (first / "d.jpg").write_bytes(b"not a jpeg")  # stops the submission part-way
    other = _images(tmp_path / "other", ["x.jpg", "y.jpg"], seed=1)
    submission = tmp_path / "s.csv.gz"
    model = ("--model", tiny_model, "--tta", "none", "--submission", submission)

    code, _, err = _predict(*model, "--input", first, capsys=capsys)
    assert code == 1 and "d.jpg" in err and not submission.exists()
    recorded = json.loads((tmp_path / "s.csv.gz.json").read_text())
    assert recorded["threshold"] == 0.5 and recorded["tta"] == "none"
    assert len(recorded["model"]["sha256"]) == 64 and len(recorded["inputs"]) == 4
    partial_before = [p.read_text() for p in tmp_path.glob(".s.csv.gz.partial-*")]

    # Another input, another threshold, another TTA, another size: each refused, each named.
    for flags, named in ((("--input", other), "--input: 2 image(s) not in the earlier input"),
                         (("--input", first, "--threshold", "0.9"), "--threshold 0.5, now 0.9"),
                         (("--input", first, "--tta", "flip"), "--tta none, now flip"),
                         (("--input", first, "--prediction-size", "64", "96"),
                          "--prediction-size unset, now 64x96")):
        code, _, err = _predict(*model, *flags, capsys=capsys)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
        assert named in err and "--restart" in err and "Traceback" not in err
    assert [p.read_text() for p in tmp_path.glob(".s.csv.gz.partial-*")] == partial_before
    assert not submission.exists()

    # Another model (same architecture, other weights) is another run, whatever its name.
    retrained = build_unet(input_shape=(32, 48, 3), filters=4, depth=2)
    retrained.set_weights([w + 0.01 for w in retrained.get_weights()])
    other_model = checkpoints.save_model(retrained, tmp_path / "tiny.keras")
    code, _, err = _predict("--model", other_model, "--tta", "none", "--submission", submission,
                            "--input", first, capsys=capsys)
    assert code == 2 and "--model" in err and "sha256" in err

    # The bad file removed (it has no row): the same settings resume and finish.
    (first / "d.jpg").unlink()
    code, out, _ = _predict(*model, "--input", first, capsys=capsys)
    result = json.loads(out)
    assert code == 0 and result["skipped"] == 3 and result["images"] == 0
    assert _names(submission) == ["a.jpg", "b.jpg", "c.jpg"]

    # Finished: the same settings report it, others are refused, --restart writes it again.
    code, out, _ = _predict(*model, "--input", first, capsys=capsys)
    assert code == 0 and json.loads(out)["complete"]
    code, _, err = _predict(*model, "--input", other, "--threshold", "0.9", capsys=capsys)
    assert code == 2 and "is complete with other settings" in err
    assert _names(submission) == ["a.jpg", "b.jpg", "c.jpg"]
    code, out, _ = _predict(*model, "--input", other, "--threshold", "0.9", "--restart",
                            capsys=capsys)
    assert code == 0 and json.loads(out)["images"] == 2
    assert _names(submission) == ["x.jpg", "y.jpg"]
    assert json.loads((tmp_path / "s.csv.gz.json").read_text())["threshold"] == 0.9


def test_an_image_rewritten_since_its_row_is_named_and_a_copy_is_not(
        tiny_model, tmp_path, capsys):
    inputs = _images(tmp_path / "in", ["a.jpg", "b.jpg", "c.jpg"])
    (inputs / "d.jpg").write_bytes(b"not a jpeg")  # stops the submission part-way
    submission = tmp_path / "s.csv.gz"
    model = ("--model", tiny_model, "--tta", "none", "--submission", submission, "--input",
             inputs)
    assert _predict(*model, capsys=capsys)[0] == 1
    partial_before = [p.read_text() for p in tmp_path.glob(".s.csv.gz.partial-*")]
    # The folder copied back in, as after a notebook runtime's disconnect: new times, same
    # bytes, so the rows are still this input's.
    for path in sorted(inputs.glob("*.jpg")):
        copy = path.read_bytes()
        path.unlink()
        path.write_bytes(copy)
    # b.jpg rewritten with another picture: its row is not this input's.
    original = (inputs / "b.jpg").read_bytes()
    _images(tmp_path / "other", ["b.jpg"], seed=5)
    (inputs / "b.jpg").write_bytes((tmp_path / "other" / "b.jpg").read_bytes())
    code, _, err = _predict(*model, capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert (f"--input: 1 image(s) changed since their row was written (e.g. "
            f"{inputs / 'b.jpg'})") in err and "--restart" in err
    assert [p.read_text() for p in tmp_path.glob(".s.csv.gz.partial-*")] == partial_before
    # The picture put back: the resume finishes with the rows of the first run.
    (inputs / "b.jpg").write_bytes(original)
    (inputs / "d.jpg").unlink()
    code, out, _ = _predict(*model, capsys=capsys)
    assert code == 0 and json.loads(out)["skipped"] == 3 and json.loads(out)["images"] == 0

    # A mask folder: a mask whose image was rewritten is named the same way.
    masks = tmp_path / "masks"
    assert _predict("--model", tiny_model, "--input", inputs, "--output", masks,
                    capsys=capsys)[0] == 0
    (inputs / "c.jpg").write_bytes((tmp_path / "other" / "b.jpg").read_bytes())
    code, _, err = _predict("--model", tiny_model, "--input", inputs, "--output", masks,
                            capsys=capsys)
    assert code == 2 and f"changed since their mask was written (e.g. {inputs / 'c.jpg'})" in err


def test_rows_without_a_record_of_their_settings_are_not_taken_up(tiny_model, tmp_path, capsys):
    inputs = _images(tmp_path / "in", ["a.jpg", "b.jpg"])
    submission = tmp_path / "s.csv.gz"
    with SubmissionWriter(submission) as writer:  # rows of unknown origin, stopped
        writer.write("a.jpg", "1 2")
    code, _, err = _predict("--model", tiny_model, "--input", inputs, "--submission", submission,
                            capsys=capsys)
    assert code == 2 and "does not say what made its rows" in err and "--restart" in err
    code, _, _ = _predict("--model", tiny_model, "--input", inputs, "--submission", submission,
                          "--restart", capsys=capsys)
    assert code == 0 and _names(submission) == ["a.jpg", "b.jpg"]


def test_finish_refuses_rows_of_images_not_in_the_input(tmp_path):
    path = tmp_path / "s.csv.gz"
    with SubmissionWriter(path) as writer:
        writer.write("a.jpg", "1 2")
        writer.write("stray.jpg", "3 4")
        with pytest.raises(ValueError, match="1 row\\(s\\) of images not in the input, e.g. "
                                             "stray.jpg"):
            writer.finish(expected=["a.jpg"])
    assert not path.exists()


def test_a_mask_folder_holds_one_settings_masks(tiny_model, tmp_path, capsys):
    first = _images(tmp_path / "first", ["a.jpg", "b.jpg"])
    second = _images(tmp_path / "second", ["c.jpg"], seed=1)
    out = tmp_path / "out"
    model = ("--model", tiny_model, "--tta", "none", "--output", out)
    assert _predict(*model, "--input", first, capsys=capsys)[0] == 0
    # Same settings, other images: the folder gathers them.
    assert _predict(*model, "--input", second, capsys=capsys)[0] == 0
    assert sorted(p.name for p in out.glob("*_mask.png")) == [
        "a_mask.png", "b_mask.png", "c_mask.png"]
    before = {p.name: p.read_bytes() for p in out.glob("*_mask.png")}
    code, _, err = _predict(*model, "--input", second, "--threshold", "0.9", capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and "--threshold 0.5, now 0.9" in err
    assert {p.name: p.read_bytes() for p in out.glob("*_mask.png")} == before
    code, _, _ = _predict(*model, "--input", second, "--threshold", "0.9", "--restart",
                          capsys=capsys)
    assert code == 0 and [p.name for p in out.glob("*_mask.png")] == ["c_mask.png"]
    # Masks that no record vouches for are not mixed with new ones either.
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "z_mask.png").write_bytes(before["a_mask.png"])
    code, _, err = _predict("--model", tiny_model, "--input", first, "--output", foreign,
                            capsys=capsys)
    assert code == 2 and "no record of their settings" in err


def test_a_resumed_submission_with_masks_writes_every_mask(tiny_model, tmp_path, capsys):
    inputs = _images(tmp_path / "in", ["a.jpg", "b.jpg"])
    (inputs / "c.jpg").write_bytes(b"broken")
    submission = tmp_path / "s.csv.gz"
    model = ("--model", tiny_model, "--tta", "none", "--input", inputs, "--submission",
             submission)
    assert _predict(*model, capsys=capsys)[0] == 1  # a.jpg and b.jpg have rows, no masks
    _images(inputs, ["c.jpg"], seed=2)  # fixed
    code, out, _ = _predict(*model, "--output", tmp_path / "masks", capsys=capsys)
    assert code == 0 and json.loads(out)["skipped"] == 2
    assert _names(submission) == ["a.jpg", "b.jpg", "c.jpg"]
    assert sorted(p.name for p in (tmp_path / "masks").glob("*_mask.png")) == [
        "a_mask.png", "b_mask.png", "c_mask.png"]


@pytest.mark.slow  # two processes, each loading TensorFlow
def test_a_refused_resume_is_one_line_through_the_command_line(tiny_model, tmp_path, run_cli):
    inputs = _images(tmp_path / "in", ["a.jpg"])
    (inputs / "b.jpg").write_bytes(b"broken")
    command = ("predict", "--model", tiny_model, "--input", inputs, "--submission", "s.csv.gz")
    assert run_cli(*command).returncode == 1
    refused = run_cli(*command, "--threshold", "0.7")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "error: s.csv.gz is partly written with other settings: --threshold 0.5, now 0.7. "
        "Rerun with the earlier ones to resume it, or add --restart to write it again."]
