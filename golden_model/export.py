"""Checkpoint -> bundle: fold the float model into integer tensors, evaluate both, save."""
from __future__ import annotations

import dataclasses
import datetime
import pickle
import platform
import sys
from pathlib import Path

import numpy as np
import torch

from . import bundle as bundle_mod
from .config import CONFIGS
from .data import DataSpec, prepare
from .errors import BundleError
from .evaluate import fixed_metrics, float_metrics, runaway_check
from .formats import Formats, encode_input
from .golden import fold
from .model import IPVAE

EVAL_TS = (16, 64, 256)


def load_checkpoint(path):
    if Path(path).is_dir():
        raise BundleError(f"checkpoint {path} is a folder; give the checkpoint.pt file inside it")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
        if isinstance(ck, dict) and "model" in ck and "opt" in ck and "state" not in ck:
            raise BundleError(f"{path} is a training state (the run's state.pt), not a finished checkpoint: finish "
                              f"the run with `ipvae train --resume {Path(path).parent}` and export its checkpoint.pt")
        if not isinstance(ck, dict) or not isinstance(ck.get("state"), dict) or not isinstance(ck.get("config"), dict):
            raise ValueError("not a dict with 'state' and 'config'")
        DataSpec(**ck["config"]["data"])   # a checkpoint without a usable config is corrupt too
        model = IPVAE(ck["state"]["phi"].shape[0], ck["state"]["phi"].shape[1])
        model.load_state_dict(ck["state"])
    except FileNotFoundError:
        raise BundleError(f"checkpoint {path} does not exist") from None
    except (RuntimeError, KeyError, TypeError, EOFError, ValueError, pickle.UnpicklingError, AttributeError) as exc:
        raise BundleError(f"checkpoint {path} is corrupt or not an ipvae checkpoint ({exc})") from None
    return model, ck


def training_command(cfg: dict):
    """The `ipvae train` command that reproduces a checkpoint's config (flags for what differs
    from the named config)."""
    base = dataclasses.asdict(CONFIGS[cfg["name"]]) if cfg["name"] in CONFIGS else {}
    flags = dict(steps="--steps", lr="--lr", n_latents="--latents", beta="--beta", t_train="--t-train",
                 batch="--batch", seed="--seed")
    parts = ["ipvae", "train", "--config", cfg["name"]]
    parts += [f"{flag} {cfg[k]}" for k, flag in flags.items() if base.get(k) != cfg[k]]
    for k, flag in dict(dataset="--dataset", patch="--patch", path="--path").items():
        if base.get("data", {}).get(k) != cfg["data"][k]:
            parts.append(f"{flag} {cfg['data'][k]}")
    return " ".join(parts)


def float_state(model):
    s = model.state_dict_numpy()
    return dict(phi=s["phi"], log_sigma=s["log_sigma"], log_b=s["log_b"], log_eta=s["log_eta"], u0_float=s["u0"])


def export(checkpoint, out, fmt: Formats, eval_samples=2000, command=None, log=print):
    model, ck = load_checkpoint(checkpoint)
    spec = DataSpec(**ck["config"]["data"])
    data = prepare(spec, log=log)
    fixed = fold(model.fold(), fmt)
    x = data.valid[:eval_samples]
    log(f"[export] folded: eF={fixed.e_f} eW={fixed.e_w} widths {fixed.widths()}")
    log(f"[export] evaluating float and fixed models on {len(x)} held-out samples, T={EVAL_TS}")
    fl = float_metrics(model, x, EVAL_TS)
    fl_cap = float_metrics(model, x, EVAL_TS, count_cap=fmt.count_max)
    fx = fixed_metrics(fixed, model.phi.detach().numpy(), x, EVAL_TS)
    run = runaway_check(model, x[:1000])
    _, clipped = encode_input(data.valid, fmt)
    meta = dict(
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        command=command or " ".join(sys.argv),
        dims=dict(sample_shape=list(ck.get("shape", [])), config=ck["config"]["name"]),
        data=dataclasses.asdict(spec), normalisation=ck.get("norm", {}),
        training=dict(command=training_command(ck["config"]), config=ck["config"], seconds=ck.get("seconds")),
        seeds=dict(training=ck["config"]["seed"], data=spec.seed, eval=1),
        metrics=dict(samples=len(x), float={str(t): v for t, v in fl.items()},
                     float_capped={str(t): v for t, v in fl_cap.items()},
                     fixed={str(t): v for t, v in fx.items()}, runaway=run,
                     input_clipped_fraction=clipped),
        environment=dict(python=platform.python_version(), numpy=np.__version__, torch=torch.__version__),
    )
    bundle_mod.save(out, fixed, float_state(model), meta)
    log(f"[export] wrote bundle {out}")
    return bundle_mod.load(out)
