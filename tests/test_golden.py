"""The integer golden model: rounding primitives, event-driven lateral order, traces, seeds,
lane dependence, divergence reports and parameter errors."""
import numpy as np
import pytest

from ipvae.golden_model.errors import DataError, ParameterError
from ipvae.golden_model.formats import Formats, encode_input, saturate, shift_round, signed_bits
from ipvae.golden_model.golden import (
    Divergence,
    drive,
    first_divergence,
    fold,
    lateral_dense,
    lateral_event_driven,
    run,
    trace_one,
    update,
)
from ipvae.golden_model.random_model import random_float_model


def test_shift_round_half_up_and_left_shift():
    v = np.array([-6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6])
    # divide by 4 and round half up: -6/4 = -1.5 -> -1, -2/4 = -0.5 -> 0, 2/4 = 0.5 -> 1
    assert shift_round(v, 2).tolist() == [-1, -1, -1, -1, 0, 0, 0, 0, 1, 1, 1, 1, 2]
    assert shift_round(v, 0).tolist() == v.tolist()
    assert shift_round(v, -3).tolist() == (v * 8).tolist()


def test_signed_bits_and_saturate():
    assert signed_bits(-128, 127) == 8
    assert signed_bits(-129, 0) == 9
    assert signed_bits(0, 128) == 9
    assert saturate([-5, 0, 5], -2, 3).tolist() == [-2, 0, 3]


def test_encode_input_rounds_and_saturates():
    fmt = Formats()
    codes, clipped = encode_input(np.array([[0.03125, -0.03125, 7.99, 9.0, -9.0, 0.09]]), fmt)
    assert codes.tolist() == [[1, -1, 127, 127, -128, 1]]
    assert clipped == pytest.approx(3 / 6)
    with pytest.raises(DataError, match="input contains NaN or Inf"):
        encode_input(np.array([[0.0, np.nan]]), fmt)


def test_fold_uses_full_weight_range(small_fixed):
    lim = 2 ** (small_fixed.fmt.weight_bits - 1) - 1
    assert np.abs(small_fixed.F).max() > lim // 2
    assert np.abs(small_fixed.W).max() > lim // 2
    assert np.abs(small_fixed.F).max() <= lim and np.abs(small_fixed.W).max() <= lim


def test_event_driven_lateral_equals_dense(small_fixed):
    rng = np.random.default_rng(0)
    z = rng.integers(0, 16, size=(50, small_fixed.n_latents)) * (rng.random((50, small_fixed.n_latents)) < 0.3)
    dense = lateral_dense(small_fixed, z)
    for b in range(len(z)):
        ev, n_active = lateral_event_driven(small_fixed, z[b])
        assert np.array_equal(ev, dense[b])
        assert n_active == np.count_nonzero(z[b])


def test_update_clamps(small_fixed):
    fmt = small_fixed.fmt
    k = small_fixed.n_latents
    u = np.full(k, fmt.u_hi - 1)
    big = np.full(k, 1 << 30)
    assert np.all(update(small_fixed, u, big, np.zeros(k, np.int64)) == fmt.u_hi)
    assert np.all(update(small_fixed, np.full(k, fmt.u_lo + 1), -big, np.zeros(k, np.int64)) == fmt.u_lo)


def test_trace_matches_batched_run(small_fixed):
    rng = np.random.default_rng(1)
    x = rng.integers(-100, 100, size=(6, small_fixed.n_inputs))
    seeds = [11, 12, 13, 14, 15, 2 ** 32 - 1]
    for lanes in (1, 2, 4, 5):
        res = run(small_fixed, x, 9, seeds, lanes=lanes, trace=True)
        for b in range(len(x)):
            tr = trace_one(small_fixed, x[b], 9, seeds[b], lanes=lanes)
            batched = dict(u=np.array([res["u"][t][b] for t in range(10)]),
                           z=np.array([res["z"][t][b] for t in range(10)]))
            assert first_divergence(tr, batched) is None
            assert np.array_equal(tr["spiking"], res["spiking"][b])


def test_same_seed_same_spikes_and_lanes_matter(small_fixed):
    x = np.random.default_rng(2).integers(-60, 60, size=(1, small_fixed.n_inputs))
    a = trace_one(small_fixed, x[0], 12, seed=99, lanes=4)
    b = trace_one(small_fixed, x[0], 12, seed=99, lanes=4)
    assert first_divergence(a, b) is None
    c = trace_one(small_fixed, x[0], 12, seed=100, lanes=4)
    d = trace_one(small_fixed, x[0], 12, seed=99, lanes=2)
    assert first_divergence(a, c) is not None
    assert first_divergence(a, d) is not None
    assert a["z"].sum() > 0  # the test model does spike


