"""Amaranth-simulator harness: stream put/get helpers, stall patterns, and the core's driver.

Stall patterns are iterators of booleans, one per cycle (True: stall this cycle), decoupled from
the data as cocotbext-axi's pause generators are. Every stream test runs under the random pattern
and the deterministic worst cases beside it:

==================  ==========================================================================
``none``            never stall (full rate)
``random``          stall with probability 0.3, seeded
``every_other``     stall, go, stall, go, ... (a valid/ready that toggles every cycle)
``bursts``          3 cycles go, 5 cycles stall
``long``            60 cycles go, 40 cycles stall (a sink that disappears for a while)
==================  ==========================================================================

:func:`stream_put` and :func:`stream_get` move one beat through an ``amaranth.lib.stream``
interface under a pattern; :func:`run_stream_block` drives a block's ``i`` and drains its ``o``;
:func:`simulate_core` runs inferences through rtl/core/ipvae_core.py. No cocotb here: this is the fast tier.
"""
from __future__ import annotations

import itertools
import random

import numpy as np
from amaranth.sim import Simulator

from ipvae.golden_model.layout import unpack

__all__ = ["STALL_PATTERNS", "stalls", "stream_put", "stream_get", "run_stream_block", "simulate_core",
           "unpack_list", "check_core_runs"]


def _random(p=0.3, seed=0):
    rng = random.Random(seed)
    while True:
        yield rng.random() < p


STALL_PATTERNS = {
    "none": lambda seed=0: itertools.repeat(False),
    "random": lambda seed=0: _random(0.3, seed),
    "every_other": lambda seed=0: itertools.cycle([True, False]),
    "bursts": lambda seed=0: itertools.cycle([False] * 3 + [True] * 5),
    "long": lambda seed=0: itertools.cycle([False] * 60 + [True] * 40),
}


def stalls(pattern="random", seed=0, p=None):
    """A stall iterator: a name of :data:`STALL_PATTERNS`, an iterator (used as given), or None (none).
    ``p`` overrides the probability of the random pattern."""
    if pattern is None:
        return itertools.repeat(False)
    if not isinstance(pattern, str):
        return iter(pattern)
    if pattern == "random" and p is not None:
        return _random(p, seed)
    return STALL_PATTERNS[pattern](seed)


def unpack_list(word, n, width, signed):
    """:func:`ipvae.golden_model.layout.unpack` as a list of ints (for comparisons in tests)."""
    return unpack(word, n, width, signed).tolist()


async def stream_put(ctx, stream, payload, pauses=None):
    """Offer one beat on ``stream`` (a dict of payload fields, or a value for a plain payload),
    after the idle cycles ``pauses`` asks for, and wait until it is taken."""
    if pauses is not None:
        while next(pauses):
            await ctx.tick()
    if isinstance(payload, dict):
        for k, v in payload.items():
            ctx.set(getattr(stream.payload, k), v)
    else:
        ctx.set(stream.payload, payload)
    ctx.set(stream.valid, 1)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream, pauses=None, fields=None, timeout=100_000):
    """Take one beat from ``stream``, holding ``ready`` low on the cycles ``pauses`` says to stall.
    Returns the payload (a dict of ints when ``fields`` names them)."""
    for _ in range(timeout):
        ready = not next(pauses) if pauses is not None else True
        ctx.set(stream.ready, ready)
        _, _, valid, payload = await ctx.tick().sample(stream.valid, stream.payload)
        if valid and ready:
            ctx.set(stream.ready, 0)
            return {f: int(getattr(payload, f)) for f in fields} if fields else payload
    raise TimeoutError("the stream produced no beat")


def run_stream_block(block, beats, setup=None, stall=0.3, seed=0, timeout=100_000, source="random", sink="random"):
    """Send ``beats`` (dicts of block.i.payload fields) into ``block`` and take as many beats from
    block.o; returns them (dicts of ints) in the order they left. ``source``/``sink`` are stall
    patterns (names or iterators); ``stall`` is the probability of the random one. ``setup(ctx)``
    runs first."""
    out = []
    fields = list(block.o.payload.shape().members)
    src = stalls(source, seed, stall)
    snk = stalls(sink, seed + 1, stall)

    async def producer(ctx):
        if setup is not None:
            await setup(ctx)
        for b in beats:
            await stream_put(ctx, block.i, b, src)

    async def consumer(ctx):
        while len(out) < len(beats):
            out.append(await stream_get(ctx, block.o, snk, fields, timeout))

    sim = Simulator(block)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    return out


