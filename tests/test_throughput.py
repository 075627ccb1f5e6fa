"""Training throughput leaves out the first step (tracing) and, where it can, the first epoch."""
import pytest

from unet import callbacks
from unet.run_folder import read_history
from unet.training import train_throughput


def test_history_times_the_steps_after_the_first(tmp_path, monkeypatch):
    clock = iter([0.0, 30.0, 31.0, 34.0, 35.0])  # epoch begin, 3 batch ends, epoch end
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(clock))
    history = callbacks.HistoryCSV(tmp_path / "history.csv")
    history.on_epoch_begin(0)
    for batch in range(3):
        history.on_train_batch_end(batch)
    history.on_epoch_end(0, {"loss": 0.5})
    (row,) = read_history(tmp_path / "history.csv")
    assert (row["seconds"], row["steps_seconds"]) == (35.0, 4.0)  # 30 s of tracing left out


def test_a_one_epoch_run_is_timed_without_its_first_step():
    # 12 images in batches of 4: the first step (30 s, tracing) is left out, 8 images in 0.2 s.
    assert train_throughput([{"epoch": 1, "seconds": 31.0, "steps_seconds": 0.2}], 12, 4) == \
        pytest.approx(40.0)
    # With more epochs the first (which also fills the cache) is left out as well.
    rows = [{"epoch": 1, "seconds": 31.0, "steps_seconds": 2.0},
            {"epoch": 2, "seconds": 1.0, "steps_seconds": 0.1},
            {"epoch": 3, "seconds": 1.0, "steps_seconds": 0.4}]
    assert train_throughput(rows, 12, 4) == pytest.approx(50.0)  # median of 80 and 20
    # Rows recorded before steps were timed: the whole epoch.
    assert train_throughput([{"epoch": 1, "seconds": 4.0}], 12, 4) == 3.0
