"""Bit widths, in one place (the hardware's address, index and counter signals all use these)."""
from __future__ import annotations

__all__ = ["index_bits", "value_bits"]


def index_bits(n: int) -> int:
    """Bits of an index into n items (0 .. n-1), at least 1."""
    return max((int(n) - 1).bit_length(), 1)


def value_bits(v: int) -> int:
    """Bits of an unsigned value 0 .. v, at least 1."""
    return max(int(v).bit_length(), 1)
