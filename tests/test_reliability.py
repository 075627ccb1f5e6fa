"""Kill -9 at any moment, rerun the same command: nothing lost, nothing repeated.

Each fault is injected at a named point (`UNET_FAULT`, see `unet.faults`): the process signals
itself there, so every test stops it at exactly the same place on any machine.
"""

import json
import math
import os
import signal

import pytest

from unet import checkpoints, experiments
from unet.callbacks import read_history

pytestmark = pytest.mark.slow

TIMEOUT = 240


def killed(process):
    """Waits for `process`, which must end by its injected SIGKILL."""
    _, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == -signal.SIGKILL, (
        f"not killed at the fault (exit {process.returncode}): {stderr[-2000:]}")


def finish(process):
    _, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, stderr[-3000:]


def wait_stopped(process):
    """Waits until `process` has stopped itself (SIGSTOP at its fault point)."""
    _, status = os.waitpid(process.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"ended instead of stopping (status {status})"


def epochs(run_dir):
    return [row["epoch"] for row in read_history(run_dir / "history.csv")]


def partials(run_dir):
    return [p for p in run_dir.rglob("*") if ".partial-" in p.name]


def train(epochs_wanted, run_dir):
    return ("train", "--preset", "smoke", "--epochs", str(epochs_wanted), "--run-dir",
            str(run_dir), "--verbose", "0")


def test_a_training_killed_mid_epoch_resumes_and_logs_each_epoch_once(tmp_path, run_cli):
    run_dir = tmp_path / "run"
    command = (*train(6, run_dir), "--image-size", "64", "96")
    killed(run_cli.start(*command, env={"UNET_FAULT": "kill:in_epoch:3"}))
    assert epochs(run_dir) == [1, 2] and not (run_dir / "metrics.json").exists()
    assert (run_dir / "last.keras").is_file()  # epoch 2's weights and optimizer state
    # What an older version's Keras backup left, torn by the kill: removed, not read.
    (run_dir / "backup").mkdir()
    (run_dir / "backup" / "latest.weights.h5").write_bytes(b"torn")
    finish(run_cli.start(*command))
    assert not (run_dir / "backup").exists()
    assert epochs(run_dir) == [1, 2, 3, 4, 5, 6]
    assert (run_dir / "metrics.json").is_file()


def test_a_sweep_killed_between_and_within_points_ends_with_each_point_once(tmp_path,
                                                                             run_cli):
    memory, root = tmp_path / "memory", tmp_path / "runs"
    command = ("sweep", "--preset", "smoke", "--epochs", "3", "--learning-rates", "1e-3", "2e-3",
               "--batch-sizes", "4", "--kernel-sizes", "3", "5", "--report-dir", str(memory),
               "--runs-dir", str(root), "--verbose", "0")
    runs = root / "synthetic" / "smoke"
    first = runs / "lr1e-3_bs4_k3"
    third = runs / "lr2e-3_bs4_k3"
    # 1. Between points: as soon as the first point has finished.
    killed(run_cli.start(*command, env={
        "UNET_FAULT": "kill:after_atomic_write:lr1e-3_bs4_k3/metrics.json"}))
    assert not (runs / "lr1e-3_bs4_k5").exists()
    finished_once = (first / "metrics.json").stat().st_mtime_ns
    # 2. Within a point: the third point's first checkpoint is half written.
    killed(run_cli.start(*command, env={
        "UNET_FAULT": "kill:in_atomic_write:lr2e-3_bs4_k3/last.keras"}))
    assert (runs / "lr1e-3_bs4_k5" / "metrics.json").is_file()
    assert not (third / "metrics.json").exists() and partials(third)
    finish(run_cli.start(*command))
    rows = experiments.summarize(root)
    assert sorted(r["run"] for r in rows) == ["lr1e-3_bs4_k3", "lr1e-3_bs4_k5",
                                              "lr2e-3_bs4_k3", "lr2e-3_bs4_k5"]
    assert all(r["status"] == "finished" for r in rows)
    assert (first / "metrics.json").stat().st_mtime_ns == finished_once  # not repeated
    for row in rows:
        assert epochs(runs / row["run"]) == [1, 2, 3]
    assert partials(runs) == []
    sweep_rows = (memory / "sweep.csv").read_text().strip().splitlines()[1:]
    assert len(sweep_rows) == 4


def test_a_kill_between_an_epochs_history_row_and_its_checkpoint_trains_it_again(
        tmp_path, run_cli):
    """The row of epoch 2 is written, its checkpoint is not: last.keras holds epoch 1, so epoch
    2 is trained again from it, its row replaced, and the schedule is not an epoch ahead."""
    run_dir = tmp_path / "run"
    command = train(3, run_dir)
    killed(run_cli.start(*command, env={"UNET_FAULT": "kill:after_history:2"}))
    assert epochs(run_dir) == [1, 2]
    row_before = (run_dir / "history.csv").read_text().splitlines()[2]
    finish(run_cli.start(*command))
    assert epochs(run_dir) == [1, 2, 3]
    assert (run_dir / "history.csv").read_text().splitlines()[2] != row_before  # redone
    last = checkpoints.load_model(run_dir / "last.keras", compile=True)
    steps = math.ceil(json.loads((run_dir / "metrics.json").read_text())["train_images"] / 4)
    assert int(last.optimizer.iterations.numpy()) == 3 * steps  # three epochs' steps, not four


def test_a_kill_before_the_first_epoch_resumes(tmp_path, run_cli):
    run_dir = tmp_path / "run"
    command = train(2, run_dir)
    killed(run_cli.start(*command, env={"UNET_FAULT": "kill:after_atomic_write:config.json"}))
    assert (run_dir / "config.json").is_file() and epochs(run_dir) == []
    finish(run_cli.start(*command))
    assert epochs(run_dir) == [1, 2] and (run_dir / "metrics.json").is_file()


def test_a_kill_during_native_evaluation_scores_again_without_training(tmp_path, run_cli):
    """Every epoch was trained: the rerun must score `best.keras` as it
    is, not train again, so that `metrics.json` describes the epoch `best.keras` holds."""
    run_dir = tmp_path / "run"
    command = train(2, run_dir)
    killed(run_cli.start(*command, env={"UNET_FAULT": "kill:after_atomic_write:trained.json"}))
    assert not (run_dir / "metrics.json").exists()
    best = (run_dir / "best.keras").stat().st_mtime_ns
    history = (run_dir / "history.csv").read_text()
    finish(run_cli.start(*command))
    assert (run_dir / "history.csv").read_text() == history  # no epoch trained again
    assert (run_dir / "best.keras").stat().st_mtime_ns == best
    assert (run_dir / "metrics.json").is_file()


def test_a_kill_during_a_checkpoint_write_leaves_no_partial_after_the_rerun(tmp_path, run_cli):
    run_dir = tmp_path / "run"
    command = train(4, run_dir)
    killed(run_cli.start(*command, env={"UNET_FAULT": "kill:in_atomic_write:last.keras"}))
    (left,) = partials(run_dir)  # the checkpoint being written, never renamed into place
    assert left.name.startswith(".last.partial-") and not (run_dir / "last.keras").exists()
    finish(run_cli.start(*command))
    assert partials(run_dir) == []
    assert epochs(run_dir) == [1, 2, 3, 4] and (run_dir / "metrics.json").is_file()


def test_two_trainings_on_one_folder_one_runs_the_other_is_refused(tmp_path, run_cli):
    run_dir = tmp_path / "run"
    command = train(3, run_dir)
    # The first holds the folder's lock, stopped as soon as its configuration is written.
    first = run_cli.start(*command, env={"UNET_FAULT": "stop:after_atomic_write:config.json"})
    try:
        wait_stopped(first)
        second = run_cli(*command, timeout=TIMEOUT)
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 2
    assert second.stderr.startswith("error: ") and "in use by process" in second.stderr
    assert "Traceback" not in second.stderr
    finish(first)
    assert epochs(run_dir) == [1, 2, 3]


def test_ctrl_c_says_what_was_kept_without_a_traceback(tmp_path, run_cli):
    run_dir = tmp_path / "run"
    process = run_cli.start(*train(30, run_dir), env={"UNET_FAULT": "interrupt:after_epoch:1"})
    _, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130
    assert "interrupted" in stderr and "kept" in stderr and "Traceback" not in stderr
    assert (run_dir / "last.keras").is_file() and not (run_dir / "trained.json").exists()
    assert epochs(run_dir) == [1]
