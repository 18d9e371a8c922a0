"""Amaranth-simulator helpers for stream blocks: send beats with random gaps, take beats under
random backpressure, and return what came out (nothing may be lost or duplicated)."""
from __future__ import annotations

import random

from amaranth.sim import Simulator


def run_stream_block(block, beats, setup=None, stall=0.3, seed=0, timeout=100_000):
    """beats: list of dicts for block.i.payload fields. Returns the list of block.o payloads
    (as dicts of ints) in the order they left the block. ``setup(ctx)`` runs first."""
    rng = random.Random(seed)
    out = []
    fields = list(block.o.payload.shape().members)

    async def source(ctx):
        if setup is not None:
            await setup(ctx)
        for b in beats:
            while rng.random() < stall:
                await ctx.tick()
            for k, v in b.items():
                ctx.set(getattr(block.i.payload, k), v)
            ctx.set(block.i.valid, 1)
            await ctx.tick().until(block.i.ready)
            ctx.set(block.i.valid, 0)

    async def sink(ctx):
        cycles = 0
        while len(out) < len(beats):
            ready = rng.random() >= stall
            ctx.set(block.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(block.o.valid, block.o.payload)
            if valid and ready:
                out.append({f: int(getattr(payload, f)) for f in fields})
            cycles += 1
            if cycles > timeout:
                raise TimeoutError("stream block stopped producing")

    sim = Simulator(block)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    return out
