"""rtl/link/reply_writer.py on its own (the host link's reply side; tests/test_host_link.py runs it
in the link): every reply type as the protocol's parsers read it, the RESULT
body from output beats under stalls on both streams, and the checksum."""
import io

import numpy as np
import pytest
from amaranth.sim import Simulator

from ipvae.golden_model import protocol as proto
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.layout import pack
from ipvae.golden_model.random_model import random_float_model
from ipvae.rtl.core.ipvae_core import IpvaeCore
from ipvae.rtl.link.reply_writer import ReplyWriter
from ipvae.sim.amaranth_tb import stalls, stream_get, stream_put


def _writer(ram=True, k=8, lanes=4, count_bits=4, registered=False):
    tensors, _ = random_float_model(12, k, seed=3)
    core = IpvaeCore(fold(tensors, Formats(count_bits=count_bits)), lanes, max_iterations=15)   # sizes only
    return core, ReplyWriter(core, ram=ram, fingerprint=0x12345678, clock_hz=30_000_000, registered=registered)


def _send(writer, kind, fields, beats=(), pattern="random", seed=0):
    """Start one reply and return its bytes and busy at each byte."""
    out, busy = [], []
    tx_pause, beat_pause = stalls(pattern, seed), stalls(pattern, seed + 1)

    async def bench(ctx):
        for k, v in fields.items():
            ctx.set(getattr(writer.fields, k), v)
        ctx.set(writer.kind, kind)
        ctx.set(writer.start, 1)
        await ctx.tick()
        ctx.set(writer.start, 0)
        while len(out) < 4 or len(out) < 5 + (out[2] | out[3] << 8):
            busy.append(ctx.get(writer.busy))
            out.append(int(await stream_get(ctx, writer.tx, tx_pause)))
        # the checksum was the last byte: the writer is idle again and offers nothing
        await ctx.tick()
        assert not ctx.get(writer.tx.valid) and not ctx.get(writer.busy)

    async def feeder(ctx):
        for z, u in beats:
            await stream_put(ctx, writer.beats, {"z": z, "u": u}, beat_pause)

    sim = Simulator(writer)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_testbench(feeder, background=True)
    sim.run()
    return bytes(out), busy


def _read(data):
    return proto.read_reply(io.BytesIO(data).read)


def test_error_reply():
    _, w = _writer()
    data, busy = _send(w, proto.ERROR, dict(err=proto.ERROR_CODES["BAD_LENGTH"], request=proto.LOAD))
    assert data[:4] == bytes([proto.MAGIC_REPLY, proto.ERROR, 2, 0]) and data[-1] == proto.crc8(data[1:-1])
    assert proto.parse_error(data[4:-1]) == ("BAD_LENGTH", proto.LOAD)
    with pytest.raises(proto.ProtocolError, match=r"^board error BAD_LENGTH \(frame type 0x02\)$"):
        _read(data)
    assert not any(busy)                     # only a RESULT keeps the link busy


def test_info_reply():
    core, w = _writer(ram=True)
    data, _ = _send(w, proto.INFO_REPLY, dict(f_loaded=1, w_loaded=0), pattern="every_other")
    kind, payload = _read(data)
    info = proto.parse_info(payload)
    assert kind == proto.INFO_REPLY and (info.n_inputs, info.n_latents, info.lanes) == (12, 8, 4)
    assert info.max_iterations == 15 and info.fingerprint == 0x12345678 and info.clock_hz == 30_000_000
    assert info.ram_weights and info.loaded == 0b01


def test_load_reply():
    _, w = _writer()
    data, _ = _send(w, proto.LOAD_REPLY, dict(matrix=1, addr0=300, words=17), pattern="bursts")
    kind, payload = _read(data)
    assert kind == proto.LOAD_REPLY and payload == bytes([1]) + (300).to_bytes(2, "little") + (17).to_bytes(2, "little")


@pytest.mark.parametrize("with_u, pattern, k, lanes, count_bits", [
    (False, "random", 8, 4, 4), (True, "random", 8, 4, 4), (True, "long", 8, 4, 4), (False, "every_other", 8, 4, 4),
    (False, "random", 9, 3, 4), (False, "bursts", 7, 1, 3), (False, "random", 8, 2, 5), (True, "none", 9, 3, 4)])
@pytest.mark.parametrize("registered", [False, True])
def test_result_reply_carries_the_beats(with_u, pattern, k, lanes, count_bits, registered):
    """Counts only: packed two per byte for count_bits <= 4 (odd K and odd P included: a nibble
    waits across beats), a byte each above; with u: three bytes per neuron. The registered
    writer (body byte chosen a cycle ahead) sends the same bytes."""
    core, w = _writer(k=k, lanes=lanes, count_bits=count_bits, registered=registered)
    fmt, P, S = core.fixed.fmt, core.lanes, core.slots
    rng = np.random.default_rng(int(with_u) + k)
    z = rng.integers(0, 1 << count_bits, size=(S, P))
    u = rng.integers(fmt.u_lo, fmt.u_hi + 1, size=(S, P))
    beats = [(pack(z[s], fmt.count_bits), pack(u[s], fmt.u_bits)) for s in range(S)]
    data, busy = _send(w, proto.RESULT, dict(cycles=123_456, t_run=9, with_u=int(with_u)), beats, pattern)
    kind, payload = _read(data)
    assert len(payload) == proto.result_length(k, with_u, count_bits)
    res = proto.parse_result(payload, core.fixed.n_latents, with_u, count_bits)
    assert kind == proto.RESULT and res.cycles == 123_456 and res.iterations == 9
    assert np.array_equal(res.z, z.reshape(-1))
    if with_u:
        assert np.array_equal(res.u, u.reshape(-1))
    assert all(busy)
