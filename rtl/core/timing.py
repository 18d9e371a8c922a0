"""Every timing constant of the inference core, in one pure-Python place.

The blocks take their latency attributes from here (``FeedForwardDrive.latency_tail``,
``MembraneUpdate.latency``, ``CreditFifo.latency``, ``PoissonSampler.latency``,
``PoissonSearch.slot_overhead``, ``LateralUnits.ENTRY_CYCLES``/``DRAIN_CYCLES``), the tests assert
the blocks against them in simulation, and :mod:`ipvae.rtl.core.cycle_model` derives the per-inference
terms from them. Importing this module loads no Amaranth (tests/test_layers.py checks it).
"""
from __future__ import annotations

__all__ = [
    "DRIVE_LATENCY_TAIL", "DRIVE_OUTPUT_BEAT", "MEMORY_READ", "MEMBRANE_LATENCY", "FIFO_LATENCY", "SAMPLER_LATENCY",
    "COUNT_SETTLE", "CREDIT_RETURN", "issue_credits", "PASS_OVERHEAD", "SEARCH_OVERHEAD", "DEFAULT_SEARCH",
    "PARALLEL_SAMPLER", "LATERAL_ENTRY_CYCLES", "ARRAY_DIGIT_OVERHEAD", "ARRAY_COMBINE", "READOUT_HANDOFF",
    "SPIKE_QUEUE_LATENCY", "slot_out_offset", "BROADCAST_FANOUT", "broadcast_levels", "product_levels",
    "array_latency",
    "LATERAL_DRAIN_CYCLES", "LATERAL_HANDOFF", "FEED_OVERHEAD", "FIRST_BEAT", "RESULT_HANDOFF", "UART_BYTE_BITS",
    "FEED_MARGIN",
]

# -- drive (rtl/core/drive.py) -------------------------------------------------------------------------
#: after the last issue of a slot: read, register the memory words, multiply, accumulate
DRIVE_LATENCY_TAIL = 4
#: the drive phase's last cycle: the final d word written (the cycle model's drive tail is
#: DRIVE_LATENCY_TAIL + DRIVE_OUTPUT_BEAT)
DRIVE_OUTPUT_BEAT = 1

# -- one sampling pass (rtl/core/ipvae_core.py's pipeline: u memory -> membrane -> credit FIFO -> sampler) ----
MEMORY_READ = 1          # the u / u0 memory's synchronous read
MEMBRANE_LATENCY = 2     # MembraneUpdate: (d - l, round-shift, clamp) then (u + du, clamp)
FIFO_LATENCY = 1         # CreditFifo
SAMPLER_LATENCY = 2      # the sampler's output registers (both forms)
COUNT_SETTLE = 1         # the sequencer's count of returned beats settles before the phase ends
#: cycles a pass costs beyond its sampler cycles: derived, not summed by hand
PASS_OVERHEAD = MEMORY_READ + MEMBRANE_LATENCY + FIFO_LATENCY + SAMPLER_LATENCY + COUNT_SETTLE
#: a beat the sampler takes in cycle a frees a credit the issue uses in cycle a + 1
CREDIT_RETURN = 1

# -- search sampler (rtl/core/poisson_search.py) -------------------------------------------------------
#: cycles per slot beyond max_p floor(z_p / W): accept, first word read, last compare
SEARCH_OVERHEAD = 3
#: Poisson-table thresholds the default (search) sampler reads per cycle
DEFAULT_SEARCH = 4
#: the value of ``search`` (CLI, Board, CoreConfig, cycle model alike) that selects the parallel sampler
PARALLEL_SAMPLER = 0


