"""rtl/ip/axi_stream.py: the core behind AXI4-Stream framing. Results bit-exact with the golden model
and cycle-exact with the cycle model under pauses on both streams; early and missing tlast give the
documented results, count as errors, and leave the next frame aligned."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from ipvae.golden_model.errors import ParameterError
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold, trace_one
from ipvae.golden_model.layout import unpack
from ipvae.golden_model.random_model import random_float_model
from ipvae.rtl.core.ipvae_core import IpvaeCore
from ipvae.rtl.ip.axi_stream import AxiStreamCore, pack_user
from ipvae.sim.amaranth_tb import stalls, stream_get, stream_put

N, K, P = 12, 8, 4


@pytest.fixture(scope="module")
def fixed():
    tensors, _ = random_float_model(N, K, seed=11)
    return fold(tensors, Formats())


def _run(fixed, frames, pattern, search=4):
    """frames: [(codes, T, seed, tlast index or None)]; returns per result (z, u, user, cycles)."""
    dut = AxiStreamCore(IpvaeCore(fixed, P, max_iterations=15, search=search))
    fmt = fixed.fmt
    src, snk = stalls(pattern, 1), stalls(pattern, 2)
    results = []

    async def source(ctx):
        for codes, t, seed, last_at in frames:
            for k, c in enumerate(codes):
                await stream_put(ctx, dut.i, {"data": int(c) & 0xFF, "last": int(k == last_at),
                                              "user": pack_user(t, seed) if k == 0 else 0}, src)

    async def sink(ctx):
        n_results = len(frames)
        for _ in range(n_results):
            z, u, users, lasts = [], [], [], []
            for s in range(K // P):
                beat = await stream_get(ctx, dut.o, snk, ["data", "last", "user"])
                w = beat["data"]
                z += unpack(w, P, fmt.count_bits, False).tolist()
                u += unpack(w >> (P * fmt.count_bits), P, fmt.u_bits, True).tolist()
                users.append(beat["user"])
                lasts.append(beat["last"])
            assert lasts == [0] * (K // P - 1) + [1] and len(set(users)) == 1
            results.append((np.array(z), np.array(u), users[0], ctx.get(dut.cycles), ctx.get(dut.frame_errors)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    return dut, results


def _want(fixed, codes, t, seed):
    tr = trace_one(fixed, np.asarray(codes, np.int64), t, seed, lanes=P)
    return tr


@pytest.mark.parametrize("pattern", ["none", "random", "every_other", "bursts", "long"])
def test_frames_are_bit_exact_and_cycle_exact(fixed, pattern):
    rng = np.random.default_rng(3)
    frames = [(rng.integers(-128, 128, size=N), t, seed, N - 1) for t, seed in ((5, 1), (0, 77), (9, 2 ** 32 - 1))]
    dut, res = _run(fixed, frames, pattern)
    for (codes, t, seed, _), (z, u, user, cycles, errors) in zip(frames, res):
        want = _want(fixed, codes, t, seed)
        assert np.array_equal(z, want["z"][-1]) and np.array_equal(u, want["u"][-1])
        assert cycles == dut.core.cycles_for(t, want["z"]) and user == 0 and errors == 0


def test_early_and_missing_tlast(fixed):
    rng = np.random.default_rng(4)
    a, b, c = (rng.integers(-128, 128, size=N) for _ in range(3))
    short = a[:7]                                                    # tlast on beat 7 of 12
    long = np.concatenate([b, rng.integers(-128, 128, size=3)])      # tlast on beat 15: 3 beats too many
    frames = [(short, 4, 5, 6), (long, 3, 6, 14), (c, 6, 7, N - 1)]
    _, res = _run(fixed, frames, "random")
    padded = np.concatenate([short, np.zeros(N - 7, np.int64)])
    for (z, u, user, _, errors), (codes, t, seed), (want_user, want_errors) in zip(
            res, [(padded, 4, 5), (b, 3, 6), (c, 6, 7)], [(1, 1), (1, 2), (0, 2)]):
        want = _want(fixed, codes, t, seed)
        assert np.array_equal(z, want["z"][-1]) and np.array_equal(u, want["u"][-1])
        assert (user, errors) == (want_user, want_errors)


def test_parameter_errors(fixed):
    with pytest.raises(ParameterError, match="^AxiStreamCore wraps an IpvaeCore, got FixedModel$"):
        AxiStreamCore(fixed)
    with pytest.raises(ParameterError, match="tuser carries T in 0..65535 and a 32-bit seed"):
        pack_user(70000, 1)


def test_run_time_weights_through_the_weight_stream(fixed):
    """weights="ram": the F and W words arrive on ``w`` (layout.weight_words order), then a frame runs
    bit-exact and cycle-exact."""
    from ipvae.golden_model.layout import weight_words
    dut = AxiStreamCore(IpvaeCore(fixed, P, max_iterations=15, weights="ram"))
    f_words, w_words = weight_words(fixed, P)
    addr_bits = len(dut.core.load.payload.addr)
    loads = [(0, a, wd) for a, wd in enumerate(f_words)] + [(1, a, wd) for a, wd in enumerate(w_words)]
    rng = np.random.default_rng(9)
    codes = rng.integers(-128, 128, size=N)
    fmt = fixed.fmt
    got = []

    async def bench(ctx):
        pauses = stalls("bursts", 0)
        for matrix, addr, word in loads:
            await stream_put(ctx, dut.w, {"data": matrix | addr << 1 | word << (1 + addr_bits)}, pauses)
        for k, c in enumerate(codes):
            await stream_put(ctx, dut.i, {"data": int(c) & 0xFF, "last": int(k == N - 1),
                                          "user": pack_user(7, 3) if k == 0 else 0}, pauses)
        z = []
        for _ in range(K // P):
            beat = await stream_get(ctx, dut.o, stalls("every_other", 1), ["data", "user"])
            z += unpack(beat["data"], P, fmt.count_bits, False).tolist()
        got.append((np.array(z), ctx.get(dut.cycles)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    want = _want(fixed, codes, 7, 3)
    assert np.array_equal(got[0][0], want["z"][-1]) and got[0][1] == dut.core.cycles_for(7, want["z"])
