"""Lowest-set-bit priority encoder as a balanced tree: log2(n) multiplexer levels, where the
obvious chain of ``Mux(bits[p], p, ...)`` is n levels deep (64 on the ECP5 build's lanes).

``lowest_set(bits)`` returns ``(any, index)``: ``any`` is high when some bit is set and ``index``
(ceil(log2 n) bits, at least 1) is the position of the lowest set bit; ``index`` is unspecified
when no bit is set. Purely combinational: latency 0, depth ceil(log2 n) two-input selects.
"""
from amaranth import Cat, Const, Mux, Value

from .bits import index_bits  # noqa: F401  (re-exported: lowest_set's index width)

__all__ = ["lowest_set"]


def lowest_set(bits: Value):
    n = len(bits)
    if n == 0:
        raise ValueError("lowest_set needs at least one bit")
    if n == 1:
        return bits[0], Const(0, 1)
    half = 1 << ((n - 1).bit_length() - 1)          # largest power of two below n
    lo_any, lo_idx = lowest_set(bits[:half])
    hi_any, hi_idx = lowest_set(bits[half:])
    w = (half - 1).bit_length()                       # bits of an index below half
    pick = Mux(lo_any, lo_idx[:w] if w else Const(0, 1), hi_idx[:w] if w else Const(0, 1))
    index = Cat(pick[:w], ~lo_any) if w else (~lo_any)[:1]
    return lo_any | hi_any, index
