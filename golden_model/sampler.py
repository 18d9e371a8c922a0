"""The hardware spike sampler: xorshift32 PRNG lanes and an inverse-CDF Poisson table.

PRNG. Lane l (0 <= l < P) holds a 32-bit state, initialised from the run-time seed as
``s = seed ^ C_l`` with ``C_l = (0x9E3779B9 * (l + 1)) mod 2^32`` (if that is 0, ``s = C_l``).
Each draw first steps the state with Marsaglia's xorshift32 (13, 17, 5) and then returns its
top ``prob_bits`` bits as the uniform U. Neuron i is sampled by lane i mod P, as that lane's
(i div P)-th draw of the iteration; every lane draws once per neuron per sampling pass, spike
or not, so the streams never depend on the data.

Table. Row r (0 <= r < R, R = (table_top + 8) 2^sampler_frac) stands for u in
[-8 + r 2^-sf, -8 + (r+1) 2^-sf) and its rate lambda_r = exp(-8 + (r + 1/2) 2^-sf). Entry
G[r][k] = min(round(2^pb P(Z > k | lambda_r)), 2^pb - 1) for k = 0 .. count_max - 1.
A membrane code u maps to row r = min((u >> (u_frac - sf)) + (8 << sf), R - 1); the count is
z = #{k : U < G[r][k]}. G is non-increasing in k, so z is also the first k with U >= G[r][k]
(or count_max): a sequential search and a parallel compare give the same z.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import poisson

from .errors import ParameterError
from .formats import U_MIN, Formats

GOLDEN = 0x9E3779B9
MASK32 = 0xFFFFFFFF


def lane_seeds(seed, lanes):
    """Initial xorshift32 states of the P lanes for a run-time seed."""
    seed = int(seed)
    if not 0 <= seed <= MASK32:
        raise ParameterError(f"seed must be a 32-bit unsigned integer, got {seed}")
    c = (GOLDEN * (np.arange(lanes, dtype=np.uint64) + 1)) & MASK32
    s = np.uint64(seed) ^ c
    return np.where(s == 0, c, s).astype(np.uint32)


def xorshift32(state):
    """One xorshift32 (13, 17, 5) step on a uint32 array."""
    s = state.astype(np.uint32)
    s ^= s << np.uint32(13)
    s ^= s >> np.uint32(17)
    s ^= s << np.uint32(5)
    return s


class PrngLanes:
    """P xorshift32 lanes per sample, for a batch of samples with their own seeds."""

    def __init__(self, seeds, lanes, prob_bits):
        self.lanes, self.prob_bits = lanes, prob_bits
        self.state = np.stack([lane_seeds(s, lanes) for s in np.atleast_1d(seeds)])  # (B, P)

    def uniforms(self, n_latents):
        """One sampling pass: U (B, K), neuron i from lane i mod P, draw i div P."""
        steps = n_latents // self.lanes
        out = np.empty((self.state.shape[0], steps, self.lanes), np.int64)
        for j in range(steps):
            self.state = xorshift32(self.state)
            out[:, j, :] = self.state >> np.uint32(32 - self.prob_bits)
        return out.reshape(self.state.shape[0], n_latents)


def poisson_table(fmt: Formats):
    """The (R, count_max) threshold table G as int64."""
    rows = np.arange(fmt.table_rows)
    rates = np.exp(U_MIN + (rows + 0.5) / (1 << fmt.sampler_frac))
    k = np.arange(fmt.count_max)
    tail = poisson.sf(k[None, :], rates[:, None])          # P(Z > k)
    g = np.floor(tail * (1 << fmt.prob_bits) + 0.5).astype(np.int64)
    return np.minimum(g, (1 << fmt.prob_bits) - 1)


def table_rates(fmt: Formats):
    rows = np.arange(fmt.table_rows)
    return np.exp(U_MIN + (rows + 0.5) / (1 << fmt.sampler_frac))


def table_row(u, fmt: Formats):
    """Table row of membrane codes u (any shape)."""
    r = (np.asarray(u, np.int64) >> np.int64(fmt.u_frac - fmt.sampler_frac)) + (8 << fmt.sampler_frac)
    return np.minimum(r, fmt.table_rows - 1)


def sample_counts(u, uniforms, table, fmt: Formats):
    """z = #{k : U < G[row(u)][k]} for membrane codes u and uniforms of the same shape."""
    g = table[table_row(u, fmt)]                            # (..., count_max)
    return (np.asarray(uniforms)[..., None] < g).sum(-1).astype(np.int64)


def check_table(table, fmt: Formats):
    """Raise ParameterError unless ``table`` is a valid threshold table for ``fmt``."""
    table = np.asarray(table)
    if table.shape != (fmt.table_rows, fmt.count_max):
        raise ParameterError(f"Poisson table has shape {table.shape}, formats need "
                             f"{(fmt.table_rows, fmt.count_max)}")
    if table.min() < 0 or table.max() >= (1 << fmt.prob_bits):
        raise ParameterError(f"Poisson table values must lie in 0..2^{fmt.prob_bits}-1")
    if np.any(np.diff(table, axis=1) > 0):
        raise ParameterError("Poisson table rows must be non-increasing in k")
