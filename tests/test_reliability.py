"""Kill -9 at any moment, rerun the same command: nothing lost, nothing repeated."""

import os
import signal
import subprocess
import sys
import time

import pytest

from unet import experiments
from unet.callbacks import read_history

pytestmark = pytest.mark.slow

TIMEOUT = 240


def start(*args, cwd):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "unet", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def kill_when(process, condition):
    """SIGKILL `process` as soon as `condition()` holds; fail if it ends first."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return
        if process.poll() is not None:
            pytest.fail(f"finished before it could be killed: {process.stderr.read()[-2000:]}")
        time.sleep(0.02)
    process.kill()
    pytest.fail("the condition never held")


def finish(process):
    _, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, stderr[-3000:]


def epochs(run_dir):
    return [row["epoch"] for row in read_history(run_dir / "history.csv")]


def mid_epoch(run_dir, after: int) -> bool:
    """Whether `after` epochs are done and about half of the next one has gone by."""
    rows = read_history(run_dir / "history.csv")
    if len(rows) < after:
        return False
    elapsed = time.time() - (run_dir / "history.csv").stat().st_mtime
    return elapsed > rows[-1]["seconds"] / 2


def test_a_training_killed_mid_epoch_resumes_and_logs_each_epoch_once(tmp_path):
    run_dir = tmp_path / "run"
    command = ("train", "--preset", "smoke", "--epochs", "6", "--image-size", "64", "96",
               "--run-dir", str(run_dir), "--verbose", "0")
    kill_when(start(*command, cwd=tmp_path), lambda: mid_epoch(run_dir, after=2))
    done = epochs(run_dir)
    assert 2 <= len(done) < 6 and not (run_dir / "metrics.json").exists()
    assert (run_dir / "backup").is_dir()  # Keras' BackupAndRestore state to resume from
    finish(start(*command, cwd=tmp_path))
    assert epochs(run_dir) == [1, 2, 3, 4, 5, 6]
    assert (run_dir / "metrics.json").is_file()


def test_a_sweep_killed_between_and_within_points_ends_with_each_point_once(tmp_path):
    memory, root = tmp_path / "memory", tmp_path / "runs"
    command = ("sweep", "--preset", "smoke", "--epochs", "3", "--learning-rates", "1e-3", "2e-3",
               "--batch-sizes", "4", "--kernel-sizes", "3", "5", "--memory-dir", str(memory),
               "--runs-dir", str(root), "--verbose", "0")
    runs = root / "synthetic" / "smoke"
    first = runs / "lr1e-3_bs4_k3"
    third = runs / "lr2e-3_bs4_k3"
    # 1. Between points: as soon as the first point has finished.
    kill_when(start(*command, cwd=tmp_path), lambda: (first / "metrics.json").exists())
    finished_once = (first / "metrics.json").stat().st_mtime
    # 2. Within a point: once the third point is mid-training.
    kill_when(start(*command, cwd=tmp_path), lambda: len(epochs(third)) >= 1)
    assert not (third / "metrics.json").exists()
    finish(start(*command, cwd=tmp_path))
    rows = experiments.summarize(root)
    assert sorted(r["run"] for r in rows) == ["lr1e-3_bs4_k3", "lr1e-3_bs4_k5",
                                              "lr2e-3_bs4_k3", "lr2e-3_bs4_k5"]
    assert all(r["status"] == "finished" for r in rows)
    assert (first / "metrics.json").stat().st_mtime == finished_once  # not repeated
    for row in rows:
        assert epochs(runs / row["run"]) == [1, 2, 3]
    sweep_rows = (memory / "sweep.csv").read_text().strip().splitlines()[1:]
    assert len(sweep_rows) == 4


def partials(run_dir):
    return [p for p in run_dir.rglob("*") if ".partial-" in p.name]


def test_a_kill_before_the_first_epoch_resumes(tmp_path):
    run_dir = tmp_path / "run"
    command = ("train", "--preset", "smoke", "--epochs", "2", "--run-dir", str(run_dir),
               "--verbose", "0")
    kill_when(start(*command, cwd=tmp_path), lambda: (run_dir / "config.json").exists())
    assert epochs(run_dir) == []
    finish(start(*command, cwd=tmp_path))
    assert epochs(run_dir) == [1, 2] and (run_dir / "metrics.json").is_file()


def test_a_kill_during_native_evaluation_scores_again_without_training(tmp_path):
    """Keras removes its backup at the end of `fit`: the rerun used to retrain from epoch 1,
    and then `metrics.json` described another epoch than `best.keras` held."""
    run_dir = tmp_path / "run"
    command = ("train", "--preset", "smoke", "--epochs", "2", "--run-dir", str(run_dir),
               "--verbose", "0")
    kill_when(start(*command, cwd=tmp_path),
              lambda: (run_dir / "trained.json").exists())
    assert not (run_dir / "metrics.json").exists()
    best = (run_dir / "best.keras").stat().st_mtime_ns
    history = (run_dir / "history.csv").read_text()
    finish(start(*command, cwd=tmp_path))
    assert (run_dir / "history.csv").read_text() == history  # no epoch trained again
    assert (run_dir / "best.keras").stat().st_mtime_ns == best
    assert (run_dir / "metrics.json").is_file()


def test_a_kill_during_a_checkpoint_write_leaves_no_partial_after_the_rerun(tmp_path):
    run_dir = tmp_path / "run"
    command = ("train", "--preset", "smoke", "--epochs", "4", "--run-dir", str(run_dir),
               "--verbose", "0")
    process = start(*command, cwd=tmp_path)
    deadline = time.monotonic() + TIMEOUT
    while not partials(run_dir) if run_dir.exists() else True:
        assert process.poll() is None, "finished before a checkpoint write could be caught"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finish(start(*command, cwd=tmp_path))
    assert partials(run_dir) == []
    assert epochs(run_dir) == [1, 2, 3, 4] and (run_dir / "metrics.json").is_file()


def test_two_trainings_on_one_folder_one_runs_the_other_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    command = ("train", "--preset", "smoke", "--epochs", "3", "--run-dir", str(run_dir),
               "--verbose", "0")
    first = start(*command, cwd=tmp_path)
    deadline = time.monotonic() + TIMEOUT
    while not (run_dir / "config.json").exists():
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.02)
    second = start(*command, cwd=tmp_path)
    _, refused = second.communicate(timeout=TIMEOUT)
    assert second.returncode == 2
    assert refused.startswith("error: ") and "in use by process" in refused
    assert "Traceback" not in refused
    finish(first)
    assert epochs(run_dir) == [1, 2, 3]


def test_ctrl_c_says_what_was_kept_without_a_traceback(tmp_path):
    run_dir = tmp_path / "run"
    command = ("train", "--preset", "smoke", "--epochs", "30", "--run-dir", str(run_dir),
               "--verbose", "0")
    process = start(*command, cwd=tmp_path)
    deadline = time.monotonic() + TIMEOUT
    while len(epochs(run_dir)) < 1:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130
    assert "interrupted" in stderr and "kept" in stderr and "Traceback" not in stderr
    assert (run_dir / "last.keras").is_file() and not (run_dir / "trained.json").exists()
