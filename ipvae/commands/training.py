"""Training-side commands: data, train, export, eval, baseline, model-report, quant-sweep.

Heavy modules are imported inside the command functions: `ipvae --help` and argument errors stay fast."""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from ipvae.cluster import CLUSTER_HELP

from .args import (
    _format_args,
    _formats,
    add_lanes,
    bundle_arg,
    cluster_spec,
    in_path,
    nonneg_float,
    nonneg_int,
    out_dir,
    out_file,
    positive_float,
    positive_floats,
    positive_int,
    positive_ints,
    prepare_parent,
    seed32,
)


def _check_patch_applies(dataset, patch):
    from ipvae.golden_model.errors import ParameterError
    if patch is not None and dataset not in (None, "photos", "folder"):
        raise ParameterError(f"--patch applies to the photos and folder datasets; {dataset!r} has its own sample "
                             "shape")


def cmd_data(a):
    from ipvae.golden_model.data import DataSpec, prepare
    _check_patch_applies(a.dataset, a.patch)
    spec = DataSpec(a.dataset, a.patch or 8, a.n_train, a.n_valid, a.seed, a.path)
    ds = prepare(spec)
    print(f"train {ds.train.shape}, valid {ds.valid.shape}, sample shape {ds.shape}, "
          f"mean {ds.train.mean():.3f}, sd {ds.train.std():.3f}, |x| max {abs(ds.train).max():.2f}")
    if a.plot:
        from ipvae.golden_model.errors import ParameterError
        from ipvae.golden_model.plots import plot_samples
        if len(ds.shape) != 2:
            raise ParameterError(f"--plot draws samples as images, and these samples are {ds.shape[0]} features "
                                 "with no image shape (give the data as (samples, height, width) to plot it)")
        prepare_parent(a.plot)
        plot_samples(ds.valid[:64], ds.shape, a.plot, "held-out samples")
        print(f"wrote {a.plot}")


def cmd_train(a):
    import torch

    from ipvae.golden_model.config import get_config
    from ipvae.golden_model.data import prepare
    from ipvae.golden_model.errors import ParameterError
    from ipvae.golden_model.evaluate import float_metrics, quick_val, runaway_check
    from ipvae.golden_model.train import TrainingCollapsed, load_state, train
    torch.set_num_threads(a.threads)
    over = {k: v for k, v in dict(steps=a.steps, lr=a.lr, n_latents=a.latents, beta=a.beta, t_train=a.t_train,
                                  batch=a.batch, seed=a.seed, kl_anneal_min_samples=a.beta_ramp_samples).items()
            if v is not None}
    data_over = {k: v for k, v in dict(dataset=a.dataset, patch=a.patch, path=a.path).items() if v is not None}
    _check_patch_applies(a.dataset, a.patch)
    if a.resume:
        given = sorted(k for k in (*over, *data_over))
        if given or a.out or a.config:
            raise ParameterError("--resume continues a run with its own configuration and folder; "
                                 "drop " + ", ".join(["--config"] * bool(a.config) + ["--out"] * bool(a.out)
                                                     + [f"--{k}" for k in given]))
        _, cfg = load_state(a.resume)
        out = Path(a.resume)
    else:
        cfg = get_config(a.config or "default")
        if data_over:
            import dataclasses
            over["data"] = dataclasses.replace(cfg.data, **data_over)
        cfg = cfg.replace(**over)
        out = Path(a.out or f"runs/{cfg.name}")
    data = prepare(cfg.data)
    print(f"[train] config {cfg.name}: N={data.n_inputs} K={cfg.n_latents} T_train={cfg.t_train} "
          f"beta={cfg.beta} batch={cfg.batch} steps={cfg.steps} -> {out}", flush=True)
    model, hist = train(cfg, data, out_dir=out, eval_fn=quick_val(data.valid[:500]), resume=bool(a.resume),
                        checkpoint_minutes=a.checkpoint_minutes, max_minutes=a.max_minutes,
                        log=lambda s: print(s, flush=True))
    if "stopped_at" in hist:
        return
    print(f"[train] done in {hist['seconds']:.0f} s; evaluating on held-out samples")
    m = float_metrics(model, data.valid[:2000], (16, 64, 256))
    for t, v in m.items():
        print(f"  T={t:4d}: R2 {v['r2']:.3f}, zeros {v['zeros']:.3f}")
    print(f"  runaway check: {runaway_check(model, data.valid[:1000])}")
    print(f"checkpoint: {out / 'checkpoint.pt'}")
    if hist["collapse"] is not None:
        raise TrainingCollapsed(hist["collapse"]["message"] + f" (the checkpoint was written anyway: "
                                f"{out / 'checkpoint.pt'})")


