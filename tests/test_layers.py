"""The import contracts in .importlinter hold (issue #12, "Layers you can see").

The builder's layers (DESIGN.md, "Layers"): readers, model, links and paths, stages,
then incremental, pipeline, serve and cli; stages that do not import one another,
render never importing check, no cycles. `make lint` runs the same check.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytest.importorskip("importlinter", reason="import-linter is not installed (pip install import-linter)")

CONFIG = ROOT / ".importlinter"


def test_import_contracts__every_contract_kept__ok():
    # A fresh process in the repository root, so that it analyses this checkout's code.
    run = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
         "--config", str(CONFIG), "--no-cache", "--no-logo"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        pytest.fail(f"lint-imports found broken contracts:\n{run.stdout}\n{run.stderr}", pytrace=False)


def test_import_contracts__type_checking_imports_count__ok():
    from importlinter.api import read_configuration

    config = read_configuration(str(CONFIG))
    assert config["session_options"].get("exclude_type_checking_imports", "False") in ("False", "false", False)
    layers = [c for c in config["contracts_options"] if c["type"] == "layers" and c.get("containers") == ["builder"]]
    assert layers, "the builder's layers contract is missing"


def test_import_contracts__every_route_module_is_in_the_runtime_contracts__ok():
    # The runtime's layers (DESIGN.md, "Runtime"): a staff route module that the independence
    # contract does not name could import another route unnoticed.
    from importlinter.api import read_configuration

    contracts = {c["id"]: c for c in read_configuration(str(CONFIG))["contracts_options"]}
    layers = contracts["runtime-layers"]
    assert layers["containers"] == ["runtime"] and layers.get("exhaustive") in ("true", "True", True)
    runtime = ROOT / "runtime"
    routes = {f"runtime.{'.'.join(p.relative_to(runtime).with_suffix('').parts)}"
              for p in [*runtime.glob("*.py"), *(runtime / "staff").glob("*.py")]
              if p.stem != "__init__" and "APIRouter(" in p.read_text(encoding="utf-8")}
    assert set(contracts["runtime-routes-independent"]["modules"]) == routes
    assert contracts["runtime-acyclic"]["type"] == "acyclic_siblings"
