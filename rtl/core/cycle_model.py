"""Analytical cycle model of the inference core (rtl/core/ipvae_core.py): one function, used by the tests,
the latency docs and the reports.

Cycles are counted from the first cycle after the last input beat to the first cycle of the
output phase; trace streaming is not counted (the core's ``cycles`` counter pauses).

    cycles = S N + 5                                   drive: one multiply-accumulate per lane and cycle
           + sum_{t=0..T} [ sum_s C_{t,s} + 7 ]        T update passes and the output sampling pass
           + sum_{t<T, n_t>0} [ 3 + 2 e_t + n_t S ]    event-driven lateral phases

with S = K / P slots, n_t the neurons that spiked in pass t, e_t the slots (P-neuron words) of
pass t holding at least one spike, and C_{t,s} the cycles the sampler spends on slot s of pass t:
1 for the parallel sampler; for the search sampler reading W thresholds per cycle,
max_p floor(z_p / W) + 3 (the compares until every lane has missed, the first word's read, and
the cycle that hands the next slot in), one less in total per pass (the last slot hands nothing in). The lower
bound set by the lanes is N K/P + sum_{t<T} (n_t + 1) K/P.
"""
from __future__ import annotations

import numpy as np

# every constant comes from rtl/core/timing.py, which the blocks read too (pure Python: no Amaranth here);
# it is named there, by one import path (timing.X), never re-exported from here
from . import timing

__all__ = ["cycles", "worst_case", "iteration_cycles", "sampler_cycles", "slot_stats", "bound", "link_cycles",
           "DRIVE_TAIL", "array_latency", "array_cycles", "array_floor", "core_cycles"]

#: the drive phase's cycles beyond S N: the block's latency tail and its output beat
DRIVE_TAIL = timing.DRIVE_LATENCY_TAIL + timing.DRIVE_OUTPUT_BEAT


def slot_stats(z, lanes):
    """(n_t, e_t) of one pass: spiking neurons and non-empty P-neuron slots."""
    z = np.asarray(z).reshape(-1, lanes)
    return int(np.count_nonzero(z)), int(np.count_nonzero((z != 0).any(axis=1)))


