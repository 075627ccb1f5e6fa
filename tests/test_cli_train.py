import json
import shutil

import pytest

pytestmark = pytest.mark.slow


def test_help_answers_without_importing_tensorflow(tmp_path, run_cli):
    helped = run_cli("--help", cwd=tmp_path)
    assert helped.returncode == 0 and "demo" in helped.stdout
    for command in ("train", "sweep", "evaluate", "predict", "export", "app", "data"):
        helped = run_cli(command, "--help", cwd=tmp_path)
        assert helped.returncode == 0 and "usage: python -m unet " + command in helped.stdout


def test_the_readme_sequence_in_smoke_form(tmp_path, run_cli):
    """The README's commands in order, on a fresh folder: each works and finds the files the
    one before it wrote; TensorFlow's start-up lines stay hidden."""
    env = {"UNET_RUNS_DIR": str(tmp_path / "runs"), "UNET_MEMORY_DIR": str(tmp_path / "memory"),
           "UNET_DATA_ROOT": str(tmp_path / "data")}
    data = tmp_path / "data" / "carvana_like"
    made = run_cli("data", "synthetic", "--dataset", "carvana", "--out", str(data), "--count",
                   "3", "--image-size", "64", "96", "--test-cars", "1", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    checked = run_cli("data", "check", "--dataset", "carvana", "--data-dir", str(data),
                      cwd=tmp_path, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    trained = run_cli("train", "--preset", "smoke", "--dataset", "carvana", "--data-dir",
                      str(data), "--verbose", "0", cwd=tmp_path, env=env)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "I0000" not in trained.stderr and "E0000" not in trained.stderr
    run_dir = tmp_path / "runs" / "carvana" / "smoke" / "lr1e-3_bs4_k3"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    model = run_dir / "best.keras"

    again = run_cli("train", "--preset", "smoke", "--dataset", "carvana", "--data-dir",
                    str(data), "--verbose", "0", cwd=tmp_path, env=env)
    assert again.returncode == 0 and "Skipped" in again.stdout and "finished" in again.stdout

    evaluated = run_cli("evaluate", "--model", str(model), cwd=tmp_path, env=env)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    summary = json.loads(evaluated.stdout[evaluated.stdout.index("{"):])
    assert summary["dice"] == pytest.approx(metrics["dice"], abs=1e-6)

    reported = run_cli("report", cwd=tmp_path, env=env)
    assert reported.returncode == 0, reported.stderr[-3000:]
    assert "carvana/smoke/lr1e-3_bs4_k3" in (tmp_path / "memory" / "README.md").read_text()
    everything = run_cli("report", "--all", "--no-overlays", cwd=tmp_path, env=env)
    assert everything.returncode == 0, everything.stderr[-3000:]
    assert "Made by `python -m unet report --all`" in (tmp_path / "memory" / "README.md"
                                                         ).read_text()

    predicted = run_cli("predict", "--model", str(model), "--input", str(data / "test"),
                        "--output", "predictions", "--submission", "submission.csv.gz",
                        cwd=tmp_path, env=env)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert len(list((tmp_path / "predictions").glob("*_mask.png"))) == 16
    exported = run_cli("export", "--model", str(model), "--format", "saved_model",
                       cwd=tmp_path, env=env)
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert (tmp_path / exported.stdout.strip().splitlines()[-1]).exists()


def test_evaluate_reads_size_and_classes_from_a_model_without_config(trained, carvana_dir,
                                                                     tmp_path, run_cli):
    """Defect: with no config.json beside it, the model path was copied into `architecture`."""
    model_path, config = trained
    alone = tmp_path / "alone.keras"
    shutil.copy(model_path, alone)
    evaluated = run_cli("evaluate", "--model", str(alone), "--dataset", "carvana",
                        "--data-dir", str(carvana_dir), cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    summary = json.loads(evaluated.stdout[evaluated.stdout.index("{"):])
    assert 0.0 <= summary["dice"] <= 1.0 and summary["images"] > 0


@pytest.mark.parametrize("flags, named", [
    (["--epochs", "0"], "--epochs"), (["--batch-size", "-2"], "--batch-size"),
    (["--learning-rate", "-1e-3"], "--learning-rate"), (["--learning-rate", "nan"],
                                                        "--learning-rate"),
    (["--val-fraction", "1.5"], "--val-fraction"), (["--kernel-size", "4"], "--kernel-size"),
    (["--image-size", "0", "96"], "--image-size"), (["--filters", "0"], "--filters"),
    (["--depth", "0"], "--depth"), (["--steps-per-epoch", "0"], "--steps-per-epoch"),
    (["--preset", "gpu"], "--preset"), (["--learning-rate", "inf"], "finite"),
    (["--crop-size", "0", "96"], "--crop-size"),
    (["--image-size", "100", "150"],  # depth 4 needs multiples of 16
     "height 100 (--image-size) is not divisible by 2**depth = 16 (depth=4); use 96 or 112."),
    (["--loss", "sparse_ce"], "needs num_classes > 1"),
])
def test_bad_values_are_refused_before_anything_runs(flags, named, tmp_path, run_cli):
    refused = run_cli("train", *flags, "--runs-dir", "runs", cwd=tmp_path)
    assert refused.returncode == 2
    assert named in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "runs").exists()


def test_errors_are_one_line_with_their_exit_code(tmp_path, run_cli):
    missing = run_cli("train", "--preset", "smoke", "--dataset", "carvana", "--data-dir",
                      "nowhere", "--runs-dir", "runs", cwd=tmp_path)
    assert missing.returncode == 1, missing.stderr
    assert missing.stderr.strip().startswith("error: ") and "nowhere" in missing.stderr
    assert "Traceback" not in missing.stderr and not (tmp_path / "runs").exists()
    diverged = run_cli("train", "--preset", "smoke", "--learning-rate", "1e12",
                       "--run-dir", "run", "--verbose", "0", cwd=tmp_path)
    assert diverged.returncode == 3
    assert "Training diverged" in diverged.stderr and "Lower the learning rate" in diverged.stderr
    no_runs = run_cli("report", "--runs-dir", "nowhere", "--memory-dir", "mem", cwd=tmp_path)
    assert no_runs.returncode == 1 and "No runs under" in no_runs.stderr
    assert not (tmp_path / "mem").exists()


def test_the_demo_trains_on_a_fresh_clone_whatever_memory_holds(tmp_path, run_cli):
    """Defect: the committed memory/runs/*/metrics.json counted as finished, so `make demo`
    trained nothing and every README follow-up on best.keras failed."""
    from pathlib import Path

    repository = Path(__file__).resolve().parents[1]
    memory = shutil.copytree(repository / "memory", tmp_path / "memory")  # as committed
    env = {"UNET_DATA_ROOT": str(tmp_path / "data")}
    demo = run_cli("demo", "--preset", "smoke", "--runs-dir", "runs", "--report-dir",
                   str(memory), cwd=tmp_path, env=env)
    assert demo.returncode == 0, demo.stderr[-3000:]
    model = tmp_path / "runs" / "synthetic" / "smoke" / "lr1e-3_bs4_k3" / "best.keras"
    assert model.is_file() and "Best model: runs/synthetic/smoke/lr1e-3_bs4_k3/best.keras" \
        in demo.stdout
    assert "Made by `make demo`" in (memory / "README.md").read_text()
    assert (memory / "synthetic_overlays_best_worst.png").is_file()
    commands = [line.split() for line in demo.stdout.splitlines()
                if line.strip().startswith(("python -m unet", "tensorboard"))]
    assert {c[3] if c[0] == "python" else c[0] for c in commands} >= {
        "evaluate", "predict", "export", "app", "tensorboard"}
    for command in commands:  # every path the demo tells a user to try exists
        for flag in ("--model", "--input", "--logdir"):
            if flag in command:
                assert (tmp_path / command[command.index(flag) + 1]).exists(), command
    again = run_cli("demo", "--preset", "smoke", "--runs-dir", "runs", "--report-dir",
                    str(memory), cwd=tmp_path, env=env)
    assert again.returncode == 0 and "Skipped" in again.stdout


def test_an_image_size_below_the_presets_crop_trains_on_whole_images(capsys):
    from unet import cli
    from unet.cli import runs

    args = cli.build_parser().parse_args(["train", "--image-size", "96", "144"])
    assert runs.config_from_args(args).data.crop_size is None
    assert "do not fit" in capsys.readouterr().out
    args = cli.build_parser().parse_args(["train", "--crop-size", "64", "96"])
    assert runs.config_from_args(args).data.crop_size == (64, 96)
    args = cli.build_parser().parse_args(["train", "--crop-size", "0", "0"])
    assert runs.config_from_args(args).data.crop_size is None


def test_the_default_preset_on_carla_trains_on_whole_carla_sized_images(capsys):
    """Defect: `train --dataset carla` (the `cpu` preset's 128x192 crops on CARLA's 96x128)
    was refused as a configuration error."""
    from unet import cli
    from unet.cli import runs

    args = cli.build_parser().parse_args(["train", "--dataset", "carla", "--data-dir", "x"])
    config = runs.config_from_args(args)
    assert (config.data.image_size, config.data.crop_size) == ((96, 128), None)
    assert config.model.num_classes == 23
    assert "whole 96x128 images: the preset's 128x192 crops do not fit" in capsys.readouterr().out
    args = cli.build_parser().parse_args(["train", "--dataset", "carvana", "--data-dir", "x"])
    assert runs.config_from_args(args).data.crop_size == (128, 192)  # they fit: kept
    assert "do not fit" not in capsys.readouterr().out
