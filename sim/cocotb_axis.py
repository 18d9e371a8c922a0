"""cocotb test module: the IP top (rtl/ip/top.py) as a foreign flow sees it, driven by cocotbext-axi's
AXI4-Stream source and sink with pause patterns on both streams. Each result is checked against the
golden model (z, u) and the cycle model, and its tuser against the frame's framing. The plan comes
from IPVAE_AXIS_PLAN (written by sim/axis.py); results go to IPVAE_AXIS_RESULTS."""
from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from ipvae.golden_model import bundle as bundle_mod
from ipvae.golden_model.golden import trace_one
from ipvae.golden_model.layout import unpack
from ipvae.rtl.core import cycle_model
from ipvae.rtl.core.config import CoreConfig
from ipvae.rtl.ip.axi_stream import pack_user
from ipvae.sim.amaranth_tb import stalls


@cocotb.test(timeout_time=1800, timeout_unit="sec")
async def axis_regression(dut):
    plan = json.loads(Path(os.environ["IPVAE_AXIS_PLAN"]).read_text())
    fixed = bundle_mod.load(plan["bundle"]).fixed
    config = CoreConfig.from_settings(fixed, plan)
    fmt, P = fixed.fmt, config.lanes
    S, K, N = fixed.n_latents // P, fixed.n_latents, fixed.n_inputs
    cocotb.start_soon(Clock(dut.aclk, 10, unit="ns", impl="gpi").start())
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.aclk, dut.aresetn, reset_active_level=False)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.aclk, dut.aresetn, reset_active_level=False)
    source.set_pause_generator(stalls(plan["source_pause"], 1))
    loader = None
    if plan.get("weights") == "ram":
        loader = AxiStreamSource(AxiStreamBus.from_prefix(dut, "w_axis"), dut.aclk, dut.aresetn,
                                 reset_active_level=False)
        loader.set_pause_generator(stalls(plan["source_pause"], 3))
    sink.set_pause_generator(stalls(plan["sink_pause"], 2))
    dut.aresetn.value = 0
    for _ in range(5):
        await RisingEdge(dut.aclk)
    dut.aresetn.value = 1

    cycles_seen = []

    async def watch_cycles():
        """The core's cycle count as each result's first beat is taken (before the next run starts)."""
        beats = 0
        while True:
            await RisingEdge(dut.aclk)
            await ReadOnly()
            if int(dut.m_axis_tvalid.value) and int(dut.m_axis_tready.value):
                if beats % S == 0:
                    cycles_seen.append(int(dut.cycles.value.to_unsigned()))
                beats += 1
    cocotb.start_soon(watch_cycles())

    if loader is not None:              # F and W first, one word per beat, in the core's load layout
        from ipvae.golden_model.layout import weight_words
        f_words, w_words = weight_words(fixed, P)
        ab, nbytes_w = plan["load_addr_bits"], len(dut.w_axis_tdata) // 8
        for matrix, words in ((0, f_words), (1, w_words)):
            for a, w in enumerate(words):
                await loader.send(AxiStreamFrame((matrix | a << 1 | w << (1 + ab)).to_bytes(nbytes_w, "little")))
        await loader.wait()
    for case in plan["cases"]:          # queue every frame: back to back, as a DMA would
        codes = [int(v) & 0xFF for v in case["x"]]
        tuser = [pack_user(case["iterations"], case["seed"])] + [0] * (len(codes) - 1)
        await source.send(AxiStreamFrame(bytes(codes), tuser=tuser))

    results, failures = [], []
    nbytes = len(dut.m_axis_tdata) // 8
    for i, case in enumerate(plan["cases"]):
        frame = await sink.recv()
        data = bytes(frame.tdata)
        assert len(data) == S * nbytes, f"result {i}: {len(data)} bytes, expected {S * nbytes}"
        z, u = np.zeros(K, np.int64), np.zeros(K, np.int64)
        for s in range(S):
            w = int.from_bytes(data[s * nbytes:(s + 1) * nbytes], "little")
            z[s * P:(s + 1) * P] = unpack(w, P, fmt.count_bits, False)
            u[s * P:(s + 1) * P] = unpack(w >> (P * fmt.count_bits), P, fmt.u_bits, True)
        x = np.array(case["x"][:N] + [0] * max(0, N - len(case["x"])), np.int64)
        t = min(case["iterations"], plan["max_iterations"])
        want = trace_one(fixed, x, t, case["seed"], lanes=P)
        model = cycle_model.core_cycles(config, t, want["z"])
        user = frame.tuser if isinstance(frame.tuser, int) else max(frame.tuser)
        malformed = len(case["x"]) != N
        ok = bool(np.array_equal(z, want["z"][-1]) and np.array_equal(u, want["u"][-1]))
        rec = dict(name=case["name"], bit_exact=ok, tuser=int(user), malformed=malformed,
                   cycles=cycles_seen[i] if i < len(cycles_seen) else None, model_cycles=model)
        results.append(rec)
        if not ok:
            failures.append(f"{case['name']}: outputs differ from the golden model")
        if int(user) != int(malformed):
            failures.append(f"{case['name']}: tuser {int(user)}, expected {int(malformed)}")
        if rec["cycles"] != model:
            failures.append(f"{case['name']}: cycles {rec['cycles']} != cycle model {model}")
    errors = int(dut.frame_errors.value.to_unsigned())
    with open(os.environ["IPVAE_AXIS_RESULTS"], "w") as f:
        json.dump(dict(results=results, frame_errors=errors), f, indent=1)
    assert errors == sum(r["malformed"] for r in results), f"frame_errors {errors}"
    assert not failures, "; ".join(failures[:3])