def issue_credits(per_cycle):
    """Credits of the sampling pass's issue (entries of its CreditFifo): the fewest that never
    starve the sampler. A credit goes round in R = MEMORY_READ + MEMBRANE_LATENCY + FIFO_LATENCY +
    CREDIT_RETURN cycles; the sampler takes a beat at most every I cycles (1 for the parallel
    sampler, SEARCH_OVERHEAD for the search), so ceil(R / I) credits keep a beat waiting for it
    whenever it is ready: the pass's cycles are the sampler's, as with a stall chain."""
    trip = MEMORY_READ + MEMBRANE_LATENCY + FIFO_LATENCY + CREDIT_RETURN
    interval = 1 if per_cycle == PARALLEL_SAMPLER else SEARCH_OVERHEAD
    return -(-trip // interval)

# -- lateral units (rtl/core/lateral.py) ---------------------------------------------------------------
LATERAL_ENTRY_CYCLES = 2   # spike-list read + lane selection per non-empty slot
LATERAL_DRAIN_CYCLES = 2   # after the last column's issue, until its write is under way
#: the write pipeline drains, then the sequencer hands back
LATERAL_HANDOFF = LATERAL_DRAIN_CYCLES + 1

# -- the array core (rtl/core/array_core.py) ----------------------------------------------------
#: a digit phase of the drive beyond its N events and its read-out: the first code's read, and the
#: hand-off from the read-out (the last group captured) to the next phase
ARRAY_DIGIT_OVERHEAD = 2
#: after the low digits' read-out: the last combined d word is written
ARRAY_COMBINE = 1
#: a read-out's first captured group is issued to the pass the cycle after its capture (a drive
#: read-out's last one hands over to the next phase the same way)
READOUT_HANDOFF = 1
#: a z word with a spike written into the spike queue in cycle a is the serialiser's from a + 2
#: (amaranth.lib.fifo.SyncFIFOBuffered)
SPIKE_QUEUE_LATENCY = 2


#: loads one register copy drives: the lateral array's broadcast tree, rtl/core/fanout.py's lanes per
#: copy (one tile register driving 32 multipliers was the ECP5-85F's worst path at P = 32)
BROADCAST_FANOUT = 8


def broadcast_levels(leaves, fanout=BROADCAST_FANOUT):
    """Registered levels of a broadcast tree reaching ``leaves`` registers (rtl/core/lateral_array.py)."""
    count, depth = 1, 1
    while count < leaves:
        count, depth = count * fanout, depth + 1
    return depth


def product_levels(count_bits):
    """Registered adder levels of a lane's product z w: one shifted copy of w per bit of z, added in pairs."""
    return max(1, (count_bits - 1).bit_length())


def array_latency(lateral_lanes, tile_lanes, count_bits):
    """The lateral array's latency: cycles after the edge that takes an event until the sums show it
    (the broadcast levels to its tiles, the address and the block RAM's read, the tile's output
    register, the weight register beside the lane, the product's adder levels, the accumulator)."""
    return broadcast_levels(-(-lateral_lanes // tile_lanes)) + 4 + product_levels(count_bits)


def slot_out_offset(per_cycle):
    """Cycles from a pass's first issue to its first slot's sampler output, less that slot's
    sampler cycles: the pass overhead less the count's settling and the hand-off (and, for the
    search sampler, the one cycle its first slot overlaps the issue)."""
    return PASS_OVERHEAD - COUNT_SETTLE - 1 - (0 if per_cycle == PARALLEL_SAMPLER else 1)


# -- host link (rtl/link/request_executor.py, rtl/link/uart.py) ---------------------------------------------
#: an INFER's feeding beyond its N codes: the wait state that sees the core free, the first read
FEED_OVERHEAD = 2
#: from the end of the core's count to its first output beat
FIRST_BEAT = 2
#: after the core's last output beat went into the result buffer: the core back to taking input,
#: then the executor's running flag clears (rtl/link/request_executor.py)
RESULT_HANDOFF = 2
#: 8N1: start, 8 data bits, stop
UART_BYTE_BITS = 10
#: cycles beyond N the link allows for feeding a waiting INFER once the previous RESULT is out:
#: FEED_OVERHEAD and the core's return to taking input, with room to spare (rtl/link/board_link.py)
FEED_MARGIN = 16
