"""Bundle round trip and every way a bundle can be bad."""
import json

import numpy as np
import pytest

from ipvae.golden_model import bundle as B
from ipvae.golden_model.errors import BundleError
from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold, run
from ipvae.golden_model.random_model import random_float_model


@pytest.fixture()
def saved(tmp_path):
    tensors, extra = random_float_model(12, 20, seed=4)
    phi = extra["phi"]
    fixed = fold(tensors, Formats())
    fl = dict(phi=phi, log_sigma=np.zeros(12), log_b=np.full(20, -3.0), log_eta=np.array(-1.9),
              u0_float=tensors["u0"])
    path = B.save(tmp_path / "b", fixed, fl, dict(command="test", metrics={}))
    return path, fixed


def test_round_trip(saved):
    path, fixed = saved
    b = B.load(path)
    for name in ("F", "W", "c", "u0", "table"):
        assert np.array_equal(getattr(b.fixed, name), getattr(fixed, name))
    assert (b.fixed.e_f, b.fixed.e_w, b.fmt) == (fixed.e_f, fixed.e_w, fixed.fmt)
    assert b.meta["dims"]["n_inputs"] == 12 and b.meta["dims"]["n_latents"] == 20
    assert b.meta["widths"] == fixed.widths()
    x = np.random.default_rng(0).integers(-50, 50, size=(3, 12))
    r1, r2 = run(fixed, x, 6, 1, lanes=4), run(b.fixed, x, 6, 1, lanes=4)
    assert np.array_equal(r1["z_final"], r2["z_final"]) and np.array_equal(r1["u_final"], r2["u_final"])
    m = b.float_model()
    assert m.phi.shape == (12, 20)


def _edit_json(path, fn):
    meta = json.loads((path / "bundle.json").read_text())
    fn(meta)
    (path / "bundle.json").write_text(json.dumps(meta))


def _rewrite_npz(path, **changes):
    with np.load(path / "tensors.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    np.savez(path / "tensors.npz", **arrays)


def test_missing_directory_and_files(tmp_path, saved):
    path, _ = saved
    with pytest.raises(BundleError, match="is not a directory"):
        B.load(tmp_path / "nope")
    (path / "tensors.npz").unlink()
    with pytest.raises(BundleError, match="is missing tensors.npz"):
        B.load(path)


def test_truncated_npz(saved):
    path, _ = saved
    data = (path / "tensors.npz").read_bytes()
    (path / "tensors.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="is corrupt or truncated"):
        B.load(path)


def test_bad_json(saved):
    path, _ = saved
    (path / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError, match="is not valid JSON"):
        B.load(path)


def test_version_mismatch(saved):
    path, _ = saved
    _edit_json(path, lambda m: m.update(version=99))
    with pytest.raises(BundleError, match="bundle version 99 is not supported \\(this code reads version 1\\)"):
        B.load(path)


def test_wrong_format_name(saved):
    path, _ = saved
    _edit_json(path, lambda m: m.update(format="other"))
    with pytest.raises(BundleError, match="is not an ipvae-bundle file"):
        B.load(path)


def test_checksum_mismatch(saved):
    path, _ = saved
    with np.load(path / "tensors.npz") as z:
        w = z["W"].copy()
    w[0, 0] += 1
    _rewrite_npz(path, W=w)
    with pytest.raises(BundleError, match="checksum mismatch for tensor 'W'"):
        B.load(path)


def test_shape_mismatch(saved):
    path, _ = saved
    _edit_json(path, lambda m: m["dims"].update(n_inputs=13))
    with pytest.raises(BundleError, match=r"tensor 'F' has shape \(20, 12\), dims N=13, K=20 need \(20, 13\)"):
        B.load(path)


def test_nan_in_float_tensor(saved):
    path, _ = saved
    with np.load(path / "tensors.npz") as z:
        phi = z["phi"].copy()
    phi[1, 1] = np.nan
    _rewrite_npz(path, phi=phi)
    _edit_json(path, lambda m: m["tensors"]["phi"].update(sha256=B._sha(phi)))
    with pytest.raises(BundleError, match="float tensor 'phi' contains NaN or Inf"):
        B.load(path)


def test_weights_out_of_range_for_formats(saved):
    path, _ = saved
    _edit_json(path, lambda m: m["formats"].update(weight_bits=6))
    with pytest.raises(BundleError, match="inconsistent: F entries exceed the signed 6-bit range"):
        B.load(path)


def test_missing_tensor(saved):
    path, _ = saved
    with np.load(path / "tensors.npz") as z:
        arrays = {k: z[k] for k in z.files if k != "table"}
    np.savez(path / "tensors.npz", **arrays)
    with pytest.raises(BundleError, match="lacks tensor 'table'"):
        B.load(path)


def test_unknown_format_field(saved):
    path, _ = saved
    _edit_json(path, lambda m: m["formats"].update(magic_bits=3))
    with pytest.raises(BundleError, match="unknown format fields: magic_bits"):
        B.load(path)


def test_committed_default_bundle_loads(default_bundle):
    assert default_bundle.fixed.n_inputs == 64 and default_bundle.fixed.n_latents == 128
    assert "ipvae" in default_bundle.meta["command"]


def test_builtin_bundles_by_name():
    from ipvae.golden_model.bundle import DEFAULT_BUNDLE, builtin
    from ipvae.golden_model.errors import BundleError
    assert builtin("default") == DEFAULT_BUNDLE
    with pytest.raises(BundleError, match="^no built-in bundle 'nope'; the package ships default"):
        builtin("nope")
    from ipvae.golden_model.bundle import builtin_spec
    assert builtin_spec("builtin:paper") == builtin("paper")
    assert builtin_spec(None) is None and builtin_spec("random:4x4") is None and builtin_spec("runs/b") is None
    with pytest.raises(BundleError, match="^no built-in bundle 'nope'"):
        builtin_spec("builtin:nope")
