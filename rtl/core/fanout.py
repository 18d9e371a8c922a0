"""Register copies of a value that every lane reads (the drive's x, the lateral phase's z_j).

One register feeding P multipliers spread over the chip is a routing path across the chip in one
cycle (the ECP5-85F's critical path at P = 32: z_j to the 32 lateral multipliers, 12.7 of
17.1 ns routing). ``lane_copies`` gives one register per group of ``LANES_PER_COPY`` lanes, all
loaded with the same value in the same cycle, so the timing and the arithmetic are unchanged;
each copy then drives only its group, which the placer can keep together.

Synthesis would merge identical registers back into one, so the copies carry the ``keep``
attribute and the Yosys flow marks the cells that drive such signals ``keep``
(``YOSYS_KEEP_COPIES``, run after reading the design: ``ipvae synth``). Other tools need their own
"do not merge equivalent registers" for these names (``*_copy*``).
"""
from __future__ import annotations

from amaranth import Signal

from .timing import BROADCAST_FANOUT

__all__ = ["LANES_PER_COPY", "YOSYS_KEEP_COPIES", "lane_copies", "copy_of"]

#: lanes one register copy drives (the one definition: timing.BROADCAST_FANOUT)
LANES_PER_COPY = BROADCAST_FANOUT

#: Yosys commands after reading the design: the cells driving a ``keep`` signal are kept (not merged)
#: (the copies are flip-flop cells driving the signal directly, so no ``proc`` is needed; a design
#: without such signals selects nothing and synthesises exactly as without this line)
YOSYS_KEEP_COPIES = "setattr -set keep 1 w:* a:keep %i %ci1 c:* %i"


def lane_copies(name: str, shape, lanes: int) -> list[Signal]:
    """ceil(lanes / LANES_PER_COPY) registers of ``shape``; the caller loads every one with the value.
    A single copy carries no ``keep`` (nothing to merge; Yosys may still pack it into a DSP's
    input register, as on the iCE40)."""
    n = -(-lanes // LANES_PER_COPY)
    return [Signal(shape, name=f"{name}_copy{g}", attrs={"keep": 1} if n > 1 else {}) for g in range(n)]


def copy_of(copies: list[Signal], lane: int) -> Signal:
    """The copy lane ``lane`` reads."""
    return copies[lane // LANES_PER_COPY]
