"""rtl/core/poisson_sampler.py (parallel form) against the golden model's PRNG lanes and table, under
random and deterministic stalls."""
import numpy as np
import pytest

from ipvae.golden_model.formats import Formats
from ipvae.golden_model.sampler import poisson_table
from ipvae.rtl.core.poisson_sampler import PoissonSampler
from tests.sampler_check import check_sampler_block


@pytest.mark.parametrize("lanes, fmt", [(4, Formats()), (3, Formats(prob_bits=16, sampler_frac=4)),
                                         (1, Formats(count_bits=3))])
def test_poisson_sampler_matches_model(lanes, fmt):
    rng = np.random.default_rng(lanes)
    beats_u = rng.integers(fmt.u_lo, fmt.u_hi + 1, size=(120, lanes))
    beats_u[:40] = rng.integers(-3 << fmt.u_frac, 2 << fmt.u_frac, size=(40, lanes))  # where spikes happen
    zs = check_sampler_block(PoissonSampler(fmt, poisson_table(fmt), lanes), fmt, lanes, beats_u, 0xDEADBEEF, lanes)
    assert zs.sum() > 0


PATTERNS = ["every_other", "bursts", "long"]


@pytest.mark.parametrize("source, sink", [(p, q) for p in PATTERNS for q in PATTERNS])
def test_poisson_sampler_under_deterministic_stalls(source, sink):
    fmt, lanes = Formats(), 2
    rng = np.random.default_rng(5)
    beats_u = rng.integers(-3 << fmt.u_frac, 2 << fmt.u_frac, size=(40, lanes))
    zs = check_sampler_block(PoissonSampler(fmt, poisson_table(fmt), lanes), fmt, lanes, beats_u, 99, 0, source, sink)
    assert zs.sum() > 0


def test_sampler_latency_property():
    from ipvae.rtl.core import timing
    assert PoissonSampler.latency == timing.SAMPLER_LATENCY == 2
