"""golden_model/quant_study.py: one table and plot per bundle, named after it, with the bundle's
size, the swept rows and the exact intermediate widths (which grow with the bundle)."""
from pathlib import Path

from ipvae.golden_model import bundle as bundle_mod
from ipvae.golden_model.quant_study import SWEEPS, output_stem, run_study


def test_output_is_named_after_the_bundle(tmp_path):
    assert output_stem(None) == output_stem(bundle_mod.DEFAULT_BUNDLE) == "quantisation"
    assert output_stem(bundle_mod.builtin("paper")) == "quantisation_paper"
    assert output_stem(tmp_path / "mine") == "quantisation_mine"


def test_study_writes_table_plot_and_widths(tmp_path):
    rows, ref = run_study(None, samples=24, out_dir=tmp_path, log=lambda *_: None)
    assert len(rows) == sum(len(v) for v in SWEEPS.values())
    text = (tmp_path / "quantisation.md").read_text()
    assert (tmp_path / "quantisation.png").stat().st_size > 10_000
    assert text.startswith("# Quantisation study: the default bundle (N = 64, K = 128)")
    b = bundle_mod.load(None)
    widths = b.fixed.widths()
    # the default-formats row of the widths table is the bundle's own record
    row = next(line for line in text.splitlines() if line.startswith("| 8 | "))
    assert row == "| 8 | " + " | ".join(str(v) for v in widths.values()) + " |"
    assert Path(tmp_path / "quantisation.md").read_text().count("| weight_bits |") == 8
