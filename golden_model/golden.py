"""The integer golden model: the bit-exact specification of the RTL (docs/arithmetic.md).

Folding (offline, float -> integer codes, stored in the bundle):
    F  = eta Phi^T Sigma^-1 (K x N)   ->  F_int = round(F 2^eF)      (weight_bits, signed)
    W  = F Phi              (K x K)   ->  W_int = round(W 2^eW)      (weight_bits, signed)
    c  = eta b              (K)       ->  c_int = round(c 2^eW)
    u0                      (K)       ->  u0_int = clamp(round(u0 2^uf), u_lo, u_hi)
with eF, eW the largest exponents for which every entry fits weight_bits.

Run time (integers only; A = eW is the scale of the update's accumulator):
    acc_i  = sum_n F_int[i, n] x_int[n]                       (exact)
    d_i    = shift_round(acc_i, eF + xf - eW) - c_int[i]       (once per input)
    u      = u0_int
    for t in 0 .. T-1:
        z     = sample(u, U_t)                                 (PRNG lanes + table)
        l_i   = sum_{j: z_j > 0} z_j W_int[i, j]               (event-driven, exact)
        du_i  = clamp(shift_round(d_i - l_i, eW - uf), u_lo, u_hi)
        u_i   = clamp(u_i + du_i, u_lo, u_hi)
    z_out = sample(u, U_T)                                     (the output counts)
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .errors import DataError, ParameterError, check_finite
from .formats import Formats, round_half_away, saturate, shift_round, signed_bits
from .sampler import PrngLanes, check_table, poisson_table, sample_counts

MAX_EXPONENT = 40


def weight_exponent(t, bits, name):
    """Largest e such that every |round(t 2^e)| fits a signed ``bits``-bit integer."""
    m = float(np.max(np.abs(t)))
    if not np.isfinite(m):
        raise DataError(f"{name} contains NaN or Inf")
    if m == 0.0:
        raise ParameterError(f"{name} is all zero: nothing to quantise")
    limit = (1 << (bits - 1)) - 1
    e = int(np.floor(np.log2(limit / m)))
    while np.max(np.abs(round_half_away(t * 2.0 ** e))) > limit:
        e -= 1
    if not -MAX_EXPONENT <= e <= MAX_EXPONENT:
        raise ParameterError(f"{name} needs scale 2^{e} at {bits} bits, outside +-2^{MAX_EXPONENT}")
    return e


@dataclasses.dataclass
class FixedModel:
    """Integer tensors and formats: everything the hardware needs."""
    fmt: Formats
    F: np.ndarray        # (K, N) int64
    W: np.ndarray        # (K, K) int64
    c: np.ndarray        # (K,)   int64, at scale 2^-eW
    u0: np.ndarray       # (K,)   int64, at scale 2^-u_frac
    table: np.ndarray    # (R, count_max) int64
    e_f: int
    e_w: int

    @property
    def n_inputs(self):
        return self.F.shape[1]

    @property
    def n_latents(self):
        return self.F.shape[0]

    @property
    def drive_shift(self):
        return self.e_f + self.fmt.input_frac - self.e_w

    @property
    def delta_shift(self):
        return self.e_w - self.fmt.u_frac

    # -- widths the RTL needs (exact bounds: no accumulator can overflow) --------------------
    def widths(self):
        fmt = self.fmt
        x_max = 1 << (fmt.input_bits - 1)           # |x_int| <= 2^(xb-1)
        acc = int(np.max(np.abs(self.F).sum(1))) * x_max
        d_lo = int(shift_round(-acc, self.drive_shift)) - int(self.c.max())
        d_hi = int(shift_round(acc, self.drive_shift)) - int(self.c.min())
        lat = int(np.max(np.abs(self.W).sum(1))) * fmt.count_max
        return dict(drive_acc=signed_bits(-acc, acc), drive=signed_bits(d_lo, d_hi),
                    lateral=signed_bits(-lat, lat), delta_acc=signed_bits(d_lo - lat, d_hi + lat),
                    u=fmt.u_bits, u_sum=fmt.u_bits + 1)

    def check(self):
        """Raise ParameterError if tensors and formats disagree."""
        fmt = self.fmt
        k, n = self.F.shape
        lim = 1 << (fmt.weight_bits - 1)
        for name, t, shape in (("F", self.F, (k, n)), ("W", self.W, (k, k)), ("c", self.c, (k,)),
                               ("u0", self.u0, (k,))):
            if t.shape != shape:
                raise ParameterError(f"{name} has shape {t.shape}, expected {shape} for N={n}, K={k}")
        for name, t in (("F", self.F), ("W", self.W)):
            if t.min() < -lim or t.max() > lim - 1:
                raise ParameterError(f"{name} entries exceed the signed {fmt.weight_bits}-bit range")
        if self.u0.min() < fmt.u_lo or self.u0.max() > fmt.u_hi:
            raise ParameterError("u0 codes lie outside the clamp range [-8, 10]")
        check_table(self.table, fmt)
        if max(self.widths().values()) > 48:
            raise ParameterError(f"accumulators would need {max(self.widths().values())} bits (> 48)")


def fold(float_tensors, fmt: Formats) -> FixedModel:
    """Quantise float folded tensors (from :meth:`IPVAE.fold`) into a FixedModel."""
    t = {k: np.asarray(v.detach().numpy() if hasattr(v, "detach") else v, np.float64)
         for k, v in float_tensors.items()}
    for name, v in t.items():
        check_finite(f"float tensor {name}", v)
    e_f = weight_exponent(t["F"], fmt.weight_bits, "F (feed-forward)")
    e_w = weight_exponent(t["W"], fmt.weight_bits, "W (lateral)")
    fm = FixedModel(
        fmt=fmt,
        F=round_half_away(t["F"] * 2.0 ** e_f),
        W=round_half_away(t["W"] * 2.0 ** e_w),
        c=round_half_away(t["c"] * 2.0 ** e_w),
        u0=saturate(round_half_away(t["u0"] * 2.0 ** fmt.u_frac), fmt.u_lo, fmt.u_hi),
        table=poisson_table(fmt), e_f=e_f, e_w=e_w)
    fm.check()
    return fm


def check_lanes(n_latents, lanes):
    if not isinstance(lanes, (int, np.integer)) or lanes < 1:
        raise ParameterError(f"lanes must be a positive integer, got {lanes!r}")
    if n_latents % lanes:
        raise ParameterError(f"lanes ({lanes}) must divide the number of latents K ({n_latents})")


def check_inputs(fm: FixedModel, x_int):
    x = np.asarray(x_int)
    if x.ndim != 2 or x.shape[1] != fm.n_inputs:
        raise DataError(f"inputs must have shape (samples, {fm.n_inputs}), got {x.shape}")
    if x.dtype.kind not in "iu":
        if x.dtype.kind == "f":
            check_finite("input codes", x)
            if np.any(x != np.round(x)):
                raise DataError("input codes must be integers (use encode_input for float data)")
        else:
            raise DataError(f"input codes must be integers, got dtype {x.dtype}")
    lo, hi = -(1 << (fm.fmt.input_bits - 1)), (1 << (fm.fmt.input_bits - 1)) - 1
    if x.size and (x.min() < lo or x.max() > hi):
        raise DataError(f"input codes must lie in [{lo}, {hi}] ({fm.fmt.input_bits}-bit signed), "
                        f"found [{int(x.min())}, {int(x.max())}]")
    return x.astype(np.int64)


def drive(fm: FixedModel, x_int):
    """d (B, K) at scale 2^-eW: shift_round(F_int x, eF + xf - eW) - c."""
    acc = x_int @ fm.F.T  # int64, exact
    return shift_round(acc, fm.drive_shift) - fm.c


def lateral_dense(fm: FixedModel, z):
    """sum_j z_j W[:, j] for a batch (B, K); float64 BLAS is exact here (|partial sums| < 2^53)."""
    return np.rint(z.astype(np.float64) @ fm.W.T.astype(np.float64)).astype(np.int64)


def lateral_event_driven(fm: FixedModel, z):
    """The hardware order for one sample: for each spiking neuron j in ascending order, add
    z_j times column j of W to every accumulator. Returns (l, number of spiking neurons)."""
    acc = np.zeros(fm.n_latents, np.int64)
    active = np.flatnonzero(z)
    for j in active:
        acc += int(z[j]) * fm.W[:, j]
    return acc, len(active)


def update(fm: FixedModel, u, d, lat):
    fmt = fm.fmt
    du = saturate(shift_round(d - lat, fm.delta_shift), fmt.u_lo, fmt.u_hi)
    return saturate(u + du, fmt.u_lo, fmt.u_hi)


def run(fm: FixedModel, x_int, iterations, seeds, lanes=1, record=None, trace=False):
    """Run T iterations on a batch of input codes.

    seeds: one 32-bit seed per sample (or one int for all). record: iterations t whose
    (u_t, z_t) to keep (default: the last, T). trace=True keeps every iteration.
    Returns dict with 'u' and 'z' mapping t -> (B, K) arrays, 'spiking' (B, T) spiking-neuron
    counts of each driving sample, and 'u_final', 'z_final'.
    """
    x = check_inputs(fm, x_int)
    check_lanes(fm.n_latents, lanes)
    if not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise ParameterError(f"iterations must be a non-negative integer, got {iterations!r}")
    b = len(x)
    seeds = np.broadcast_to(np.asarray(seeds, dtype=np.int64), (b,))
    keep = set(range(iterations + 1)) if trace else set(record if record is not None else [iterations])
    prng = PrngLanes(seeds, lanes, fm.fmt.prob_bits)
    d = drive(fm, x)
    u = np.broadcast_to(fm.u0, (b, fm.n_latents)).copy()
    us, zs, spiking = {}, {}, np.zeros((b, iterations), np.int64)
    for t in range(iterations + 1):
        z = sample_counts(u, prng.uniforms(fm.n_latents), fm.table, fm.fmt)
        if t in keep:
            us[t], zs[t] = u.copy(), z
        if t == iterations:
            break
        spiking[:, t] = (z > 0).sum(1)
        u = update(fm, u, d, lateral_dense(fm, z))
    return dict(u=us, z=zs, spiking=spiking, u_final=u, z_final=z, drive=d)


def trace_one(fm: FixedModel, x_int, iterations, seed, lanes=1):
    """Per-iteration trace of one input in the hardware's event-driven order.
    Returns dict(u=(T+1, K), z=(T+1, K), spiking=(T,), drive=(K,))."""
    x = check_inputs(fm, np.atleast_2d(x_int))
    if len(x) != 1:
        raise DataError("trace_one takes a single input")
    check_lanes(fm.n_latents, lanes)
    prng = PrngLanes([seed], lanes, fm.fmt.prob_bits)
    d = drive(fm, x)[0]
    u = fm.u0.copy()
    us, zs, sp = [], [], []
    for t in range(iterations + 1):
        z = sample_counts(u, prng.uniforms(fm.n_latents)[0], fm.table, fm.fmt)
        us.append(u.copy())
        zs.append(z)
        if t == iterations:
            break
        lat, n_active = lateral_event_driven(fm, z)
        sp.append(n_active)
        u = update(fm, u, d, lat)
    return dict(u=np.array(us), z=np.array(zs), spiking=np.array(sp, np.int64), drive=d)


@dataclasses.dataclass
class Divergence:
    iteration: int
    neuron: int
    field: str
    expected: int
    actual: int

    def __str__(self):
        return (f"first divergence at iteration {self.iteration}, neuron {self.neuron}: "
                f"{self.field} expected {self.expected}, got {self.actual}")


def first_divergence(expected, actual):
    """Compare two traces (dicts with 'u' and 'z' of shape (T+1, K)). Within an iteration u is
    checked before z (z is sampled from u). Returns a Divergence or None."""
    for name in ("u", "z"):
        if np.shape(expected[name]) != np.shape(actual[name]):
            return Divergence(-1, -1, f"{name} shape", np.shape(expected[name]), np.shape(actual[name]))
    eu, ez = np.asarray(expected["u"]), np.asarray(expected["z"])
    au, az = np.asarray(actual["u"]), np.asarray(actual["z"])
    for t in range(len(eu)):
        for name, e, a in (("u", eu[t], au[t]), ("z", ez[t], az[t])):
            bad = np.flatnonzero(e != a)
            if bad.size:
                i = int(bad[0])
                return Divergence(t, i, name, int(e[i]), int(a[i]))
    return None
