"""The simulated board top through its UART pins (sim/cocotb_board.py on Verilator): INFO,
weight LOADs, INFER bit-exact against the golden and cycle models, every malformed frame
answered with its error and followed by a good inference, a framing error recovered."""
import numpy as np

from ipvae.golden_model import protocol as proto
from ipvae.golden_model.data import DataSpec, prepare
from ipvae.golden_model.formats import encode_input
from ipvae.golden_model.random_model import random_bundle
from ipvae.rtl.core.timing import UART_BYTE_BITS
from ipvae.sim.board import run_board


def _cases(codes, specs):
    return [dict(name=f"case{i}", x=codes[i % len(codes)], iterations=t, seed=s, with_u=u)
            for i, (t, s, u) in enumerate(specs)]


def test_board_link_loaded_weights(tmp_path):
    """A small random model whose weights go over the UART first (the iCEBreaker's SPRAM mode, with
    its seed loaded only with the last code)."""
    path = random_bundle(tmp_path / "b", 12, 8, seed=4)
    codes = np.random.default_rng(1).integers(-128, 128, (3, 12))
    res = run_board("verilator", path, 4, _cases(codes, [(5, 1, True), (0, 2, False), (15, 3, True)]),
                    weights="ram", max_iterations=15, build_root=tmp_path / "sim", reseed_wait=False)
    assert res["log"][1] == "LOAD 24 + 16 words"
    assert len(res["results"]) == 3 + 7 + 1


def test_board_link_default_bundle(default_bundle, tmp_path):
    """The default bundle in ROM at 8 lanes, real held-out patches at T=32, then the iCEBreaker's
    link as built (30 MHz, 3 Mbaud: 10 cycles a bit) with six requests pipelined: the measured rate
    is the link model's (rtl/cycle_model.link_cycles) within 2 %, and both the request and the reply
    ride under the computation (the counts wait in the result buffer while the core computes the
    next: the period is the compute plus the feed, not plus the reply's bytes too)."""
    data = prepare(DataSpec(**default_bundle.meta["data"]), log=lambda s: None)
    codes, _ = encode_input(data.valid[:6], default_bundle.fmt)
    stream = [dict(name=f"stream{i}", x=codes[i], iterations=32, seed=100 + i, with_u=False) for i in range(6)]
    res = run_board("verilator", None, 8, _cases(codes[:2], [(32, 11, True), (32, 12, False)]),
                    weights="rom", max_iterations=63, build_root=tmp_path / "sim", clock_hz=30_000_000,
                    baud=3_000_000, stream=stream)
    assert [r["iterations"] for r in res["results"][:2]] == [32, 32]
    assert all(r["spikes"] > 0 for r in res["results"])
    s = res["stream"]
    assert s["inferences"] == 6 and s["divisor"] == 10
    assert abs(s["cycles_per_inference"] / s["model_cycles_per_inference"] - 1) < 0.02, s
    n, k = default_bundle.fixed.n_inputs, default_bundle.fixed.n_latents
    request, reply = proto.infer_bytes(n, k, default_bundle.fmt.count_bits)
    byte = UART_BYTE_BITS * s["divisor"]
    compute = sum(s["core_cycles"][1:]) / 5
    assert s["cycles_per_inference"] < compute + n + reply * byte / 10, s


def test_board_link_registered_reply_path(tmp_path):
    """The ULX3S-85F's link choices: the skid buffer in front of the reply writer and its body bytes
    chosen a cycle ahead. Replies with u (through the skid) and counts only, bit-exact, then
    pipelined requests at the link model's rate within 2 %."""
    path = random_bundle(tmp_path / "b", 12, 8, seed=5)
    codes = np.random.default_rng(2).integers(-128, 128, (4, 12))
    stream = [dict(name=f"stream{i}", x=codes[i], iterations=12, seed=40 + i, with_u=False) for i in range(4)]
    res = run_board("verilator", path, 4, _cases(codes, [(7, 1, True), (3, 2, False), (9, 3, True), (0, 4, False)]),
                    weights="rom", max_iterations=15, build_root=tmp_path / "sim", stream=stream, reply_slice=True)
    assert [r["iterations"] for r in res["results"][:4]] == [7, 3, 9, 0]
    s = res["stream"]
    assert s["inferences"] == 4
    assert abs(s["cycles_per_inference"] / s["model_cycles_per_inference"] - 1) < 0.02, s


def test_board_link_array_core(tmp_path):
    """The array core (8 lateral lanes, 2 sampler units, one tile) behind the ULX3S-85F's
    link choices: replies with u and counts only bit-exact with golden.run at 2 lanes and
    cycle-exact with cycle_model.array_cycles, then pipelined requests at the link model's rate
    within 2 %."""
    path = random_bundle(tmp_path / "b", 12, 8, seed=7)
    codes = np.random.default_rng(3).integers(-128, 128, (4, 12))
    stream = [dict(name=f"stream{i}", x=codes[i], iterations=10, seed=60 + i, with_u=False) for i in range(4)]
    res = run_board("verilator", path, 2, _cases(codes, [(6, 1, True), (0, 2, False), (9, 3, True)]),
                    weights="rom", max_iterations=15, build_root=tmp_path / "sim", stream=stream, reply_slice=True,
                    lateral_lanes=8)
    assert [r["iterations"] for r in res["results"][:3]] == [6, 0, 9]
    s = res["stream"]
    assert s["inferences"] == 4
    assert abs(s["cycles_per_inference"] / s["model_cycles_per_inference"] - 1) < 0.02, s
