"""The distribution installs everything under one import root, with its data: a wheel built from
the checkout holds ipvae/{golden_model,rtl,sim,host,constraints}, the default bundle and every
board's constraints, and no top-level rtl/, sim/, host/ or golden_model/ that could collide."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ipvae.rtl.boards.registry import BOARD_NAMES

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    # built from a copy of the sources: setuptools writes build/ inside the tree it builds, and with
    # pytest -n 2 this module's tests can land on two workers, whose builds raced in one build/
    src = tmp_path_factory.mktemp("src") / "tree"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "runs", "sim_build", ".cache",
                                                             "*.egg-info", "__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                        str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = out.glob("ipvae_fpga-*.whl")
    return zipfile.ZipFile(whl)


def test_one_import_root(wheel):
    wheel_names = set(wheel.namelist())
    tops = {n.split("/")[0] for n in wheel_names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"ipvae"}
    for pkg in ("golden_model", "rtl", "sim", "host", "commands", "constraints"):
        assert f"ipvae/{pkg}/__init__.py" in wheel_names, pkg


def test_package_data_ships(wheel):
    wheel_names = set(wheel.namelist())
    shipped = {"ipvae/golden_model/bundles/default/bundle.json", "ipvae/golden_model/bundles/default/tensors.npz"}
    assert shipped <= wheel_names
    assert {f"ipvae/constraints/{name}.toml" for name in BOARD_NAMES} <= wheel_names


def test_console_script_points_at_the_application(wheel):
    (ep,) = [n for n in wheel.namelist() if n.endswith("entry_points.txt")]
    assert "ipvae = ipvae.cli:main" in wheel.read(ep).decode()
