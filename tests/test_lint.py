"""The code passes ruff with the project's configuration ([tool.ruff] in pyproject.toml)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).parent / "ruff"
    r = subprocess.run([str(ruff), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_sees_a_long_line(tmp_path):
    """The check is live: the same configuration flags a 121-character line."""
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "bad.py").write_text("x = '" + "a" * 115 + "'\n")
    ruff = Path(sys.executable).parent / "ruff"
    r = subprocess.run([str(ruff), "check", "--no-cache", "bad.py"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 1 and "E501" in r.stdout
