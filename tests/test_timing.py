"""rtl/timing.py is the one source of the core's timing: the blocks' attributes are its constants,
the cycle model derives its terms from them (the per-pass overhead is a sum, not a literal)."""
from ipvae.rtl import cycle_model, timing
from ipvae.rtl.credit_fifo import CreditFifo
from ipvae.rtl.drive import FeedForwardDrive
from ipvae.rtl.lateral import LateralUnits
from ipvae.rtl.membrane import MembraneUpdate
from ipvae.rtl.poisson_sampler import PoissonSampler
from ipvae.rtl.poisson_search import PoissonSearch


def test_blocks_read_their_timing_from_the_timing_module():
    assert FeedForwardDrive.latency_tail == timing.DRIVE_LATENCY_TAIL
    assert MembraneUpdate.latency == timing.MEMBRANE_LATENCY
    assert CreditFifo.latency == timing.FIFO_LATENCY
    assert PoissonSampler.latency == PoissonSearch.latency == timing.SAMPLER_LATENCY
    assert PoissonSearch.slot_overhead == timing.SEARCH_OVERHEAD
    assert (LateralUnits.ENTRY_CYCLES, LateralUnits.DRAIN_CYCLES) == (timing.LATERAL_ENTRY_CYCLES,
                                                                      timing.LATERAL_DRAIN_CYCLES)


def test_cycle_model_terms_are_derived():
    assert timing.PASS_OVERHEAD == (timing.MEMORY_READ + MembraneUpdate.latency + CreditFifo.latency
                                    + PoissonSampler.latency + timing.COUNT_SETTLE) == 7
    assert cycle_model.DRIVE_TAIL == FeedForwardDrive.latency_tail + 1 == 5
    assert cycle_model.LATERAL_HANDOFF == LateralUnits.DRAIN_CYCLES + 1 == 3
    assert cycle_model.ENTRY_OVERHEAD == LateralUnits.ENTRY_CYCLES
    assert cycle_model.SEARCH_OVERHEAD == PoissonSearch.slot_overhead == 3


def test_worst_case_bounds_every_run():
    import numpy as np

    from ipvae.golden_model.formats import Formats
    from ipvae.golden_model.golden import fold
    from ipvae.golden_model.random_model import random_float_model
    tensors, _ = random_float_model(12, 8, seed=1)
    fx = fold(tensors, Formats())
    worst = cycle_model.worst_case(fx, 4, 5, 4)
    rng = np.random.default_rng(0)
    for _ in range(20):
        z = rng.integers(0, fx.fmt.count_max + 1, size=(6, 8))
        assert cycle_model.cycles(12, 8, 4, 5, z, 4) <= worst
    assert cycle_model.cycles(12, 8, 4, 5, np.full((6, 8), fx.fmt.count_max), 4) == worst
