"""Shared test setup: quiet TensorFlow, seeded randomness, small fixtures."""

import os

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
    from unet.config import RunConfig

    runs, _ = smoke_sweep
    run_dir = runs / "synthetic" / "smoke" / "lr3e-3_bs4_k3"
    return run_dir / "best.keras", RunConfig.load(run_dir / "config.json")


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