def cmd_export(a):
    from ipvae.golden_model.evaluate import metrics_table
    from ipvae.golden_model.export import EVAL_TS, export
    b = export(a.checkpoint, a.out, _formats(a), a.samples, command="ipvae " + shlex.join(sys.argv[1:]))
    m = b.meta["metrics"]
    rows = [(k, {t: m[k][str(t)] for t in EVAL_TS}) for k in ("float", "float_capped", "fixed")]
    print(metrics_table(rows, EVAL_TS))


def cmd_eval(a):
    from ipvae.golden_model import bundle as bundle_mod
    from ipvae.golden_model.data import heldout, prepare
    from ipvae.golden_model.evaluate import fixed_metrics, float_metrics, metrics_table, runaway_check
    b = bundle_mod.load(a.bundle)
    data = prepare(b.data_spec())
    x = heldout(data, a.samples)
    model = b.float_model()
    ts = a.t
    t0 = time.time()
    fl = float_metrics(model, x, ts, seed=a.seed)
    t1 = time.time()
    fx = fixed_metrics(b.fixed, b.phi, x, ts, seed=a.seed, lanes=a.lanes)
    t2 = time.time()
    print(f"bundle {a.bundle or bundle_mod.DEFAULT_BUNDLE}: N={b.fixed.n_inputs} K={b.fixed.n_latents}, "
          f"{len(x)} held-out samples, seed {a.seed}, lanes {a.lanes}")
    print(metrics_table([("float (PyTorch)", fl), ("fixed (golden)", fx)], ts))
    print(f"(float {t1 - t0:.1f} s, golden {t2 - t1:.1f} s)")
    if 256 in ts:
        from ipvae.golden_model.paper_report import BAR_D, BAR_R2, BAR_ZEROS, quality_bar
        bar = quality_bar(dict(float=fl, fixed=fx))
        print(f"quality bar (issue 12): golden d = {bar['d']:.3f} at T=256 (bar <= {BAR_D}); golden vs float "
              + ", ".join(f"T={t}: dR2 {dr:.3f}, dzeros {dz:.3f}" for t, (dr, dz) in bar["agree"].items())
              + f" (bars {BAR_R2}, {BAR_ZEROS}): {'met' if bar['ok'] else 'NOT met'}")
    if a.runaway:
        print(f"runaway check: {runaway_check(model, x[:1000], t_max=a.runaway)}")


def cmd_baseline(a):
    from ipvae.golden_model import bundle as bundle_mod
    from ipvae.golden_model.data import prepare
    from ipvae.golden_model.lca import lca_sweep
    b = bundle_mod.load(a.bundle)
    data = prepare(b.data_spec())
    rows = lca_sweep(data, b.fixed.n_latents, a.lambdas, seed=a.seed,
                     samples=b.meta["metrics"].get("samples", 2000))
    print("| lambda | R² | zeros |\n|---|---|---|")
    for r in rows:
        print(f"| {r['lambda']:.3f} | {r['r2']:.3f} | {r['zeros']:.3f} |")
    if a.write:
        from ipvae.golden_model.model_report import write_model_report
        prepare_parent(a.write)
        write_model_report(b, rows, a.write)
        print(f"wrote {a.write}")


def cmd_model_report(a):
    from ipvae.golden_model import bundle as bundle_mod
    from ipvae.golden_model.paper_report import write_paper_report
    b = bundle_mod.load(a.bundle)
    res = write_paper_report(b, a.write, samples=a.samples, ts=a.t, title=a.title,
                             log=lambda s: print(s, flush=True))
    if res["bar"] is not None:
        bar = res["bar"]
        print(f"quality bar at T=256: d = {bar['d']:.3f} ({'met' if bar['ok'] else 'NOT met'})")


def cmd_quant_sweep(a):
    from ipvae.golden_model.quant_study import run_study
    if a.cluster is None:
        run_study(a.bundle, samples=a.samples, out_dir=Path(a.out))
        return
    from ipvae.cluster import run_all
    run_study(a.bundle, samples=a.samples, out_dir=Path(a.out),
              run_points=lambda fn, tasks: run_all(a.cluster, fn, tasks, name="quant", workers=a.jobs))


