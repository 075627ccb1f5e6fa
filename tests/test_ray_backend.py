"""`sweep --backend ray`: the grid as Ray Tune trials on a real local cluster, the same run
folders as the local backend, a killed driver and killed workers, and refused input."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from unet import experiments, ray_backend
from unet.callbacks import read_history
from unet.errors import UsageError

GRID = ("--preset", "smoke", "--epochs", "2", "--learning-rates", "1e-3", "2e-3", "3e-3",
        "--batch-sizes", "4", "--kernel-sizes", "3", "--verbose", "0")
NAMES = ["lr1e-3_bs4_k3", "lr2e-3_bs4_k3", "lr3e-3_bs4_k3"]
TIMEOUT = 600


def sweep(tmp_path, runs, *backend):
    return ("sweep", *GRID, "--runs-dir", str(runs), "--report-dir",
            str(tmp_path / f"memory-{runs.name}"), *backend)


def folders(runs):
    """Each run folder's name, state and trained epochs."""
    return {row["run"]: (row["status"], [r["epoch"] for r in read_history(
        runs / row["folder"] / "history.csv")]) for row in experiments.summarize(runs)}


def report_rows(tmp_path, runs):
    return (tmp_path / f"memory-{runs.name}" / "sweep.csv").read_text().strip().splitlines()[1:]


@pytest.mark.slow
def test_the_grid_on_ray_gives_the_local_backends_folders_and_each_skips_the_others(
        tmp_path, run_cli):
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    done = run_cli(*sweep(tmp_path, local), timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    started = time.monotonic()
    done = run_cli(*sweep(tmp_path, on_ray, "--backend", "ray", "--trials-in-parallel", "2"),
                   timeout=TIMEOUT)
    print(f"ray grid: {time.monotonic() - started:.0f} s")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 at a time" in done.stdout
    assert sorted(line for line in done.stdout.splitlines() if line.startswith("Trial")) == \
        sorted([f"Trial {name} started" for name in NAMES]
               + [line for line in done.stdout.splitlines() if " ended: finished" in line])
    assert done.stdout.count(" ended: finished, val dice ") == 3
    assert "Epoch 1/2" not in done.stdout + done.stderr  # Keras' output is in the trials' logs
    expected = {name: ("finished", [1, 2]) for name in NAMES}
    assert folders(local) == folders(on_ray) == expected
    assert len(report_rows(tmp_path, on_ray)) == 3
    logs = list((on_ray / "ray").glob(f"sweep-*/{NAMES[0]}/{ray_backend.OUTPUT}"))
    assert len(logs) == 1
    # Each backend skips what the other finished, and says so; Ray does not even start.
    marks = {runs: {name: (runs / "synthetic/smoke" / name / "metrics.json").stat().st_mtime_ns
                    for name in NAMES} for runs in (local, on_ray)}
    again = run_cli(*sweep(tmp_path, local, "--backend", "ray"), timeout=TIMEOUT)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("Skipped") == 3 and "Ray:" not in again.stdout
    again = run_cli(*sweep(tmp_path, on_ray), timeout=TIMEOUT)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("Skipped") == 3
    for runs in (local, on_ray):
        assert {name: (runs / "synthetic/smoke" / name / "metrics.json").stat().st_mtime_ns
                for name in NAMES} == marks[runs]


def end_group(pid):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def wait_for(condition, process, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the sweep ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.5)


@pytest.mark.slow
def test_killed_workers_and_a_killed_driver_leave_each_epoch_trained_once(tmp_path, request):
    """Every trial's worker is killed after its first epoch (Ray restarts it; it resumes), and
    the driver is killed once a point has finished; the same command then completes the grid."""
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "unet", *sweep(tmp_path, runs, "--backend", "ray",
                                                     "--trials-in-parallel", "2")]
    env = {**os.environ, "UNET_FAULT": "kill:after_epoch:1"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    points = runs / "synthetic" / "smoke"
    with open(tmp_path / "first.txt", "w") as output:
        # A session of its own: the agents of its local cluster outlive a SIGKILL (its workers
        # do not), and are then ended by their group, after the test has checked the rerun.
        driver = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=output,
                                  stderr=subprocess.STDOUT, text=True, start_new_session=True)
        request.addfinalizer(lambda: end_group(driver.pid))
        try:
            wait_for(lambda: list(points.glob("*/metrics.json")), driver, "a finished point")
        finally:
            driver.kill()
            driver.wait()
    first = (tmp_path / "first.txt").read_text()
    assert "crashed; Ray restarts it" in first, first[-3000:]
    finished = {path.parent.name: path.stat().st_mtime_ns
                for path in points.glob("*/metrics.json")}
    assert finished and len(finished) < 3
    env.pop("UNET_FAULT")
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=TIMEOUT)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    for name in finished:
        assert f"Skipped {name}: finished" in again.stdout
        assert (points / name / "metrics.json").stat().st_mtime_ns == finished[name]
    assert folders(runs) == {name: ("finished", [1, 2]) for name in NAMES}
    assert len(report_rows(tmp_path, runs)) == 3
    assert not list(runs.rglob("*.partial-*"))


def test_check_runs_root_refuses_a_folder_the_driver_did_not_write(tmp_path):
    """A worker on another machine sees a local folder of the same path, without the token."""
    (tmp_path / ray_backend.TOKEN).write_text("abc")
    ray_backend.check_runs_root(tmp_path, "abc")
    with pytest.raises(UsageError, match="do not see the folder"):
        ray_backend.check_runs_root(tmp_path, "another sweep's")
    with pytest.raises(UsageError, match="do not see the folder"):
        ray_backend.check_runs_root(tmp_path / "missing", "abc")


BLOCK_RAY = """
import sys
class _NoRay:
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _NoRay())
"""


@pytest.mark.slow  # each starts the command line, TensorFlow included
@pytest.mark.parametrize("flags, message", [
    (("--backend", "ray", "--trials-in-parallel", "0"), "--trials-in-parallel must be 1 or more"),
    (("--backend", "ray", "--address", "127.0.0.1:9"), "--address 127.0.0.1:9: nothing answers"),
    (("--backend", "ray", "--address", "nowhere"), "expected auto, host:port"),
    (("--trials-in-parallel", "2"), "--trials-in-parallel: only with --backend ray"),
])
def test_bad_ray_flags_get_one_error_line_and_write_nothing(tmp_path, run_cli, flags, message):
    done = run_cli(*sweep(tmp_path, tmp_path / "runs", *flags), timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip().splitlines()[-1]]
    assert done.stderr.startswith("error: ") and message in done.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_ray_missing_says_how_to_install_it(tmp_path, run_cli):
    (tmp_path / "blocker").mkdir()
    (tmp_path / "blocker" / "sitecustomize.py").write_text(BLOCK_RAY)
    path = os.pathsep.join(filter(None, [str(tmp_path / "blocker"),
                                         os.environ.get("PYTHONPATH")]))
    done = run_cli(*sweep(tmp_path, tmp_path / "runs", "--backend", "ray"),
                   env={"PYTHONPATH": path}, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: --backend ray needs Ray Tune, which is not installed here (No module named "
        "'ray'); install it with: pip install \".[ray]\""]
    assert not (tmp_path / "runs").exists()
