import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def run_cli(*args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "unet", *args], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.mark.parametrize("dataset, expected", [("carvana", "pairs: 32"), ("carla", "pairs: 5")])
def test_generated_data_passes_the_check(tmp_path, dataset, expected):
    count = "2" if dataset == "carvana" else "5"
    made = run_cli("data", "synthetic", "--dataset", dataset, "--out", str(tmp_path),
                   "--count", count, "--seed", "1", "--image-size", "48", "64")
    assert made.returncode == 0, made.stderr
    checked = run_cli("data", "check", "--dataset", dataset, "--data-dir", str(tmp_path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert expected in checked.stdout and "problems: none" in checked.stdout


def test_check_exits_non_zero_and_names_the_bad_file(tmp_path):
    run_cli("data", "synthetic", "--dataset", "carla", "--out", str(tmp_path), "--count", "3",
            "--image-size", "48", "64")
    (tmp_path / "CameraMask" / "000001.png").unlink()
    checked = run_cli("data", "check", "--dataset", "carla", "--data-dir", str(tmp_path))
    assert checked.returncode == 1
    assert "000001.png: missing mask" in checked.stdout
    empty = run_cli("data", "check", "--dataset", "carvana", "--data-dir", str(tmp_path / "x"))
    assert empty.returncode == 1 and "no train/ or train_hq/" in empty.stderr
