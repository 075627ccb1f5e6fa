"""The grid on Ray Tune: each point a trial training into its own run folder, on a local cluster
or a running one (`sweep --backend ray`).

A trial calls the same `train(config, run_dir)` as the local backend, into the same folder, so
either backend skips what the other finished and resumes what it left. Ray only schedules: the
run folders hold all the state, and their lock (`files.lock`) keeps two trials, or a trial and a
worker its dead driver left behind, out of one folder. A trial Ray restarts after a crash
(`FailureConfig`) resumes from the run's `last.keras`.

Ray is an optional extra (`pip install ".[ray]"`); nothing else in the package imports it.
Tune's files (its experiment state, a folder per trial holding the trial's output as
`output.log`) go to `<runs root>/ray/sweep-<time>/`; the console shows one line as a trial starts
and ends.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import socket
import time
import uuid
from pathlib import Path

from unet import errors, experiments, files
from unet.errors import Locked, TrainingDiverged, UsageError, UserError
from unet.paths import runs_dir
from unet.run_folder import RunFolder

INSTALL = 'pip install ".[ray]"'
RAY_FOLDER = "ray"  # under the runs root: Tune's experiment folders, one per sweep
OUTPUT = "output.log"  # a trial's standard output and error, in its Tune folder
TOKEN = ".ray-sweep"  # written in the runs root by the driver, read by every trial
LOCK_WAIT_S = 300  # how long a trial waits for a folder a dying worker still holds
MAX_FAILURES = 2  # restarts of a crashed trial (a killed worker, a lost node)


def require_ray():
    """Imports Ray Tune.

    Returns:
        The `ray` and `ray.tune` modules.

    Raises:
        UsageError: Ray is not installed; the message says how to install it.
    """
    try:
        import ray
        from ray import tune
    except ImportError as missing:
        raise UsageError(f"--backend ray needs Ray Tune, which is not installed here "
                         f"({missing}); install it with: {INSTALL}") from None
    return ray, tune


def run_grid(configs, runs=None, *, address=None, trials_in_parallel=None, dashboard=False,
             verbose=0) -> list[dict]:
    """Runs every point of the grid as a Ray Tune trial; finished points are skipped.

    Args:
        configs: The points (`experiments.grid_configs`): one configuration per point.
        runs: The runs root (default: `paths.runs_dir()`); every worker must see it at the same
            absolute path (shared storage on a cluster).
        address: A running cluster to join (`auto`, `ray://host:port`, `host:port`); default: a
            local cluster of this machine, stopped at the end.
        trials_in_parallel: Trials at once; default: one per GPU, or 1 on a machine without.
        dashboard: Start Ray's dashboard with a local cluster.
        verbose: Keras' verbosity inside the trials (their output goes to their log files).

    Returns:
        The summary rows of these points, best first, as `experiments.run_grid` returns them.

    Raises:
        UsageError: Ray missing, an unreachable `address`, `trials_in_parallel` below 1, or a
            runs root that the workers cannot reach.
        UserError: a point failed for a reason its user can fix (the first such error).
        RuntimeError: a trial failed on every attempt (its log file is named).

    Example:
        >>> run_grid(experiments.grid_configs(preset("smoke")), trials_in_parallel=2)
    """
    if trials_in_parallel is not None and trials_in_parallel < 1:
        raise UsageError(f"--trials-in-parallel must be 1 or more; received "
                         f"{trials_in_parallel}.")
    ray, tune = require_ray()
    root = runs_dir(runs).absolute()
    # 1. Everything is checked before Ray starts: a folder of another configuration is refused.
    pending = []
    for config in configs:
        run_dir = root / config.folder
        if RunFolder(run_dir).state(config) == "finished":
            print(f"Skipped {config.name}: finished in {run_dir} (by either backend).")
        else:
            pending.append(config)
    if pending:
        _start(ray, address, dashboard)
        try:
            token = _write_token(root)
            _fit(tune, pending, root, token, trials_in_parallel, verbose)
        finally:
            ray.shutdown()
    return experiments.sort_rows([experiments.point_row(config, root) for config in configs])


def _write_token(root: Path) -> str:
    """Writes a fresh token in the runs root; a trial that cannot read it there is on a machine
    that does not share the folder."""
    token = uuid.uuid4().hex
    files.write_text(root / TOKEN, token)
    return token


def _start(ray, address, dashboard) -> None:
    """Joins the cluster at `address`, or starts a local one that dies with this process."""
    # Workers get the driver's UNET_ variables (data and runs roots, fault injection in tests).
    runtime_env = {"env_vars": {k: v for k, v in os.environ.items() if k.startswith("UNET_")}}
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING,
             "runtime_env": runtime_env}
    if address:
        _check_reachable(address)
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as error:
            raise UsageError(f"--address {address}: no Ray cluster could be joined there "
                             f"({str(error).strip().splitlines()[0]}); start one with "
                             "`ray start --head` or check the address.") from None
        return
    ray.init(include_dashboard=dashboard, **quiet)


def _check_reachable(address: str) -> None:
    """Refuses an address where nothing answers. Ray itself waits for such a cluster without
    end, so a `host:port` is first tried here with a short timeout (`auto` needs no try: Ray
    says at once when it finds no cluster)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if address == "auto":
        return
    if not (host and port.isdigit()):
        raise UsageError(f"--address {address}: expected auto, host:port or ray://host:port.")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise UsageError(f"--address {address}: nothing answers there ({error}); start the "
                         "cluster with `ray start --head` on that machine, or check the "
                         "address.") from None


