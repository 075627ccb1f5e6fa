"""The multi-device path, on one CPU split into two logical devices (needs its own process)."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """
import json, sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
from unet.config import preset
from unet.training import select_strategy, train
strategy = select_strategy(devices=["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
result = train(preset("smoke"), sys.argv[1], strategy=strategy, verbose=0)
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "dice": result["dice"]}))
"""


def test_training_runs_under_a_mirrored_strategy_on_two_logical_cpus(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "run")],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert '"replicas": 2' in result.stdout
    assert (tmp_path / "run" / "metrics.json").is_file()


def test_train_strategy_mirrored_trains_under_a_mirrored_strategy(tmp_path, run_cli):
    done = run_cli("train", "--preset", "smoke", "--strategy", "mirrored", "--run-dir",
                   tmp_path / "run", "--verbose", "0")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(MirroredStrategy, 1 replica(s))" in done.stdout  # this machine's one CPU
    assert (tmp_path / "run" / "metrics.json").is_file()
