"""The notebooks as files: paired, in sync, stripped, thin. (nbval executes them.)"""

import json
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
EXPECTED = ["01_data_exploration", "02_experiment_grid", "03_mask_inspection"]


def test_the_expected_notebooks_are_found_each_as_a_pair():
    scripts = sorted(p.stem for p in NOTEBOOKS.glob("*.py"))
    notebooks = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert scripts == notebooks == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_each_pair_has_the_same_cells(name):
    script = jupytext.read(NOTEBOOKS / f"{name}.py")
    notebook = jupytext.read(NOTEBOOKS / f"{name}.ipynb")
    as_cells = [(c.cell_type, c.source.strip()) for c in script.cells]
    assert as_cells == [(c.cell_type, c.source.strip()) for c in notebook.cells], (
        f"{name}.py and {name}.ipynb differ: run `jupytext --sync notebooks/{name}.py`")


@pytest.mark.parametrize("name", EXPECTED)
def test_committed_notebooks_carry_no_outputs(name):
    cells = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)


@pytest.mark.parametrize("name", EXPECTED)
def test_notebooks_follow_the_skeleton(name):
    cells = jupytext.read(NOTEBOOKS / f"{name}.py").cells
    text = "\n".join(c.source for c in cells)
    assert "colab-badge.svg" in cells[0].source
    headings = [line for c in cells if c.cell_type == "markdown"
                for line in c.source.splitlines() if line.startswith("## ")]
    assert "## Setup" in headings and "## Configuration" in headings
    assert headings[-1].startswith("## Results")
    assert 'os.environ.get("UNET_SMOKE")' in text
    for cell in cells:  # thin: logic lives in the package
        if cell.cell_type == "code":
            assert len(cell.source.splitlines()) <= 40, cell.source[:80]
