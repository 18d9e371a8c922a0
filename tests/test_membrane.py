"""rtl/core/membrane.py against the golden model's update, under random and deterministic stalls."""
import numpy as np
import pytest

from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold, update
from ipvae.golden_model.layout import pack
from ipvae.golden_model.random_model import random_float_model
from ipvae.rtl.core.membrane import MembraneUpdate
from ipvae.sim.amaranth_tb import run_stream_block
from ipvae.sim.amaranth_tb import unpack_list as _unpack


@pytest.mark.parametrize("lanes, pattern",
                         [(1, "random"), (4, "random"), (4, "every_other"), (2, "bursts"), (3, "long")])
def test_membrane_update_matches_model(lanes, pattern):
    tensors, _ = random_float_model(12, 20, seed=5)
    fixed = fold(tensors, Formats())
    fmt, w = fixed.fmt, fixed.widths()
    rng = np.random.default_rng(lanes)
    beats, want = [], []
    for _ in range(150):
        u = rng.integers(fmt.u_lo, fmt.u_hi + 1, size=lanes)
        d = rng.integers(-(1 << (w["drive"] - 1)), 1 << (w["drive"] - 1), size=lanes)
        lat = rng.integers(-(1 << (w["lateral"] - 1)), 1 << (w["lateral"] - 1), size=lanes)
        prior, lateral = int(rng.random() < 0.2), int(rng.random() < 0.7)
        beats.append(dict(u=pack(u, fmt.u_bits), d=pack(d, w["drive"]), l=pack(lat, w["lateral"]),
                          prior=prior, lateral=lateral))
        want.append(u if prior else update(fixed, u, d, lat if lateral else np.zeros_like(lat)))
    out = run_stream_block(MembraneUpdate(fixed, lanes), beats, seed=lanes, source=pattern, sink=pattern)
    assert len(out) == len(beats)
    for o, wv in zip(out, want):
        assert _unpack(o["u"], lanes, fmt.u_bits, True) == list(wv)
    clamped = [wv for wv in want if fmt.u_hi in wv or fmt.u_lo in wv]
    assert clamped  # the stimulus reaches both clamps


def test_membrane_latency_property():
    from ipvae.rtl.core import timing
    assert MembraneUpdate.latency == timing.MEMBRANE_LATENCY == 2


@pytest.mark.parametrize("s", [-3, -1, 0, 1, 2, 5, 9])
def test_clamp_compares_on_the_unshifted_difference(s):
    """shift_clamp_bounds: clamp(shift_round(v, s)) decided on v alone, for every v around both
    bounds, at shifts either side of zero."""
    from ipvae.golden_model.formats import saturate, shift_round
    from ipvae.rtl.core.membrane import shift_clamp_bounds
    fmt = Formats()
    lo, hi = fmt.u_lo, fmt.u_hi
    below, above = shift_clamp_bounds(s, lo, hi)
    span = 1 << max(s, 0) + 2
    v = np.concatenate([np.arange(below - span, below + span), np.arange(above - span, above + span),
                        np.arange(-span, span)])
    want = saturate(shift_round(v, s), lo, hi)
    got = np.where(v < below, lo, np.where(v > above, hi, shift_round(v, s)))
    assert np.array_equal(got, want)
    assert want.min() == lo and want.max() == hi
