"""Every public rtl block documents itself on its class (Amaranth lib style: what it does,
Members, Timing with its latency formula, Parameters), and every rtl module names its public
names in ``__all__``: ``help(IpvaeCore)`` tells a newcomer what it needs."""
import ast
import importlib
import inspect
from pathlib import Path

import pytest
from amaranth.hdl import Elaboratable

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p for p in (ROOT / "rtl").rglob("*.py") if p.name != "__init__.py")


def _name(path):
    return "ipvae." + ".".join(path.relative_to(ROOT).with_suffix("").parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_rtl_module_has_all(path):
    tree = ast.parse(path.read_text())
    assert any(isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in n.targets)
               for n in tree.body), f"{path.relative_to(ROOT)} has no __all__"
    module = importlib.import_module(_name(path))
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []


def _blocks():
    for path in MODULES:
        module = importlib.import_module(_name(path))
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, Elaboratable) and obj.__module__ == module.__name__:
                yield obj


@pytest.mark.parametrize("cls", list(_blocks()), ids=lambda c: c.__name__)
def test_every_block_class_has_its_docs(cls):
    doc = inspect.getdoc(cls) or ""
    assert doc, f"{cls.__name__} has no class docstring"
    assert "Timing" in doc or "Latency" in doc or "latency" in doc, f"{cls.__name__}: no timing in its docstring"
    assert "Parameters" in doc, f"{cls.__name__}: no Parameters section"
    if not cls.__module__.startswith("ipvae.rtl.boards"):      # the tops have pins, not members
        assert "Members" in doc or "Ports" in doc, f"{cls.__name__}: no Members section"
