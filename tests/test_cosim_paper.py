"""The trained paper-size bundle (16×16 patches, K = 512; golden_model/bundles/paper) co-simulated
on Verilator at the ULX3S-85F's core (its lanes, sampler and lateral lanes): every iteration's u and z, the outputs and
the cycle count against the golden and cycle models, on held-out patches of the held-out
photographs."""
import pytest

from ipvae.golden_model.bundle import builtin
from ipvae.rtl.boards.registry import get_board
from ipvae.sim.regression import assert_exact, heldout_cases, run, summarise

PAPER = builtin("paper")


def _check(res, n):
    assert_exact(res)
    assert summarise(res)["bit_exact"] == n


def test_paper_bundle_short(tmp_path):
    """Two patches at T = 4 (the default suite's share of the paper bundle)."""
    board = get_board("ulx3s-85f")
    cases = heldout_cases(PAPER, 2, iterations=4)
    _check(run("verilator", PAPER, board.lanes, cases, tmp_path, search=board.search, gap=0.2, backpressure=0.2,
               lateral_lanes=board.lateral_lanes), 2)


@pytest.mark.slow
def test_paper_bundle_regression(tmp_path):
    """24 held-out patches at T = 32, as the ULX3S-85F runs them (slow: pytest -m slow)."""
    board = get_board("ulx3s-85f")
    cases = heldout_cases(PAPER, 24, iterations=32, seed=3)
    _check(run("verilator", PAPER, board.lanes, cases, tmp_path, search=board.search, gap=0.1, backpressure=0.1,
               lateral_lanes=board.lateral_lanes), 24)