def sampler_cycles(z, lanes, per_cycle):
    """sum_s C_s of one pass with counts z (K,); per_cycle=PARALLEL_SAMPLER (0): the parallel sampler."""
    z = np.asarray(z).reshape(-1, lanes)
    if per_cycle == timing.PARALLEL_SAMPLER:
        return len(z)
    return int((z.max(axis=1) // per_cycle + timing.SEARCH_OVERHEAD).sum()) - 1


def iteration_cycles(n_latents, lanes, iterations, z_passes, per_cycle=timing.DEFAULT_SEARCH):
    """Cycles of each sampling pass t = 0 .. T together with the lateral phase that follows it
    (none after the last pass): the terms of the sum in ``cycles``."""
    s = n_latents // lanes
    out = []
    for t in range(iterations + 1):
        c = sampler_cycles(z_passes[t], lanes, per_cycle) + timing.PASS_OVERHEAD
        if t < iterations:
            n, e = slot_stats(z_passes[t], lanes)
            if n:
                c += timing.LATERAL_HANDOFF + timing.LATERAL_ENTRY_CYCLES * e + n * s
        out.append(c)
    return out


def cycles(n_inputs, n_latents, lanes, iterations, z_passes, per_cycle=timing.DEFAULT_SEARCH):
    """Exact cycles per inference. z_passes: the counts of every sampling pass t = 0 .. T
    ((T+1) x K, e.g. the golden model's trace['z']). per_cycle: thresholds the search sampler
    reads per cycle, or None for the parallel sampler."""
    s = n_latents // lanes
    return s * n_inputs + DRIVE_TAIL + sum(iteration_cycles(n_latents, lanes, iterations, z_passes, per_cycle))


def worst_case(config, iterations):
    """The most cycles an inference of the core ``config`` (a CoreConfig) builds can take: every
    neuron spikes at the count cap in every pass."""
    z = np.full((iterations + 1, config.fixed.n_latents), config.fixed.fmt.count_max)
    return core_cycles(config, iterations, z)


def bound(n_inputs, n_latents, lanes, iterations, z_passes):
    """The lane-limited lower bound N K/P + sum_{t<T} (n_t + 1) K/P."""
    s = n_latents // lanes
    return s * n_inputs + sum((slot_stats(z_passes[t], lanes)[0] + 1) * s for t in range(iterations))


def link_cycles(n_inputs, request_bytes, reply_bytes, compute_cycles, divisor, slots):
    """Steady-state cycles per inference through the UART host link with pipelined, counts-only
    INFER (docs/uart_protocol.md): the next request arrives while the core computes; the core
    hands its K/P output beats to the result buffer (rtl/link/result_buffer.py) and takes the waiting
    request's codes while the reply drains, so the slowest of three paces the stream:

        period = max(feed + compute + first beat + K/P + handoff, reply, request)

    with feed N + 2, handoff ``timing.RESULT_HANDOFF`` (the core's return to taking input, seen by the
    executor), and reply and request their bytes times 10 bit times of ``divisor`` cycles.
    A model of the link's pace (the byte gaps of the UART are not modelled); the board
    co-simulation measures it."""
    byte = timing.UART_BYTE_BITS * divisor
    inner = n_inputs + timing.FEED_OVERHEAD + compute_cycles + timing.FIRST_BEAT + slots + timing.RESULT_HANDOFF
    return max(inner, reply_bytes * byte, request_bytes * byte)


def core_cycles(config, iterations, z_passes):
    """Exact cycles of the core a CoreConfig builds: the array core's (``lateral_lanes`` > 0) or the
    fused-lane core's."""
    if config.lateral_lanes:
        return array_cycles(config, iterations, z_passes)
    return cycles(config.fixed.n_inputs, config.fixed.n_latents, config.lanes, iterations, z_passes, config.search)


# -- the array core (rtl/core/array_core.py) ------------------------------------------------------

def array_latency(config):
    """The lateral array's latency (``timing.array_latency``) for a configuration."""
    return timing.array_latency(config.lateral_lanes, config.tile_lanes, config.fixed.fmt.count_bits)


def _slot_cycles(z, lanes, per_cycle):
    """Each slot's sampler cycles C_s of one pass (1 for the parallel sampler)."""
    z = np.asarray(z).reshape(-1, lanes)
    if per_cycle == timing.PARALLEL_SAMPLER:
        return np.ones(len(z), np.int64)
    return z.max(axis=1) // per_cycle + timing.SEARCH_OVERHEAD


def array_cycles(config, iterations, z_passes):
    """Exact compute cycles of the array core (rtl/core/array_core.py) for the counts z_passes
    ((T+1) x K) of its S = ``config.lanes`` sampler lanes, from the cycle after the last input beat
    to the output phase. A small event model of its sequencer, every term a named constant:

    - drive: two digit phases, each N events of n P_d cycles (n = K/L words a column, P_d =
      drive_parts), a read-out of G = K/S groups and ``ARRAY_DIGIT_OVERHEAD``; then ``ARRAY_COMBINE``;
    - pass t: a read-out of l when pass t-1 spiked, overlapping the pass (its first shift waits until
      the array has taken the last spike's n words, and its G shifts, one a cycle, hold the pass's
      spikes back; the pass issues slot s once group s is captured: its first issue the array's latency
      and ``READOUT_HANDOFF`` after the first shift); the sampling pass, slot s's z at p +
      ``slot_out_offset`` + C_0 + ... + C_s (C_s as the old core's sampler cycles); each slot with
      spikes enters the spike queue and leaves one spike every n cycles, a slot's first
      ``SPIKE_QUEUE_LATENCY`` + 1 after its z, not before the slot before it is out, and the pass's
      first spike not before the read-out's last shift is out; the pass ends a cycle after its last z
      and its last spike (the output pass: after its last z).
    """
    fx = config.fixed
    N, K, S = fx.n_inputs, fx.n_latents, config.lanes
    G, n, parts = K // S, K // config.lateral_lanes, config.drive_parts
    lat = array_latency(config)
    c = 2 * (timing.ARRAY_DIGIT_OVERHEAD + N * n * parts + G + lat) + timing.ARRAY_COMBINE
    offset = timing.slot_out_offset(config.search)
    spiked, last_send = False, None
    exit_ = c - 1
    for t in range(iterations + 1):
        z = np.asarray(z_passes[t]).reshape(-1, S)
        shifts_end = None                        # the first cycle after the read-out's G shifts
        if spiked:
            start = c + (0 if config.trace else max(0, last_send + n - c))
            shifts_end = start + G
            c = start + lat + timing.READOUT_HANDOFF
        out = c + offset + np.cumsum(_slot_cycles(z, S, config.search))
        spiked, last_send = False, shifts_end
        end = int(out[-1])
        if t < iterations:
            for s in range(G):
                m_s = int(np.count_nonzero(z[s]))
                if not m_s:
                    continue
                load = int(out[s]) + timing.SPIKE_QUEUE_LATENCY
                if spiked:                       # behind the slot before it
                    load = max(load, last_send)
                    send = max(load + 1, last_send + n)
                else:                            # the pass's first spike, after the read-out's shifts
                    send = load + 1 if last_send is None else max(load + 1, last_send)
                last_send = send + (m_s - 1) * n
                spiked = True
            if spiked:
                end = max(end, last_send)
        exit_ = end + 1
        c = exit_ + 1
    return exit_ + 1


def array_floor(n_inputs, n_latents, lateral_lanes, iterations, z_passes, drive_parts):
    """The array core's floor: its lanes' work at one column a cycle, the drive's 2 N columns of
    drive_parts words and every spike's K/L words, sum_{t<T} n_t K/L + 2 N K/L drive_parts."""
    n = n_latents // lateral_lanes
    return sum(int(np.count_nonzero(z_passes[t])) * n for t in range(iterations)) + 2 * n_inputs * n * drive_parts
