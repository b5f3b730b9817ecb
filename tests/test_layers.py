"""The layer contract (pyproject.toml, [tool.importlinter]): it holds for the code as it is,
it catches an upward import, and importing the bottom layer loads nothing above it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) or shutil.which("lint-imports")
needs_linter = pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is not installed (pip install -e '.[dev]')")


def lint(folder: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the packages found first in ``folder``, without its cache."""
    env = {**os.environ, "PYTHONPATH": str(folder)}
    return subprocess.run(
        [LINT_IMPORTS, str(folder / "pyproject.toml"), "--no-cache"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def copy_of_project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    for package in ("sim", "models", "configs"):
        shutil.copytree(ROOT / package, folder / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", folder / "pyproject.toml")
    return folder


@needs_linter
def test_the_code_keeps_every_contract():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@needs_linter
@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("sim/core/upward.py", "import sim.apps.cli\n", "sim.core imports nothing else of lora-tco"),
        ("sim/run/upward.py", "from sim.outputs import charts\n", "Layers"),
        ("models/upward.py", "from sim.engines.reference import replication\n", "Layers"),
        ("sim/engines/fast/upward.py", "from sim.engines.reference import adapter\n", "independent"),
    ],
)
def test_an_upward_import_is_caught(tmp_path, module, line, contract):
    folder = copy_of_project(tmp_path)
    (folder / module).write_text(f'"""An import against the contract."""\n\n{line}')
    result = lint(folder)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken
    assert module.removesuffix(".py").replace("/", ".") in broken


def test_importing_the_core_loads_no_other_layer():
    code = (
        "import sys, sim.core.rng, sim.core.stats, sim.core.labels, sim.core.ledger, sim.core.interrupt; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sim', 'models') and m != 'sim' and not m.startswith('sim.core')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def test_models_first_then_the_api_imports_in_any_order():
    code = "import models.compile, models.validate; from sim import load_config, simulate, trace, analysis; print(simulate.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "sim.run.runner"
