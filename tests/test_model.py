"""The float model and its trainer: relaxed sampler, schedules, a short training run."""
import numpy as np
import pytest
import torch

from ipvae.golden_model.config import get_config
from ipvae.golden_model.data import DataSpec, prepare
from ipvae.golden_model.errors import ParameterError
from ipvae.golden_model.model import IPVAE, clamp_u
from ipvae.golden_model.relaxed_poisson import relaxed_poisson
from ipvae.golden_model.train import n_exp_for_rate, schedules, train


def test_relaxed_poisson_low_temperature_is_poisson():
    torch.manual_seed(0)
    rate = torch.full((200_000,), 2.5)
    z = relaxed_poisson(rate, 0.01, 16)
    assert abs(float(z.mean()) - 2.5) < 0.02
    assert abs(float(z.var()) - 2.5) < 0.06
    # only arrivals within a few tau of t = 1 give fractional counts: ~2.5 * 0.06 of the draws
    frac_int = float(((z - z.round()).abs() < 0.05).float().mean())
    assert frac_int > 0.82


def test_relaxed_poisson_gradient_matches_finite_difference():
    """dE[z]/dr of the relaxed sampler with common random numbers equals the autograd gradient."""
    rate = torch.tensor([0.3, 1.0, 4.0], dtype=torch.float64, requires_grad=True)
    torch.manual_seed(1)
    z = relaxed_poisson(rate.expand(20000, 3), 0.3, 16).sum(0)
    grad = torch.autograd.grad(z.sum(), rate)[0]
    h = 1e-4
    torch.manual_seed(1)
    zp = relaxed_poisson((rate.detach() + h).expand(20000, 3), 0.3, 16).sum(0)
    torch.manual_seed(1)
    zm = relaxed_poisson((rate.detach() - h).expand(20000, 3), 0.3, 16).sum(0)
    fd = (zp - zm) / (2 * h)
    assert torch.allclose(grad, fd, rtol=1e-3)


def test_clamp():
    v = torch.tensor([-20.0, -8.0, 0.0, 3.0, 50.0])
    out = clamp_u(v, 10.0)
    assert out[0] == out[1]
    assert abs(float(out[2])) < 1e-4 and abs(float(out[3]) - 3.0) < 1e-3
    assert float(out[4]) <= 10.0


def test_schedules():
    cfg = get_config("default").replace(steps=1000, kl_anneal_min_samples=0)   # the portions alone
    s0, s_mid, s_end = schedules(cfg, 0), schedules(cfg, 500), schedules(cfg, 999)
    assert s0["beta"] == pytest.approx(1e-4) and s0["clamp"] == pytest.approx(2.0) and s0["temp"] == 1.0
    assert s_mid["beta"] == pytest.approx(cfg.beta) and s_mid["clamp"] == pytest.approx(10.0)
    assert s_mid["temp"] == pytest.approx(0.01) and s_end["lr"] == pytest.approx(cfg.lr_min, rel=0.05)
    assert n_exp_for_rate(3.0, 100) == 10 and n_exp_for_rate(1000.0, 16) == 16


def test_short_training_run_learns(tmp_path):
    torch.set_num_threads(1)
    data = prepare(DataSpec("photos", patch=8, n_train=3000, n_valid=300), cache=False, log=lambda s: None)
    cfg = get_config("default").replace(steps=120, batch=64, t_train=6, data=data.spec)
    model, hist = train(cfg, data, out_dir=tmp_path, log=lambda s: None)
    assert (tmp_path / "checkpoint.pt").exists()
    h = hist["history"]
    assert h[-1]["recon"] < h[0]["recon"]
    assert np.isfinite(h[-1]["loss"])


def test_config_errors():
    with pytest.raises(ParameterError, match="unknown config 'huge'; choose one of default, paper"):
        get_config("huge")
    with pytest.raises(ParameterError, match="n_latents must be >= 1, got 0"):
        get_config("default").replace(n_latents=0)


def test_fold_matches_update():
    m = IPVAE(16, 12, init_scale=0.3, seed=2)
    f = m.fold()
    x = torch.randn(5, 16)
    z = torch.poisson(torch.full((5, 12), 0.7))
    with torch.no_grad():
        d1 = m.delta(x, z).double()
    d2 = x.double() @ f["F"].T - f["c"] - z.double() @ f["W"].T
    assert torch.allclose(d1, d2, atol=1e-5)


def test_paper_config_trains_on_cpu(tmp_path):
    """The `paper` config (16x16, K=512, T_train=16, beta=24) runs through the same code."""
    import dataclasses
    torch.set_num_threads(1)
    cfg = get_config("paper")
    assert (cfg.data.patch, cfg.n_latents, cfg.t_train, cfg.beta) == (16, 512, 16, 24.0)
    spec = dataclasses.replace(cfg.data, n_train=1000, n_valid=100)
    data = prepare(spec, cache=False, log=lambda s: None)
    model, hist = train(cfg.replace(steps=2, batch=32, data=spec), data, log=lambda s: None)
    assert model.phi.shape == (256, 512) and np.isfinite(hist["history"][-1]["loss"])
