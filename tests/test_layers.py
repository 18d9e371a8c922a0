"""The layer rules of docs/architecture.md, checked on every import statement (top-level and inside
functions): golden_model <- rtl <- sim; host beside rtl; the application (ipvae/) on top."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"golden_model": "ipvae.golden_model", "rtl": "ipvae.rtl", "sim": "ipvae.sim", "host": "ipvae.host"}
#: which layers a layer may import (besides itself)
ALLOWED = {
    "golden_model": set(),
    "rtl": {"golden_model"},
    "host": {"golden_model"},
    "sim": {"golden_model", "rtl"},
}


def _layer_of(module: str):
    for layer, root in LAYERS.items():
        if module == root or module.startswith(root + "."):
            return layer
    if module == "ipvae" or module.startswith("ipvae."):
        return "app"
    return None


def imports_of(path: Path, package: str):
    """Every module an import statement in ``path`` names, resolved to absolute names."""
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            out.append((node.lineno, mod))
    return out


def violations():
    found = []
    for layer, root in LAYERS.items():
        for path in sorted((ROOT / layer).rglob("*.py")):
            for line, mod in imports_of(path, root):
                target = _layer_of(mod)
                if target is not None and target != layer and target not in ALLOWED[layer]:
                    found.append(f"{path.relative_to(ROOT)}:{line} ({layer}) imports {mod} ({target})")
    return found


def test_no_upward_imports():
    assert violations() == []


#: the rooms of rtl/ (rtl/__init__.py) and which rooms each may import (besides itself)
ROOMS = {"core": set(), "link": {"core"}, "ip": {"core"}, "boards": {"core", "link"}}


def _room_of(module: str):
    parts = module.split(".")
    if parts[:2] == ["ipvae", "rtl"] and len(parts) > 2:
        return parts[2]
    return None


def room_violations():
    found = []
    for room in ROOMS:
        for path in sorted((ROOT / "rtl" / room).rglob("*.py")):
            package = "ipvae.rtl." + room
            for line, mod in imports_of(path, package):
                target = _room_of(mod)
                if target is not None and target != room and target not in ROOMS[room]:
                    found.append(f"{path.relative_to(ROOT)}:{line} ({room}) imports {mod} ({target})")
    return found


def test_rtl_rooms_import_one_way():
    assert sorted(p.name for p in (ROOT / "rtl").iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(ROOMS)
    assert [p.name for p in (ROOT / "rtl").glob("*.py")] == ["__init__.py"], "every rtl module lives in a room"
    assert room_violations() == []


def test_the_room_checker_sees_a_core_importing_the_link(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("from ..link.uart import UARTReceiver\nfrom .timing import FIRST_BEAT\n")
    got = imports_of(bad, "ipvae.rtl.core")
    assert got == [(1, "ipvae.rtl.link.uart"), (2, "ipvae.rtl.core.timing")]
    assert [_room_of(m) for _, m in got] == ["link", "core"]


def test_the_rule_checker_sees_an_upward_import(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from ipvae.sim.runner import build\n    from ..rtl import core\n")
    got = imports_of(bad, "ipvae.golden_model")
    assert got == [(2, "ipvae.sim.runner"), (3, "ipvae.rtl")]
    assert [_layer_of(m) for _, m in got] == ["sim", "rtl"]
    assert _layer_of("ipvae.cli") == "app" and _layer_of("numpy") is None


@pytest.mark.parametrize("module", ["ipvae.rtl.core.cycle_model", "ipvae.rtl.core.timing",
                                    "ipvae.rtl.boards.registry", "ipvae.rtl.boards.family",
                                    "ipvae.rtl.boards.ice40", "ipvae.rtl.boards.ecp5"])
def test_timing_and_boards_import_without_amaranth(module):
    code = f"import sys, {module}; bad = [m for m in sys.modules if m.startswith(('amaranth', 'scipy', 'torch'))]; " \
           "print(sorted({m.split('.')[0] for m in bad})); sys.exit(1 if bad else 0)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_amaranth_tests_do_not_import_cocotb():
    """Amaranth-simulator tests and harnesses run without cocotb (it belongs to the co-simulation tier)."""
    offenders = []
    for path in sorted((ROOT / "tests").glob("*.py")) + [ROOT / "sim" / "amaranth_tb.py"]:
        if path.name.startswith("test_cosim"):
            continue
        mods = [m for _, m in imports_of(path, "tests")]
        if any(m.split(".")[0] == "cocotb" or m.startswith(("ipvae.sim.testbench", "ipvae.sim.cocotb")) for m in mods):
            offenders.append(path.name)
    assert offenders == []
