"""cocotb test module for the simulated board top (rtl/link/board_link.py): the host protocol of
docs/uart_protocol.md driven through the UART pins by sim/uart_model.py. Every reply is checked
bit-exact: RESULT counts, u and cycle count against the golden model and the cycle model,
INFO against the bundle, and each malformed request against the error it must produce,
followed by a good request that must still work. The plan comes from IPVAE_BOARD_PLAN (JSON
written by sim/board.py); a summary goes to IPVAE_BOARD_RESULTS."""
import json
import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event
from cocotb.utils import get_sim_time

from ipvae.golden_model import bundle as bundle_mod
from ipvae.golden_model import protocol as proto
from ipvae.golden_model.golden import trace_one
from ipvae.golden_model.layout import weight_words
from ipvae.rtl.core import cycle_model
from ipvae.rtl.core.config import CoreConfig
from ipvae.sim.uart_model import UartSink, UartSource

PERIOD_NS = 10


class BoardBench:
    def __init__(self, dut, plan):
        self.dut, self.plan = dut, plan
        self.divisor = plan["divisor"]
        self.src = UartSource(dut.clk, dut.rx, self.divisor)
        self.sink = UartSink(dut.clk, dut.tx, self.divisor)
        self.sink.period_ns = PERIOD_NS
        # a reply byte may follow a whole inference: wait up to the longest run plus slack
        self.reply_timeout = plan["reply_timeout_cycles"]

    async def start(self):
        Clock(self.dut.clk, PERIOD_NS, unit="ns").start()
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 4)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    async def read(self, n):
        return await self.sink.read(n, self.reply_timeout)

    async def request(self, data: bytes):
        """Send a frame, return (type, payload) of the reply (ERROR replies are returned, not raised)."""
        await self.src.send(data)
        head = await self.read(4)
        assert len(head) == 4, f"no reply to {data[:4].hex()}... (got {head.hex()})"
        assert head[0] == proto.MAGIC_REPLY, f"reply starts with {head[0]:#04x}"
        length = head[2] | head[3] << 8
        rest = await self.read(length + 1)
        assert len(rest) == length + 1, f"reply {head[1]:#04x} cut short: {len(rest)} of {length + 1} bytes"
        assert proto.crc8(head[1:] + rest[:-1]) == rest[-1], f"reply {head[1]:#04x} has a bad checksum"
        return head[1], rest[:-1]

    async def expect_error(self, data: bytes, name: str, about: int):
        kind, payload = await self.request(data)
        assert kind == proto.ERROR, f"expected ERROR {name}, got reply {kind:#04x}"
        got = proto.parse_error(payload)
        assert got == (name, about), f"expected ERROR {name} for type {about:#04x}, got {got}"


def _cycle():
    return get_sim_time("ns") / PERIOD_NS


