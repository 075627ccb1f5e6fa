"""The command line's small cases: a closed pipe, a repeated grid value, a damaged point, a
rerun that asks for another configuration."""
import subprocess
import sys

import pytest

from unet import cli, experiments
from unet.config import preset
from unet.errors import RunConflict
from unet.run_folder import RunFolder, config_differences


def test_a_closed_standard_output_ends_quietly_without_a_traceback():
    process = subprocess.Popen([sys.executable, "-m", "unet", "recipes"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # as `| head` does once it has what it wants
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == cli.EXIT_BROKEN_PIPE == 141
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


def test_a_rerun_with_another_setting_names_what_differs(tmp_path):
    config = preset("smoke")
    folder = RunFolder(tmp_path)
    folder.config.write_text(config.to_json())
    other = config.override(train={"learning_rate": 3e-4, "epochs": 9})
    assert config_differences(config, other) == [
        f"train.learning_rate {config.train.learning_rate} → 0.0003"]
    with pytest.raises(RunConflict, match=r"another configuration .*train.learning_rate "
                       rf"{config.train.learning_rate} → 0.0003\); use another --run-dir"):
        folder.state(other)


def _sweep(monkeypatch, capsys, *args, rows=None):
    """Runs `sweep ARGS --no-report` with training replaced by returning `rows`; the configs
    it would train and what it printed."""
    asked = []

    def run_grid(configs, runs=None, verbose=2):
        asked.extend(configs)
        return rows or []

    monkeypatch.setattr(experiments, "run_grid", run_grid)
    code = cli.main(["sweep", "--preset", "smoke", "--no-report", *args])
    return code, asked, capsys.readouterr()


def test_a_grid_value_given_twice_makes_one_point(monkeypatch, capsys, tmp_path):
    _, configs, out = _sweep(monkeypatch, capsys, "--runs-dir", str(tmp_path),
                             "--batch-sizes", "4", "4", "2", "--learning-rates", "1e-3",
                             "--kernel-sizes", "3")
    assert [c.train.batch_size for c in configs] == [4, 2]
    assert "--batch-sizes: 4 given more than once; one point each." in out.out
    assert len(experiments.grid_configs(preset("smoke"), [1e-3, 1e-3], [4], [3])) == 1


def test_a_damaged_point_is_printed_as_damaged_not_as_a_none_score(monkeypatch, capsys,
                                                                   tmp_path):
    rows = [{"folder": "synthetic/smoke/a", "status": "damaged", "problem": "metrics.json: bad"},
            {"folder": "synthetic/smoke/b", "status": "finished", "dice": 0.81234}]
    code, _, out = _sweep(monkeypatch, capsys, "--runs-dir", str(tmp_path),
                          "--learning-rates", "1e-3", rows=rows)
    assert code == 1
    assert "synthetic/smoke/a: damaged, left as it is" in out.out
    assert "synthetic/smoke/b: finished, val dice 0.8123" in out.out
    assert "None" not in out.out and "error: metrics.json: bad" in out.err


def _trained_run(path, config) -> RunFolder:
    """A run folder whose `config.train.epochs` epochs are trained (no scores yet)."""
    folder = RunFolder(path)
    folder.path.mkdir()
    folder.config.write_text(config.to_json())
    folder.history.write_text("epoch,seconds,val_dice\n" + "".join(
        f"{epoch},1.0,0.5\n" for epoch in range(1, config.train.epochs + 1)))
    folder.trained.write_text(f'{{"epochs": {config.train.epochs}}}')
    return folder


def test_a_run_on_an_epoch_long_schedule_is_not_continued_to_more_epochs(tmp_path):
    from unet.training import train

    cosine = preset("smoke").override(train={"epochs": 3, "schedule": "warmup_cosine"})
    folder = _trained_run(tmp_path / "cosine", cosine)
    longer = cosine.override(train={"epochs": 5})
    with pytest.raises(RunConflict, match=r"warmup_cosine schedule spans 3 epochs; it cannot "
                       r"be continued to 5 .* Train 5 epochs from the start in another "
                       r"--run-dir, or ask for 3\."):
        train(longer, folder.path)
    assert folder.read_config() == cosine  # nothing written
    assert folder.state(cosine) == "trained"
    constant = preset("smoke").override(train={"epochs": 3, "schedule": "constant"})
    assert _trained_run(tmp_path / "constant", constant).state(
        constant.override(train={"epochs": 5})) == "interrupted"  # continued
