"""rtl/skid.py: no beat lost or duplicated under every stall pattern; full rate when never stalled."""

import pytest

from ipvae.sim.amaranth_tb import STALL_PATTERNS, run_stream_block, stalls


@pytest.mark.parametrize("source, sink", [(p, q) for p in STALL_PATTERNS for q in STALL_PATTERNS])
def test_skid_buffer_under_every_stall_pattern(source, sink):
    from amaranth import unsigned
    from amaranth.lib import data

    from ipvae.rtl.skid import SkidBuffer
    block = SkidBuffer(data.StructLayout({"u": unsigned(12)}))
    beats = [dict(u=(5 * i + 1) % 4096) for i in range(120)]
    assert run_stream_block(block, beats, source=source, sink=sink, seed=7) == beats


def test_stall_patterns_are_what_they_say():
    take = lambda name: [next(it) for it in [stalls(name)] for _ in range(200)]  # noqa: E731
    assert not any(take("none"))
    assert take("every_other")[:4] == [True, False, True, False]
    assert take("bursts")[:8] == [False] * 3 + [True] * 5
    assert sum(take("long")[:100]) == 40 and not any(take("long")[:60])
    r = take("random")
    assert 30 < sum(r) < 90 and r == take("random")          # p = 0.3, and seeded


def test_skid_buffer_preserves_beats_and_registers_ready():
    from amaranth import unsigned
    from amaranth.lib import data

    from ipvae.rtl.skid import SkidBuffer
    block = SkidBuffer(data.StructLayout({"u": unsigned(12)}))
    beats = [dict(u=(7 * i) % 4096) for i in range(200)]
    out = run_stream_block(block, beats, stall=0.4, seed=3)
    assert out == beats
    # full rate when never stalled: 200 beats in 200 + latency cycles
    assert run_stream_block(block, beats, stall=0.0) == beats
