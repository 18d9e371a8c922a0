"""The host link (rtl/link/host_link.py) at the byte level in Amaranth's simulator: every request
type, every error reply, recovery after each, weights loaded in chunks, results bit-exact
with the golden model and the cycle model. (sim/cocotb_board.py runs the same protocol
through the UART pins on the generated Verilog.)"""
import random
import struct

import numpy as np
import pytest
from amaranth.sim import Simulator

from ipvae.golden_model import protocol as proto
from ipvae.golden_model.errors import ParameterError
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold, trace_one
from ipvae.golden_model.layout import weight_words
from ipvae.golden_model.random_model import random_float_model
from ipvae.rtl.core import cycle_model
from ipvae.rtl.core.config import CoreConfig
from ipvae.rtl.core.ipvae_core import IpvaeCore
from ipvae.rtl.link.host_link import HostLink
from ipvae.sim.amaranth_tb import stalls, stream_put

TIMEOUT = 300
MAX_CYCLES = 300_000      # a link that stops taking requests fails here instead of hanging


def exchange(link, requests, seed=0, gap=0.3, pause=None, ahead=False, times=None, byte_cycles=None):
    """Send each request (bytes, or ("pause", cycles)) and return the replies as (type, payload).
    Request/response by default; ``ahead``: each request follows the last as soon as the link
    takes bytes again (pipelined INFER). ``times``: a dict that gets the cycle each request was
    sent by ("sent": list) and the cycle of every reply byte ("bytes": list). ``byte_cycles``:
    reply bytes are taken at most once per that many cycles (a UART's pace) instead of at random."""
    rng = random.Random(seed)
    gaps = stalls("random", seed, gap)
    out, clock = [], [0]
    if times is not None:
        times.update(sent=[], bytes=[])

    async def send(ctx):
        for req in requests:
            if isinstance(req, tuple):
                await ctx.tick().repeat(req[1])
                continue
            for b in req:
                await stream_put(ctx, link.rx, b, gaps)
            if times is not None:
                times["sent"].append(clock[0])
            # request/response: wait until the link hunts for the next frame
            await ctx.tick().repeat(2)
            while (ctx.get(link.busy) and not ahead) or not ctx.get(link.rx.ready):
                await ctx.tick()
        if ahead:                       # let the last replies out
            while ctx.get(link.busy) or not ctx.get(link.rx.ready):
                await ctx.tick()
            await ctx.tick().repeat(8)

    async def collect(ctx):
        while True:
            ready = clock[0] % byte_cycles == 0 if byte_cycles else rng.random() >= gap
            ctx.set(link.tx.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(link.tx.valid, link.tx.payload)
            clock[0] += 1
            if valid and ready:
                out.append(payload)
                if times is not None:
                    times["bytes"].append(clock[0])

    sim = Simulator(link)
    sim.add_clock(1e-6)
    sim.add_testbench(send)
    sim.add_testbench(collect, background=True)

    async def watchdog(ctx):
        for _ in range(MAX_CYCLES):
            await ctx.tick()
        raise AssertionError(f"the link stopped taking requests ({len(out)} reply bytes in {MAX_CYCLES} cycles)")
    sim.add_testbench(watchdog, background=True)
    sim.run()
    data, pos, replies = bytes(out), [0], []

    def read(n):
        r = data[pos[0]:pos[0] + n]
        pos[0] += n
        return r
    while pos[0] < len(data):
        head = read(4)
        payload = read(head[2] | head[3] << 8)
        crc = read(1)
        assert head[0] == proto.MAGIC_REPLY and crc[0] == proto.crc8(head[1:] + payload), data.hex()
        replies.append((head[1], payload))
    return replies


def small_link(weights="ram", input_bits=8, lanes=4, max_iterations=15, weight_bits=8, reply_slice=False):
    tensors, _ = random_float_model(12, 8, seed=3)
    fx = fold(tensors, Formats(input_bits=input_bits, weight_bits=weight_bits))
    core = IpvaeCore(CoreConfig(fx, lanes, max_iterations=max_iterations, weights=weights))
    return HostLink(core, clock_hz=12_000_000, timeout_cycles=TIMEOUT, reply_slice=reply_slice)


def check_result(link, reply, x, t, seed, with_u):
    kind, payload = reply
    assert kind == proto.RESULT, proto.parse_error(payload) if kind == proto.ERROR else kind
    fx = link.fixed
    res = proto.parse_result(payload, fx.n_latents, with_u, fx.fmt.count_bits)
    want = trace_one(fx, x, t, seed, lanes=link.lanes)
    assert np.array_equal(res.z, want["z"][-1])
    if with_u:
        assert np.array_equal(res.u, want["u"][-1])
    assert res.iterations == t
    assert res.cycles == cycle_model.cycles(fx.n_inputs, fx.n_latents, link.lanes, t, want["z"])


def err(reply):
    assert reply[0] == proto.ERROR, reply
    return proto.parse_error(reply[1])


@pytest.mark.parametrize("lanes, weight_bits", [(4, 8), (1, 8), (2, 10)])
def test_load_then_infer(lanes, weight_bits):
    """Weights in chunks (two bytes per weight above 8 bits), then inferences."""
    link = small_link(lanes=lanes, weight_bits=weight_bits)
    fx = link.fixed
    f_words, w_words = weight_words(fx, lanes)
    x = np.random.default_rng(0).integers(-128, 128, fx.n_inputs)
    loads = (proto.load_requests(0, f_words, lanes, weight_bits, chunk_words=7)
             + proto.load_requests(1, w_words, lanes, weight_bits))
    reqs = [proto.info_request(), proto.infer_request(x, 5, 7), *loads, proto.info_request(),
            proto.infer_request(x, 5, 7, with_u=True), proto.infer_request(x, 0, 3), proto.infer_request(x, 15, 9)]
    replies = exchange(link, reqs, seed=lanes)
    info = proto.parse_info(replies[0][1])
    assert (info.n_inputs, info.n_latents, info.lanes, info.max_iterations, info.loaded, info.ram_weights,
            info.weight_bits) == (12, 8, lanes, 15, 0, True, weight_bits)
    assert info.fingerprint == proto.model_fingerprint(fx) and info.clock_hz == 12_000_000
    assert err(replies[1]) == ("NOT_LOADED", proto.INFER)
    acks = replies[2:2 + len(loads)]
    assert all(k == proto.LOAD_REPLY for k, _ in acks)
    assert struct.unpack("<BHH", acks[1][1]) == (0, 7, 7)            # matrix, first word, words
    assert proto.parse_info(replies[2 + len(loads)][1]).loaded == 3
    check_result(link, replies[-3], x, 5, 7, True)
    check_result(link, replies[-2], x, 0, 3, False)
    check_result(link, replies[-1], x, 15, 9, False)


def test_every_error_and_recovery():
    link = small_link(input_bits=6)
    fx, P = link.fixed, link.lanes
    f_words, w_words = weight_words(fx, P)
    x = np.random.default_rng(1).integers(-32, 32, fx.n_inputs)
    good = proto.infer_request(x, 4, 11, with_u=True)
    wide = x.copy()
    wide[3] = 32                                           # one past the largest 6-bit code
    loads = proto.load_requests(0, f_words, P, 8) + proto.load_requests(1, w_words, P, 8)
    bad_crc_load = proto.load_requests(1, w_words[:4], P, 8)[0]
    bad_crc_load = bad_crc_load[:-1] + bytes([bad_crc_load[-1] ^ 1])
    cases = [
        ("BAD_MAGIC", [b"\x13\x37"], 0),                               # one reply for a run of junk
        ("BAD_TYPE", [proto.frame(0x09, b"abc")], 0x09),
        ("BAD_LENGTH", [proto.frame(proto.INFER, good[4:-2])], proto.INFER),
        ("BAD_LENGTH", [proto.frame(proto.LOAD, b"\x00\x00")], proto.LOAD),
        ("BAD_LENGTH", [proto.frame(proto.LOAD, b"\x00\x00\x00" + bytes(P - 1))], proto.LOAD),   # ends mid-word
        ("BAD_CHECKSUM", [good[:-1] + bytes([good[-1] ^ 0xFF])], proto.INFER),
        ("BAD_INPUT", [proto.infer_request(wide, 4, 11)], proto.INFER),
        ("BAD_ITERATIONS", [proto.infer_request(x, 16, 11)], proto.INFER),
        ("BAD_ADDRESS", [proto.frame(proto.LOAD, b"\x02\x00\x00" + bytes(P))], proto.LOAD),
        ("BAD_ADDRESS", [proto.load_requests(1, w_words, P, 8, chunk_words=len(w_words))[0][:5]
                         + bytes([1, 0]) + b""], None),
        ("TIMEOUT", [good[:9], ("pause", TIMEOUT + 20)], proto.INFER),
    ]
    reqs = [*loads, good]
    expect = []
    for name, frames, about in cases:
        if about is None:           # W from word 1 with all its words: runs past the end
            full = proto.load_requests(1, w_words, P, 8, chunk_words=len(w_words))[0]
            body = full[4:-1]
            body = body[:1] + struct.pack("<H", 1) + body[3:]
            frames, about = [proto.frame(proto.LOAD, body)], proto.LOAD
        reqs += frames + [good]
        expect.append((name, about))
    # a LOAD whose checksum fails after its words were written: W counts as not loaded until
    # it is loaded again
    reqs += [bad_crc_load, good, *proto.load_requests(1, w_words, P, 8), good]
    replies = exchange(link, reqs, seed=5)
    replies = replies[len(loads):]
    check_result(link, replies[0], x, 4, 11, True)
    for i, want in enumerate(expect):
        assert err(replies[1 + 2 * i]) == want, f"case {i}"
        check_result(link, replies[2 + 2 * i], x, 4, 11, True)
    tail = replies[1 + 2 * len(expect):]
    assert err(tail[0]) == ("BAD_CHECKSUM", proto.LOAD)
    assert err(tail[1]) == ("NOT_LOADED", proto.INFER)
    assert tail[2][0] == proto.LOAD_REPLY
    check_result(link, tail[3], x, 4, 11, True)


def test_rom_build_refuses_loads():
    link = small_link(weights="rom")
    x = np.arange(12) - 6
    replies = exchange(link, [proto.info_request(), proto.frame(proto.LOAD, b"\x00\x00\x00" + bytes(4)),
                              proto.infer_request(x, 3, 1)], gap=0.0)
    assert proto.parse_info(replies[0][1]).loaded == 3 and not proto.parse_info(replies[0][1]).ram_weights
    assert err(replies[1]) == ("READ_ONLY", proto.LOAD)
    check_result(link, replies[2], x, 3, 1, False)


def test_parameter_errors():
    tensors, _ = random_float_model(12, 8, seed=3)
    fx = fold(tensors, Formats(input_bits=10))
    with pytest.raises(ParameterError, match="the UART link carries input_bits up to 8, the model has 10"):
        HostLink(IpvaeCore(fx, 4), clock_hz=1000, timeout_cycles=100)
    fx = fold(tensors, Formats())
    with pytest.raises(ParameterError, match="timeout_cycles must be an integer >= 16, got 3"):
        HostLink(IpvaeCore(fx, 4), clock_hz=1000, timeout_cycles=3)
    with pytest.raises(ParameterError, match="max_iterations must be < 65536, got 70000"):
        HostLink(IpvaeCore(fx, 4, max_iterations=70000), clock_hz=1000, timeout_cycles=100)
    with pytest.raises(ParameterError, match="^HostLink drives an IpvaeCore, got FixedModel$"):
        HostLink(fx, clock_hz=1000, timeout_cycles=100)


def test_refused_load_writes_nothing_back_to_back():
    """Bytes on consecutive cycles (faster than any UART): a LOAD running past the end of W is
    refused before its first word, so the weights stay loaded."""
    link = small_link(lanes=1)
    fx = link.fixed
    f_words, w_words = weight_words(fx, 1)
    x = np.arange(12) - 3
    past_end = proto.load_requests(1, w_words[-2:], 1, 8)[0]
    body = past_end[4:-1]
    past_end = proto.frame(proto.LOAD, body[:1] + struct.pack("<H", len(w_words) - 1) + body[3:])
    replies = exchange(link, [*proto.load_requests(0, f_words, 1, 8), *proto.load_requests(1, w_words, 1, 8),
                              past_end, proto.info_request(), proto.infer_request(x, 6, 2)], gap=0.0)
    assert err(replies[-3]) == ("BAD_ADDRESS", proto.LOAD)
    assert proto.parse_info(replies[-2][1]).loaded == 3
    check_result(link, replies[-1], x, 6, 2, False)


@pytest.mark.parametrize("reply_slice", [False, True])
def test_pipelined_requests_keep_their_order(reply_slice):
    """INFER is pipelined: the next request is taken while the core computes, and its reply
    follows the running inference's RESULT. A LOAD that arrives during an inference is refused
    (BUSY) and writes nothing; an INFO waits its turn; every result stays bit-exact. With the
    reply slice (the ULX3S-85F's link) too."""
    link = small_link(reply_slice=reply_slice)
    fx = link.fixed
    f_words, w_words = weight_words(fx, 4)
    loads = [*proto.load_requests(0, f_words, 4, 8), *proto.load_requests(1, w_words, 4, 8)]
    xa, xb = np.arange(12) - 5, 6 - np.arange(12)
    some_w = proto.load_requests(1, w_words[:1], 4, 8)[0]
    times = {}
    replies = exchange(link, loads + [proto.infer_request(xa, 15, 7), some_w, proto.infer_request(xb, 9, 3, True),
                                      proto.info_request(), proto.infer_request(xa, 12, 1)],
                       gap=0.0, ahead=True, times=times)
    assert all(k == proto.LOAD_REPLY for k, _ in replies[:len(loads)])
    a, busy, b, info, c = replies[len(loads):]
    check_result(link, a, xa, 15, 7, False)
    assert err(busy) == ("BUSY", proto.LOAD)
    check_result(link, b, xb, 9, 3, True)
    assert proto.parse_info(info[1]).loaded == 3            # the refused LOAD changed nothing
    check_result(link, c, xa, 12, 1, False)
    # the LOAD and the second INFER were in before the first RESULT's first byte left
    first_result_byte = times["bytes"][sum(5 + (p[2] | p[3] << 8) for p in
                                           (bytes([proto.MAGIC_REPLY, k, len(pl) & 255, len(pl) >> 8])
                                            for k, pl in replies[:len(loads)]))]
    assert times["sent"][len(loads) + 1] < first_result_byte


@pytest.mark.parametrize("reply_slice", [False, True])
def test_counts_drain_while_the_core_computes_the_next(reply_slice):
    """A counts-only RESULT waits in the result buffer: the core takes the next INFER while the
    reply drains at a UART's pace. Short runs finish long before their replies are out, so results
    queue behind the writer; a RESULT with u passes straight through; an INFO waits its turn;
    every result bit-exact and in request order. With the reply slice, a with-u RESULT's last beat
    waits in the skid while the next inference starts: it must still reach the writer, not the FIFO."""
    link = small_link(reply_slice=reply_slice)
    fx = link.fixed
    f_words, w_words = weight_words(fx, 4)
    loads = [*proto.load_requests(0, f_words, 4, 8), *proto.load_requests(1, w_words, 4, 8)]
    xs = [np.arange(12) - 5, 6 - np.arange(12), (np.arange(12) * 5) % 17 - 8]
    runs = [(xs[0], 0, 1, False), (xs[1], 1, 2, False), (xs[2], 2, 3, False), (xs[0], 3, 4, True),
            (xs[1], 0, 5, False), (xs[2], 4, 6, False)]
    reqs = [proto.infer_request(x, t, sd, wu) for x, t, sd, wu in runs]
    times = {}
    replies = exchange(link, loads + reqs[:5] + [proto.info_request()] + reqs[5:], gap=0.0, ahead=True,
                       times=times, byte_cycles=40)
    got = replies[len(loads):]
    for (x, t, sd, wu), reply in zip(runs[:5], got[:5]):
        check_result(link, reply, x, t, sd, wu)
    assert proto.parse_info(got[5][1]).loaded == 3
    check_result(link, got[6], *runs[5])
    # the third INFER was in before the first RESULT's last byte: the second was already fed
    ends = np.cumsum([5 + len(pl) for _, pl in replies])
    first_result_end = times["bytes"][ends[len(loads)] - 1]
    assert times["sent"][len(loads) + 2] < first_result_end


def test_board_link_refuses_a_baud_rate_too_fast_to_pipeline():
    """Feeding a waiting INFER's N codes must fit in three byte times (docs/uart_protocol.md)."""
    from ipvae.rtl.link.board_link import BoardLink
    tensors, _ = random_float_model(128, 8, seed=3)
    config = CoreConfig(fold(tensors, Formats()), 4, max_iterations=15)
    BoardLink(config, clock_hz=1_000_000, baud=200_000)                   # divisor 5: 150 cycles >= 144
    with pytest.raises(ParameterError, match="^250000 baud at 1 MHz leaves 120 cycles in three byte times, "
                                             "fewer than the 144 the link needs to feed N=128 codes"):
        BoardLink(config, clock_hz=1_000_000, baud=250_000)


def test_array_core_behind_the_link():
    """The array core (rtl/core/array_core.py) behind the same link: INFO, pipelined INFERs with and
    without u, each bit-exact with the golden model at its S lanes and cycle-exact with its model."""
    tensors, _ = random_float_model(12, 8, seed=3)
    fx = fold(tensors, Formats())
    config = CoreConfig(fx, 2, max_iterations=15, lateral_lanes=8, tile_lanes=4)
    link = HostLink(config.build(), clock_hz=12_000_000, timeout_cycles=TIMEOUT)
    x = np.random.default_rng(1).integers(-128, 128, fx.n_inputs)
    replies = exchange(link, [proto.info_request(), proto.infer_request(x, 5, 7, with_u=True),
                              proto.infer_request(x, 0, 3), proto.infer_request(x, 9, 11)], seed=2)
    assert proto.parse_info(replies[0][1]).lanes == 2
    for reply, (t, seed, with_u) in zip(replies[1:], ((5, 7, True), (0, 3, False), (9, 11, False))):
        kind, payload = reply
        assert kind == proto.RESULT
        res = proto.parse_result(payload, fx.n_latents, with_u, fx.fmt.count_bits)
        want = trace_one(fx, x, t, seed, lanes=2)
        assert np.array_equal(res.z, want["z"][-1]) and res.iterations == t
        if with_u:
            assert np.array_equal(res.u, want["u"][-1])
        assert res.cycles == cycle_model.core_cycles(config, t, want["z"])
