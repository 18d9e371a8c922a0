"""Figures people look at: samples, dictionary atoms, reconstructions, spike rasters, curves."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _grid(ax_grid, images, shape, title=None):
    for ax, img in zip(ax_grid.ravel(), images):
        v = np.abs(img).max() or 1.0
        ax.imshow(img.reshape(shape), cmap="gray", vmin=-v, vmax=v)
    for ax in ax_grid.ravel():
        ax.set_xticks([])
        ax.set_yticks([])


def plot_samples(x, shape, path, title):
    n = int(np.ceil(np.sqrt(len(x))))
    fig, axes = plt.subplots(n, n, figsize=(n * 0.6, n * 0.6))
    _grid(np.atleast_2d(axes), x, shape)
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_dictionary(phi, shape, path, title="dictionary atoms (columns of Phi)"):
    order = np.argsort(-np.linalg.norm(phi, axis=0))
    plot_samples(phi[:, order].T, shape, path, title)


def plot_reconstructions(rows, shape, path, n=10):
    """rows: [(label, (B, N) images)]; one row of n images per label."""
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.9, len(rows) * 1.0))
    for r, (label, imgs) in enumerate(rows):
        _grid(axes[r], imgs[:n], shape)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle("inputs and sample reconstructions (Phi z)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_raster(z, path, title="spike counts per iteration (one input)"):
    """z: (T+1, K) counts."""
    fig, ax = plt.subplots(figsize=(8, 4))
    im = ax.imshow(z.T, aspect="auto", interpolation="nearest", cmap="magma")
    ax.set_xlabel("iteration t")
    ax.set_ylabel("neuron")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="count z")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_curves(curves, path):
    """curves: {label: {T: dict(r2, zeros)}}; R^2 and zero fraction against iterations."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    for label, m in curves.items():
        ts = sorted(m)
        a.plot(ts, [m[t]["r2"] for t in ts], marker="o", label=label)
        b.plot(ts, [m[t]["zeros"] for t in ts], marker="o", label=label)
    for ax, name in ((a, "R² (sample reconstruction)"), (b, "zero fraction")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("iterations T")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    a.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_cycles_per_iteration(spikes, cycles, slots, path, title):
    """Cycles of each sampling pass + lateral phase against the neurons that spiked in it, with
    the cycle model's slope (K/P cycles per spiking neuron)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.scatter(spikes, cycles, s=6, alpha=0.35, label="held-out patches, every iteration")
    n = np.linspace(0, max(1, np.max(spikes)), 50)
    base = np.median(np.asarray(cycles) - slots * np.asarray(spikes))
    ax.plot(n, base + slots * n, color="C3", label=f"slope K/P = {slots} cycles per spiking neuron")
    ax.set_xlabel("neurons that spiked in the iteration")
    ax.set_ylabel("cycles of the iteration")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_pareto(points, path, title):
    """points: dicts with us, logic_pct, r2, label, pareto (bool), fits (bool), and optionally met
    (bool: the build meets its clock) and group (a name: one colour each, e.g. the clock).
    Colour is R² when the points' R² differ, else the group; hollow markers missed their clock."""
    fig, ax = plt.subplots(figsize=(7, 4.8))
    ok = [p for p in points if p["fits"]]
    bad = [p for p in points if not p["fits"]]
    by_r2 = len({round(p["r2"], 3) for p in ok}) > 1
    groups = sorted({p.get("group", "") for p in points}, key=lambda g: (len(g), g))
    colour = {g: f"C{i}" for i, g in enumerate(groups)}
    if ok and by_r2:
        sc = ax.scatter([p["us"] for p in ok], [p["logic_pct"] for p in ok], c=[p["r2"] for p in ok], cmap="viridis",
                        s=[90 if p["pareto"] else 40 for p in ok],
                        edgecolors=["k" if p["pareto"] else "none" for p in ok])
        fig.colorbar(sc, ax=ax, label="R² at T=32 (golden model)")
    for g in ([] if by_r2 else groups):
        mine = [p for p in ok if p.get("group", "") == g]
        for met in (True, False):
            sel = [p for p in mine if p.get("met", True) == met]
            if sel:
                ax.scatter([p["us"] for p in sel], [p["logic_pct"] for p in sel],
                           s=[90 if p["pareto"] else 45 for p in sel], facecolors=colour[g] if met else "none",
                           edgecolors=["k" if p["pareto"] else colour[g] for p in sel],
                           linewidths=1.5, label=(g or "built") + ("" if met else ", clock missed"))
    for p in ok:
        ax.annotate(p["label"], (p["us"], p["logic_pct"]), fontsize=7, xytext=(4, 3), textcoords="offset points")
    for i, p in enumerate(sorted(bad, key=lambda q: q["us"])):
        ax.scatter([p["us"]], [100], marker="x", color="C3" if by_r2 else colour[p.get("group", "")])
        ax.annotate(p["label"], (p["us"], 100), fontsize=7, xytext=(-8, -11 - 9 * (i % 2)), textcoords="offset points",
                    color="C3")
    ax.set_xscale("log")
    ax.set_xlabel("µs per inference (cycle model at the core clock)")
    ax.set_ylabel("logic used (% of the device)")
    ax.set_title(title + "\nblack rings: Pareto-optimal among builds that meet their clock (µs, logic, R²); "
                 "x: does not fit", fontsize=9)
    if not by_r2 and ok:
        ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
