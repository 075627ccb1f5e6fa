"""Atomic writes: a failed write leaves the old file whole; partials of dead writers are cleaned."""

import csv
import json
import os
import subprocess
import sys

import pytest

from unet import files


def test_partial_path_keeps_suffix_and_names_the_process(tmp_path):
    partial = files.partial_path(tmp_path / "best.keras")
    assert partial.parent == tmp_path
    assert partial.name == f".best.partial-{os.getpid()}.keras"
    weights = files.partial_path(tmp_path / "latest.weights.h5")
    assert weights.name == f".latest.partial-{os.getpid()}.weights.h5"


def test_failed_write_keeps_the_previous_file_and_leaves_no_partial(tmp_path):
    target = tmp_path / "metrics.json"
    files.write_json(target, {"dice": 0.9})
    with pytest.raises(RuntimeError), files.atomic_path(target) as partial:
        partial.write_text("{half")
        raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"dice": 0.9}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_write_csv_quotes_fields_that_need_it(tmp_path):
    rows = [{"image": "a,b.jpg", "dice": 1.0}, {"image": 'say "hi"\n.jpg', "dice": 0.5}]
    files.write_csv(tmp_path / "rows.csv", rows, ["image", "dice"])
    with (tmp_path / "rows.csv").open(newline="") as stream:
        read = list(csv.DictReader(stream))
    assert [r["image"] for r in read] == ["a,b.jpg", 'say "hi"\n.jpg']


def test_remove_partials_removes_dead_writers_only(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".last.partial-{dead_pid}.keras"
    stale.write_bytes(b"x" * 10)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        in_flight = tmp_path / f".best.partial-{live.pid}.keras"
        in_flight.write_bytes(b"y")
        removed = files.remove_partials(tmp_path)
        assert removed == [stale]
        assert in_flight.exists() and not stale.exists()
    finally:
        live.kill()
        live.wait()
