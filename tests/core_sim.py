"""Amaranth-simulator harness for rtl/core.py: drives inputs with random gaps, takes outputs and
traces with random backpressure, and returns what the core produced."""
from __future__ import annotations

import random

import numpy as np
from amaranth.sim import Simulator

from sim.testbench import unpack


def _unpack(word, n, width, signed):
    return unpack(word, n, width, signed).tolist()


def simulate(core, runs, stall=0.3, seed=0, max_cycles=2_000_000, loads=()):
    """loads: (matrix, addr, word) writes through the core's load port first (weights="ram").
    runs: list of (x_codes, iterations, seed). Returns a list of dicts with z, u (K,), trace
    u/z ((T+1, K) if the core has a trace port), cycles (from the core's counter) and the
    latency in cycles from the last input beat to the first output beat."""
    rng = random.Random(seed)
    fmt, P, S = core.fixed.fmt, core.lanes, core.slots
    K = core.fixed.n_latents
    results = []

    async def bench(ctx):
        for matrix, addr, word in loads:
            while rng.random() < stall:
                await ctx.tick()
            ctx.set(core.load.payload, {"matrix": matrix, "addr": addr, "data": word})
            ctx.set(core.load.valid, 1)
            await ctx.tick().until(core.load.ready)
            ctx.set(core.load.valid, 0)
        for x, iterations, run_seed in runs:
            res = dict(z=np.zeros(K, np.int64), u=np.zeros(K, np.int64))
            if core.has_trace:
                res["trace_u"] = np.zeros((iterations + 1, K), np.int64)
                res["trace_z"] = np.zeros((iterations + 1, K), np.int64)
            ctx.set(core.iterations, iterations)
            ctx.set(core.seed, run_seed)
            for n, v in enumerate(x):
                while rng.random() < stall:
                    await ctx.tick()
                ctx.set(core.i.payload, int(v))
                ctx.set(core.i.valid, 1)
                await ctx.tick().until(core.i.ready)
                ctx.set(core.i.valid, 0)
            got_out = 0
            first_out = None
            cyc = 0
            while got_out < S:
                ready_o = rng.random() >= stall
                ctx.set(core.o.ready, ready_o)
                if core.has_trace:
                    ctx.set(core.trace.ready, rng.random() >= stall)
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
                    res["trace_z"][it, idx] = _unpack(int(t_payload.z), P, fmt.count_bits, False)
                    res["trace_u"][it, idx] = _unpack(int(t_payload.u), P, fmt.u_bits, True)
                if ov:
                    if first_out is None:
                        first_out = cyc
                    if ready_o:
                        idx = slice(got_out * P, got_out * P + P)
                        res["z"][idx] = _unpack(int(o_payload.z), P, fmt.count_bits, False)
                        res["u"][idx] = _unpack(int(o_payload.u), P, fmt.u_bits, True)
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
