"""Analytical cycle model of the inference core (rtl/core.py): one function, used by the tests,
the latency docs and the reports.

Cycles are counted from the first DRIVE cycle (the cycle after the last input beat) to the first
cycle of the output phase; trace streaming is not counted (the core's ``cycles`` counter pauses).

    cycles = S N + 4                               drive: one multiply-accumulate per lane and cycle
           + (T + 1) (S + 5)                       T update passes and the output sampling pass
           + sum_{t: n_t > 0} [ 1 + 2 e_t + n_t S ]  event-driven lateral phases, t = 0 .. T-1

with S = K / P slots, n_t the number of neurons that spiked in pass t and e_t the number of slots
(P-neuron words) of pass t that hold at least one spike. The lower bound set by the lanes is
N K/P + sum_t (n_t + 1) K/P.
"""
from __future__ import annotations

import numpy as np

DRIVE_TAIL = 4       # FeedForwardDrive: read, multiply, accumulate, output register
PASS_DRAIN = 5       # memory read + MembraneUpdate (1) + PoissonSampler (2) + 1 to settle the spike count
ENTRY_OVERHEAD = 2   # spike-list read + lane selection per non-empty slot
LATERAL_HANDOFF = 1  # the sequencer sees the lateral units idle one cycle after their last column


def slot_stats(z, lanes):
    """(n_t, e_t) of one pass: spiking neurons and non-empty P-neuron slots."""
    z = np.asarray(z).reshape(-1, lanes)
    return int(np.count_nonzero(z)), int(np.count_nonzero((z != 0).any(axis=1)))


def cycles(n_inputs, n_latents, lanes, iterations, spikes):
    """Exact cycles per inference. spikes: the driving samples z_t (iterations x K), e.g. the
    golden model's trace['z'][:iterations]."""
    s = n_latents // lanes
    total = s * n_inputs + DRIVE_TAIL + (iterations + 1) * (s + PASS_DRAIN)
    for t in range(iterations):
        n, e = slot_stats(spikes[t], lanes)
        if n:
            total += LATERAL_HANDOFF + ENTRY_OVERHEAD * e + n * s
    return total


def bound(n_inputs, n_latents, lanes, iterations, spikes):
    """The lane-limited lower bound N K/P + sum_t (n_t + 1) K/P."""
    s = n_latents // lanes
    return s * n_inputs + sum((slot_stats(spikes[t], lanes)[0] + 1) * s for t in range(iterations))
