"""Word layouts shared by the golden model, the RTL, the co-simulation and the host tools.

One place for how numbers sit in hardware words and how per-inference seeds are numbered, so that
no layer has to import another layer to agree on them:

- :func:`pack` / :func:`unpack`: P lane values in one word, lane p in bits ``p*width ..``, two's
  complement (docs/arithmetic.md, "Lanes").
- :func:`weight_words`: F and W in the order the core stores them and the host link's LOAD frames
  carry them.
- :func:`seeds_for`: the sampler seed of the i-th inference of a run (evaluation, latency,
  synthesis reports and co-simulation stimuli all use it).
"""
from __future__ import annotations

import numpy as np

__all__ = ["pack", "unpack", "weight_words", "seeds_for", "SEED_STRIDE"]

#: seeds of consecutive inferences: (seed * SEED_STRIDE + i) mod 2^32
SEED_STRIDE = 1_000_003


def pack(values, width):
    """Pack integers (two's complement, ``width`` bits each) into one word, element 0 lowest."""
    word, mask = 0, (1 << width) - 1
    for k, v in enumerate(values):
        word |= (int(v) & mask) << (k * width)
    return word


def unpack(word, n, width, signed):
    """The n fields of ``word`` (inverse of :func:`pack`), as an int64 array."""
    out = np.empty(n, np.int64)
    mask = (1 << width) - 1
    word = int(word)
    for k in range(n):
        v = (word >> (k * width)) & mask
        out[k] = v - (1 << width) if signed and v >> (width - 1) else v
    return out


def weight_words(fixed, lanes: int):
    """The words of F and W as the core stores them, lane p in bits p*weight_bits:
    F word s N + n = F[sP+p, n]; W word j K/P + s = W[sP+p, j]. Used for the ROM contents
    and by the host link's LOAD frames."""
    P, K, N, wb = lanes, fixed.n_latents, fixed.n_inputs, fixed.fmt.weight_bits
    S = K // P
    f = [pack([fixed.F[s * P + p, n] for p in range(P)], wb) for s in range(S) for n in range(N)]
    w = [pack([fixed.W[s * P + p, j] for p in range(P)], wb) for j in range(K) for s in range(S)]
    return f, w


def seeds_for(seed: int, count: int, offset: int = 0):
    """Sampler seeds of inferences offset .. offset+count-1 of a run started with ``seed``."""
    return (int(seed) * SEED_STRIDE + offset + np.arange(count, dtype=np.int64)) % (1 << 32)