async def pipelined(tb, plan, config, cases):
    """The host of docs/uart_protocol.md's Pipelining: request i + 1 is sent before reply i is
    read, request i + 2 once it is in. Every result is checked against the golden and cycle
    models; the rate is measured between the ends of the first and the last reply and set beside
    rtl/cycle_model.link_cycles."""
    if not cases:
        return None
    fixed, lanes = config.fixed, config.lanes
    N, K, cb = fixed.n_inputs, fixed.n_latents, fixed.fmt.count_bits
    frames = [proto.infer_request(np.array(c["x"]), c["iterations"], c["seed"]) for c in cases]
    got = [Event() for _ in cases]

    async def sender():
        for i, frame in enumerate(frames):
            if i >= 2:
                await got[i - 2].wait()
            await tb.src.send(frame)

    cocotb.start_soon(sender())
    ends, models, computes = [], [], []
    for i, c in enumerate(cases):
        head = await tb.read(4)
        assert len(head) == 4 and head[0] == proto.MAGIC_REPLY, f"pipelined reply {i}: header {head.hex()}"
        rest = await tb.read((head[2] | head[3] << 8) + 1)
        ends.append(_cycle())
        got[i].set()
        assert head[1] == proto.RESULT, f"pipelined request {i} answered {head[1]:#04x}: {rest.hex()}"
        assert proto.crc8(head[1:] + rest[:-1]) == rest[-1], f"pipelined reply {i} has a bad checksum"
        res = proto.parse_result(rest[:-1], K, False, cb)
        want = trace_one(fixed, np.array(c["x"]), c["iterations"], c["seed"], lanes=lanes)
        diff = np.flatnonzero(res.z != want["z"][-1])
        assert diff.size == 0, f"pipelined {i}: z differs first at neuron {diff[0]}"
        compute = cycle_model.core_cycles(config, c["iterations"], want["z"])
        assert res.cycles == compute, f"pipelined {i}: cycles {res.cycles} != model {compute}"
        req, rep = proto.infer_bytes(N, K, cb)
        computes.append(compute)
        models.append(cycle_model.link_cycles(N, req, rep, compute, plan["divisor"], K // lanes))
    n = len(cases) - 1
    measured = (ends[-1] - ends[0]) / n if n else float("nan")
    model = sum(models[1:]) / n if n else float("nan")
    return dict(inferences=len(cases), cycles_per_inference=measured, model_cycles_per_inference=model,
                divisor=plan["divisor"], core_cycles=computes)


@cocotb.test(timeout_time=1800, timeout_unit="sec")
async def board_link(dut):
    plan = json.loads(Path(os.environ["IPVAE_BOARD_PLAN"]).read_text())
    fixed = bundle_mod.load(plan["bundle"]).fixed
    config = CoreConfig.from_settings(fixed, plan)
    P, K, N = config.lanes, fixed.n_latents, fixed.n_inputs
    tb = BoardBench(dut, plan)
    await tb.start()
    t0 = time.perf_counter()
    log = []

    # INFO: dimensions, formats, fingerprint, clock
    kind, payload = await tb.request(proto.info_request())
    assert kind == proto.INFO_REPLY
    info = proto.parse_info(payload)
    fmt = fixed.fmt
    assert (info.version, info.n_inputs, info.n_latents, info.lanes) == (proto.VERSION, N, K, P), info
    assert (info.input_bits, info.count_bits, info.u_bits, info.weight_bits) == \
        (fmt.input_bits, fmt.count_bits, fmt.u_bits, fmt.weight_bits), info
    assert info.fingerprint == proto.model_fingerprint(fixed) and info.clock_hz == plan["clock_hz"], info
    assert info.max_iterations == plan["max_iterations"] and info.ram_weights == (plan["weights"] == "ram"), info
    log.append("INFO")

    cases = plan["cases"]
    x0 = np.array(cases[0]["x"])
    if plan["weights"] == "ram":
        assert info.loaded == 0, f"weights reported loaded before any LOAD: {info}"
        await tb.expect_error(proto.infer_request(x0, 2, 1), "NOT_LOADED", proto.INFER)
        f_words, w_words = weight_words(fixed, P)
        # a LOAD past the end of F writes nothing and is refused
        bad = proto.load_requests(0, f_words[:1], P, fmt.weight_bits)[0]
        bad = bad[:5] + bytes([len(f_words) & 0xFF, len(f_words) >> 8]) + bad[7:-1]
        await tb.expect_error(bad + bytes([proto.crc8(bad[1:])]), "BAD_ADDRESS", proto.LOAD)
        chunk = plan["load_chunk_words"]
        for matrix, words in ((0, f_words), (1, w_words)):
            for frame in proto.load_requests(matrix, words, P, fmt.weight_bits, chunk_words=chunk):
                kind, payload = await tb.request(frame)
                assert kind == proto.LOAD_REPLY, f"LOAD refused: {proto.parse_error(payload)}"
        kind, payload = await tb.request(proto.info_request())
        assert proto.parse_info(payload).loaded == 3
        log.append(f"LOAD {len(f_words)} + {len(w_words)} words")
    else:
        assert info.loaded == 3
        await tb.expect_error(proto.frame(proto.LOAD, bytes([0, 0, 0]) + bytes(P)), "READ_ONLY", proto.LOAD)

    async def infer(case):
        x, t, seed, with_u = np.array(case["x"]), case["iterations"], case["seed"], case["with_u"]
        kind, payload = await tb.request(proto.infer_request(x, t, seed, with_u=with_u))
        assert kind == proto.RESULT, f"{case['name']}: {proto.parse_error(payload) if kind == proto.ERROR else kind}"
        res = proto.parse_result(payload, K, with_u, fixed.fmt.count_bits)
        want = trace_one(fixed, x, t, seed, lanes=P)
        model = cycle_model.core_cycles(config, t, want["z"])
        diff = np.flatnonzero(res.z != want["z"][-1])
        assert diff.size == 0, (f"{case['name']}: z differs first at neuron {diff[0]}: "
                                f"{res.z[diff[0]]} != {want['z'][-1][diff[0]]}")
        if with_u:
            diff = np.flatnonzero(res.u != want["u"][-1])
            assert diff.size == 0, (f"{case['name']}: u differs first at neuron {diff[0]}: "
                                    f"{res.u[diff[0]]} != {want['u'][-1][diff[0]]}")
        assert res.iterations == t and res.cycles == model, f"{case['name']}: cycles {res.cycles} != model {model}"
        return dict(name=case["name"], iterations=t, seed=seed, with_u=with_u, cycles=res.cycles,
                    spikes=int(res.z.sum()))

    results = [await infer(c) for c in cases]
    log.append(f"{len(results)} INFER bit-exact")
    stream = await pipelined(tb, plan, config, plan.get("stream", []))
    if stream:
        log.append(f"{stream['inferences']} pipelined INFER bit-exact, {stream['cycles_per_inference']:.0f} cycles "
                   f"each "
                   f"(model {stream['model_cycles_per_inference']:.0f})")

    # malformed requests, each followed by a good one that must still work
    good = dict(cases[0], with_u=True)
    frame = proto.infer_request(x0, good["iterations"], good["seed"])
    checks = [
        ("BAD_MAGIC", b"\x00", 0),
        ("BAD_TYPE", proto.frame(0x42, b"\x01\x02"), 0x42),
        ("BAD_LENGTH", proto.frame(proto.INFER, frame[4:-2]), proto.INFER),          # one code short
        ("BAD_LENGTH", proto.frame(proto.INFO, b"\x00"), proto.INFO),
        ("BAD_CHECKSUM", frame[:-1] + bytes([frame[-1] ^ 0x5A]), proto.INFER),
        ("BAD_ITERATIONS", proto.infer_request(x0, plan["max_iterations"] + 1, 1), proto.INFER),
        ("TIMEOUT", frame[:10], proto.INFER),                                         # cut short
    ]
    if fmt.input_bits < 8:
        wide = x0.copy()
        wide[0] = 1 << (fmt.input_bits - 1)           # one past the largest code
        checks.append(("BAD_INPUT", proto.infer_request(wide, 2, 1), proto.INFER))
    for name, data, about in checks:
        await tb.expect_error(data, name, about)
        results.append(dict(await infer(good), after=name))
    log.append(f"{len(checks)} malformed requests answered, link recovered each time")

    # a framing error (low stop bit) inside a frame: the UART drops that byte, the frame comes up
    # one byte short and ends in TIMEOUT; the link then works again
    await tb.src.send(frame[:6])
    await tb.src.send_bits([0] + [1] * 8 + [0])
    await tb.src.send(frame[7:])
    kind, payload = await tb.request(b"")
    assert (kind, proto.parse_error(payload)) == (proto.ERROR, ("TIMEOUT", proto.INFER)), (kind, payload.hex())
    results.append(dict(await infer(good), after="framing error"))
    log.append("framing error recovered")

    with open(os.environ["IPVAE_BOARD_RESULTS"], "w") as f:
        json.dump(dict(results=results, stream=stream, log=log, wall_seconds=time.perf_counter() - t0), f, indent=1)