def test_first_divergence_names_iteration_and_neuron(small_fixed):
    x = np.zeros(small_fixed.n_inputs, np.int64)
    a = trace_one(small_fixed, x, 5, seed=1)
    b = {k: v.copy() for k, v in a.items()}
    b["u"][3, 7] += 1
    b["z"][2, 9] += 1
    d = first_divergence(a, b)
    assert d == Divergence(iteration=2, neuron=9, field="z", expected=int(a["z"][2, 9]), actual=int(a["z"][2, 9]) + 1)
    assert "iteration 2, neuron 9" in str(d)
    b["z"][2, 9] -= 1
    assert first_divergence(a, b).iteration == 3 and first_divergence(a, b).field == "u"


def test_zero_iterations_outputs_prior_sample(small_fixed):
    x = np.zeros((1, small_fixed.n_inputs), np.int64)
    res = run(small_fixed, x, 0, 3)
    assert np.array_equal(res["u_final"][0], small_fixed.u0)


def test_drive_matches_float_within_rounding(small_fixed):
    tensors, _ = random_float_model(12, 20, seed=3)
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, size=(20, 12))
    d = drive(small_fixed, x) * 2.0 ** -small_fixed.e_w
    ref = (x * 2.0 ** -small_fixed.fmt.input_frac) @ tensors["F"].T - tensors["c"]
    # error budget: F rounding (N half-LSBs times |x|), shift rounding, c rounding
    tol = 12 * 2.0 ** -(small_fixed.e_f + 1) * 8 + 2.0 ** -small_fixed.e_w * 2
    assert np.max(np.abs(d - ref)) < tol


@pytest.mark.parametrize("kw, msg", [
    (dict(weight_bits=1), "weight_bits must be in 2..18 (DSP operand width), got 1"),
    (dict(weight_bits=19), "weight_bits must be in 2..18 (DSP operand width), got 19"),
    (dict(u_bits=8), "u_bits must be in 9..32, got 8"),
    (dict(input_bits=1), "input_bits must be in 2..18, got 1"),
    (dict(input_int_bits=9), "input_int_bits must be in 1..input_bits (8), got 9"),
    (dict(count_bits=0), "count_bits must be in 1..8, got 0"),
    (dict(prob_bits=30), "prob_bits must be in 8..24, got 30"),
    (dict(sampler_frac=12), "sampler_frac must be in 0..u_frac (11), got 12"),
    (dict(table_top=11), "table_top must be in -7..10, got 11"),
])
def test_format_errors(kw, msg):
    with pytest.raises(ParameterError) as e:
        Formats(**kw)
    assert str(e.value) == msg


def test_input_and_lane_errors(small_fixed):
    x = np.zeros((2, small_fixed.n_inputs), np.int64)
    with pytest.raises(ParameterError, match=r"lanes \(3\) must divide the number of latents K \(20\)"):
        run(small_fixed, x, 4, 0, lanes=3)
    with pytest.raises(ParameterError, match="lanes must be a positive integer, got 0"):
        run(small_fixed, x, 4, 0, lanes=0)
    with pytest.raises(DataError, match=r"inputs must have shape \(samples, 12\), got \(2, 13\)"):
        run(small_fixed, np.zeros((2, 13), np.int64), 4, 0)
    with pytest.raises(DataError, match=r"input codes must lie in \[-128, 127\] \(8-bit signed\), found \[0, 128\]"):
        run(small_fixed, x + np.eye(2, small_fixed.n_inputs, dtype=np.int64) * 128, 4, 0)
    with pytest.raises(DataError, match="input codes contains NaN or Inf"):
        run(small_fixed, np.full((1, 12), np.nan), 4, 0)
    with pytest.raises(DataError, match="input codes must be integers"):
        run(small_fixed, np.full((1, 12), 0.5), 4, 0)
    with pytest.raises(ParameterError, match="iterations must be a non-negative integer, got -1"):
        run(small_fixed, x, -1, 0)


def test_fold_errors():
    tensors, _ = random_float_model(8, 8)
    bad = dict(tensors, W=tensors["W"].copy())
    bad["W"][0, 0] = np.nan
    with pytest.raises(DataError, match="float tensor W contains NaN or Inf"):
        fold(bad, Formats())
    with pytest.raises(ParameterError, match="F \\(feed-forward\\) is all zero"):
        fold(dict(tensors, F=np.zeros_like(tensors["F"])), Formats())
