"""rtl/core/output.py: every slot once per run, in order, under backpressure, runs back to back."""



def test_output_streamer_backpressure_and_back_to_back_runs():
    """Two runs started back to back (the second start coincides with the first done), random
    backpressure: every slot exactly once per run, in order, with the memory word of its slot."""
    import random

    from amaranth.sim import Simulator

    from ipvae.rtl.core.output import OutputStreamer

    S = 5
    block = OutputStreamer(S, 8, 16)
    zmem = [0x11 * (s + 1) for s in range(S)]
    umem = [0x1000 + s for s in range(S)]
    rng = random.Random(4)
    got, dones = [], []

    async def memory(ctx):  # the synchronous read ports the core connects
        z, u = 0, 0
        async for _, _, addr, en in ctx.tick().sample(block.addr, block.en):
            if en:
                z, u = zmem[addr % S], umem[addr % S]
            ctx.set(block.z_data, z)
            ctx.set(block.u_data, u)

    async def bench(ctx):
        ctx.set(block.start, 1)
        await ctx.tick()
        ctx.set(block.start, 0)
        runs = 0
        for _ in range(400):
            ready = rng.random() >= 0.4
            ctx.set(block.o.ready, ready)
            done = ctx.get(block.done)
            ctx.set(block.start, int(done and runs == 0))
            if done:
                dones.append(len(got))
                runs += 1
            _, _, valid, slot, z, u = await ctx.tick().sample(block.o.valid, block.o.payload.slot,
                                                               block.o.payload.z, block.o.payload.u)
            if valid and ready:
                got.append((slot, z, u))
            if runs == 2:
                break
        ctx.set(block.start, 0)

    sim = Simulator(block)
    sim.add_clock(1e-8)
    sim.add_testbench(memory, background=True)
    sim.add_testbench(bench)
    sim.run()
    want = [(s, zmem[s], umem[s]) for s in range(S)]
    assert dones == [S - 1, 2 * S - 1]  # done is high in the cycle the last beat is taken
    assert got == want + want
