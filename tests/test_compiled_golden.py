"""ipvae/compiled_golden.py: the Numba-compiled integer golden model is bit-exact with
``golden.run`` (final z and u) for trained and random bundles, several lane counts, T = 0 and
seeds at both ends of the 32-bit range, including a bundle whose shifts are negative (exact left
shifts) and one that saturates both clamps."""
import numpy as np
import pytest

from ipvae.compiled_golden import compiled_golden
from ipvae.golden_model import bundle as bundle_mod
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold, run
from ipvae.golden_model.random_model import random_float_model


def _check(fx, lanes, runs):
    cg = compiled_golden(fx, lanes)
    for x, t, seed in runs:
        g = run(fx, np.asarray(x)[None], t, [seed], lanes=lanes)
        z, u = cg.infer(x, t, seed)
        assert np.array_equal(z, g["z_final"][0]) and np.array_equal(u, g["u_final"][0]), (t, seed)


@pytest.mark.parametrize("lanes", [1, 4, 16])
def test_default_bundle(lanes):
    fx = bundle_mod.load().fixed
    rng = np.random.default_rng(lanes)
    _check(fx, lanes, [(rng.integers(-128, 128, fx.n_inputs), t, s) for t, s in ((0, 0), (5, 1), (32, 2 ** 32 - 1))])


@pytest.mark.parametrize("u0, scale", [(None, 1.0), (10.0, 1.0), (-8.0, 0.05)])
def test_random_bundles(u0, scale):
    tensors, _ = random_float_model(20, 12, seed=4, u0=u0, drive_scale=scale)
    fx = fold(tensors, Formats(weight_bits=10))
    rng = np.random.default_rng(0)
    _check(fx, 3, [(rng.integers(-128, 128, 20), t, s) for t, s in ((1, 9), (16, 12345))])


def test_negative_shifts():
    tensors, _ = random_float_model(16, 8, seed=2)
    fx = fold(tensors, Formats())
    e_w = fx.fmt.u_frac + 2                  # delta_shift 2 (a rounding right shift)
    e_f = e_w - fx.fmt.input_frac - 3        # drive_shift -3 (an exact left shift)
    fx = type(fx)(fmt=fx.fmt, F=fx.F, W=fx.W, c=fx.c, u0=fx.u0, table=fx.table, e_f=e_f, e_w=e_w)
    assert fx.drive_shift < 0 and fx.delta_shift > 0
    rng = np.random.default_rng(1)
    _check(fx, 2, [(rng.integers(-128, 128, 16), 8, 77)])
