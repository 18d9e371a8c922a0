"""Offline data: every source loads without network, the pipeline is deterministic, bad data
gets a clear error."""
import numpy as np
import pytest

from ipvae.golden_model.data import DataSpec, load_digits8, load_mnist5k, prepare
from ipvae.golden_model.errors import DataError


def test_photo_patches_deterministic_and_normalised():
    spec = DataSpec("photos", patch=8, n_train=3000, n_valid=500, seed=3)
    a = prepare(spec, cache=False, log=lambda s: None)
    b = prepare(spec, cache=False, log=lambda s: None)
    assert np.array_equal(a.train, b.train) and np.array_equal(a.valid, b.valid)
    assert a.train.shape == (3000, 64) and a.valid.shape == (500, 64)
    assert abs(a.train.mean()) < 1e-6 and abs(a.train.std() - 1) < 1e-5
    assert np.abs(a.train).max() < 10  # per-patch z-score bounds the energy: |x| <= sqrt(N-1)/sd
    c = prepare(DataSpec("photos", patch=8, n_train=3000, n_valid=500, seed=4), cache=False, log=lambda s: None)
    assert not np.array_equal(a.train, c.train)


def test_photo_patches_16_and_zca():
    d = prepare(DataSpec("photos", patch=16, n_train=1000, n_valid=200, whitening="zca"), cache=False,
                log=lambda s: None)
    assert d.train.shape == (1000, 256) and d.shape == (16, 16)


def test_cache_round_trip(tmp_path, monkeypatch):
    import ipvae.golden_model.data as D
    monkeypatch.setattr(D, "CACHE_DIR", tmp_path)
    spec = DataSpec("photos", patch=8, n_train=500, n_valid=100)
    a = prepare(spec, log=lambda s: None)
    assert len(list(tmp_path.glob("data-photos-*.npz"))) == 1
    b = prepare(spec, log=lambda s: None)
    assert np.array_equal(a.train, b.train) and a.norm == b.norm


def test_digits():
    imgs, labels = load_mnist5k()
    assert imgs.shape == (5000, 28, 28) and imgs.dtype == np.uint8 and set(labels) == set(range(10))
    imgs8, labels8 = load_digits8()
    assert imgs8.shape == (1797, 8, 8) and imgs8.max() == 16
    d = prepare(DataSpec("mnist", n_valid=500), cache=False, log=lambda s: None)
    assert d.train.shape == (4500, 784) and d.valid.min() >= 0 and d.valid.max() <= 1


def test_user_file_npy_npz(tmp_path):
    rng = np.random.default_rng(0)
    arr = rng.normal(size=(100, 6, 6))
    np.save(tmp_path / "a.npy", arr)
    np.savez(tmp_path / "b.npz", x=arr.reshape(100, 36))
    d1 = prepare(DataSpec("file", path=str(tmp_path / "a.npy"), n_valid=20), cache=False, log=lambda s: None)
    d2 = prepare(DataSpec("file", path=str(tmp_path / "b.npz"), n_valid=20), cache=False, log=lambda s: None)
    assert d1.shape == (6, 6) and d2.shape == (36,)
    assert np.allclose(d1.train, d2.train)


def test_user_folder(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(1)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, size=(40, 50), dtype=np.uint8)).save(tmp_path / f"im{i}.png")
    d = prepare(DataSpec("folder", path=str(tmp_path), patch=8, n_train=200, n_valid=50), cache=False,
                log=lambda s: None)
    assert d.train.shape == (200, 64) and d.valid.shape == (50, 64)


@pytest.mark.parametrize("arr, msg", [
    (np.full((20, 4), np.nan), r"contains NaN or Inf \(first at index \(0, 0\)\)"),
    (np.zeros((20, 2, 2, 2)), r"expected \(samples, features\) or \(samples, H, W\), got shape \(20, 2, 2, 2\)"),
    (np.zeros((5, 4)), "need at least 10 samples, got 5"),
    (np.ones((20, 4)), "all values are equal"),
    (np.array(["a"] * 20), "expected a numeric array"),
])
def test_user_file_errors(tmp_path, arr, msg):
    np.save(tmp_path / "bad.npy", arr)
    with pytest.raises(DataError, match=msg):
        prepare(DataSpec("file", path=str(tmp_path / "bad.npy")), cache=False, log=lambda s: None)


def test_other_data_errors(tmp_path):
    with pytest.raises(DataError, match="data file .* does not exist"):
        prepare(DataSpec("file", path=str(tmp_path / "missing.npy")), cache=False)
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(DataError, match="cannot read .* as .npy/.npz"):
        prepare(DataSpec("file", path=str(tmp_path / "junk.npy")), cache=False)
    with pytest.raises(DataError, match="unknown dataset 'cifar'"):
        prepare(DataSpec("cifar"), cache=False)
    with pytest.raises(DataError, match="image folder .* needs at least 2 images"):
        prepare(DataSpec("folder", path=str(tmp_path)), cache=False)
    with pytest.raises(DataError, match="needs a path"):
        prepare(DataSpec("file"), cache=False)


def test_negative_pixels_rejected():
    from ipvae.golden_model.data import whiten
    with pytest.raises(DataError, match="pixel values must be >= 0 for log-intensity preprocessing"):
        whiten(-np.ones((16, 16)), 0.4)