def simulate_core(core, runs, stall=0.3, seed=0, max_cycles=2_000_000, loads=(), source="random", sink="random"):
    """Run inferences through rtl/core/ipvae_core.py in Amaranth's simulator.

    loads: (matrix, addr, word) writes through the core's load port first (weights="ram").
    runs: list of (x_codes, iterations, seed). Returns a list of dicts with z, u (K,), trace
    u/z ((T+1, K) if the core has a trace port), cycles (from the core's counter) and the
    latency in cycles from the last input beat to the first output beat. Inputs and loads follow
    the ``source`` stall pattern, the output and trace streams the ``sink`` one."""
    fmt, P, S = core.fixed.fmt, core.lanes, core.slots
    K = core.fixed.n_latents
    src = stalls(source, seed, stall)
    snk = stalls(sink, seed + 1, stall)
    trc = stalls(sink, seed + 2, stall)
    results = []

    async def bench(ctx):
        for matrix, addr, word in loads:
            await stream_put(ctx, core.load, {"matrix": matrix, "addr": addr, "data": word}, src)
        for x, iterations, run_seed in runs:
            res = dict(z=np.zeros(K, np.int64), u=np.zeros(K, np.int64))
            if core.has_trace:
                res["trace_u"] = np.zeros((iterations + 1, K), np.int64)
                res["trace_z"] = np.zeros((iterations + 1, K), np.int64)
            ctx.set(core.iterations, iterations)
            ctx.set(core.seed, run_seed)
            for v in x:
                await stream_put(ctx, core.i, int(v), src)
            got_out = 0
            first_out = None
            cyc = 0
            while got_out < S:
                ready_o = not next(snk)
                ctx.set(core.o.ready, ready_o)
                if core.has_trace:
                    ctx.set(core.trace.ready, not next(trc))
                _, _, ov, tv, o_payload, t_payload, tr_ready = await ctx.tick().sample(
                    core.o.valid, core.trace.valid if core.has_trace else core.o.valid,
                    core.o.payload, core.trace.payload if core.has_trace else core.o.payload,
                    core.trace.ready if core.has_trace else core.o.ready)
                cyc += 1
                if cyc > max_cycles:
                    raise TimeoutError("core did not finish")
                if core.has_trace and tv and tr_ready:
                    it, slot = int(t_payload.iteration), int(t_payload.slot)
                    idx = slice(slot * P, slot * P + P)
                    res["trace_z"][it, idx] = unpack_list(int(t_payload.z), P, fmt.count_bits, False)
                    res["trace_u"][it, idx] = unpack_list(int(t_payload.u), P, fmt.u_bits, True)
                if ov:
                    if first_out is None:
                        first_out = cyc
                    if ready_o:
                        idx = slice(got_out * P, got_out * P + P)
                        res["z"][idx] = unpack_list(int(o_payload.z), P, fmt.count_bits, False)
                        res["u"][idx] = unpack_list(int(o_payload.u), P, fmt.u_bits, True)
                        got_out += 1
            ctx.set(core.o.ready, 0)
            res["cycles"] = ctx.get(core.cycles)
            res["latency"] = first_out
            results.append(res)

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return results


def check_core_runs(core, runs, results):
    """Assert :func:`simulate_core`'s results bit-exact with the golden model at the core's lanes
    (every iteration's u and z when the core has a trace port, the first divergence named) and
    cycle-exact with the core's own cycle model (``core.cycles_for``)."""
    from ipvae.golden_model.golden import first_divergence, trace_one
    for (x, iterations, seed), res in zip(runs, results):
        g = trace_one(core.fixed, x, iterations, seed, lanes=core.lanes)
        if core.has_trace:
            div = first_divergence(g, dict(u=res["trace_u"], z=res["trace_z"]))
            assert div is None, f"seed {seed}: {div}"
        assert np.array_equal(res["z"], g["z"][-1]) and np.array_equal(res["u"], g["u"][-1])
        assert res["cycles"] == core.cycles_for(iterations, g["z"])
