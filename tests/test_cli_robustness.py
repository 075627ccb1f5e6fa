"""What a user sees when a file is damaged, the disk is full, a CSV comes from a spreadsheet,
the process is terminated, or an input is odd: one `error:` line naming the file or folder (and
what to do), no traceback, the exit code of its class, and nothing lost."""

import gzip
import hashlib
import os
import shutil
import signal
import subprocess
import sys

import pytest

from unet.run_folder import RunFolder, read_history

pytestmark = pytest.mark.slow


def one_error(result, *names) -> str:
    """The command's one `error:` line (the first of several), which must name `names`."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert lines, result.stderr[-3000:]
    for name in names:
        assert str(name) in lines[0], lines[0]
    return lines[0]


def digest(folder) -> dict:
    """Every file under `folder` (but the lock) by its content hash: what a command changed."""
    return {path.relative_to(folder).as_posix(): hashlib.sha1(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name != ".lock"}


@pytest.fixture
def runs(smoke_sweep, tmp_path):
    """A writable copy of the finished two-point smoke grid; returns its runs root."""
    return shutil.copytree(smoke_sweep[0], tmp_path / "runs")


def point(runs, learning_rate="1e-3") -> RunFolder:
    return RunFolder(runs / "synthetic" / "smoke" / f"lr{learning_rate}_bs4_k3")


def train(runs, learning_rate="1e-3", epochs=1):
    return ("train", "--preset", "smoke", "--learning-rate", learning_rate, "--epochs",
            str(epochs), "--runs-dir", runs, "--verbose", "0")


SWEEP = ("sweep", "--preset", "smoke", "--learning-rates", "1e-3", "3e-3", "--batch-sizes", "4",
         "--kernel-sizes", "3", "--verbose", "0")


@pytest.mark.parametrize(("name", "contents", "advice"), [
    ("config", '{"model": {}, "data"', "delete the folder"),
    ("trained", "{}", "remove it"),
    ("metrics", '{"foo": 1}', "remove it to rescore"),
])
def test_train_names_a_damaged_run_file_and_changes_nothing(runs, run_cli, name, contents,
                                                            advice):
    folder = point(runs)
    path = getattr(folder, name)
    path.write_text(contents)
    before = digest(folder.path)
    result = run_cli(*train(runs))
    assert result.returncode == 1
    assert advice in one_error(result, path, "is damaged")
    assert digest(folder.path) == before


def test_evaluate_and_predict_name_a_damaged_file_beside_the_model(runs, run_cli, carvana_dir,
                                                                   tmp_path):
    folder = point(runs)
    folder.config.write_text("{}")
    result = run_cli("evaluate", "--model", folder.best)
    assert result.returncode == 1
    one_error(result, folder.config, "is damaged", "no 'model'")

    shutil.copy(point(runs, "3e-3").config, folder.config)  # the right file back...
    folder.metrics.write_text('{"dice": 0.5')  # ...and metrics.json cut short
    result = run_cli("predict", "--model", folder.best, "--input", carvana_dir / "test",
                     "--output", tmp_path / "masks")
    assert result.returncode == 1
    one_error(result, folder.metrics, "remove it to rescore")
    assert not (tmp_path / "masks").exists()


def test_report_all_reports_a_damaged_run_as_damaged_and_the_others_as_usual(runs, run_cli,
                                                                            tmp_path):
    damaged = point(runs, "3e-3")
    damaged.history.write_text(damaged.history.read_text()[:-5])  # cut short
    report = tmp_path / "report"
    result = run_cli("report", "--all", "--runs-dir", runs, "--report-dir", report,
                     "--no-overlays")
    assert result.returncode == 1
    one_error(result, damaged.history, "is damaged (cut short", "delete the folder")
    tables, damaged_section = (report / "README.md").read_text().split("## Damaged runs")
    assert "`synthetic/smoke/lr1e-3_bs4_k3`" in tables and "lr3e-3" not in tables
    assert str(damaged.history) in damaged_section
    assert "lr3e-3" not in (report / "sweep.csv").read_text()


def test_sweep_leaves_a_damaged_point_and_goes_on_with_the_others(runs, run_cli, tmp_path):
    damaged = point(runs, "3e-3")
    damaged.config.write_text("")
    before = digest(damaged.path)
    result = run_cli(*SWEEP, "--runs-dir", runs, "--report-dir", tmp_path / "report")
    assert result.returncode == 1
    one_error(result, damaged.config, "is damaged (not valid JSON")
    assert "synthetic/smoke/lr1e-3_bs4_k3: finished" in result.stdout
    assert "synthetic/smoke/lr3e-3_bs4_k3: damaged" in result.stdout
    assert digest(damaged.path) == before
    assert "## Damaged runs" in (tmp_path / "report" / "README.md").read_text()


def test_a_missing_last_checkpoint_says_training_starts_again(runs, run_cli):
    folder = point(runs)
    for name in ("last", "trained", "metrics"):
        getattr(folder, name).unlink()
    result = run_cli(*train(runs))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "records 1 epoch but there is no last.keras" in result.stdout
    assert "starts again from epoch 1" in result.stdout
    assert [row["epoch"] for row in folder.read_history()] == [1]
    assert folder.last.is_file() and folder.metrics.is_file()


def test_a_full_disk_while_saving_a_checkpoint_keeps_the_last_good_one(runs, run_cli):
    folder = point(runs)
    last = folder.last.read_bytes()
    result = run_cli(*train(runs, epochs=2),
                     env={"UNET_FAULT": "nospace:in_atomic_write:last.keras"})
    assert result.returncode == 1
    assert "Free some space" in one_error(result, f"cannot write in {folder.path}",
                                          "No space left on device")
    assert folder.last.read_bytes() == last  # epoch 1's, whole
    assert f"The last good checkpoint, {folder.last}, is intact" in result.stderr
    assert not list(folder.path.glob(".*partial*"))
    result = run_cli(*train(runs, epochs=2))  # the space is back: it goes on from epoch 1
    assert result.returncode == 0, result.stderr[-3000:]
    assert [row["epoch"] for row in folder.read_history()] == [1, 2]


def test_a_full_disk_while_saving_the_best_checkpoint_saves_it_on_the_rerun(tmp_path, run_cli):
    """Epoch 1's best.keras is not written for want of space; its weights are last.keras's,
    so the rerun writes best.keras from them and the run finishes (it used to fail for good)."""
    run_dir = tmp_path / "run"
    command = ("train", "--preset", "smoke", "--epochs", "2", "--run-dir", run_dir,
               "--verbose", "0")
    full = run_cli(*command, env={"UNET_FAULT": "nospace:in_atomic_write:best.keras"})
    assert full.returncode == 1
    one_error(full, f"cannot write in {run_dir}", f"{run_dir / 'last.keras'}, is intact")
    folder = RunFolder(run_dir)
    assert folder.last.is_file() and not folder.best.exists()
    assert [row["epoch"] for row in folder.read_history()] == [1]
    rerun = run_cli(*command)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"{folder.best} was missing; the best epoch so far, 1, is the one" in rerun.stdout
    assert folder.metrics.is_file() and [r["epoch"] for r in folder.read_history()] == [1, 2]
    # best.keras removed by hand while a better epoch than last.keras's is recorded: its
    # weights are gone, and the rerun says so instead of scoring another epoch as the best.
    history = folder.history.read_text().splitlines()
    score = history[0].split(",").index("val_dice")
    rows = [line.split(",") for line in history[1:]]
    rows[0][score], rows[1][score] = "0.99", "0.01"
    folder.history.write_text("\n".join([history[0], *(",".join(r) for r in rows)]) + "\n")
    for name in ("best", "trained", "metrics", "per_image"):
        getattr(folder, name).unlink()
    lost = run_cli(*command[:4], "3", *command[5:])
    assert lost.returncode == 1
    one_error(lost, f"{folder.best} is missing", "epoch 1, the best so far",
              f"remove {folder.history} and {folder.last}")


def test_a_truncated_last_checkpoint_is_named_with_what_to_do(runs, run_cli):
    folder = point(runs)
    folder.last.write_bytes(folder.last.read_bytes()[:1000])
    result = run_cli(*train(runs, epochs=2))
    assert result.returncode == 1
    one_error(result, f"{folder.last} is not a .keras archive",
              "Remove it to train the run again from epoch 1")


def test_a_full_disk_while_writing_the_report_keeps_the_previous_one(runs, run_cli, tmp_path):
    report = tmp_path / "report"
    common = ("report", "--all", "--runs-dir", runs, "--report-dir", report, "--no-overlays")
    assert run_cli(*common).returncode == 0
    readme = (report / "README.md").read_bytes()
    result = run_cli(*common, env={"UNET_FAULT": "nospace:in_atomic_write:README.md"})
    assert result.returncode == 1
    one_error(result, f"cannot write in {report}")
    assert (report / "README.md").read_bytes() == readme
    assert not list(report.glob(".*partial*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_run_folder_is_named(runs, run_cli):
    folder = point(runs)
    folder.trained.unlink()  # so that training writes
    os.chmod(folder.path, 0o555)
    try:
        result = run_cli(*train(runs, epochs=2))
    finally:
        os.chmod(folder.path, 0o755)
    assert result.returncode == 1
    one_error(result, f"cannot write in {folder.path}")


def test_a_foreign_byte_in_train_masks_csv_is_named_with_its_line(carvana_copy, run_cli):
    csv_path = carvana_copy / "train_masks.csv"
    shutil.rmtree(carvana_copy / "train_masks")  # the masks come from the CSV alone
    lines = csv_path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b".jpg", b"\xe9.jpg", 1)  # Latin-1 e-acute, line 3
    csv_path.write_bytes(b"\n".join(lines))
    result = run_cli("data", "check", "--dataset", "carvana", "--data-dir", carvana_copy)
    assert result.returncode == 1
    one_error(result, f"{csv_path}, line 3: byte 0xe9 is not UTF-8")


def test_sigterm_says_what_was_kept_and_the_rerun_trains_every_epoch_once(tmp_path, run_cli):
    run_dir = tmp_path / "run"
    command = ("train", "--preset", "smoke", "--epochs", "2", "--run-dir", run_dir,
               "--verbose", "0")
    process = run_cli.start(*command, env={"UNET_FAULT": "terminate:in_epoch:2"})
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 128 + signal.SIGTERM
    assert "terminated (SIGTERM): finished epochs and their checkpoints are kept" in stderr
    assert "submission" not in stderr and "Traceback" not in stderr
    assert [row["epoch"] for row in read_history(run_dir / "history.csv")] == [1]
    result = run_cli(*command)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [row["epoch"] for row in read_history(run_dir / "history.csv")] == [1, 2]


def test_predict_names_an_image_it_cannot_name_and_predicts_the_others(smoke_sweep, run_cli,
                                                                       carvana_dir, tmp_path):
    model = point(smoke_sweep[0]).best
    images = tmp_path / "images"
    shutil.copytree(carvana_dir / "test", images)
    good = sorted(path.name for path in images.iterdir())
    shutil.copy(images / good[0], images / "bad\nname.jpg")
    latin = images / os.fsdecode(b"latin\xe9.jpg")  # a name that is not UTF-8
    shutil.copy(images / good[1], latin)
    submission = tmp_path / "submission.csv.gz"
    args = ("predict", "--model", model, "--input", images, "--output", tmp_path / "masks",
            "--submission", submission)
    result = run_cli(*args)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert any("'bad\\nname.jpg'" in line and "line break" in line for line in errors)
    assert any("latin\\udce9.jpg" in line and "not UTF-8" in line for line in errors)
    assert "2 image(s) not predicted" in errors[-1] and "Traceback" not in result.stderr
    masks = sorted(path.name for path in (tmp_path / "masks").glob("*_mask.png"))
    assert masks == sorted(name.replace(".jpg", "_mask.png") for name in good)
    assert not submission.exists()  # unfinished until every image has its row

    (images / "bad\nname.jpg").unlink()
    latin.unlink()
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    with gzip.open(submission, "rt", newline="") as stream:
        rows = stream.read().splitlines()
    assert rows[0] == "img,rle_mask" and sorted(row.split(",")[0] for row in rows[1:]) == good


def test_app_refuses_a_file_that_is_no_model_before_serving(tmp_path, run_cli):
    not_a_model = tmp_path / "notes.keras"
    not_a_model.write_text("hello")
    result = run_cli("app", "--model", not_a_model, "--port", "8599", timeout=120)
    assert result.returncode == 1
    one_error(result, not_a_model, "is not a .keras archive")
    assert "Web demo on" not in result.stdout


def test_export_at_a_size_the_model_cannot_take_is_one_line_and_another_size_works(
        smoke_sweep, run_cli, tmp_path):
    """The smoke model was built for 32x48 images: it is rebuilt at 64x96, while 65x97 (not
    divisible by 2**depth) is refused, naming the flag, before anything is written."""
    model = point(smoke_sweep[0]).best
    for fmt, out in (("tflite", tmp_path / "m.tflite"), ("saved_model", tmp_path / "sm")):
        refused = run_cli("export", "--model", model, "--format", fmt, "--out", out,
                          "--image-size", "65", "97")
        assert refused.returncode == 2 and not out.exists()
        one_error(refused, f"{model} cannot take 65x97 images (--image-size)")
        exported = run_cli("export", "--model", model, "--format", fmt, "--out", out,
                           "--image-size", "64", "96")
        assert exported.returncode == 0, exported.stderr[-3000:]
        assert exported.stdout == f"{out}\n" and out.exists()


def test_export_to_tflite_prints_only_the_path(smoke_sweep, run_cli, tmp_path):
    out = tmp_path / "model.tflite"
    result = run_cli("export", "--model", point(smoke_sweep[0]).best, "--format", "tflite",
                     "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == f"{out}\n" and out.stat().st_size > 0


def test_importing_the_package_prints_nothing_and_keeps_the_users_log_level(tmp_path):
    # Listing the devices is where a machine with CUDA's libraries and no GPU logs an error.
    code = ("import os, unet; from unet import training; import tensorflow as tf; "
            "tf.config.list_physical_devices('GPU'); print(os.environ['TF_CPP_MIN_LOG_LEVEL'])")
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=300)
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == "2\n"
    mine = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**env, "TF_CPP_MIN_LOG_LEVEL": "1"}, cwd=tmp_path, timeout=300)
    assert mine.returncode == 0 and mine.stdout == "1\n"
