"""rtl/link/request_executor.py with only its frame receiver in front: the core and the reply
writer are the testbench. An INFER's codes reach the core after the checksum, in order, with its T
and seed, in N + 2 cycles after the one-cycle verdict (``timing.FEED_OVERHEAD``); every malformed
request gets the ERROR verdict with its code and feeds nothing; INFO answers INFO; the RESULT
starts when the core offers its output; the receiver is let go once the codes are in the core."""
import numpy as np
import pytest
from amaranth import Elaboratable, Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from ipvae.golden_model import protocol as proto
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.random_model import random_float_model
from ipvae.rtl.core import timing
from ipvae.rtl.core.ipvae_core import IpvaeCore
from ipvae.rtl.link.frame_receiver import FrameReceiver
from ipvae.rtl.link.request_executor import RequestExecutor

N, MAX_T = 10, 15


class Harness(Elaboratable):
    def __init__(self, weights="rom", input_bits=8):
        tensors, _ = random_float_model(N, 8, seed=1)
        self.core = IpvaeCore(fold(tensors, Formats(input_bits=input_bits)), 4, max_iterations=MAX_T,
                              weights=weights)   # sizes only: never elaborated here
        self.rcv = FrameReceiver(n_inputs=N, ram=weights == "ram", timeout_cycles=1000)
        self.exe = RequestExecutor(self.core)

    def elaborate(self, platform):
        m = Module()
        m.submodules.rcv, m.submodules.exe = self.rcv, self.exe
        wiring.connect(m, self.rcv.frame, self.exe.frame)
        return m


def _drive(h, frames, core_cycles=20):
    """Send frames byte by byte (one per cycle while the receiver takes them); play the core (x
    always ready, output offered ``core_cycles`` after its last code) and the reply writer (a reply
    takes 5 cycles). Returns the events: ("x", code, cycle), ("run", T, seed), ("reply", kind, err,
    cycle), ("done", cycle)."""
    exe, rcv = h.exe, h.rcv
    events = []
    data = b"".join(frames)

    async def bench(ctx):
        ctx.set(exe.x.ready, 1)
        i, cycle, reply_left, core_left, fed = 0, 0, 0, None, 0
        while cycle < 400 + 40 * len(frames):
            # inputs first, from this cycle's state (as registered outputs of the core and the writer)
            ctx.set(rcv.rx.valid, i < len(data))
            if i < len(data):
                ctx.set(rcv.rx.payload, data[i])
            ctx.set(exe.core_busy, core_left is not None)
            ctx.set(exe.result_valid, core_left == 0)
            ctx.set(exe.reply_busy, reply_left > 0)
            ctx.set(exe.reply_done, reply_left == 1)
            if ctx.get(rcv.frame.done):
                events.append(("done", cycle))
            last_code = False
            if ctx.get(exe.x.valid):
                events.append(("x", ctx.get(exe.x.payload), cycle))
                fed += 1
                last_code = fed % N == 0
                if last_code:
                    events.append(("run", ctx.get(exe.iterations), ctx.get(exe.seed)))
            start = ctx.get(exe.reply_start)
            kind = ctx.get(exe.reply_kind)
            if start:
                events.append(("reply", kind, ctx.get(exe.reply_fields.err), cycle))
            took = ctx.get(rcv.rx.ready) and i < len(data)
            await ctx.tick()
            i += took
            cycle += 1
            reply_left = max(0, reply_left - 1)
            if core_left:
                core_left -= 1
            if last_code:
                core_left = core_cycles
            if start:
                reply_left = 5
                if kind == proto.RESULT:
                    core_left = None                    # the output is taken as the reply is written

    sim = Simulator(h)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return events


def _bad_checksum(frame):
    return frame[:-1] + bytes([frame[-1] ^ 1])


def _codes(seed=0, bits=8):
    return np.random.default_rng(seed).integers(-(1 << (bits - 1)), 1 << (bits - 1), size=N)


def test_infer_feeds_its_codes_after_the_checksum():
    h = Harness()
    codes = _codes()
    ev = _drive(h, [proto.infer_request(codes, 7, 0xDEADBEEF)])
    done = next(e[1] for e in ev if e[0] == "done")
    xs = [e for e in ev if e[0] == "x"]
    assert [((v + 128) % 256) - 128 for _, v, _ in xs] == codes.tolist()
    assert ("run", 7, 0xDEADBEEF) in ev
    # the verdict in the cycle after the checksum, then the wait state and the first buffer read
    # (FEED_OVERHEAD), then a code a cycle
    assert xs[0][2] - done == 2 + timing.FEED_OVERHEAD
    assert xs[-1][2] - xs[0][2] == N - 1
    replies = [e for e in ev if e[0] == "reply"]
    assert [(k, err) for _, k, err, _ in replies] == [(proto.RESULT, 0)]


@pytest.mark.parametrize("name, frame", [
    ("BAD_CHECKSUM", _bad_checksum(proto.infer_request(_codes(1), 3, 1))),
    ("BAD_ITERATIONS", proto.infer_request(_codes(2), MAX_T + 1, 1)),
    ("BAD_LENGTH", proto.frame(proto.INFER, bytes(5))),
    ("BAD_TYPE", proto.frame(0x09, b"abc")),
    ("READ_ONLY", proto.frame(proto.LOAD, bytes(3 + 4))),
])
def test_malformed_requests_feed_nothing(name, frame):
    h = Harness()
    ev = _drive(h, [frame, proto.info_request()])
    assert not [e for e in ev if e[0] == "x"]
    replies = [(k, err) for _, k, err, _ in (e for e in ev if e[0] == "reply")]
    assert replies == [(proto.ERROR, proto.ERROR_CODES[name]), (proto.INFO_REPLY, 0)]


def test_bad_input_code_when_inputs_are_narrower():
    h = Harness(input_bits=6)
    codes = _codes(3, bits=6)
    codes[4] = 40                              # beyond 6 bits
    ev = _drive(h, [proto.infer_request(codes, 2, 5)])
    assert not [e for e in ev if e[0] == "x"]
    assert [(k, err) for _, k, err, _ in (e for e in ev if e[0] == "reply")] == \
        [(proto.ERROR, proto.ERROR_CODES["BAD_INPUT"])]


def test_infer_before_the_weights_are_loaded():
    h = Harness(weights="ram")
    ev = _drive(h, [proto.infer_request(_codes(4), 2, 5)])
    assert not [e for e in ev if e[0] == "x"]
    assert [(k, err) for _, k, err, _ in (e for e in ev if e[0] == "reply")] == \
        [(proto.ERROR, proto.ERROR_CODES["NOT_LOADED"])]


def test_pipelined_infers_keep_request_order():
    """Two INFERs back to back: the second's codes wait until the first RESULT is out, and an INFO
    behind them waits its turn."""
    h = Harness()
    ev = _drive(h, [proto.infer_request(_codes(5), 1, 1), proto.infer_request(_codes(6), 2, 2),
                    proto.info_request()], core_cycles=30)
    kinds = [e[1] for e in ev if e[0] == "reply"]
    assert kinds == [proto.RESULT, proto.RESULT, proto.INFO_REPLY]
    runs = [e for e in ev if e[0] == "run"]
    assert runs == [("run", 1, 1), ("run", 2, 2)]
    first_result = next(e[3] for e in ev if e[0] == "reply")
    second_feed = [e[2] for e in ev if e[0] == "x"][N]
    assert second_feed > first_result
