"""Locally Competitive Algorithm (Rozell et al. 2008): the sparse-coding baseline of docs/paper.md §5.

Dynamics for a dictionary D (N x K, unit-norm columns), input x and threshold lambda:
    u <- u + (dt/tau) (D^T x - u - (D^T D - I) a),   a = sign(u) max(|u| - lambda, 0)
The dictionary is learned on the training patches by alternating LCA inference with a gradient
step on ||x - D a||^2 (columns renormalised), then frozen; a sweep over lambda on held-out
patches traces the sparsity-reconstruction trade-off that iP-VAE is compared with.
"""
from __future__ import annotations

import numpy as np
import torch

from .metrics import quality


def soft_threshold(u, lam):
    return torch.sign(u) * torch.clamp(u.abs() - lam, min=0.0)


@torch.no_grad()
def lca_codes(d, x, lam, iters=300, dt_tau=0.05):
    b = x @ d
    g = d.T @ d - torch.eye(d.shape[1], dtype=d.dtype)
    u = torch.zeros_like(b)
    for _ in range(iters):
        a = soft_threshold(u, lam)
        u += dt_tau * (b - u - a @ g)
    return soft_threshold(u, lam)


@torch.no_grad()
def learn_dictionary(x, k, lam=0.5, steps=600, batch=256, lr=0.05, seed=0, log=print):
    g = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(x, dtype=torch.float64)
    d = torch.randn(x.shape[1], k, generator=g, dtype=torch.float64)
    d /= d.norm(dim=0, keepdim=True)
    for step in range(steps):
        xb = x[torch.randint(len(x), (batch,), generator=g)]
        a = lca_codes(d, xb, lam, iters=100)
        d += lr * (xb - a @ d.T).T @ a / batch
        d /= d.norm(dim=0, keepdim=True).clamp_min(1e-12)
        if log and (step + 1) % max(steps // 5, 1) == 0:
            log(f"[lca] dictionary step {step + 1}/{steps}")
    return d


def lca_sweep(data, k, lambdas, seed=0, samples=2000, log=print):
    """Learn a dictionary on the training set, then R^2/zeros on held-out data per lambda."""
    torch.manual_seed(seed)
    d = learn_dictionary(data.train, k, seed=seed, log=log)
    x = torch.as_tensor(data.valid[:samples], dtype=torch.float64)
    rows = []
    for lam in lambdas:
        a = lca_codes(d, x, lam)
        rows.append(dict(lam=lam, **quality(x.numpy(), a.numpy(), d.numpy())))
        rows[-1]["lambda"] = rows[-1].pop("lam")
    return rows


def r2_at_sparsity(rows, zeros):
    """Linear interpolation of LCA's R^2 at a given zero fraction (None outside the sweep)."""
    pts = sorted((r["zeros"], r["r2"]) for r in rows)
    zs, rs = [p[0] for p in pts], [p[1] for p in pts]
    if not zs[0] <= zeros <= zs[-1]:
        return None
    return float(np.interp(zeros, zs, rs))
