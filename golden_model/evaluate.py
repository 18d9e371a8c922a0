"""Evaluation of the float model as in the paper: R^2 and zero fraction at several T, with exact
Poisson samples, and a runaway check (u pinned at the upper clamp, exploding counts) up to T=1000."""
from __future__ import annotations

import numpy as np
import torch

from .formats import encode_input
from .golden import run
from .layout import seeds_for
from .metrics import quality


def float_metrics(model, x, ts=(16, 64, 256), seed=1, count_cap=None):
    """{T: dict(r2, zeros)} for the float model with exact Poisson sampling."""
    x = np.asarray(x, np.float32)
    phi = model.phi.detach().double().numpy()
    res = model.infer(x, max(ts), seed=seed, count_cap=count_cap, record=ts)
    return {t: quality(x, res[t][1].numpy(), phi) for t in ts}


def runaway_check(model, x, t_max=1000, seed=2, u_pin=9.0, count_big=100):
    """Share of inputs that run away by t_max: any neuron with u >= u_pin or a count >= count_big."""
    res = model.infer(np.asarray(x, np.float32), t_max, seed=seed, record=(t_max,))
    u, z = res[t_max]
    bad = (u >= u_pin).any(1) | (z >= count_big).any(1)
    return dict(t=t_max, runaway_fraction=float(bad.float().mean()), u_max=float(u.max()),
                count_max=int(z.max()), samples=len(x))


def quick_val(x, ts=(16,)):
    """An eval_fn for the trainer: validation R^2/zeros on a fixed small set."""
    def fn(model):
        with torch.no_grad():
            m = float_metrics(model, x, ts=ts, seed=123)
        out = {}
        for t, v in m.items():
            out[f"val_r2_t{t}"] = v["r2"]
            out[f"val_zeros_t{t}"] = v["zeros"]
        return out
    return fn


def fixed_metrics(fixed, phi, x, ts=(16, 64, 256), seed=1, lanes=1):
    """{T: dict(r2, zeros)} for the integer golden model; inputs are encoded with saturation and
    reconstructions use the float dictionary phi (the hardware outputs counts, not images)."""
    codes, _ = encode_input(x, fixed.fmt)
    seeds = seeds_for(seed, len(codes))
    res = run(fixed, codes, max(ts), seeds, lanes=lanes, record=ts)
    return {t: quality(x, res["z"][t], phi) for t in ts}


def metrics_table(rows, ts):
    """Markdown table: rows = [(name, {T: dict(r2, zeros)})]."""
    head = "| model | " + " | ".join(f"R² T={t} | zeros T={t}" for t in ts) + " |"
    sep = "|---|" + "---|---|" * len(ts)
    lines = [head, sep]
    for name, m in rows:
        lines.append(f"| {name} | " + " | ".join(f"{m[t]['r2']:.3f} | {m[t]['zeros']:.3f}" for t in ts) + " |")
    return "\n".join(lines)
