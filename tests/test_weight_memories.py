"""rtl/core/weight_memory.py and rtl/core/loadable_ram.py on their own: the ROM returns its words one
cycle after the address and holds with ``rd_en`` low; the RAM form is written while ``loading`` and
read back; LoadableRam (the SPRAM's behaviour off the iCE40) reads and writes through one address
port; parameter errors name the limit."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from ipvae.golden_model.errors import ParameterError
from ipvae.rtl.core.loadable_ram import SPRAM_DEPTH, LoadableRam
from ipvae.rtl.core.weight_memory import WeightMemory


def _run(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_rom_reads_a_word_a_cycle_and_holds():
    words = [int(v) for v in np.random.default_rng(0).integers(0, 1 << 20, size=37)]
    dut = WeightMemory(20, len(words), "rom", words)
    got = []

    async def bench(ctx):
        ctx.set(dut.rd_en, 1)
        order = list(range(len(words)))[::-1] + [5, 5, 0]
        for a in order:
            ctx.set(dut.rd_addr, a)
            await ctx.tick()
            got.append(ctx.get(dut.rd_data))
        held = ctx.get(dut.rd_data)
        ctx.set(dut.rd_en, 0)
        ctx.set(dut.rd_addr, 9)
        for _ in range(3):
            await ctx.tick()
            assert ctx.get(dut.rd_data) == held
        got[:] = list(zip(order, got))

    _run(dut, bench)
    assert all(v == words[a] for a, v in got)


def test_ram_form_is_written_while_loading_then_read():
    rng = np.random.default_rng(1)
    depth, width = 24, 12
    words = [int(v) for v in rng.integers(0, 1 << width, size=depth)]
    dut = WeightMemory(width, depth, "ram")
    got = []

    async def bench(ctx):
        ctx.set(dut.loading, 1)
        for a in rng.permutation(depth):
            ctx.set(dut.wr_addr, int(a))
            ctx.set(dut.wr_data, words[a])
            ctx.set(dut.wr_en, 1)
            await ctx.tick()
        ctx.set(dut.wr_en, 0)
        ctx.set(dut.loading, 0)
        ctx.set(dut.rd_en, 1)
        for a in range(depth):
            ctx.set(dut.rd_addr, a)
            await ctx.tick()
            got.append(ctx.get(dut.rd_data))

    _run(dut, bench)
    assert got == words


def test_loadable_ram_one_port():
    depth, width = 40, 32
    dut = LoadableRam(width, depth)
    data = [(a * 0x9E3779B9) & 0xFFFFFFFF for a in range(depth)]
    got = []

    async def bench(ctx):
        for a in range(depth):
            ctx.set(dut.addr, a)
            ctx.set(dut.wr_data, data[a])
            ctx.set(dut.wr_en, 1)
            await ctx.tick()
        ctx.set(dut.wr_en, 0)
        ctx.set(dut.rd_en, 1)
        for a in reversed(range(depth)):
            ctx.set(dut.addr, a)
            await ctx.tick()
            got.append(ctx.get(dut.rd_data))
        ctx.set(dut.rd_en, 0)
        ctx.set(dut.addr, 3)
        await ctx.tick()
        assert ctx.get(dut.rd_data) == data[0]       # holds with rd_en low

    _run(dut, bench)
    assert got == data[::-1]


def test_parameter_errors():
    with pytest.raises(ParameterError, match=f"a loadable weight memory holds at most {SPRAM_DEPTH} words"):
        LoadableRam(16, SPRAM_DEPTH + 1)
    with pytest.raises(ParameterError, match="weights must be one of"):
        WeightMemory(8, 4, "flash")
