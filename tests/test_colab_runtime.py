"""The three notebooks in a simulated Colab runtime: a Jupyter kernel in an empty `/content`
with no checkout, `google.colab` imported before the first cell (a stand-in whose Drive is a
folder that outlives the machine), and the install cell installing the package with pip from
the repository's address, which git maps onto a local copy of this tree (no network).

A "machine" is a working folder and a Python environment: the environment sees the packages
this one has (Colab's TensorFlow and the rest, preinstalled) but not this checkout, and pip
installs the package into it. Wiping the machine deletes both; Drive stays.
"""

import json
import os
import shutil
import signal
import site
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbclient
import pytest
import tomllib
from nbclient.exceptions import CellExecutionError, DeadKernelError

ROOT = Path(__file__).resolve().parent.parent
STANDIN = Path(__file__).resolve().parent / "colab_standin"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REPOSITORY = PROJECT["urls"]["Repository"]
RELEASE = f"v{PROJECT['version']}"
NOTEBOOKS = ["01_data_exploration", "02_experiment_grid", "03_mask_inspection"]
SECOND_POINT = "lr1e-4_bs4_k3"  # the smoke grid's second point (02_experiment_grid)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """A git repository holding this tree (as committed, plus what is not yet), tagged with the
    release the install cells name: the repository's address is mapped onto it."""
    origin = tmp_path_factory.mktemp("origin")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (origin / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, origin / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "release"],
                    ["tag", RELEASE]):
        subprocess.run(git + command, cwd=origin, check=True, capture_output=True)
    return origin


