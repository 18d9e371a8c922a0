"""rtl/link/weight_loader.py on its own: a LOAD's payload as a stream of bytes into the core's F or
W memory. The words it writes are golden_model.layout's (as the protocol's LOAD frames carry them),
with gaps between bytes; the word range is checked before the first write (two cycles of ``hold``);
a refused LOAD (bad matrix, past the end, during an inference, after an error) writes nothing; a
payload that ends inside a word is BAD_LENGTH."""
import pytest
from amaranth.sim import Simulator

from ipvae.golden_model import protocol as proto
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.layout import weight_words
from ipvae.golden_model.random_model import random_float_model
from ipvae.rtl.core.ipvae_core import IpvaeCore
from ipvae.rtl.link.weight_loader import WeightLoader
from ipvae.sim.amaranth_tb import stalls

LANES = 4


@pytest.fixture(scope="module", params=[8, 10], ids=["8-bit", "10-bit"])
def core(request):
    tensors, _ = random_float_model(6, 8, seed=5)
    return IpvaeCore(fold(tensors, Formats(weight_bits=request.param)), LANES, max_iterations=15, weights="ram")


def _payload(frame):
    return frame[4:-1]


def _load(loader, payload, *, running=False, ok=True, pattern="random"):
    """Feed one LOAD payload; returns (words written as (matrix, addr, data), errors, hold cycles)."""
    words, errors, holds = [], [], []
    pauses = stalls(pattern, seed=len(payload))

    async def bench(ctx):
        ctx.set(loader.length, len(payload))
        ctx.set(loader.last, len(payload) - 1)
        ctx.set(loader.running, running)
        ctx.set(loader.ok, ok)
        ctx.set(loader.o.ready, 1)
        ctx.set(loader.begin, 1)
        await ctx.tick()
        ctx.set(loader.begin, 0)
        i = 0
        while i < len(payload) or ctx.get(loader.hold):
            hold = ctx.get(loader.hold)
            holds.append(hold)
            take = i < len(payload) and not hold and not next(pauses)
            ctx.set(loader.i.valid, take)
            if take:
                ctx.set(loader.i.payload.byte, payload[i])
                ctx.set(loader.i.payload.count, i)
                i += 1
            if ctx.get(loader.err_valid):
                errors.append(proto.ERRORS[ctx.get(loader.err)])
            if ctx.get(loader.o.valid):
                p = loader.o.payload
                words.append((ctx.get(p.matrix), ctx.get(p.addr), ctx.get(p.data)))
            await ctx.tick()
        ctx.set(loader.i.valid, 0)
        for _ in range(3):
            if ctx.get(loader.o.valid):
                p = loader.o.payload
                words.append((ctx.get(p.matrix), ctx.get(p.addr), ctx.get(p.data)))
            await ctx.tick()

    sim = Simulator(loader)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return words, errors, holds


@pytest.mark.parametrize("matrix", [0, 1])
@pytest.mark.parametrize("pattern", ["none", "random", "every_other"])
def test_words_land_where_the_layout_says(core, matrix, pattern):
    loader = WeightLoader(core)
    mem = weight_words(core.fixed, LANES)[matrix]
    start, count = 3, 7
    frame = proto.load_requests(matrix, mem, LANES, core.fixed.fmt.weight_bits, chunk_words=len(mem))[0]
    body = _payload(frame)
    nb = LANES * proto.weight_bytes(core.fixed.fmt.weight_bits)
    payload = bytes([matrix]) + start.to_bytes(2, "little") + body[3 + start * nb:3 + (start + count) * nb]
    words, errors, holds = _load(loader, payload, pattern=pattern)
    assert errors == []
    assert words == [(matrix, start + k, int(mem[start + k])) for k in range(count)]
    assert sum(holds) == 2                      # the range check: two cycles, once


@pytest.mark.parametrize("case, expect", [
    ("matrix 2", "BAD_ADDRESS"),
    ("past the end", "BAD_ADDRESS"),
    ("during an inference", "BUSY"),
    ("ends inside a word", "BAD_LENGTH"),
])
def test_refused_loads_write_nothing(core, case, expect):
    loader = WeightLoader(core)
    nb = LANES * proto.weight_bytes(core.fixed.fmt.weight_bits)
    depth = loader.depth[1]
    words_n = 2
    matrix, start, running = 1, 0, False
    if case == "matrix 2":
        matrix = 2
    elif case == "past the end":
        start = depth - 1
    elif case == "during an inference":
        running = True
    payload = bytes([matrix]) + start.to_bytes(2, "little") + bytes(range(words_n * nb))
    if case == "ends inside a word":
        payload = payload[:-1]
    words, errors, _ = _load(loader, payload, running=running, ok=True)
    assert errors and errors[0] == expect
    if case != "ends inside a word":
        # the executor records the first error and holds ok low from then on: nothing is written
        words, _, _ = _load(loader, payload, running=running, ok=False)
        assert words == []


def test_an_earlier_error_stops_every_write(core):
    loader = WeightLoader(core)
    nb = LANES * proto.weight_bytes(core.fixed.fmt.weight_bits)
    words, errors, _ = _load(loader, bytes([0, 0, 0]) + bytes(3 * nb), ok=False)
    assert words == [] and errors == []
