"""The notebooks' Colab badges and install cells: one repository address (pyproject.toml's
`[project.urls]`), and the release the package's version names. (The install cell running
for real: test_colab_runtime.py.)"""

import re
from pathlib import Path

import jupytext
import pytest
import tomllib

import unet

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ["01_data_exploration", "02_experiment_grid", "03_mask_inspection"]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REPOSITORY = PROJECT["urls"]["Repository"]
RELEASE = f"v{PROJECT['version']}"
BADGE = re.compile(r"https://colab\.research\.google\.com/github/([^)\s]+)")


def install_cell(name):
    """The code cell under `## Setup`."""
    cells = jupytext.read(ROOT / "notebooks" / f"{name}.py").cells
    setup = next(i for i, c in enumerate(cells) if c.source.startswith("## Setup"))
    return next(c.source for c in cells[setup:] if c.cell_type == "code")


def constant(source, name):
    match = re.search(rf'^{name} = "([^"]*)"', source, re.MULTILINE)
    assert match, f"no {name} = \"...\" in the install cell"
    return match.group(1)


def test_the_release_tag_is_the_package_version():
    assert PROJECT["version"] == unet.__version__
    assert REPOSITORY.startswith("https://github.com/") and not REPOSITORY.endswith("/")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_install_cell_installs_this_release_from_the_repository(name):
    source = install_cell(name)
    assert constant(source, "REF") == RELEASE, (
        f"{name}: REF must name the release of pyproject.toml's version ({RELEASE})")
    assert constant(source, "REPOSITORY") == REPOSITORY
    assert 'f"git+{REPOSITORY}@{REF}"' in source
    assert '"--no-deps"' in source  # Colab's TensorFlow, Keras and numpy stay
    assert any(line.startswith("REF = ") for line in source.splitlines()[:4])  # at the top


@pytest.mark.parametrize("path", [f"notebooks/{name}.py" for name in NOTEBOOKS]
                         + [f"notebooks/{name}.ipynb" for name in NOTEBOOKS] + ["README.md"])
def test_every_badge_and_repository_address_names_the_one_repository(path):
    text = (ROOT / path).read_text()
    owner_name = REPOSITORY.removeprefix("https://github.com/")
    badges = BADGE.findall(text)
    if path.startswith("notebooks/"):
        name = Path(path).stem
        assert badges == [f"{owner_name}/blob/{RELEASE}/notebooks/{name}.ipynb"]
    else:  # the README's Colab section: a badge per notebook
        assert sorted(badges) == [f"{owner_name}/blob/{RELEASE}/notebooks/{name}.ipynb"
                                  for name in NOTEBOOKS]
    for address in re.findall(r"github\.com/[\w.-]+/[\w.-]+", text):
        assert address == f"github.com/{owner_name}", f"{path}: {address}"
