"""`bench/recipes_cpu.py`: every recipe scaled down and set beside its preset on the same data,
checked here with the `smoke` preset and one recipe."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from unet.run_folder import RunFolder

BENCH = Path(__file__).resolve().parents[1] / "bench" / "recipes_cpu.py"


# About a minute on 2 cores: two smoke runs through the command line, then the report.
@pytest.mark.slow
def test_a_recipe_is_trained_beside_its_preset_and_reported(tmp_path):
    environment = {**os.environ, "UNET_DATA_ROOT": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, str(BENCH), "--preset", "smoke", "--recipes", "softmax-unet",
         "--runs-dir", "runs", "--report-dir", "memory/recipes"],
        capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    preset_run = next((tmp_path / "runs" / "synthetic" / "smoke").iterdir())
    recipe_run = next((tmp_path / "runs" / "synthetic" / "softmax-unet-smoke").iterdir())
    ours, preset = RunFolder(recipe_run).scores(), RunFolder(preset_run).scores()
    # The table's row is the two runs' own scores, read back from their folders.
    row = next(line for line in result.stdout.splitlines() if line.startswith("| `softmax"))
    assert f"dice {ours['dice']:.4f} vs {preset['dice']:.4f}" in row
    assert f"({ours['dice'] - preset['dice']:+.4f})" in row
    assert row.startswith("| `softmax-unet` | test Dice 0.9805 |")
    report = (tmp_path / "memory" / "recipes" / "README.md").read_text()
    assert "python bench/recipes_cpu.py" in report
    assert "Scaled down for CPU (smoke): 32x48 instead of 128x192" in report
    assert "(Carvana, held-out test cars, size not stated, epochs not stated)" in report
    assert str(recipe_run.relative_to(tmp_path)) in report or recipe_run.name in report
