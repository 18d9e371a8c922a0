"""BPTT trainer for the float iP-VAE (PAPER.md §3), with the authors' schedules.

Departures from the authors' code are listed in docs/model.md.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import poisson

from .config import TrainConfig
from .data import Dataset
from .model import IPVAE, RATE_EPS
from .relaxed_poisson import relaxed_poisson


def ramp(step, total, const_portion, anneal_portion):
    """0 for the first const_portion of steps, then linear to 1 over anneal_portion, then 1."""
    start = const_portion * total
    length = max(anneal_portion * total, 1.0)
    return float(min(max((step - start) / length, 0.0), 1.0))


def schedules(cfg: TrainConfig, step: int):
    """beta, clamp, temperature and learning rate at an optimiser step."""
    r = ramp(step, cfg.steps, cfg.kl_const_portion, cfg.kl_anneal_portion)
    beta = cfg.beta_min if step < cfg.kl_const_portion * cfg.steps else cfg.beta_min + r * (cfg.beta - cfg.beta_min)
    clamp = cfg.clamp_start + r * (cfg.clamp_final - cfg.clamp_start)
    frac = min(step / max(cfg.temp_anneal_portion * cfg.steps, 1.0), 1.0)
    temp = cfg.temp_start + frac * (cfg.temp_stop - cfg.temp_start)
    warm = max(int(cfg.warmup_portion * cfg.steps), 1)
    if step < warm:
        lr = cfg.lr * (step + 1) / warm
    else:
        prog = (step - warm) / max(cfg.steps - warm, 1)
        lr = cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * prog))
    return dict(beta=beta, clamp=clamp, temp=temp, lr=lr, warm=step < warm)


def n_exp_for_rate(rate_max, cap):
    """Arrivals to draw: the 99.9 % Poisson quantile of the running max rate, capped."""
    return int(min(max(poisson.ppf(1 - 1e-3, max(rate_max, 1e-3)), 1), cap))


def kl_term(u_new, u_old, form):
    d = u_new - u_old
    pref = torch.exp(u_new) if form == "code" else torch.exp(u_old)
    return (pref * (1.0 + torch.exp(d) * (d - 1.0))).sum(-1)


def sequence_loss(model, x, cfg, sch, n_exp):
    """Mean over T_train steps of (recon NLL + beta KL), batch mean, times 256/N."""
    u = model.initial_state(len(x))
    total = recon_sum = kl_sum = 0.0
    rate_max = []
    for t in range(cfg.t_train):
        rate = torch.exp(u) + RATE_EPS
        rate_max.append(float(rate.detach().max()))
        z = relaxed_poisson(rate, sch["temp"], n_exp[t])
        u_new = model.update(u, x, z, sch["clamp"])
        z_out = relaxed_poisson(torch.exp(u_new) + RATE_EPS, sch["temp"], n_exp[min(t + 1, cfg.t_train - 1)])
        recon = model.recon_nll(x, z_out).mean()
        kl = kl_term(u_new, u, cfg.kl_form).mean()
        total = total + recon + sch["beta"] * kl
        recon_sum += float(recon.detach())
        kl_sum += float(kl.detach())
        u = u_new
    scale = 256.0 / x.shape[1] / cfg.t_train
    return total * scale, recon_sum / cfg.t_train, kl_sum / cfg.t_train, rate_max


def train(cfg: TrainConfig, data: Dataset, out_dir=None, log=print, eval_fn=None, device=None):
    """Train and return (model, history). Writes checkpoint.pt and history.json to out_dir.
    device: "cpu", "cuda" or None (a GPU if PyTorch sees one; the CPU otherwise)."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = IPVAE(data.n_inputs, cfg.n_latents, cfg.init_scale, cfg.prior_lo, cfg.prior_hi, cfg.seed).to(device)
    opt = torch.optim.Adamax(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8,
                             weight_decay=cfg.weight_decay)
    xtr = torch.from_numpy(data.train).to(device)
    n_exp = [n_exp_for_rate(3.0, cfg.n_exp_cap)] * cfg.t_train
    rate_acc = np.zeros(cfg.t_train)
    rate_cnt = 0
    history = []
    order = rng.permutation(len(xtr))
    pos = 0
    t0 = time.time()
    every = max(cfg.steps // 20, 1)
    for step in range(cfg.steps):
        if pos + cfg.batch > len(order):
            order, pos = rng.permutation(len(xtr)), 0
        x = xtr[torch.from_numpy(order[pos:pos + cfg.batch]).to(device)]
        pos += cfg.batch
        sch = schedules(cfg, step)
        for g in opt.param_groups:
            g["lr"] = sch["lr"]
        loss, recon, kl, rate_max = sequence_loss(model, x, cfg, sch, n_exp)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clip = cfg.grad_clip * (3.0 if sch["warm"] else 1.0)
        gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip))
        opt.step()
        if not sch["warm"]:
            rate_acc += np.array(rate_max)
            rate_cnt += 1
            if rate_cnt == cfg.n_exp_refresh:
                n_exp = [n_exp_for_rate(r, cfg.n_exp_cap) for r in rate_acc / rate_cnt]
                rate_acc[:], rate_cnt = 0.0, 0
        if not math.isfinite(float(loss.detach())):
            raise FloatingPointError(f"training diverged at step {step} (loss {float(loss)})")
        if step % every == 0 or step == cfg.steps - 1:
            el = time.time() - t0
            rec = dict(step=step, loss=float(loss.detach()), recon=recon, kl=kl, beta=sch["beta"], temp=sch["temp"],
                       clamp=sch["clamp"], lr=sch["lr"], grad_norm=gnorm, n_exp_max=max(n_exp), seconds=el)
            if eval_fn is not None and step > 0:
                rec.update(eval_fn(model.cpu()))
                model.to(device)
            history.append(rec)
            eta = el / (step + 1) * (cfg.steps - step - 1)
            extra = "".join(f" {k}={v:.3f}" for k, v in rec.items() if k.startswith("val_"))
            log(f"[train] step {step + 1:>6}/{cfg.steps} loss {rec['loss']:9.2f} recon {recon:8.2f} "
                f"kl {kl:6.3f} beta {sch['beta']:5.2f} tau {sch['temp']:.3f} lr {sch['lr']:.2e}"
                f"{extra}  {el:6.0f}s elapsed, ~{eta:4.0f}s left")
    seconds = time.time() - t0
    model = model.cpu()
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        torch.save(dict(state=model.state_dict(), config=dataclasses.asdict(cfg),
                        norm=data.norm, shape=list(data.shape), seconds=seconds), out / "checkpoint.pt")
        (out / "history.json").write_text(json.dumps(dict(seconds=seconds, history=history), indent=1))
    return model, dict(seconds=seconds, history=history)
