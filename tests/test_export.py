"""Checkpoint -> bundle: the trainer's output folds, evaluates and loads back."""
import json

import numpy as np
import torch

from ipvae.golden_model import bundle as B
from ipvae.golden_model.config import get_config
from ipvae.golden_model.data import DataSpec, prepare
from ipvae.golden_model.export import export
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.train import train


def test_train_export_load(tmp_path):
    torch.set_num_threads(1)
    spec = DataSpec("photos", patch=8, n_train=800, n_valid=120)
    data = prepare(spec, cache=False, log=lambda s: None)
    cfg = get_config("default").replace(steps=30, batch=32, t_train=4, data=spec)
    train(cfg, data, out_dir=tmp_path / "run", log=lambda s: None)
    b = export(tmp_path / "run" / "checkpoint.pt", tmp_path / "bundle", Formats(weight_bits=6), eval_samples=60,
               command="pytest export", log=lambda s: None)
    meta = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert meta["command"] == "pytest export" and meta["formats"]["weight_bits"] == 6
    assert set(meta["metrics"]["fixed"]) == {"16", "64", "256"}
    assert meta["data"]["n_train"] == 800 and meta["training"]["config"]["steps"] == 30
    assert np.abs(b.fixed.W).max() <= 31
    assert B.load(tmp_path / "bundle").meta == b.meta
