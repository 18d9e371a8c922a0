"""The spike samplers' random numbers in hardware: one xorshift32 generator per lane
(docs/arithmetic.md §5, mirrored by ``ipvae.golden_model.sampler.PrngLanes``).

Lane p is reseeded to ``seed ^ c_p`` (``c_p`` itself where that is 0), ``c_p = GOLDEN (p + 1) mod 2^32``,
and steps once per sampled beat; the uniform ``rnd`` is the top ``prob_bits`` of the new state.
Both sampler forms (rtl/core/poisson_sampler.py, rtl/core/poisson_search.py) build their lanes here.
"""
from __future__ import annotations

from amaranth import Mux, Signal

from ipvae.golden_model.sampler import GOLDEN, MASK32

__all__ = ["xorshift32", "lane_constant", "prng_lane"]


def xorshift32(s):
    """One xorshift32 (13, 17, 5) step of a 32-bit value (combinational)."""
    a = s ^ (s << 13)[:32]
    b = a ^ (a >> 17)
    return b ^ (b << 5)[:32]


def lane_constant(p: int) -> int:
    return (GOLDEN * (p + 1)) & MASK32


def prng_lane(m, p: int, *, seed, reseed, step, prob_bits: int):
    """Add lane p's generator to module ``m``: reseeded while ``reseed`` is high, one step in each
    other cycle with ``step`` high. Returns ``(state, rnd)`` (registers named prng<p>, rnd<p>)."""
    state = Signal(32, name=f"prng{p}")
    rnd = Signal(prob_bits, name=f"rnd{p}")
    nxt = xorshift32(state)
    c_p = lane_constant(p)
    with m.If(reseed):
        st = seed ^ c_p
        m.d.sync += state.eq(Mux(st == 0, c_p, st))
    with m.Elif(step):
        m.d.sync += [state.eq(nxt), rnd.eq(nxt[32 - prob_bits:32])]
    return state, rnd
