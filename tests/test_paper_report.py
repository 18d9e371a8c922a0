"""golden_model/paper_report.py: the distance to the ideal point, the issue-12 bar, and the report
with its figures (on the default bundle, small)."""
import pytest

from ipvae.cli import main
from ipvae.golden_model.paper_report import PAPER_BEST, distance, quality_bar


def test_distance_matches_the_paper():
    assert distance(PAPER_BEST["r2"], PAPER_BEST["zeros"]) == pytest.approx(PAPER_BEST["d"], abs=5e-4)
    assert distance(1.0, 1.0) == 0.0


def _curves(r2, zeros, dr=0.0, dz=0.0):
    fl = {t: dict(r2=r2, zeros=zeros) for t in (16, 64, 256)}
    fx = {t: dict(r2=r2 - dr, zeros=zeros + dz) for t in (16, 64, 256)}
    return dict(float=fl, fixed=fx)


def test_quality_bar():
    assert quality_bar(_curves(0.85, 0.82))["ok"]                     # d = 0.234
    assert not quality_bar(_curves(0.80, 0.75))["ok"]                 # d = 0.320
    assert not quality_bar(_curves(0.85, 0.82, dr=0.02))["ok"]        # golden strays from float
    assert quality_bar(_curves(0.85, 0.82, dz=0.005))["agree"][64] == pytest.approx((0.0, 0.005))


def test_model_report_command(tmp_path, capsys):
    out = tmp_path / "m.md"
    assert main(["model-report", "--samples", "12", "--t", "1,4,16", "--write", str(out)]) == 0
    text = out.read_text()
    assert "| 16 | " in text and "| 0.708 | 0.369 |" in text          # our row beside the paper's
    for fig in ("curves", "dictionary", "reconstructions", "raster"):
        assert f"(m_{fig}.png)" in text and (tmp_path / f"m_{fig}.png").stat().st_size > 1000


def test_eval_prints_the_quality_bar(capsys):
    """`ipvae eval` states the issue-12 bar when T=256 is evaluated; its d is the golden row's."""
    import re
    main(["eval", "--samples", "40", "--t", "16,64,256", "--runaway", "0"])
    out = capsys.readouterr().out
    golden = next(line for line in out.splitlines() if line.startswith("| fixed (golden)"))
    cells = [float(c) for c in golden.strip("|").split("|")[1:]]
    r2, zeros = cells[4], cells[5]                       # T=256: the third (R², zeros) pair
    m = re.search(r"quality bar \(issue 12\): golden d = (\d\.\d{3}) at T=256 \(bar <= 0\.28\); golden vs float "
                  r"T=16: .* T=256: dR2 \d\.\d{3}, dzeros \d\.\d{3} \(bars 0\.01, 0\.01\): (met|NOT met)", out)
    assert m, out
    assert abs(float(m.group(1)) - distance(r2, zeros)) < 0.002
