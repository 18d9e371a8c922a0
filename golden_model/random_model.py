"""Untrained but plausible models for tests and co-simulation stimuli (odd sizes, corners)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from . import bundle as bundle_mod
from .formats import Formats
from .golden import fold


def random_float_model(n, k, seed=0, u0=None, u0_range=(-3.0, 1.0), drive_scale=1.0):
    """Float folded tensors (F, W, c, u0) of a random model: unit-ish dictionary, per-pixel
    sigma^2 in [0.4, 0.8], eta 0.15. ``u0`` fixes every prior potential (e.g. -8: silent,
    +10: saturated); ``drive_scale`` scales F only. Returns (tensors, dict(phi, sigma2, eta))."""
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(n, k)) / np.sqrt(n)
    sigma2 = rng.uniform(0.4, 0.8, size=n)
    eta = 0.15
    f = eta * phi.T / sigma2
    c = eta * rng.uniform(0.02, 0.1, size=k)
    u0v = np.full(k, float(u0)) if u0 is not None else rng.uniform(*u0_range, size=k)
    return dict(F=f * drive_scale, W=f @ phi, c=c, u0=u0v), dict(phi=phi, sigma2=sigma2, eta=eta)


def random_bundle(path, n, k, seed, u0=None, drive_scale=1.0, data=None):
    """Save a random (untrained) bundle: a plausible dictionary, or with u0 fixed (e.g. -8 for
    silence, +10 for saturated counts and both clamps). ``data``: a DataSpec of n-pixel patches to
    record as the bundle's data (what quality figures read), or None for none."""
    if data is not None and data.patch ** 2 != n:
        from .errors import ParameterError
        raise ParameterError(f"a random bundle's data must have N = {n} pixels a patch, got {data.patch}x{data.patch}")
    tensors, extra = random_float_model(n, k, seed=seed, u0=u0, drive_scale=drive_scale)
    phi, sigma2, eta = extra["phi"], extra["sigma2"], extra["eta"]
    fixed = fold(tensors, Formats())
    fl = dict(phi=phi, log_sigma=0.5 * np.log(sigma2), log_b=np.log(tensors["c"] / eta),
              log_eta=np.array(np.log(eta)), u0_float=tensors["u0"])
    bundle_mod.save(path, fixed, fl, dict(command=f"ipvae.golden_model.random_model.random_bundle(n={n}, k={k}, "
                                                  f"seed={seed}, u0={u0})",
                                          metrics={}, data=None if data is None else dataclasses.asdict(data)))
    return Path(path)
