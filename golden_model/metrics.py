"""Quality metrics shared by the float model, the golden model and the RTL runs.

R^2 (pooled): 1 - sum ||x - x_hat||^2 / sum ||x - mean(x)||^2, with mean(x) the per-pixel mean
of the evaluated set and x_hat = Phi z the reconstruction from an output *sample* z
(docs/paper.md §4). Zero fraction: share of zero spike counts in that sample.
"""
from __future__ import annotations

import numpy as np


def r2_score(x, x_hat):
    x = np.asarray(x, np.float64)
    x_hat = np.asarray(x_hat, np.float64)
    ss_res = np.sum((x - x_hat) ** 2)
    ss_tot = np.sum((x - x.mean(axis=0, keepdims=True)) ** 2)
    return float(1.0 - ss_res / ss_tot)


def zero_fraction(z):
    return float(np.mean(np.asarray(z) == 0))


def quality(x, z, phi):
    """dict(r2, zeros) for inputs x (B,N), counts z (B,K) and dictionary phi (N,K)."""
    z = np.asarray(z, np.float64)
    return dict(r2=r2_score(x, z @ np.asarray(phi, np.float64).T), zeros=zero_fraction(z))
