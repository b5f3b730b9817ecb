"""The notebooks in ``notebooks/``: each runs top to bottom on a real Jupyter kernel, and each
``.ipynb`` is the output-free twin of its jupytext percent-format ``.py``.

The notebooks run in small mode (``LORA_TCO_NOTEBOOK_SMALL=1``) with ``MPLBACKEND=Agg``, on a
``python3`` kernelspec installed into a temporary ``JUPYTER_DATA_DIR`` that runs this
interpreter; Jupyter's runtime, data and config folders and IPython's folder all live under
pytest's ``tmp_path``, and so do the notebooks' working directory and the scenario preset that
``04_your_organization`` writes (``LORA_TCO_SCENARIO_DIR``). A cell that raises fails the test
with nbclient's ``CellExecutionError``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SCRIPTS = sorted(NOTEBOOK_DIR.glob("*.py"))
KERNEL = "python3"
CELL_TIMEOUT_S = 900  # a cold machine compiles the numba engine on first use (1-2 minutes)
PAIRING = "ipynb,py:percent"


@pytest.fixture
def jupyter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Jupyter confined to ``tmp_path`` with a ``python3`` kernel running ``sys.executable``;
    returns the working directory for the notebooks."""
    from ipykernel.kernelspec import install

    for variable, name in (
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("IPYTHONDIR", "ipython"),
    ):
        folder = tmp_path / "jupyter" / name
        folder.mkdir(parents=True)
        monkeypatch.setenv(variable, str(folder))
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "0")  # the data dir above before the venv's share/jupyter
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core's future default; silences its migration warning
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("LORA_TCO_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("LORA_TCO_SCENARIO_DIR", str(tmp_path / "configs" / "scenario"))
    install(user=True, kernel_name=KERNEL)  # into JUPYTER_DATA_DIR/kernels, argv[0] = sys.executable
    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    assert Path(spec.resource_dir).is_relative_to(tmp_path), spec.resource_dir
    assert spec.argv[0] == sys.executable, spec.argv
    workdir = tmp_path / "work"
    workdir.mkdir()
    return workdir


def execute(nb: nbformat.NotebookNode, workdir: Path) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel, in ``workdir``; raises ``CellExecutionError``."""
    client = NotebookClient(
        nb, kernel_name=KERNEL, timeout=CELL_TIMEOUT_S, startup_timeout=120, resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    return nb


def outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [output for cell in nb.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]


def text_of(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in outputs(nb) if o["output_type"] == "stream")


def repo_files() -> set[Path]:
    """Files a notebook might leave in the repository: configs and the notebooks folder."""
    return {p for folder in (REPO / "configs", NOTEBOOK_DIR) for p in folder.rglob("*") if "__pycache__" not in p.parts}


def test_notebooks_are_found() -> None:
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


def test_kernel_runs_this_interpreter(jupyter: Path, tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os, sys\nprint(sys.executable)\nprint(sys.prefix)\nprint(os.getcwd())")]
    executable, prefix, cwd = text_of(execute(nb, jupyter)).splitlines()
    assert (executable, prefix) == (sys.executable, sys.prefix)
    assert Path(cwd) == jupyter
    assert (tmp_path / "jupyter" / "ipython" / "profile_default").is_dir()  # IPython used the temporary IPYTHONDIR


def test_a_failing_cell_fails_the_run(jupyter: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("raise RuntimeError('this notebook is broken')"),
        nbformat.v4.new_code_cell("print('never reached')"),
    ]
    with pytest.raises(CellExecutionError, match="this notebook is broken"):
        execute(nb, jupyter)
    assert "never reached" not in text_of(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, jupyter: Path, tmp_path: Path) -> None:
    before = repo_files()
    nb = execute(nbformat.read(path, as_version=4), jupyter)
    assert any("image/png" in o.get("data", {}) for o in outputs(nb)), "the notebook drew no chart"
    assert repo_files() == before, f"{path.name} left files in the repository: {sorted(map(str, repo_files() - before))}"
    if path.stem == "04_your_organization":  # the preset went to LORA_TCO_SCENARIO_DIR, the CLI run to the working directory
        assert (tmp_path / "configs" / "scenario" / "my_team.yaml").is_file()
        assert (jupyter / "outputs" / "my_team" / "summary.csv").is_file()


def test_every_notebook_is_a_pair() -> None:
    assert {p.stem for p in NOTEBOOKS} == {p.stem for p in SCRIPTS}, "each notebook needs its .ipynb and its percent-format .py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_pair_is_in_sync(path: Path) -> None:
    """The .py and the .ipynb hold the same cells (jupytext reads both), and both declare the pairing."""
    script = path.with_suffix(".py")
    from_ipynb, from_py = jupytext.read(path), jupytext.read(script)
    for nb, where in ((from_ipynb, path.name), (from_py, script.name)):
        assert nb.metadata.get("jupytext", {}).get("formats") == PAIRING, f"{where}: jupytext formats should be {PAIRING}"

    def cells(nb):
        return [(cell.cell_type, cell.source.strip()) for cell in nb.cells]

    assert cells(from_ipynb) == cells(from_py), (
        f"{path.name} and {script.name} differ: run `jupytext --sync {script.relative_to(REPO)}` (or `--to ipynb`)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_ipynb_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; clear them (jupytext --to ipynb from the .py)"
