"""Two processes sharing a folder (a generated set, the report folder) neither lose nor mix
results: the second waits for the first, or is refused in one line."""

import subprocess
import sys
import time

import pytest

from unet import files


def _rows(folder):
    return (folder / "train_masks.csv").read_text().splitlines()[1:]


def test_two_generations_into_one_folder_leave_one_whole_set(tmp_path, run_cli):
    out = tmp_path / "cars"
    first = run_cli.start("data", "synthetic", "--dataset", "carvana", "--out", out, "--count",
                          "2", "--seed", "1", "--image-size", "32", "48")
    second = run_cli.start("data", "synthetic", "--dataset", "carvana", "--out", out,
                           "--count", "1", "--seed", "2", "--image-size", "32", "48")
    codes = sorted([first.wait(120), second.wait(120)])
    errors = first.stderr.read() + second.stderr.read()
    assert codes == [0, 2], errors
    refused = [line for line in errors.splitlines() if line.startswith("error:")]
    assert len(refused) == 1 and str(out) in refused[0] and "Traceback" not in errors
    # One set, whole: as many images as rows, every image with its mask.
    images = sorted(p.name for p in (out / "train").iterdir())
    assert len(images) in (16, 32) and len(_rows(out)) == len(images)
    assert len(list((out / "train_masks").iterdir())) == len(images)
    again = run_cli("data", "synthetic", "--dataset", "carvana", "--out", out, "--count", "1")
    assert again.returncode == 2 and "already exists and is not empty" in again.stderr
    assert sorted(p.name for p in (out / "train").iterdir()) == images


def test_a_generated_set_is_made_once_while_others_wait(tmp_path):
    code = ("import sys; from unet.data import synthetic; "
            "print(synthetic.generated_dir(sys.argv[1], 'carvana', 2, (32, 48), False))")
    processes = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    (folder,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert all(out.strip().endswith(folder.name) for out, _ in outputs)
    assert sum("Generating" in out for out, _ in outputs) == 1  # the other one waited
    assert len(_rows(folder)) == 32 and len(list((folder / "train").iterdir())) == 32


@pytest.mark.slow  # the smoke grid
def test_a_report_waits_for_the_one_being_written(smoke_sweep, tmp_path, run_cli):
    runs, _ = smoke_sweep
    report = tmp_path / "report"
    with files.lock(report, "report folder"):
        waiting = run_cli.start("report", "--all", "--runs-dir", runs, "--report-dir", report,
                                "--no-overlays")
        time.sleep(20)  # long enough for it to start and reach the lock
        assert waiting.poll() is None and not (report / "README.md").exists()
    assert waiting.wait(300) == 0
    assert (report / "README.md").is_file() and (report / "sweep.csv").is_file()
