"""`bench/gpu.py`: its tiny mode runs the whole measurement on a CPU; without a GPU its full mode
says so and stops."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "gpu.py"


def run_bench(*args, cwd, env=None):
    environment = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True,
                          cwd=cwd, env=environment, timeout=600)


# About 40 s on 2 cores (two processes load TensorFlow, three models are traced, one compiled
# with XLA): one preset only; `full` differs from it only in the values its entry records.
@pytest.mark.slow
def test_tiny_mode_measures_every_variant_of_a_preset(tmp_path):
    result = run_bench("--tiny", "--presets", "colab_gpu", "--out", "gpu.json", cwd=tmp_path,
                       env={"UNET_DATA_ROOT": str(tmp_path / "data")})
    assert result.returncode == 0, result.stderr[-3000:]
    values = json.loads((tmp_path / "gpu.json").read_text())
    assert values["tiny"] is True and values["steps"] == 2
    assert sorted(values["presets"]) == ["colab_gpu"]
    for name, entry in values["presets"].items():
        assert entry["image_size"] == [64, 96] and entry["crop_size"] == [32, 48]
        measured = entry["measure"]
        assert measured["pipeline_images_per_s"] > 0
        assert sorted(measured["training"]) == ["fp32", "mixed", "mixed_xla"]
        for variant, run in measured["training"].items():
            assert run["status"] == "ok", (name, variant, run)
            assert isinstance(run["images_per_s"], float) and run["images_per_s"] > 0
            assert run["xla"] == (variant == "mixed_xla")
            assert run["policy"] == "float32"  # mixed precision needs a GPU: none here
            assert run["peak_memory_mib"] is None
        assert entry["fits_t4"] == {"status": "not tested (no GPU)"}
    assert values["presets"]["colab_gpu"]["batch_size"] == 2
    # One table, a row per variant.
    rows = [line for line in result.stdout.splitlines() if line.startswith("| colab_gpu")]
    assert len(rows) == 3


@pytest.mark.slow  # loads TensorFlow in a new process (about 5 s of CPU)
def test_without_a_gpu_the_full_mode_says_so_and_stops(tmp_path):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is here: the full mode would run")
    result = run_bench("--out", "gpu.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines() == [
        "No GPU here: bench/gpu.py measures the GPU presets; run it on a GPU, or with --tiny "
        "for a quick check on a CPU."]
    assert not (tmp_path / "gpu.json").exists()
