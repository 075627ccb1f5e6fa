"""The package's shape: each module imports only from the layers below its own (the contracts
are in pyproject.toml, `[tool.importlinter]`; lazy imports inside functions count too)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = ("import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(no_cache=True))")


def lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LINT], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(root)})


def test_every_module_imports_only_from_the_layers_below_it():
    checked = lint(ROOT)
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert "3 kept, 0 broken" in checked.stdout


def test_an_import_upwards_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "unet", tmp_path / "unet")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    metrics = tmp_path / "unet" / "metrics.py"
    metrics.write_text(metrics.read_text() + "\n\ndef _late():\n    from unet import report\n")
    checked = lint(tmp_path)
    assert checked.returncode != 0
    assert "unet.metrics is not allowed to import unet.report" in checked.stdout
