"""Fixed-point formats: the one definition of every width that the golden model, the RTL and
docs/arithmetic.md follow.

Integer helpers here (``shift_round``, ``saturate``, ``signed_bits``) are the only rounding and
saturation operations the run-time arithmetic uses.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .errors import ParameterError, check_finite

U_MIN = -8          # lower clamp of u and du (real units)
U_MAX = 10          # upper clamp of u and du (real units; hard min replaces the soft clamp)
U_INT_BITS = 5      # sign + 4 integer bits: u in [-16, 16) holds [-8, 10]


@dataclasses.dataclass(frozen=True)
class Formats:
    """Widths chosen by the quantisation study (docs/quantisation.md)."""
    weight_bits: int = 8      # signed entries of F (feed-forward) and W (lateral)
    u_bits: int = 16          # signed membrane potential; fraction bits = u_bits - 5
    input_bits: int = 8       # signed input samples
    input_int_bits: int = 4   # of which integer bits incl. sign: x in [-8, 8) by default
    count_bits: int = 4       # spike counts z in [0, 2^count_bits - 1]
    prob_bits: int = 12       # uniform random numbers and Poisson table thresholds
    sampler_frac: int = 2     # u resolution of the Poisson table index: 2^-sampler_frac
    table_top: int = 4        # the table covers u in [-8, table_top); above it, the last row

    def __post_init__(self):
        def need(cond, msg):
            if not cond:
                raise ParameterError(msg)
        need(2 <= self.weight_bits <= 18, f"weight_bits must be in 2..18 (DSP operand width), got {self.weight_bits}")
        need(U_INT_BITS + 4 <= self.u_bits <= 32, f"u_bits must be in {U_INT_BITS + 4}..32, got {self.u_bits}")
        need(2 <= self.input_bits <= 18, f"input_bits must be in 2..18, got {self.input_bits}")
        need(1 <= self.input_int_bits <= self.input_bits,
             f"input_int_bits must be in 1..input_bits ({self.input_bits}), got {self.input_int_bits}")
        need(1 <= self.count_bits <= 8, f"count_bits must be in 1..8, got {self.count_bits}")
        need(8 <= self.prob_bits <= 24, f"prob_bits must be in 8..24, got {self.prob_bits}")
        need(0 <= self.sampler_frac <= self.u_frac,
             f"sampler_frac must be in 0..u_frac ({self.u_frac}), got {self.sampler_frac}")
        need(U_MIN < self.table_top <= U_MAX, f"table_top must be in -7..{U_MAX}, got {self.table_top}")

    # -- derived -------------------------------------------------------------------------------
    @property
    def u_frac(self):
        return self.u_bits - U_INT_BITS

    @property
    def input_frac(self):
        return self.input_bits - self.input_int_bits

    @property
    def count_max(self):
        return (1 << self.count_bits) - 1

    @property
    def u_lo(self):
        """Lower clamp of u and du as an integer code."""
        return U_MIN << self.u_frac

    @property
    def u_hi(self):
        """Upper clamp of u and du as an integer code."""
        return U_MAX << self.u_frac

    @property
    def table_rows(self):
        return (self.table_top - U_MIN) << self.sampler_frac

    def replace(self, **kw):
        return dataclasses.replace(self, **kw)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ParameterError(f"unknown format fields: {', '.join(sorted(unknown))}")
        return cls(**d)


def shift_round(v, s):
    """Scale an integer by 2^-s. s > 0: round half up, (v + 2^(s-1)) >> s (arithmetic shift);
    s <= 0: exact left shift by -s."""
    v = np.asarray(v, dtype=np.int64)
    if s > 0:
        return (v + (np.int64(1) << np.int64(s - 1))) >> np.int64(s)
    return v << np.int64(-s)


def saturate(v, lo, hi):
    return np.clip(np.asarray(v, dtype=np.int64), lo, hi)


def signed_bits(lo, hi):
    """Fewest bits of a two's-complement signed integer that holds every value in [lo, hi]."""
    n = 1
    while not (-(1 << (n - 1)) <= lo and hi <= (1 << (n - 1)) - 1):
        n += 1
    return n


def round_half_away(x):
    """Offline rounding of float tensors into integer codes (not used at run time)."""
    x = np.asarray(x, np.float64)
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


def encode_input(x, fmt: Formats):
    """Float inputs -> signed input codes: round half away from zero, saturate to input_bits.

    Returns (codes, clipped_fraction). Saturation is the host's ADC-like step; the golden model
    itself rejects codes out of range."""
    check_finite("input", x)
    lo, hi = -(1 << (fmt.input_bits - 1)), (1 << (fmt.input_bits - 1)) - 1
    codes = round_half_away(np.asarray(x, np.float64) * (1 << fmt.input_frac))
    clipped = float(np.mean((codes < lo) | (codes > hi)))
    return np.clip(codes, lo, hi), clipped
