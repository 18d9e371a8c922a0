"""The integer golden model compiled with Numba: the CPU anchor that does exactly what the hardware
does (docs/arithmetic.md: the drive, the xorshift32 lanes, the Poisson threshold table, the
event-driven lateral sums, both clamps), bit-exact with ``golden_model.golden.run``.

It is the strongest CPU row of ``ipvae bench`` beside the float loops: integer arithmetic, a table
sampler instead of ``np.random.poisson``, and only the spiking neurons' columns of W touched.
"""
from __future__ import annotations

import numpy as np

from ipvae.golden_model.golden import FixedModel, check_inputs, check_lanes
from ipvae.golden_model.sampler import GOLDEN, MASK32

__all__ = ["compiled_golden", "CompiledGolden"]


def _kernel():
    import numba

    @numba.njit(cache=False, nogil=True)
    def infer(F, WT, c, u0, table, x, iterations, seed, lanes, drive_shift, delta_shift, u_lo, u_hi, row_shift,
              row_offset, rows, count_max, prob_shift, golden):
        K, N = F.shape
        # drive: d = shift_round(F x, drive_shift) - c
        d = np.empty(K, np.int64)
        for i in range(K):
            acc = np.int64(0)
            for n in range(N):
                acc += F[i, n] * x[n]
            if drive_shift > 0:
                acc = (acc + (np.int64(1) << (drive_shift - 1))) >> drive_shift
            else:
                acc = acc << (-drive_shift)
            d[i] = acc - c[i]
        # the PRNG lanes
        state = np.empty(lanes, np.uint32)
        for p in range(lanes):
            cp = np.uint32((golden * (p + 1)) & 0xFFFFFFFF)
            s = np.uint32(seed) ^ cp
            state[p] = cp if s == 0 else s
        u = u0.copy()
        z = np.zeros(K, np.int64)
        lat = np.zeros(K, np.int64)
        for t in range(iterations + 1):
            # sampling pass: neuron i from lane i mod P, that lane's (i div P)-th draw
            for i in range(K):
                p = i % lanes
                s = state[p]
                s ^= np.uint32(s << np.uint32(13))
                s ^= np.uint32(s >> np.uint32(17))
                s ^= np.uint32(s << np.uint32(5))
                state[p] = s
                U = np.int64(s >> np.uint32(prob_shift))
                r = (u[i] >> row_shift) + row_offset
                if r > rows - 1:
                    r = rows - 1
                k = 0
                while k < count_max and U < table[r, k]:
                    k += 1
                z[i] = k
            if t == iterations:
                break
            # lateral, event-driven: only the spiking neurons' rows of W^T
            for i in range(K):
                lat[i] = 0
            for j in range(K):
                zj = z[j]
                if zj:
                    for i in range(K):
                        lat[i] += zj * WT[j, i]
            for i in range(K):
                v = d[i] - lat[i]
                if delta_shift > 0:
                    v = (v + (np.int64(1) << (delta_shift - 1))) >> delta_shift
                else:
                    v = v << (-delta_shift)
                v = min(max(v, u_lo), u_hi)
                u[i] = min(max(u[i] + v, u_lo), u_hi)
        return z, u

    return infer


class CompiledGolden:
    """``infer(x_codes, iterations, seed)`` -> (z, u) of one input, compiled; the same results as
    ``golden.run(fixed, x[None], iterations, [seed], lanes=lanes)``'s ``z_final`` and ``u_final``."""

    def __init__(self, fixed: FixedModel, lanes: int = 1):
        check_lanes(fixed.n_latents, lanes)
        self.fixed, self.lanes = fixed, lanes
        fmt = fixed.fmt
        self._args = (np.ascontiguousarray(fixed.F, np.int64), np.ascontiguousarray(fixed.W.T, np.int64),
                      fixed.c.astype(np.int64), fixed.u0.astype(np.int64), np.ascontiguousarray(fixed.table, np.int64))
        self._consts = (lanes, fixed.drive_shift, fixed.delta_shift, fmt.u_lo, fmt.u_hi,
                        fmt.u_frac - fmt.sampler_frac, 8 << fmt.sampler_frac, fmt.table_rows, fmt.count_max,
                        32 - fmt.prob_bits, GOLDEN)
        self._infer = _kernel()

    def infer(self, x_codes, iterations: int, seed: int):
        x = check_inputs(self.fixed, np.atleast_2d(x_codes))[0]
        if not 0 <= int(seed) <= MASK32:
            raise ValueError(f"seed must be a 32-bit unsigned integer, got {seed}")
        F, WT, c, u0, table = self._args
        return self._infer(F, WT, c, u0, table, x, int(iterations), int(seed), *self._consts)


def compiled_golden(fixed: FixedModel, lanes: int = 1) -> CompiledGolden:
    """A compiled golden model of ``fixed`` sampling with ``lanes`` PRNG lanes (the first call of
    ``infer`` compiles it)."""
    return CompiledGolden(fixed, lanes)
