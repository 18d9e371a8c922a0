"""Quantisation study: R^2 and zero fraction of the fixed-point model against the float model
on held-out data, sweeping one width at a time around the defaults. Writes
docs/quantisation.md and docs/quantisation.png for the default bundle, and
docs/quantisation_NAME.{md,png} for any other bundle folder NAME (e.g. quantisation_paper)."""
from __future__ import annotations

import time
from pathlib import Path

from . import bundle as bundle_mod
from .data import prepare
from .evaluate import fixed_metrics, float_metrics
from .formats import Formats
from .golden import fold

TS = (16, 64)
SWEEPS = {
    "weight_bits": (4, 5, 6, 7, 8, 10, 12),
    "u_bits": (10, 12, 14, 16, 18),
    "input_bits": (4, 5, 6, 7, 8, 10),
    "count_bits": (2, 3, 4, 5),
    "prob_bits": (8, 12, 16),
    "sampler_frac": (1, 2, 3, 4, 5),
}
R2_TOL, ZEROS_TOL = 0.01, 0.02   # the targets: |dR^2| <= 0.01, |dzeros| <= 2 points


def output_stem(bundle_path=None):
    """quantisation for the default bundle, quantisation_NAME for the bundle folder NAME."""
    if bundle_path is None or Path(bundle_path).resolve() == bundle_mod.DEFAULT_BUNDLE:
        return "quantisation"
    return "quantisation_" + Path(bundle_path).resolve().name


def study_point(bundle_path, samples, param, value):
    """The fixed-point metrics of one point of the study (``param`` set to ``value``, every other
    width at its default): a task of its own, which loads the bundle and the (cached) data itself."""
    b = bundle_mod.load(bundle_path)
    x = prepare(b.data_spec(), log=lambda s: None).valid[:samples]
    return _point(b.float_model().fold(), b.phi, x, param, value)


def _point(tensors, phi, x, param, value):
    return fixed_metrics(fold(tensors, Formats().replace(**{param: value})), phi, x, TS, seed=1)


def run_study(bundle_path=None, samples=2000, out_dir=Path("docs"), log=print, run_points=None):
    """run_points: None to compute the points here, one after another, or a callable
    ``run_points(study_point, [(label, (bundle_path, samples, param, value)), ...])`` returning their
    metrics in that order (the application's cluster layer: ``ipvae quant-sweep --cluster``)."""
    b = bundle_mod.load(bundle_path)
    stem = output_stem(bundle_path)
    label = "default" if stem == "quantisation" else stem.split("_", 1)[1]
    data = prepare(b.data_spec(), log=log)
    x = data.valid[:samples]
    model = b.float_model()
    tensors = model.fold()
    t0 = time.time()
    ref = float_metrics(model, x, TS, seed=1)
    ref2 = float_metrics(model, x, TS, seed=2)
    noise = {t: dict(r2=abs(ref[t]["r2"] - ref2[t]["r2"]), zeros=abs(ref[t]["zeros"] - ref2[t]["zeros"]))
             for t in TS}
    base = Formats()
    rows = []
    points = [(p, v) for p, vals in SWEEPS.items() for v in vals]
    if run_points is not None:
        where = str(bundle_mod.DEFAULT_BUNDLE if bundle_path is None else Path(bundle_path).resolve())
        metrics = run_points(study_point, [(f"{p}={v}", (where, samples, p, v)) for p, v in points])
    else:
        metrics = (_point(tensors, b.phi, x, p, v) for p, v in points)
    for i, ((param, value), m) in enumerate(zip(points, metrics)):
        rows.append(dict(param=param, value=value, default=getattr(base, param) == value, m=m))
        log(f"[quant] {i + 1}/{len(points)} {param}={value}: " +
            ", ".join(f"T={t} R2 {m[t]['r2']:.3f} zeros {m[t]['zeros']:.3f}" for t in TS))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _plot(rows, ref, out_dir / f"{stem}.png")
    header = dict(label=label, n=tensors["F"].shape[1], k=tensors["F"].shape[0], stem=stem,
                  command="ipvae quant-sweep" + ("" if stem == "quantisation" else f" --bundle {_shown(bundle_path)}"),
                  widths=_widths(tensors))
    _table(rows, ref, noise, base, len(x), time.time() - t0, out_dir / f"{stem}.md", header)
    return rows, ref