def _resources(ray, trials_in_parallel) -> tuple[dict, int]:
    """What one trial asks for, and how many run at once: one GPU each where the cluster has
    GPUs, else an equal share of its CPUs."""
    total = ray.cluster_resources()
    gpus, cpus = int(total.get("GPU", 0)), total.get("CPU", 1)
    if gpus:
        parallel = trials_in_parallel or gpus
        return {"gpu": max(gpus // parallel, 1), "cpu": max(cpus // parallel, 1)}, parallel
    parallel = trials_in_parallel or 1
    return {"cpu": cpus / parallel}, parallel


def _fit(tune, configs, root: Path, token: str, trials_in_parallel, verbose) -> None:
    """One Tune experiment, a trial per point of `configs` (searched by name); raises the
    first error of a trial."""
    import ray

    points = {config.name: config for config in configs}
    resources, parallel = _resources(ray, trials_in_parallel)
    name = datetime.datetime.now().strftime("sweep-%Y%m%d-%H%M%S")
    trainable = tune.with_resources(
        tune.with_parameters(_trial, points=points, root=str(root), token=token,
                             cwd=os.getcwd(), logs=str(root / RAY_FOLDER / name),
                             verbose=verbose),
        resources)
    # Tune's classic console output: at verbosity 1 only its table of trials, here every 30 s
    # and at the end; the newer one adds a table per trial's start and result.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    print(f"Ray: {len(configs)} trial(s), {parallel} at a time, {resources} each; "
          f"Tune's logs in {root / RAY_FOLDER / name}", flush=True)
    tuner = tune.Tuner(
        trainable,
        param_space={"point": tune.grid_search(list(points))},
        tune_config=tune.TuneConfig(max_concurrent_trials=parallel,
                                    trial_name_creator=_name, trial_dirname_creator=_name),
        run_config=tune.RunConfig(
            name=name, storage_path=str(root / RAY_FOLDER),
            failure_config=tune.FailureConfig(max_failures=MAX_FAILURES),
            callbacks=[_trial_lines(tune)], verbose=1,
            progress_reporter=tune.CLIReporter(
                max_report_frequency=30,
                metric_columns={"state": "state", "dice": "val dice",
                                "mean_dice": "val mean dice"})))
    results = tuner.fit()
    failures = [result for result in results if result.error]
    for result in failures:
        point = result.config["point"]
        print(f"Failed {point}: {result.error}; its output: "
              f"{root / RAY_FOLDER / name / point / OUTPUT}")
    stopped = [result.metrics for result in results if result.metrics.get("error")]
    if stopped:
        first = stopped[0]
        raise getattr(errors, first["error_class"], UserError)(first["error"])
    if failures:
        raise RuntimeError(f"{len(failures)} trial(s) failed on every attempt (see above).")


def _name(trial) -> str:
    """A trial's name and folder: its point's (`RunConfig.name`)."""
    return trial.config["point"]


def _trial_lines(tune):
    """A Tune callback printing one line as a trial starts, ends, fails or is retried."""

    class TrialLines(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            print(f"Trial {_name(trial)} started", flush=True)

        def on_trial_complete(self, iteration, trials, trial, **info):
            result = trial.last_result
            state = result.get("state", "?")
            score = next((f", val {key} {result[key]:.4f}" for key in ("dice", "mean_dice")
                          if key in result), "")
            print(f"Trial {_name(trial)} ended: {state}{score}", flush=True)

        def on_trial_recover(self, iteration, trials, trial, **info):
            print(f"Trial {_name(trial)} crashed; Ray restarts it, and it resumes "
                  "from its checkpoint", flush=True)

        def on_trial_error(self, iteration, trials, trial, **info):
            print(f"Trial {_name(trial)} failed on every attempt", flush=True)

    return TrialLines()


def check_runs_root(root, token: str) -> None:
    """Checks, inside a trial, that this worker sees the driver's runs root.

    Args:
        root: The runs root, an absolute path.
        token: What the driver wrote in `root/.ray-sweep` for this sweep.

    Raises:
        UsageError: the folder is missing here, or holds another sweep's token (a local folder of
            the same name, not the shared one). One the workers cannot write is refused by
            the run folder's lock (`StorageError`).
    """
    root = Path(root)
    marker = root / TOKEN
    seen = marker.read_text().strip() if marker.is_file() else None
    if seen != token:
        raise UsageError(f"--runs-dir {root}: the Ray workers do not see the folder this "
                         "sweep was started with; put the runs root on storage every node "
                         "mounts at the same path (NFS, gcsfuse, s3fs) and pass its absolute "
                         "path.")


def _trial(params, *, points, root, token, cwd, logs, verbose) -> None:
    """One point, inside a Ray worker: checks the runs root, then trains (or skips) the point
    and reports its summary row. Its output goes to `<logs>/<point>/output.log` (appended by a
    restarted attempt) rather than the console."""
    config = points[params["point"]]
    log = Path(logs) / config.name / OUTPUT
    log.parent.mkdir(parents=True, exist_ok=True)
    with (open(log, "a", buffering=1) as stream, contextlib.redirect_stdout(stream),
          contextlib.redirect_stderr(stream), files.redirect_stderr_fd(stream)):
        _point(config, root, token, cwd, verbose)


def _point(config, root, token, cwd, verbose) -> None:
    """Trains or skips `config`'s point and reports its row to Tune; a user's mistake is
    reported rather than raised, so that Ray does not retry what cannot succeed."""
    from ray import tune

    try:
        check_runs_root(root, token)
        if os.path.isdir(cwd):
            os.chdir(cwd)  # relative data folders resolve as on the driver
        _train_waiting_for_lock(config, Path(root) / config.folder, verbose)
    except TrainingDiverged as error:
        print(error)
    except UserError as error:
        tune.report({"state": "error", "error": str(error),
                     "error_class": type(error).__name__})
        return
    row = RunFolder(Path(root) / config.folder).summary_row(root)
    tune.report({"state": row["status"], **{key: value for key, value in row.items()
                                            if isinstance(value, (int, float))}})


def _train_waiting_for_lock(config, run_dir, verbose) -> None:
    """`train`, after waiting for a folder that another process holds: a worker whose driver
    was killed ends within seconds, and its run folder is locked until it has."""
    from unet.training import train  # TensorFlow only in the workers that train

    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            train(config, run_dir, verbose=verbose)
            return
        except Locked:
            if time.monotonic() > deadline:
                raise
            print(f"{run_dir} is locked by another process; waiting for it to end.",
                  flush=True)
            time.sleep(2)