class Colab:
    """One user's Colab: a Drive that persists, and machines that come and go."""

    def __init__(self, root: Path, origin: Path):
        self.root, self.origin = root, origin
        self.drive = root / "drive"  # the user's Google Drive
        self.drive.mkdir()
        self.machine = root / "machine"
        self.content = self.machine / "content"
        self.python = self.machine / "python" / "bin" / "python"

    def new_machine(self):
        """Wipes the machine (working folder, Python environment, IPython profile)."""
        self._stop_tensorboards()
        shutil.rmtree(self.machine, ignore_errors=True)
        self.content.mkdir(parents=True)
        (self.machine / "tmp").mkdir()
        environment = self.machine / "python"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", environment], check=True)
        site_packages = next(environment.glob("lib/python*/site-packages"))
        # Colab's preinstalled packages (this environment's, pip included) and `google.colab`
        (site_packages / "preinstalled.pth").write_text(
            "\n".join([*site.getsitepackages(), str(STANDIN)]) + "\n")
        startup = self.machine / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-colab.py").write_text("import google.colab  # as Colab does\n")
        kernel = self.machine / "jupyter" / "kernels" / "colab"
        kernel.mkdir(parents=True)
        (kernel / "kernel.json").write_text(json.dumps({
            "argv": [str(self.python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Colab", "language": "python"}))

    def environment(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("UNET_", "PYTHON", "VIRTUAL_ENV", "PIP_"))}
        env.update({
            "PATH": f"{self.python.parent}:{env.get('PATH', '')}",
            "UNET_SMOKE": "1", "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2",
            "IPYTHONDIR": str(self.machine / "ipython"),
            "JUPYTER_PATH": str(self.machine / "jupyter"),
            "TMPDIR": str(self.machine / "tmp"),
            "UNET_DRIVE_MOUNTPOINT": str(self.content / "drive"),
            "COLAB_STANDIN_DRIVE": str(self.drive),
            # github.com is this tree's copy; PyPI is out of reach, so the package is built
            # with the preinstalled setuptools
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"url.file://{self.origin}.insteadOf",
            "GIT_CONFIG_VALUE_0": REPOSITORY,
            "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_CACHE_DIR": str(self.machine / "pip"),
        })
        env.update(extra)
        return env

    def run(self, name, extra_cells=(), timeout=600, **env) -> str:
        """Runs notebook `name` from its first cell in the machine's `/content`; returns what
        its cells printed. Raises nbclient's errors (a failed cell, a dead kernel)."""
        notebook = jupytext.read(ROOT / "notebooks" / f"{name}.py")
        for source in extra_cells:
            notebook.cells.append(jupytext.jupytext.new_code_cell(source))
        client = nbclient.NotebookClient(notebook, kernel_name="colab", timeout=timeout,
                                         resources={"metadata": {"path": str(self.content)}})
        try:
            client.execute(env=self.environment(**env))
        finally:
            self.printed = "\n".join(
                output.get("text") or output.get("data", {}).get("text/markdown")
                or output.get("data", {}).get("text/plain", "")
                for cell in notebook.cells if cell.cell_type == "code"
                for output in cell.get("outputs", []))
        return self.printed

    def _stop_tensorboards(self):
        """TensorBoard servers that `%tensorboard` started on this machine (they outlive
        their kernel, as in Colab)."""
        for info in (self.machine / "tmp").glob(".tensorboard-info/*.info"):
            try:
                os.kill(json.loads(info.read_text())["pid"], signal.SIGTERM)
            except (ProcessLookupError, ValueError, KeyError):
                pass


@pytest.fixture
def colab(tmp_path, origin, monkeypatch):
    colab = Colab(tmp_path, origin)
    monkeypatch.setenv("JUPYTER_PATH", str(colab.machine / "jupyter"))  # the client's kernels
    yield colab
    colab._stop_tensorboards()


def run_files(runs: Path) -> dict:
    """Every file under the runs root on Drive with its modification time, less the locks
    (taken by every visit, a skipped one too)."""
    return {str(p.relative_to(runs)): p.stat().st_mtime_ns
            for p in runs.rglob("*") if p.is_file() and p.name != ".lock"}


def epochs(runs: Path) -> dict:
    return {str(p.parent.relative_to(runs)): [row.split(",")[0]
                                              for row in p.read_text().splitlines()[1:]]
            for p in runs.rglob("history.csv")}


WHERE_FROM = """import json, importlib.metadata, unet
print("INSTALLED", json.dumps({"file": unet.__file__, "direct_url": json.loads(
    importlib.metadata.distribution("unet-segmentation").read_text("direct_url.json"))}))"""


def test_the_notebooks_survive_a_kill_and_a_wiped_machine_on_drive(colab):
    started = time.monotonic()
    runs, report = colab.drive / "unet" / "runs", colab.drive / "unet" / "memory"

    # 1. Data exploration; the package comes from the repository's address at the release
    colab.new_machine()
    printed = colab.run("01_data_exploration", extra_cells=[WHERE_FROM])
    assert "Mounted at" in printed
    assert f"No checkout of the repository here: what is not on Drive goes under the " \
           f"working folder {colab.content}." in printed
    installed = json.loads(printed.split("INSTALLED ", 1)[1].splitlines()[0])
    assert installed["file"].startswith(str(colab.machine / "python" / "lib"))
    assert installed["direct_url"]["url"] == REPOSITORY
    tagged = subprocess.run(["git", "rev-parse", f"{RELEASE}^{{commit}}"], cwd=colab.origin,
                            capture_output=True, text=True, check=True).stdout.strip()
    assert installed["direct_url"]["vcs_info"]["commit_id"] == tagged
    assert (report / "data_car_views.png").is_file()  # figures on Drive
    assert (colab.content / "data").is_dir() and not (colab.drive / "unet" / "data").exists()

    # 2. The grid, killed (as a disconnect) right after the second point's first epoch
    colab.new_machine()
    with pytest.raises(DeadKernelError):
        colab.run("02_experiment_grid",
                  UNET_FAULT=f"kill:after_atomic_write:{SECOND_POINT}/history.csv")
    assert "Mounted at" in colab.printed
    killed = epochs(runs)
    assert sorted(killed.values()) == [["1"], ["1"]], killed

    # 3. A new machine: the grid goes on where it stopped
    colab.new_machine()
    printed = colab.run("02_experiment_grid")
    assert "**4 points: 1 done, 1 interrupted, 2 to do; best so far" in printed
    grid = epochs(runs)
    assert len(grid) == 4 and all(done == ["1"] for done in grid.values()), grid

    # 4. Mask inspection: its CARLA run on Drive too
    colab.new_machine()
    colab.run("03_mask_inspection")
    assert len(epochs(runs)) == 5 and (report / "inspect_carla_confusion.png").is_file()

    # 5. Wipe the machine, run each notebook again from its first cell: nothing trains again
    kept = run_files(runs)
    printed = {}
    for name in NOTEBOOKS:
        colab.new_machine()
        printed[name] = colab.run(name)
        assert run_files(runs) == kept, f"{name} changed a run on Drive"
    assert "**4 points: 4 done; best so far" in printed["02_experiment_grid"]
    readme = (report / "README.md").read_text()
    assert all(point.split("/")[-1] in readme for point in grid)  # the report is whole
    written = ["data_car_views.png", "data_carla_classes.png", "inspect_worst.png",
               "inspect_carla_class_maps.png"]
    assert all((report / name).is_file() for name in written)
    print(f"simulated Colab: 7 notebook runs in {time.monotonic() - started:.0f} s")


def test_a_wrong_ref_is_one_line_saying_what_to_do(colab):
    colab.new_machine()
    notebook = jupytext.read(ROOT / "notebooks" / "02_experiment_grid.py")
    source = next(c.source for c in notebook.cells if 'REF = "' in c.source)
    notebook.cells = [jupytext.jupytext.new_code_cell(
        source.replace(f'REF = "{RELEASE}"', 'REF = "v0.0.404"'))]
    client = nbclient.NotebookClient(notebook, kernel_name="colab", timeout=300,
                                     resources={"metadata": {"path": str(colab.content)}})
    with pytest.raises(CellExecutionError) as failed:
        client.execute(env=colab.environment())
    outputs = notebook.cells[0].outputs
    error = next(o for o in outputs if o.output_type == "error")
    assert error.ename == "SystemExit"
    assert error.evalue == (f"error: pip could not install {REPOSITORY} at v0.0.404 (its "
                            "message is above): set REF to a tag or commit of that "
                            "repository, then rerun.")
    assert error.traceback == [] or "Traceback" not in "".join(error.traceback)
    assert failed.value is not None
    assert "v0.0.404" in "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
