"""Shared test setup: quiet TensorFlow, seeded randomness, small fixtures."""

import os
import signal
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


class CommandLine:
    """`python -m unet` in a subprocess, as a user runs it, in the test's temporary folder.

    TensorFlow's log level is left to the command line, which quiets TensorFlow itself. `env`
    adds variables, e.g. `{"UNET_FAULT": "kill:after_epoch:2"}` (see `unet.faults`).
    """

    def __init__(self, cwd):
        self.cwd = cwd

    def _options(self, args, cwd, env) -> tuple[list, dict]:
        environment = {**os.environ, **(env or {})}
        environment.pop("TF_CPP_MIN_LOG_LEVEL", None)
        return [sys.executable, "-m", "unet", *map(str, args)], {
            "cwd": cwd or self.cwd, "env": environment, "text": True}

    def __call__(self, *args, cwd=None, env=None, timeout=600) -> subprocess.CompletedProcess:
        """Runs the command to its end; its output is captured."""
        command, options = self._options(args, cwd, env)
        return subprocess.run(command, capture_output=True, timeout=timeout, **options)

    def start(self, *args, cwd=None, env=None) -> subprocess.Popen:
        """Starts the command; its standard error is piped, its output dropped."""
        command, options = self._options(args, cwd, env)
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                preexec_fn=_default_sigint, **options)


def _default_sigint():
    """A shell's background job starts with SIGINT ignored, and a child inherits that: give the
    command Ctrl-C's usual handling, as in a terminal, so that tests can send it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def run_cli(tmp_path):
    """Runs `python -m unet ARGS` in a subprocess: `run_cli(*args, cwd=, env=, timeout=)`, or
    `run_cli.start(*args, ...)` for a process to watch, signal or wait for."""
    return CommandLine(tmp_path)


@pytest.fixture(scope="session")
def carvana_dir(tmp_path_factory):
    """Three generated cars (48 pairs) at 64x96, in Kaggle's layout; treat as read-only."""
    from unet.data import synthetic

    return synthetic.make_carvana_like(tmp_path_factory.mktemp("carvana"), cars=3,
                                       image_size=(64, 96), seed=3, test_cars=1, progress=False)


@pytest.fixture(scope="session")
def carla_dir(tmp_path_factory):
    """Eight generated CARLA-like scenes at 48x64; treat as read-only."""
    from unet.data import synthetic

    return synthetic.make_carla_like(tmp_path_factory.mktemp("carla"), count=8,
                                     image_size=(48, 64), seed=3, progress=False)


@pytest.fixture
def carvana_copy(carvana_dir, tmp_path):
    """A writable copy of the generated Carvana folder, to break on purpose."""
    import shutil

    return shutil.copytree(carvana_dir, tmp_path / "carvana")


@pytest.fixture(scope="session")
def smoke_sweep(tmp_path_factory):
    """A finished two-point smoke grid under a runs root; treat as read-only.

    Returns `(runs root, rows)`; run folders are `<root>/synthetic/smoke/lr..._bs4_k3`.
    """
    from unet import experiments
    from unet.config import preset

    runs = tmp_path_factory.mktemp("runs")
    configs = experiments.grid_configs(preset("smoke"), [1e-3, 3e-3], [4], [3])
    rows = experiments.run_grid(configs, runs, verbose=0)
    return runs, rows


@pytest.fixture(scope="session")
def trained(smoke_sweep):
    """The better smoke run's `best.keras` and its configuration."""
    from unet.run_folder import RunFolder

    runs, _ = smoke_sweep
    run_dir = runs / "synthetic" / "smoke" / "lr3e-3_bs4_k3"
    return run_dir / "best.keras", RunFolder(run_dir).read_config()


@pytest.fixture(scope="session")
def softmax_run(carvana_dir, tmp_path_factory):
    """A finished smoke run of the `softmax-unet` recipe (Carvana as 2 classes, trained from
    the command line on `carvana_dir`); treat as read-only. Returns its run folder."""
    from unet import cli

    runs = tmp_path_factory.mktemp("recipe_runs")
    code = cli.main(["train", "--recipe", "softmax-unet", "--preset", "smoke", "--data-dir",
                     str(carvana_dir), "--runs-dir", str(runs), "--verbose", "0"])
    assert code == 0
    (config_path,) = runs.rglob("config.json")
    return config_path.parent
