"""Versioned model bundles: integer tensors for the hardware, float tensors for the reference,
and JSON metadata (dims, formats, exponents, widths, seeds, checksums, metrics, command).

Layout of a bundle directory::

    bundle.json    metadata; "tensors" maps each array name to dtype, shape and sha256
    tensors.npz    the arrays (no pickles)

Loading checks everything a consumer relies on and raises BundleError naming the problem.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .data import DataSpec
from .errors import BundleError, IpvaeError
from .formats import Formats
from .golden import FixedModel

FORMAT_NAME = "ipvae-bundle"
FORMAT_VERSION = 1
INT_TENSORS = ("F", "W", "c", "u0", "table")
FLOAT_TENSORS = ("phi", "log_sigma", "log_b", "log_eta", "u0_float")
BUNDLES = Path(__file__).resolve().parent / "bundles"
DEFAULT_BUNDLE = BUNDLES / "default"


def builtin(name: str) -> Path:
    """A bundle shipped with the package, by name ("default", "paper")."""
    path = BUNDLES / name
    if not (path / "bundle.json").is_file():
        shipped = sorted(p.name for p in BUNDLES.iterdir() if (p / "bundle.json").is_file())
        raise BundleError(f"no built-in bundle {name!r}; the package ships {', '.join(shipped)}")
    return path


BUILTIN = "builtin:"


def builtin_spec(spec):
    """The path of a ``builtin:NAME`` spec (how the board registry names a shipped bundle); None for
    any other spec."""
    if spec is None or not str(spec).startswith(BUILTIN):
        return None
    return builtin(str(spec)[len(BUILTIN):])


#: every key bundle.json may hold; anything else is refused (a typo or another program's file)
KNOWN_KEYS = {"format", "version", "created", "command", "dims", "data", "normalisation", "training", "seeds",
              "metrics", "environment", "formats", "exponents", "widths", "tensors"}
#: exponents: integer, and the range a weight scale can sensibly have (8..16-bit weights of
#: magnitudes between 2^-40 and 2^8)
EXPONENT_RANGE = (-8, 48)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_meta(meta: dict, where) -> None:
    """The schema of bundle.json: types and ranges of every field a consumer reads, and known keys.
    Raises BundleError naming the first problem."""
    def bad(msg):
        raise BundleError(f"{where}: {msg}")
    unknown = sorted(set(meta) - KNOWN_KEYS)
    if unknown:
        bad(f"unknown key(s) {', '.join(map(repr, unknown))}")
    for key in ("dims", "formats", "exponents", "tensors"):
        if key not in meta:
            bad(f"lacks the '{key}' section")
        if not isinstance(meta[key], dict):
            bad(f"the '{key}' section must be an object, got {type(meta[key]).__name__}")
    dims = meta["dims"]
    for k in ("n_inputs", "n_latents"):
        if not _is_int(dims.get(k)) or not 1 <= dims[k] <= 1 << 16:
            bad(f"dims.{k} must be an integer in 1..65536, got {dims.get(k)!r}")
    shape = dims.get("sample_shape")
    if shape is not None and (not isinstance(shape, list) or not all(_is_int(v) and v > 0 for v in shape)
                              or int(np.prod(shape)) != dims["n_inputs"]):
        bad(f"dims.sample_shape must be positive integers whose product is N={dims['n_inputs']}, got {shape!r}")
    for k, v in meta["formats"].items():
        if not _is_int(v) or not 0 <= v <= 32:
            bad(f"formats.{k} must be an integer in 0..32, got {v!r}")
    ex = meta["exponents"]
    for k in ("e_f", "e_w", "input_frac", "u_frac", "drive_shift", "delta_shift"):
        if not _is_int(ex.get(k)):
            bad(f"exponents.{k} must be an integer, got {ex.get(k)!r}")
    for k in ("e_f", "e_w"):
        lo, hi = EXPONENT_RANGE
        if not lo <= ex[k] <= hi:
            bad(f"exponents.{k} = {ex[k]} is outside {lo}..{hi}: no trained weights scale like that")
    if ex["drive_shift"] != ex["e_f"] + ex["input_frac"] - ex["e_w"]:
        bad(f"exponents.drive_shift {ex['drive_shift']} disagrees with e_f + input_frac - e_w "
            f"= {ex['e_f'] + ex['input_frac'] - ex['e_w']}")
    for name, rec in meta["tensors"].items():
        if not isinstance(rec, dict):
            bad(f"tensors.{name} must be an object, got {type(rec).__name__}")
        for k in ("dtype", "shape", "sha256"):
            if k not in rec:
                bad(f"tensors.{name} lacks '{k}'")
        if not isinstance(rec["shape"], list) or not all(_is_int(v) and v >= 0 for v in rec["shape"]):
            bad(f"tensors.{name}.shape must be a list of non-negative integers, got {rec['shape']!r}")
        if not isinstance(rec["dtype"], str) or not isinstance(rec["sha256"], str):
            bad(f"tensors.{name}: dtype and sha256 must be strings")
    data = meta.get("data")
    if data is not None:
        if not isinstance(data, dict):
            bad(f"the 'data' section must be an object or null, got {type(data).__name__}")
        fields = {f for f in DataSpec.__dataclass_fields__}
        unknown = sorted(set(data) - fields)
        if unknown:
            bad(f"unknown key(s) in the 'data' section: {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(sorted(fields))})")
    for key in ("metrics", "training", "seeds", "normalisation", "widths", "environment"):
        if key in meta and meta[key] is not None and not isinstance(meta[key], dict):
            bad(f"the '{key}' section must be an object, got {type(meta[key]).__name__}")


def _sha(a: np.ndarray):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _json_scalar(v):
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"cannot store {type(v).__name__} in bundle.json")


class Bundle:
    """A loaded bundle: ``fixed`` (FixedModel), ``float_state`` (dict of arrays), ``meta``."""

    def __init__(self, fixed: FixedModel, float_state: dict, meta: dict):
        self.fixed, self.float_state, self.meta = fixed, float_state, meta

    @property
    def fmt(self):
        return self.fixed.fmt

    def float_model(self):
        from .model import IPVAE  # lazy: PyTorch loads only for the float model
        s = dict(self.float_state)
        return IPVAE.from_numpy(dict(phi=s["phi"], log_sigma=s["log_sigma"], log_b=s["log_b"],
                                     log_eta=s["log_eta"], u0=s["u0_float"]))

    def data_spec(self):
        """The DataSpec the bundle was trained on (BundleError for bundles made without data)."""
        d = self.meta.get("data")
        if not d:
            raise BundleError(f"this bundle records no dataset (made by: {self.meta.get('command', '?')})")
        try:
            return DataSpec(**d)
        except TypeError as exc:
            raise BundleError(f"the bundle's 'data' section is not a dataset description ({exc})") from None

    @property
    def phi(self):
        return self.float_state["phi"]


def save(path, fixed: FixedModel, float_state: dict, meta: dict):
    """Write a bundle directory (atomically per file)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    arrays = {"F": fixed.F.astype(np.int32), "W": fixed.W.astype(np.int32), "c": fixed.c.astype(np.int64),
              "u0": fixed.u0.astype(np.int32), "table": fixed.table.astype(np.int32)}
    for k in FLOAT_TENSORS:
        arrays[k] = np.asarray(float_state[k], np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    meta = dict(meta)
    meta.update(
        format=FORMAT_NAME, version=FORMAT_VERSION,
        dims=dict(n_inputs=fixed.n_inputs, n_latents=fixed.n_latents, **meta.get("dims", {})),
        formats=fixed.fmt.to_dict(),
        exponents=dict(e_f=fixed.e_f, e_w=fixed.e_w, input_frac=fixed.fmt.input_frac, u_frac=fixed.fmt.u_frac,
                       drive_shift=fixed.drive_shift, delta_shift=fixed.delta_shift),
        widths=fixed.widths(),
        tensors={k: dict(dtype=str(v.dtype), shape=list(v.shape), sha256=_sha(v)) for k, v in arrays.items()},
    )
    meta_bytes = json.dumps(meta, indent=1, default=_json_scalar).encode()
    for name, data in (("tensors.npz", buf.getvalue()), ("bundle.json", meta_bytes)):
        tmp = path / (name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path / name)
    return path


def resolve(spec=None) -> Path:
    """The folder of a bundle spec: None (the committed default bundle), ``builtin:NAME`` (a bundle
    the package ships; an unknown NAME names the shipped ones) or a folder path (made absolute)."""
    if spec is None:
        return DEFAULT_BUNDLE
    shipped = builtin_spec(spec)
    return shipped if shipped is not None else Path(spec).absolute()


#: bundles loaded in this process, by folder and the bytes of their two files (a changed file is
#: loaded and validated again; an unchanged one is read and hashed, not parsed and checked again)
_LOADED: dict[tuple, Bundle] = {}


def load(path=None) -> Bundle:
    """Load and validate a bundle (a spec as :func:`resolve` takes; default: the committed default
    bundle). Loaded once per process: a second load of unchanged files returns the same object."""
    path = resolve(path)
    jfile, nfile = path / "bundle.json", path / "tensors.npz"
    if not path.is_dir():
        raise BundleError(f"bundle {path} is not a directory")
    for f in (jfile, nfile):
        if not f.is_file():
            raise BundleError(f"bundle {path} is missing {f.name}")
    key = (str(path), hashlib.sha256(jfile.read_bytes()).hexdigest(), hashlib.sha256(nfile.read_bytes()).hexdigest())
    if key not in _LOADED:
        _LOADED[key] = _load(path, jfile, nfile)
    return _LOADED[key]


def _load(path, jfile, nfile) -> Bundle:
    try:
        meta = json.loads(jfile.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{jfile} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise BundleError(f"{jfile} is not an {FORMAT_NAME} file")
    if meta.get("version") != FORMAT_VERSION:
        raise BundleError(f"bundle version {meta.get('version')!r} is not supported "
                          f"(this code reads version {FORMAT_VERSION})")
    check_meta(meta, jfile)
    try:
        with np.load(nfile, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise BundleError(f"{nfile} is corrupt or truncated ({exc})") from None
    for name in INT_TENSORS + FLOAT_TENSORS:
        if name not in arrays:
            raise BundleError(f"{nfile} lacks tensor '{name}'")
        rec = meta["tensors"].get(name)
        if rec is None:
            raise BundleError(f"{jfile} has no checksum for tensor '{name}'")
        if list(arrays[name].shape) != rec["shape"] or str(arrays[name].dtype) != rec["dtype"]:
            raise BundleError(f"tensor '{name}' is {arrays[name].dtype}{list(arrays[name].shape)}, "
                              f"metadata says {rec['dtype']}{rec['shape']}")
        if _sha(arrays[name]) != rec["sha256"]:
            raise BundleError(f"checksum mismatch for tensor '{name}' (bundle modified or corrupt)")
    dims = meta["dims"]
    n, k = dims.get("n_inputs"), dims.get("n_latents")
    expect = {"F": (k, n), "W": (k, k), "c": (k,), "u0": (k,), "phi": (n, k), "log_sigma": (n,),
              "log_b": (k,), "log_eta": (), "u0_float": (k,)}
    for name, shape in expect.items():
        if arrays[name].shape != shape:
            raise BundleError(f"tensor '{name}' has shape {arrays[name].shape}, dims N={n}, K={k} "
                              f"need {shape}")
    for name in FLOAT_TENSORS:
        if arrays[name].dtype.kind != "f":
            raise BundleError(f"tensor '{name}' must hold floats, got {arrays[name].dtype}")
        if not np.all(np.isfinite(arrays[name])):
            raise BundleError(f"float tensor '{name}' contains NaN or Inf")
    for name in INT_TENSORS:
        if arrays[name].dtype.kind not in "iu":
            raise BundleError(f"tensor '{name}' must hold integers (the hardware's codes), got {arrays[name].dtype}")
    try:
        fmt = Formats.from_dict(meta["formats"])
        ex = meta["exponents"]
        fixed = FixedModel(fmt=fmt, F=arrays["F"].astype(np.int64), W=arrays["W"].astype(np.int64),
                           c=arrays["c"].astype(np.int64), u0=arrays["u0"].astype(np.int64),
                           table=arrays["table"].astype(np.int64), e_f=int(ex["e_f"]), e_w=int(ex["e_w"]))
        fixed.check()
    except (IpvaeError, KeyError, TypeError, ValueError, OverflowError) as exc:
        raise BundleError(f"bundle {path} is inconsistent: {exc}") from None
    if ex.get("u_frac") != fmt.u_frac or ex.get("input_frac") != fmt.input_frac:
        raise BundleError(f"bundle {path}: exponents disagree with formats")
    floats = {k: arrays[k] for k in FLOAT_TENSORS}
    return Bundle(fixed, floats, meta)
