"""rtl/core/poisson_search.py (search form) against the golden model, beat for beat, under stalls."""
import numpy as np
import pytest

from ipvae.golden_model.formats import Formats
from ipvae.golden_model.sampler import poisson_table
from ipvae.rtl.core.poisson_search import PoissonSearch
from tests.sampler_check import check_sampler_block


@pytest.mark.parametrize("lanes, fmt, per_cycle", [(4, Formats(), 4), (3, Formats(prob_bits=16, sampler_frac=4), 1),
                                                    (1, Formats(count_bits=3), 2), (2, Formats(), 16)])
def test_poisson_search_matches_model(lanes, fmt, per_cycle):
    """The search sampler gives the golden model's counts, beat for beat, under stalls."""
    rng = np.random.default_rng(lanes + 10)
    beats_u = rng.integers(fmt.u_lo, fmt.u_hi + 1, size=(120, lanes))
    beats_u[:60] = rng.integers(-3 << fmt.u_frac, 3 << fmt.u_frac, size=(60, lanes))
    zs = check_sampler_block(PoissonSearch(fmt, poisson_table(fmt), lanes, per_cycle), fmt, lanes, beats_u, 77, lanes)
    assert zs.max() == fmt.count_max  # the cap is reached


PATTERNS = ["every_other", "bursts", "long"]


@pytest.mark.parametrize("source, sink", [(p, q) for p in PATTERNS for q in PATTERNS])
def test_poisson_search_under_deterministic_stalls(source, sink):
    fmt, lanes = Formats(), 2
    rng = np.random.default_rng(6)
    beats_u = rng.integers(-3 << fmt.u_frac, 3 << fmt.u_frac, size=(40, lanes))
    zs = check_sampler_block(PoissonSearch(fmt, poisson_table(fmt), lanes, 4), fmt, lanes, beats_u, 5, 0, source, sink)
    assert zs.sum() > 0
