"""docs/default_model.md: the committed default bundle's figures and the LCA baseline, written
from the bundle's recorded metrics plus a fresh LCA sweep on the same held-out patches."""
from __future__ import annotations

from pathlib import Path

from .evaluate import metrics_table
from .lca import r2_at_sparsity

TS = (16, 64, 256)


def write_model_report(b, lca_rows, path):
    m = b.meta["metrics"]
    tr = b.meta["training"]
    cfg = tr["config"]
    rows = [("float (PyTorch, exact Poisson)", {t: m["float"][str(t)] for t in TS}),
            ("float, counts capped at 15", {t: m["float_capped"][str(t)] for t in TS}),
            ("fixed (integer golden model)", {t: m["fixed"][str(t)] for t in TS})]
    run = m["runaway"]
    lines = [
        "# The default model",
        "",
        f"Bundle `golden_model/bundles/default`, trained with `{tr.get('command', cfg['name'])}` and",
        f"exported with `{b.meta['command']}`.",
        "",
        f"- Data: {cfg['data']['dataset']} {cfg['data']['patch']}×{cfg['data']['patch']} patches "
        f"(whitening {cfg['data']['whitening']}, f0 {cfg['data']['f0']}), {cfg['data']['n_train']} training "
        f"patches from 10 photographs, evaluation on {m['samples']} patches of 3 held-out photographs.",
        f"- Model: N={b.fixed.n_inputs}, K={b.fixed.n_latents}, T_train={cfg['t_train']}, β={cfg['beta']}, "
        f"batch {cfg['batch']}, {cfg['steps']} steps, lr {cfg['lr']}, KL form '{cfg['kl_form']}'.",
        f"- Training time: {tr['seconds']:.0f} s wall time as recorded by the trainer, on the 2-core "
        "project machine with `--threads 1` while a second training shared it (the trainer prints "
        "progress and an estimate of the time left).",
        "",
        "## Quality on held-out patches",
        "",
        metrics_table(rows, TS),
        "",
        f"Runaway check (float model to T = {run['t']} on {run['samples']} held-out patches): "
        f"{run['runaway_fraction']:.1%} of inputs ran away; largest u {run['u_max']:.2f}, largest count "
        f"{run['count_max']}.",
        f"Inputs clipped by the 8-bit input encoding: {m['input_clipped_fraction']:.2e} of all values.",
        "",
        "## LCA baseline on the same patches",
        "",
        "Signed-soft-threshold LCA with its own dictionary (K = "
        f"{b.fixed.n_latents}) learned on the training patches (`ipvae baseline`):",
        "",
        "| λ | R² | zeros |",
        "|---|---|---|",
    ]
    lines += [f"| {r['lambda']:.2f} | {r['r2']:.3f} | {r['zeros']:.3f} |" for r in lca_rows]
    lines += ["", "At the iP-VAE's sparsity:", "", "| T | iP-VAE zeros | iP-VAE R² | LCA R² at the same zeros |",
              "|---|---|---|---|"]
    for t in TS:
        z, r = m["float"][str(t)]["zeros"], m["float"][str(t)]["r2"]
        lr = r2_at_sparsity(lca_rows, z)
        lines.append(f"| {t} | {z:.3f} | {r:.3f} | {'outside sweep' if lr is None else f'{lr:.3f}'} |")
    ex, w = b.meta["exponents"], b.meta["widths"]
    lines += ["", "## Fixed point", "",
              f"Formats: {', '.join(f'{k}={v}' for k, v in b.meta['formats'].items())} (chosen in "
              "[quantisation.md](quantisation.md)).",
              f"Exponents: eF={ex['e_f']}, eW={ex['e_w']}, drive_shift={ex['drive_shift']}, "
              f"delta_shift={ex['delta_shift']}.",
              f"Accumulator widths (exact bounds): {', '.join(f'{k} {v}' for k, v in w.items())} bits.", ""]
    Path(path).write_text("\n".join(lines))
