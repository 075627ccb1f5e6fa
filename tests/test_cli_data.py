import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("dataset, expected", [("carvana", "pairs: 32"), ("carla", "pairs: 5")])
def test_generated_data_passes_the_check(tmp_path, dataset, expected, run_cli):
    count = "2" if dataset == "carvana" else "5"
    made = run_cli("data", "synthetic", "--dataset", dataset, "--out", str(tmp_path),
                   "--count", count, "--seed", "1", "--image-size", "48", "64")
    assert made.returncode == 0, made.stderr
    checked = run_cli("data", "check", "--dataset", dataset, "--data-dir", str(tmp_path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert expected in checked.stdout and "problems: none" in checked.stdout


def test_check_exits_non_zero_and_names_the_bad_file(tmp_path, run_cli):
    run_cli("data", "synthetic", "--dataset", "carla", "--out", str(tmp_path), "--count", "3",
            "--image-size", "48", "64")
    (tmp_path / "CameraMask" / "000001.png").unlink()
    checked = run_cli("data", "check", "--dataset", "carla", "--data-dir", str(tmp_path))
    assert checked.returncode == 1
    assert "000001.png: missing mask" in checked.stdout
    empty = run_cli("data", "check", "--dataset", "carvana", "--data-dir", str(tmp_path / "x"))
    assert empty.returncode == 1 and "no train/ or train_hq/" in empty.stderr


def test_training_refuses_a_mask_that_data_check_refuses_in_one_line(tmp_path, run_cli):
    """A palette mask whose index 30 is drawn in (3, 0, 0): the colour's red channel would pass
    for class 3; training and `data check` both read the index and name the file."""
    import numpy as np
    from PIL import Image

    from unet.data import synthetic

    root = synthetic.make_carla_like(tmp_path / "carla", count=21, image_size=(48, 64), seed=1,
                                     progress=False)
    bad = root / "CameraMask" / "000002.png"
    mask = Image.fromarray(np.full((48, 64), 30, np.uint8), "P")
    mask.putpalette([3, 0, 0] * 256)
    mask.save(bad)
    message = f"{bad}: class id 30 is out of range for num_classes=23 (ids 0-22)."
    checked = run_cli("data", "check", "--dataset", "carla", "--data-dir", str(root))
    assert checked.returncode == 1 and message in checked.stdout
    trained = run_cli("train", "--preset", "smoke", "--dataset", "carla", "--data-dir", str(root),
                      "--image-size", "48", "64", "--epochs", "1",
                      "--run-dir", str(tmp_path / "run"), "--verbose", "0")
    assert trained.returncode == 1, trained.stderr[-3000:]
    assert trained.stderr.strip().splitlines() == [f"error: {message}"]
