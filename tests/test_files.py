"""Atomic writes: a failed write leaves the old file whole; partials of dead writers are cleaned.
Locks, the redirection of C code's standard error, and injected faults."""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

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


def test_partials_of_finds_every_writers_partial_of_one_file_only(tmp_path):
    target = tmp_path / "rows.csv"
    own = files.partial_path(target)
    other = tmp_path / ".rows.partial-99999999.csv"
    for path in (own, other, tmp_path / ".rows.partial-x.csv", tmp_path / ".rowsb.partial-1.csv",
                 tmp_path / ".rows.partial-1.json"):
        path.write_text("")
    assert files.partials_of(target) == sorted([own, other])
    assert files.partials_of(tmp_path / "absent" / "rows.csv") == []


def test_a_lock_refuses_a_second_holder_and_a_file_lock_leaves_the_folder_free(tmp_path):
    with files.lock(tmp_path, "submission", "sub.csv.gz") as held:
        assert held == tmp_path / ".sub.csv.gz.lock"
        with pytest.raises(files.Locked, match=rf"sub.csv.gz: this submission is in use by "
                                               rf"process {os.getpid()}"):
            with files.lock(tmp_path, "submission", "sub.csv.gz"):
                pass
        with files.lock(tmp_path, "run folder"), files.lock(tmp_path, "other", "b.csv"):
            pass
    with files.lock(tmp_path, "submission", "sub.csv.gz"):  # released at the end of the block
        pass


def test_standard_error_of_c_code_is_captured_and_restored(tmp_path, capfd):
    with (tmp_path / "sink").open("w+b") as sink:
        with files.redirect_stderr_fd(sink):
            os.write(2, b"from C\n")
        sink.seek(0)
        assert sink.read() == b"from C\n"
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_a_fault_signals_the_process_at_its_point_only(monkeypatch):
    from unet import faults

    sent = []
    monkeypatch.setattr(faults.os, "kill", lambda pid, sig: sent.append((pid, sig)))
    monkeypatch.delenv(faults.ENV, raising=False)
    faults.point("after_epoch", 2)
    monkeypatch.setenv(faults.ENV, "kill:after_epoch:2")
    faults.point("after_epoch", 1)
    faults.point("in_epoch", 2)
    assert sent == []
    faults.point("after_epoch", 2)
    assert sent == [(os.getpid(), faults.signal.SIGKILL)]
    monkeypatch.setenv(faults.ENV, "stop:in_atomic_write:run/last.keras")
    faults.point("in_atomic_write", Path("runs/x/last.keras"))
    faults.point("in_atomic_write", Path("runs/run/best.keras"))
    faults.point("in_atomic_write", Path("runs/run/last.keras"))
    assert sent[1:] == [(os.getpid(), faults.signal.SIGSTOP)]
    monkeypatch.setenv(faults.ENV, "explode:after_epoch:2")
    with pytest.raises(ValueError, match="action must be one of"):
        faults.point("after_epoch", 2)


def test_a_kill_in_an_atomic_write_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "metrics.json"
    files.write_json(target, {"dice": 0.9})
    code = ("import sys; sys.argv = ['-m']; from unet import files; "
            f"files.write_json({str(target)!r}, {{'dice': 0.1}})")
    env = {**os.environ, "UNET_FAULT": "kill:in_atomic_write:metrics.json"}
    killed = subprocess.run([sys.executable, "-c", code], env=env, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert json.loads(target.read_text()) == {"dice": 0.9}
    (partial,) = files.partials_of(target)  # the new file, never renamed into place
    assert json.loads(partial.read_text()) == {"dice": 0.1}
    assert files.remove_partials(tmp_path) == [partial]
