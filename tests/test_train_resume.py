"""The trainer's resumable state, ramp floors and collapse detection (issue 12)."""
import pytest
import torch

from ipvae.cli import main
from ipvae.golden_model.config import get_config
from ipvae.golden_model.data import DataSpec, prepare
from ipvae.golden_model.errors import ParameterError
from ipvae.golden_model.train import CollapseMonitor, load_state, ramp_spans, schedules, train


@pytest.fixture(scope="module")
def tiny():
    data = prepare(DataSpec("photos", patch=8, n_train=1500, n_valid=200), cache=False, log=lambda s: None)
    cfg = get_config("default").replace(steps=40, batch=32, t_train=4, n_latents=24, n_exp_refresh=7,
                                        data=data.spec)
    return cfg, data


def _val(model):
    return {"val_r2_t16": float(model.phi.detach().abs().sum())}


def test_resumed_run_equals_uninterrupted(tiny, tmp_path):
    torch.set_num_threads(1)
    cfg, data = tiny
    ref, hist_ref = train(cfg, data, out_dir=tmp_path / "ref", log=lambda s: None, eval_fn=_val)
    m1, h1 = train(cfg, data, out_dir=tmp_path / "cut", log=lambda s: None, eval_fn=_val, stop_at_step=17)
    assert h1["stopped_at"] == 17 and not (tmp_path / "cut" / "checkpoint.pt").exists()
    assert (tmp_path / "cut" / "state.pt").exists()
    # a second interruption, then the end: the stream of batches, random draws and n_exp refreshes
    # (every 7 steps) crosses both cut points
    train(cfg, data, out_dir=tmp_path / "cut", log=lambda s: None, eval_fn=_val, resume=True, stop_at_step=30)
    m2, h2 = train(cfg, data, out_dir=tmp_path / "cut", log=lambda s: None, eval_fn=_val, resume=True)
    for k, v in ref.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k]), k
    assert [r["loss"] for r in h2["history"]] == [r["loss"] for r in hist_ref["history"]]
    assert [r.get("val_r2_t16") for r in h2["history"]] == [r.get("val_r2_t16") for r in hist_ref["history"]]
    assert (tmp_path / "cut" / "checkpoint.pt").exists()
    log = (tmp_path / "cut" / "train.log").read_text()
    assert "resuming" in log and "stopped at step 17/40" in log and "left" in log


def test_resume_refuses_other_config_or_data(tiny, tmp_path):
    cfg, data = tiny
    train(cfg, data, out_dir=tmp_path, log=lambda s: None, stop_at_step=3)
    with pytest.raises(ParameterError, match="started with another configuration"):
        train(cfg.replace(beta=3.0), data, out_dir=tmp_path, log=lambda s: None, resume=True)
    with pytest.raises(ParameterError, match=r"no state.pt to resume from"):
        load_state(tmp_path / "nothing")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "state.pt").write_bytes(b"\x80\x04garbage")
    with pytest.raises(ParameterError, match="corrupt or not an ipvae training state"):
        load_state(tmp_path / "junk")


def test_cli_resume(tiny, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--steps", "6", "--batch", "16", "--t-train", "2", "--latents", "8", "--patch", "4",
                 "--out", str(run), "--threads", "1", "--max-minutes", "0"]) == 0
    assert "continue with: ipvae train --resume" in capsys.readouterr().out
    assert main(["train", "--resume", str(run), "--steps", "9"]) == 2
    assert "--resume continues a run with its own configuration and folder; drop --steps" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and (run / "checkpoint.pt").exists()


def test_ramp_floors_in_samples():
    """A short run ramps beta over at least kl_anneal_min_samples; the default config is unchanged."""
    d = get_config("default")
    assert ramp_spans(d) == pytest.approx((7.0, 700.0, 3500.0))
    short = d.replace(steps=2000)
    const, anneal, _ = ramp_spans(short)
    assert anneal == pytest.approx(700.0)            # 70,000 samples at batch 100, not 10 % of 2,000
    assert schedules(short, 200)["beta"] < 0.3 * d.beta
    assert schedules(short, int(const + anneal) + 1)["beta"] == pytest.approx(d.beta)
    assert ramp_spans(d.replace(steps=2000, batch=200))[1] == pytest.approx(350.0)
    p = get_config("paper-cpu")
    assert (p.data.patch, p.n_latents, p.t_train, p.beta) == (16, 512, 16, 24.0)


def _rec(step, r2, zeros, kl=0.5, beta=30.0):
    return dict(step=step, val_r2_t16=r2, val_zeros_t16=zeros, kl=kl, beta=beta)


def test_collapse_monitor():
    cfg = get_config("default").replace(steps=2000)
    m = CollapseMonitor()
    assert m.update(_rec(100, 0.12, 0.6), cfg) is None
    assert m.update(_rec(200, 0.17, 0.8), cfg) is None
    assert m.update(_rec(300, 0.09, 0.9), cfg) is None        # falling, but counts not yet all zero
    v = m.update(_rec(400, 0.05, 0.97, kl=0.01), cfg)
    assert v is not None and v["step"] == 400 and v["peak"] == pytest.approx(0.17)
    assert ("validation R² fell from 0.170 (step 200) to 0.050 while 97.0% of the counts are zero and the KL term "
            "is 0.010") in v["message"]
    assert "Remedy: more --steps, a longer ramp (--beta-ramp-samples, now 70,000), or a smaller --beta" in v["message"]
    assert m.update(_rec(500, 0.01, 0.98), cfg) is None        # said once
    healthy = CollapseMonitor()
    for s, r2, z in [(100, 0.3, 0.5), (200, 0.5, 0.6), (300, 0.6, 0.7), (400, 0.65, 0.8)]:
        assert healthy.update(_rec(s, r2, z), cfg) is None
    assert healthy.verdict is None


@pytest.fixture(scope="module")
def photos8():
    return prepare(DataSpec("photos", patch=8, n_train=20_000, n_valid=600), log=lambda s: None)


def _short_run(data, **kw):
    from ipvae.golden_model.evaluate import quick_val
    torch.set_num_threads(1)
    cfg = get_config("default").replace(steps=300, data=data.spec, **kw)
    return train(cfg, data, log=lambda s: None, eval_fn=quick_val(data.valid[:300]))[1]


def test_short_run_without_the_floor_collapses_and_says_so(photos8):
    """The failure of issue 12 at a tenth of its size: beta ramped over 10 % of 300 steps collapses
    the code, and the trainer's verdict names the cause and the remedy."""
    hist = _short_run(photos8, kl_anneal_min_samples=0)
    v = hist["collapse"]
    assert v is not None and v["zeros"] >= 0.95 and v["r2"] <= 0.5 * v["peak"]
    assert "beta" in v["message"] and "--beta-ramp-samples" in v["message"]


def test_short_run_with_the_floor_does_not_collapse(photos8):
    hist = _short_run(photos8)
    last = hist["history"][-1]
    assert hist["collapse"] is None
    assert last["val_r2_t16"] > 0.5 and last["val_zeros_t16"] < 0.95
