import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def run_cli(*args, cwd):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "unet", *args], capture_output=True, text=True,
                          env=env, timeout=600, cwd=cwd)


def test_train_then_evaluate_agree_on_native_size_dice(tmp_path):
    trained = run_cli("train", "--preset", "smoke", "--learning-rate", "0.002", "--kernel-size",
                      "5", "--memory-dir", "mem", "--verbose", "0", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    run_dir = tmp_path / "mem" / "runs" / "lr2e-3_bs4_k5"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["kernel_size"] == 5 and config["train"]["learning_rate"] == 0.002
    evaluated = run_cli("evaluate", "--model", str(run_dir / "best.keras"), cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    summary = json.loads(evaluated.stdout[evaluated.stdout.index("{"):])
    assert summary["dice"] == pytest.approx(metrics["dice"], abs=1e-6)
    assert summary["images"] == metrics["val_images"]


def test_report_command_and_a_diverging_run_exit_clearly(tmp_path):
    diverged = run_cli("train", "--preset", "smoke", "--learning-rate", "1e12",
                       "--run-dir", "run", "--verbose", "0", cwd=tmp_path)
    assert diverged.returncode == 2
    assert "Training diverged" in diverged.stderr and "Lower the learning rate" in diverged.stderr
    missing = run_cli("report", "--memory-dir", "nowhere", cwd=tmp_path)
    assert missing.returncode != 0 and "No runs under" in missing.stderr