def register(sub):
    s = sub.add_parser("data", help="prepare (and cache) a dataset, print its statistics")
    s.add_argument("--dataset", default="photos", help="photos | mnist | digits8 | file | folder")
    s.add_argument("--patch", type=positive_int, help="patch size for photos and folder (default 8)")
    s.add_argument("--path", type=in_path, help="for --dataset file (.npy/.npz) or folder (images)")
    s.add_argument("--n-train", type=positive_int, default=60_000)
    s.add_argument("--n-valid", type=positive_int, default=5_000)
    s.add_argument("--seed", type=seed32, default=0)
    s.add_argument("--plot", type=out_file, help="write a PNG of held-out samples")
    s.set_defaults(fn=cmd_data)

    s = sub.add_parser("train", help="train the float iP-VAE (BPTT)")
    s.add_argument("--config", help="default | paper-cpu | paper (default: default)")
    s.add_argument("--out", type=out_dir, help="output folder (default runs/<config>)")
    s.add_argument("--resume", type=in_path, metavar="RUN", help="continue the run in folder RUN from its last state")
    s.add_argument("--max-minutes", type=nonneg_float, help="stop after this long, state saved, to be resumed")
    s.add_argument("--checkpoint-minutes", type=positive_float, default=5.0, help="save the resumable state this often")
    s.add_argument("--beta-ramp-samples", type=nonneg_int, help="beta ramps over at least this many samples")
    s.add_argument("--steps", type=positive_int)
    s.add_argument("--lr", type=positive_float)
    s.add_argument("--latents", type=positive_int)
    s.add_argument("--beta", type=nonneg_float)
    s.add_argument("--t-train", type=positive_int)
    s.add_argument("--batch", type=positive_int)
    s.add_argument("--seed", type=seed32)
    s.add_argument("--dataset")
    s.add_argument("--patch", type=positive_int)
    s.add_argument("--path", type=in_path)
    s.add_argument("--threads", type=positive_int, default=2)
    s.set_defaults(fn=cmd_train)

    s = sub.add_parser("export", help="fold a checkpoint into a fixed-point bundle, evaluate both")
    s.add_argument("--checkpoint", type=in_path, required=True)
    s.add_argument("--out", type=out_dir, required=True)
    s.add_argument("--samples", type=positive_int, default=2000)
    _format_args(s)
    s.set_defaults(fn=cmd_export)

    s = sub.add_parser("eval", help="float vs fixed-point quality of a bundle on held-out data")
    s.add_argument("--bundle", type=bundle_arg, help="bundle folder (default: the committed default bundle)")
    s.add_argument("--samples", type=positive_int, default=2000)
    s.add_argument("--t", type=positive_ints, default="16,64,256", help="iteration counts, comma separated")
    s.add_argument("--seed", type=seed32, default=1)
    add_lanes(s, "golden")
    s.add_argument("--runaway", type=nonneg_int, default=1000, help="runaway check horizon (0: skip)")
    s.set_defaults(fn=cmd_eval)

    s = sub.add_parser("baseline", help="LCA sparse-coding baseline on the bundle's data")
    s.add_argument("--bundle", type=bundle_arg)
    s.add_argument("--lambdas", type=positive_floats, default="0.3,0.5,0.7,0.9,1.1,1.3,1.6")
    s.add_argument("--seed", type=seed32, default=0)
    s.add_argument("--write", type=out_file, help="also write the default-model report (e.g. docs/default_model.md)")
    s.set_defaults(fn=cmd_baseline)

    s = sub.add_parser("model-report", help="quality against T up to 1000 beside the paper, dictionary, "
                                             "reconstructions, raster (e.g. docs/paper_model.md)")
    s.add_argument("--bundle", type=bundle_arg, help="bundle folder (default: the committed default bundle)")
    s.add_argument("--write", type=out_file, default="docs/paper_model.md")
    s.add_argument("--samples", type=positive_int, default=2000, help="held-out samples")
    s.add_argument("--t", type=positive_ints, default="1,4,16,32,64,128,256,512,1000", help="iteration counts")
    s.add_argument("--title", default="The paper-size model")
    s.set_defaults(fn=cmd_model_report)

    s = sub.add_parser("quant-sweep", help="sweep weight/membrane/input widths; table + plot")
    s.add_argument("--bundle", type=bundle_arg)
    s.add_argument("--samples", type=positive_int, default=2000)
    s.add_argument("--out", type=out_dir, default="docs")
    s.add_argument("--cluster", type=cluster_spec,
                   help="run each point as a Dask task (default: one after another here): " + CLUSTER_HELP)
    s.add_argument("--jobs", type=positive_int, help="workers of a local cluster (default: the CPU count)")
    s.set_defaults(fn=cmd_quant_sweep)