def _shown(path):
    """The bundle path as a user would type it: relative to the working folder when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def _widths(tensors):
    """Intermediate widths (exact bounds, docs/arithmetic.md §7) at 6-bit and at the default weights."""
    base = Formats()
    return {wb: fold(tensors, base.replace(weight_bits=wb)).widths() for wb in (6, base.weight_bits)}


def _ok(m, ref):
    return all(abs(m[t]["r2"] - ref[t]["r2"]) <= R2_TOL and abs(m[t]["zeros"] - ref[t]["zeros"]) <= ZEROS_TOL
               for t in TS)


def _table(rows, ref, noise, base, n, seconds, path, header):
    lines = [
        f"# Quantisation study: the {header['label']} bundle (N = {header['n']}, K = {header['k']})",
        "",
        f"Fixed-point golden model against the float model on {n} held-out patches of the {header['label']}",
        "bundle, exact Poisson sampling for the float model, one width swept at a time around the",
        f"defaults ({', '.join(f'{k}={v}' for k, v in base.to_dict().items())}).",
        f"Target: |ΔR²| ≤ {R2_TOL} and |Δzeros| ≤ {ZEROS_TOL * 100:.0f} points at every T. Regenerate with",
        "`{}` (took {:.0f} s).".format(header["command"], seconds),
        "",
        "Float model: " + ", ".join(f"T={t}: R² {ref[t]['r2']:.3f}, zeros {ref[t]['zeros']:.3f}" for t in TS)
        + ". Seed noise (float, seed 1 vs 2): "
        + ", ".join(f"T={t}: ΔR² {noise[t]['r2']:.4f}, Δzeros {noise[t]['zeros']:.4f}" for t in TS) + ".",
        "",
        "| width | value | " + " | ".join(f"R² T={t} | ΔR² | zeros T={t} | Δzeros" for t in TS) + " | meets target |",
        "|---|---|" + "---|---|---|---|" * len(TS) + "---|",
    ]
    for r in rows:
        m = r["m"]
        cells = []
        for t in TS:
            cells += [f"{m[t]['r2']:.3f}", f"{m[t]['r2'] - ref[t]['r2']:+.3f}",
                      f"{m[t]['zeros']:.3f}", f"{m[t]['zeros'] - ref[t]['zeros']:+.3f}"]
        name = f"**{r['value']}** (default)" if r["default"] else str(r["value"])
        lines.append(f"| {r['param']} | {name} | " + " | ".join(cells) + f" | {'yes' if _ok(m, ref) else 'no'} |")
    lines += ["", "Smallest swept value meeting the target, each width alone (the defaults keep a margin "
              "because widths interact and other bundles differ):", ""]
    for p in dict.fromkeys(r["param"] for r in rows):
        ok = [r["value"] for r in rows if r["param"] == p and _ok(r["m"], ref)]
        lines.append(f"- {p}: {min(ok) if ok else 'none'} (default {getattr(base, p)})")
    wd = header["widths"]
    names = list(next(iter(wd.values())))
    lines += ["", "Intermediate widths in bits at the default formats, exact bounds from this bundle's tensors "
              "(docs/arithmetic.md §7: none can overflow; they grow with N, K and the weights' sums):", "",
              "| weight_bits | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for wb, w in wd.items():
        lines.append(f"| {wb} | " + " | ".join(str(w[k]) for k in names) + " |")
    lines += ["", f"![quantisation sweep]({header['stem']}.png)", ""]
    path.write_text("\n".join(lines))


def _plot(rows, ref, path):
    import matplotlib  # lazy: plotting only at the end of the study
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    params = list(dict.fromkeys(r["param"] for r in rows))
    fig, axes = plt.subplots(2, len(params), figsize=(3 * len(params), 5.5), squeeze=False)
    for c, p in enumerate(params):
        rs = [r for r in rows if r["param"] == p]
        v = [r["value"] for r in rs]
        for t in TS:
            axes[0, c].plot(v, [r["m"][t]["r2"] - ref[t]["r2"] for r in rs], marker="o", label=f"T={t}")
            axes[1, c].plot(v, [r["m"][t]["zeros"] - ref[t]["zeros"] for r in rs], marker="o", label=f"T={t}")
        for a, tol in ((axes[0, c], R2_TOL), (axes[1, c], ZEROS_TOL)):
            a.axhspan(-tol, tol, color="green", alpha=0.12)
            a.axhline(0, color="k", lw=0.5)
            a.grid(alpha=0.3)
        axes[1, c].set_xlabel(p)
    axes[0, 0].set_ylabel("R² fixed − float")
    axes[1, 0].set_ylabel("zeros fixed − float")
    axes[0, 0].legend()
    fig.suptitle("fixed-point vs float (green: target band)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
