"""BPTT trainer for the float iP-VAE (docs/paper.md §3), with the authors' schedules.

Departures from the authors' code are listed in docs/model.md. Three things beyond the authors':

- **Ramps with floors in samples seen.** The beta ramp (and optionally the KL constant phase and the
  temperature ramp) lasts ``max(portion x steps, min_samples / batch)`` steps, so a short run does
  not reach the full beta before the dictionary has learned anything (the collapse of issue 12).
- **Collapse detection.** :class:`CollapseMonitor` watches the validation records and says when R²
  falls while the counts go to zero, with the likely cause and a remedy.
- **Resumable.** ``state.pt`` in the run folder holds the model, the optimiser, the step, the data
  order and position, every random state and the history, written atomically every few minutes;
  :func:`train` with ``resume=True`` continues from it and ends where an uninterrupted run ends.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import poisson

from .config import TrainConfig
from .data import Dataset, DataSpec
from .errors import IpvaeError, ParameterError
from .model import IPVAE, RATE_EPS
from .relaxed_poisson import relaxed_poisson

STATE_FILE = "state.pt"          # everything needed to resume
CHECKPOINT_FILE = "checkpoint.pt"  # the trained model, what `ipvae export` reads
STATE_VERSION = 1


class TrainingCollapsed(IpvaeError):
    """The run collapsed (validation R² fell while nearly every count is zero)."""


def _span(portion, steps, min_samples, batch):
    """Length in steps of a schedule phase: a portion of the run, at least min_samples samples."""
    return max(portion * steps, min_samples / batch)


def ramp_spans(cfg: TrainConfig):
    """(kl_const, kl_anneal, temp_anneal) phase lengths in steps."""
    return (_span(cfg.kl_const_portion, cfg.steps, cfg.kl_const_min_samples, cfg.batch),
            max(_span(cfg.kl_anneal_portion, cfg.steps, cfg.kl_anneal_min_samples, cfg.batch), 1.0),
            max(_span(cfg.temp_anneal_portion, cfg.steps, cfg.temp_anneal_min_samples, cfg.batch), 1.0))


def schedules(cfg: TrainConfig, step: int):
    """beta, clamp, temperature and learning rate at an optimiser step."""
    const, anneal, temp_span = ramp_spans(cfg)
    r = float(min(max((step - const) / anneal, 0.0), 1.0))
    beta = cfg.beta_min if step < const else cfg.beta_min + r * (cfg.beta - cfg.beta_min)
    clamp = cfg.clamp_start + r * (cfg.clamp_final - cfg.clamp_start)
    frac = min(step / temp_span, 1.0)
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


# ---------------------------------------------------------------- collapse detection

@dataclasses.dataclass
class CollapseMonitor:
    """Watches validation records; a run has collapsed when R² has fallen to at most ``drop`` of its
    peak (a peak of at least ``min_peak``) while at least ``zeros`` of the counts are zero.

    The KL term is reported beside it: in a collapse it heads to 0 with the rates."""
    r2_key: str = "val_r2_t16"
    zeros_key: str = "val_zeros_t16"
    min_peak: float = 0.1
    drop: float = 0.5
    zeros: float = 0.95
    peak: float = -math.inf
    peak_step: int = -1
    verdict: dict | None = None

    def update(self, rec, cfg: TrainConfig):
        """Feed one history record; returns the verdict (a dict with ``message``) the first time the
        run is seen collapsing, None otherwise."""
        if self.r2_key not in rec or self.zeros_key not in rec:
            return None
        r2, zeros = rec[self.r2_key], rec[self.zeros_key]
        if r2 > self.peak:
            self.peak, self.peak_step = r2, rec["step"]
        if (self.verdict is None and self.peak >= self.min_peak and r2 <= self.drop * self.peak
                and zeros >= self.zeros):
            const, anneal, _ = ramp_spans(cfg)
            ramp_end = int(const + anneal)
            self.verdict = dict(step=rec["step"], r2=r2, zeros=zeros, kl=rec["kl"], beta=rec["beta"],
                                peak=self.peak, peak_step=self.peak_step, ramp_end=ramp_end)
            self.verdict["message"] = (
                f"the run is collapsing at step {rec['step']}: validation R² fell from {self.peak:.3f} "
                f"(step {self.peak_step}) to {r2:.3f} while {zeros:.1%} of the counts are zero and the KL "
                f"term is {rec['kl']:.3f}. Likely cause: beta ({rec['beta']:.1f} now) rose before the "
                f"dictionary had learned; its ramp ended at step {ramp_end} "
                f"({ramp_end * cfg.batch:,} samples seen). Remedy: more --steps, a longer ramp "
                f"(--beta-ramp-samples, now {cfg.kl_anneal_min_samples:,}), or a smaller --beta.")
        return self.verdict if self.verdict is not None and self.verdict["step"] == rec["step"] else None

    def state(self):
        return dict(peak=self.peak, peak_step=self.peak_step, verdict=self.verdict)


# ---------------------------------------------------------------- resumable state

def _atomic_save(obj, path: Path):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def config_from_dict(d: dict) -> TrainConfig:
    d = dict(d)
    d["data"] = DataSpec(**d["data"])
    return TrainConfig(**d)


def load_state(run_dir):
    """The resumable state of a run folder, with its TrainConfig; a clear error if there is none."""
    path = Path(run_dir) / STATE_FILE
    if not path.is_file():
        raise ParameterError(f"{run_dir}: no {STATE_FILE} to resume from (is it a run folder of `ipvae train`?)")
    try:
        st = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(st, dict) or st.get("version") != STATE_VERSION:
            raise ValueError(f"not a version-{STATE_VERSION} training state")
        cfg = config_from_dict(st["config"])
    except (RuntimeError, KeyError, TypeError, EOFError, ValueError, OSError) as exc:
        raise ParameterError(f"{path} is corrupt or not an ipvae training state ({exc})") from None
    except Exception as exc:  # pickle raises its own zoo (UnpicklingError, ...) on foreign files
        if type(exc).__module__ in ("pickle", "_pickle"):
            raise ParameterError(f"{path} is corrupt or not an ipvae training state ({exc})") from None
        raise
    return st, cfg


def _fmt_time(seconds):
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def train(cfg: TrainConfig, data: Dataset, out_dir=None, log=print, eval_fn=None, device=None, resume=False,
          checkpoint_minutes=5.0, max_minutes=None, stop_at_step=None, progress_seconds=60.0):
    """Train and return (model, history). Writes checkpoint.pt and history.json to out_dir.

    device: "cpu", "cuda" or None (a GPU if PyTorch sees one; the CPU otherwise).
    resume: continue from out_dir/state.pt (written every ``checkpoint_minutes`` and when the run stops).
    max_minutes / stop_at_step: stop early (state saved) so that a later ``resume=True`` call continues;
    the history then has ``stopped_at`` and no checkpoint.pt is written.
    The run folder also gets ``train.log``, every progress line."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    out = Path(out_dir) if out_dir is not None else None
    if (resume or max_minutes or stop_at_step) and out is None:
        raise ParameterError("resuming or stopping early needs a run folder (out_dir)")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        logfile = out / "train.log"

        def say(msg):
            log(msg)
            with logfile.open("a") as f:
                f.write(msg + "\n")
    else:
        say = log

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = IPVAE(data.n_inputs, cfg.n_latents, cfg.init_scale, cfg.prior_lo, cfg.prior_hi, cfg.seed).to(device)
    opt = torch.optim.Adamax(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8,
                             weight_decay=cfg.weight_decay)
    if cfg.batch > len(data.train):
        raise ParameterError(f"batch {cfg.batch} is larger than the training set ({len(data.train):,} samples)")
    xtr = torch.from_numpy(data.train).to(device)
    n_exp = [n_exp_for_rate(3.0, cfg.n_exp_cap)] * cfg.t_train
    rate_acc = np.zeros(cfg.t_train)
    rate_cnt = 0
    history = []
    monitor = CollapseMonitor()
    order = rng.permutation(len(xtr))
    pos = 0
    start_step, seconds_before = 0, 0.0
    if resume:
        st, saved_cfg = load_state(out)
        if saved_cfg != cfg:
            raise ParameterError(f"{out}: the run was started with another configuration; resume it with its own")
        if st["data_key"] != data.spec.key() or st["n_train"] != len(xtr):
            raise ParameterError(f"{out}: the run was started on other data (key {st['data_key']})")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        n_exp, rate_acc, rate_cnt = list(st["n_exp"]), np.array(st["rate_acc"]), int(st["rate_cnt"])
        order, pos = np.array(st["order"]), int(st["pos"])
        rng.bit_generator.state = st["np_rng"]
        torch.set_rng_state(st["torch_rng"])
        history = list(st["history"])
        m = st["monitor"]
        monitor.peak, monitor.peak_step, monitor.verdict = m["peak"], m["peak_step"], m["verdict"]
        start_step, seconds_before = int(st["step"]), float(st["seconds"])
        say(f"[train] resuming {out} at step {start_step}/{cfg.steps} "
            f"({_fmt_time(seconds_before)} trained so far)")

    def save_state(next_step, seconds):
        _atomic_save(dict(version=STATE_VERSION, step=next_step, config=dataclasses.asdict(cfg),
                          data_key=data.spec.key(), n_train=len(xtr),
                          model={k: v.detach().cpu() for k, v in model.state_dict().items()},
                          opt=opt.state_dict(), n_exp=list(n_exp), rate_acc=rate_acc.tolist(), rate_cnt=rate_cnt,
                          order=order, pos=pos, np_rng=rng.bit_generator.state, torch_rng=torch.get_rng_state(),
                          history=history, monitor=monitor.state(), seconds=seconds), out / STATE_FILE)

    t0 = time.time()
    last_save = last_line = t0
    every = max(cfg.steps // 20, 1)
    stopped_at = None
    for step in range(start_step, cfg.steps):
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
        now = time.time()
        el = seconds_before + now - t0
        done_here = step + 1 - start_step
        eta = (now - t0) / done_here * (cfg.steps - step - 1)
        if step % every == 0 or step == cfg.steps - 1:
            rec = dict(step=step, loss=float(loss.detach()), recon=recon, kl=kl, beta=sch["beta"], temp=sch["temp"],
                       clamp=sch["clamp"], lr=sch["lr"], grad_norm=gnorm, n_exp_max=max(n_exp), seconds=el)
            if eval_fn is not None and step > 0:
                rec.update(eval_fn(model.cpu()))
                model.to(device)
            history.append(rec)
            extra = "".join(f" {k}={v:.3f}" for k, v in rec.items() if k.startswith("val_"))
            say(f"[train] step {step + 1:>6}/{cfg.steps} loss {rec['loss']:9.2f} recon {recon:8.2f} "
                f"kl {kl:6.3f} beta {sch['beta']:5.2f} tau {sch['temp']:.3f} lr {sch['lr']:.2e}"
                f"{extra}  {_fmt_time(el)} elapsed, ~{_fmt_time(eta)} left")
            verdict = monitor.update(rec, cfg)
            if verdict is not None:
                say(f"[train] WARNING: {verdict['message']}")
            last_line = now
        elif now - last_line >= progress_seconds:
            say(f"[train] step {step + 1:>6}/{cfg.steps} loss {float(loss.detach()):9.2f} beta {sch['beta']:5.2f} "
                f"tau {sch['temp']:.3f}  {_fmt_time(el)} elapsed, ~{_fmt_time(eta)} left")
            last_line = now
        stop = ((stop_at_step is not None and step + 1 >= stop_at_step)
                or (max_minutes is not None and now - t0 >= 60.0 * max_minutes))
        if out is not None and step + 1 < cfg.steps and (stop or now - last_save >= 60.0 * checkpoint_minutes):
            save_state(step + 1, el)
            last_save = now
        if stop and step + 1 < cfg.steps:
            stopped_at = step + 1
            say(f"[train] stopped at step {stopped_at}/{cfg.steps}; state saved in {out / STATE_FILE}; "
                f"continue with: ipvae train --resume {out}")
            break
    seconds = seconds_before + time.time() - t0
    model = model.cpu()
    result = dict(seconds=seconds, history=history, collapse=monitor.verdict)
    if stopped_at is not None:
        result["stopped_at"] = stopped_at
        return model, result
    if out is not None:
        save_state(cfg.steps, seconds)
        _atomic_save(dict(state=model.state_dict(), config=dataclasses.asdict(cfg),
                          norm=data.norm, shape=list(data.shape), seconds=seconds), out / CHECKPOINT_FILE)
        (out / "history.json").write_text(json.dumps(result, indent=1))
    return model, result
