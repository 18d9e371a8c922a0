"""A neuron-parallel lateral engine: W read a whole column per spike, one accumulator per neuron."""
from __future__ import annotations

import numpy as np
from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model.errors import ParameterError
from ipvae.golden_model.formats import signed_bits
from ipvae.golden_model.golden import FixedModel

from .bits import index_bits
from .timing import BROADCAST_FANOUT, array_latency, broadcast_levels, product_levels

__all__ = ["LateralArray", "broadcast", "spike_event_layout"]

#: lanes that share one register copy of a tile's digit and steering event
LANE_GROUP = 4


def spike_event_layout(fmt, n_latents, n_inputs=1):
    """One event: a spiking neuron j with its count z_j > 0 (``drive`` = 0), or an input n = j with a
    4-bit digit z of its code (``drive`` = 1: the column of F); ``first`` opens a phase."""
    return data.StructLayout({"j": unsigned(index_bits(max(n_latents, n_inputs))), "z": unsigned(fmt.count_bits),
                              "first": unsigned(1), "drive": unsigned(1)})


def broadcast(m, name, value, leaves, fanout=BROADCAST_FANOUT):
    """A registered tree copying ``value`` to ``leaves`` registers, each register driving at most
    ``fanout`` others: returns (leaf registers, levels), the leaves ``levels`` cycles behind
    ``value``. Every copy carries ``keep`` so synthesis does not merge the copies back into one net
    spanning the chip (rtl/core/fanout.py)."""
    level, depth = [value], 0
    while True:
        count = min(leaves, len(level) * fanout) if depth else 1
        nxt = [Signal.like(value, name=f"{name}_l{depth}_copy{i}", attrs={"keep": 1}) for i in range(count)]
        m.d.sync += [s.eq(level[i * len(level) // count]) for i, s in enumerate(nxt)]
        level, depth = nxt, depth + 1
        if count >= leaves:
            return level, depth


class LateralArray(wiring.Component):
    """Lateral accumulation l = sum_j z_j W[:, j], one spike per cycle (docs/arithmetic.md §4, 3b).

    L lanes each own ``K / L`` neurons (``per_lane``); neuron ``i`` lives in lane ``i mod L`` as its
    ``i div L``-th accumulator. W is stored once, column-major at full read width: word
    ``j per_lane + h`` holds ``W[h L + p, j]`` in lane p's bits, split into tiles of ``tile_lanes``
    lanes, each tile its own memory (so its block RAMs, address copy and lanes can be placed
    together; with 8-bit weights a 36-lane tile is eight 512 x 36 block RAMs on the ECP5).
    W = W^T in the shipped bundles, but the column is read as a column: any W is right.

    With ``drive_parts`` > 0 each tile also holds its lanes' rows of F, a column of F in
    ``drive_parts`` words (the ECP5-85F's block RAM holds F at half W's read width): an event with
    ``drive`` = 1 adds ``z F[:, j]`` for input j and a 4-bit digit z of its code, so the
    feed-forward drive runs on the same lanes, one digit of each code per event.

    Members
    -------
    spikes : In(stream.Signature(spike_event_layout))
        One event per beat: a spiking neuron (j, z_j), or with ``drive`` = 1 an input j and a digit
        z (ignored, read as 0, when ``drive_parts`` is 0); ``first`` marks the first event of a
        phase (its products overwrite the sums instead of adding). A W event takes ``per_lane``
        cycles, a drive event ``per_lane drive_parts``; the next beat is taken in the last one.
    head : Out(unsigned(gather_lanes * lateral_bits))
        The sums of neurons 0 .. gather_lanes - 1 (neuron k in bits k lateral_bits and up), straight
        from their registers.
    shift : In(1); shift_ready : Out(1)
        A cycle with ``shift`` and ``shift_ready`` high issues a rotation of the sums by
        ``gather_lanes`` neurons (neuron i takes neuron i + gather_lanes's sum, modulo K). It
        travels down the same registered tree as the spikes, behind the spikes issued before it,
        and reaches the sums ``latency`` cycles later; K / gather_lanes shifts read every sum in
        index order through ``head`` and leave them where they were. No mux gathers the sums: each
        register takes its neighbour's, a wire to the lane ``gather_lanes`` further on, and no
        global enable reaches the lanes. ``spikes.ready`` is low in a cycle with ``shift`` high.
    busy : Out(1)
        A spike is still on its way to the accumulators.

    Reset: only what says an event is there (the held event, the tree's valid and shift) is
    reset. The data registers (weights, products, the digit and W/F-select copies, the sums) carry
    none: a phase's first event overwrites its sums, so nothing they held before a reset can be
    seen, and the reset net reaches a few hundred flip-flops instead of every lane's.

    Timing
    ------
    A spike (or shift) taken at the clock edge that ends cycle c shows in the sums (and ``head``)
    from cycle ``c + 1 + latency`` on, ``latency = levels + 4 + product_levels``: the broadcast
    tree's registered levels (``broadcast_levels(tiles)``), the address and the block RAM's read,
    the tile's output register, the weight register beside the lane, ceil(log2(count_bits))
    adder levels of the product, the accumulator.
    Throughput: one spike per ``per_lane`` cycles, one shift per cycle. A phase of n spikes and its
    read-out cost ``n per_lane + K / gather_lanes + latency`` cycles.

    Parameters
    ----------
    fixed : FixedModel
        The integer model: K, W_int, widths.
    lanes : int
        L, a divisor of K.
    tile_lanes : int
        Lanes per memory tile (a family fact: how many weights a group of block RAMs gives per read).
    gather_lanes : int
        Sums ``head`` shows at a time (and a shift moves).
    drive_parts : int
        0: W only. Otherwise F is stored too, a column in this many words (1: full width).
    """

    def __init__(self, fixed: FixedModel, lanes: int, *, tile_lanes: int = 36, gather_lanes: int = 32,
                 drive_parts: int = 0):
        K = fixed.n_latents
        if lanes < 1 or K % lanes:
            raise ParameterError(f"lateral lanes must divide K = {K}, got {lanes}")
        if gather_lanes < 1 or K % gather_lanes:
            raise ParameterError(f"gather_lanes must divide K = {K}, got {gather_lanes}")
        if tile_lanes < 1:
            raise ParameterError(f"tile_lanes must be positive, got {tile_lanes}")
        if drive_parts < 0 or drive_parts > tile_lanes:
            raise ParameterError(f"drive_parts must be in 0..tile_lanes ({tile_lanes}), got {drive_parts}")
        self.drive_parts = drive_parts
        self.fixed, self.lanes, self.per_lane = fixed, lanes, K // lanes
        self.tile_lanes, self.gather_lanes = tile_lanes, gather_lanes
        # the sums hold l (docs/arithmetic.md §7) and, with F, sum_n digit_n F[i, n] for digits
        # up to 2^count_bits - 1: exact bounds from the tensors, so no sum can overflow
        self.lateral_bits = fixed.widths()["lateral"]
        if drive_parts:
            top = int(np.max(np.abs(fixed.F).sum(1))) * ((1 << fixed.fmt.count_bits) - 1)
            self.lateral_bits = max(self.lateral_bits, signed_bits(-top, top))
        self.levels = broadcast_levels(-(-lanes // tile_lanes))     # the tree's registered levels
        super().__init__({
            "spikes": In(stream.Signature(spike_event_layout(fixed.fmt, K, fixed.n_inputs))),
            "head": Out(unsigned(gather_lanes * self.lateral_bits)),
            "shift": In(1),
            "shift_ready": Out(1),
            "busy": Out(1),
        })

    @property
    def latency(self) -> int:
        """Cycles after the clock edge that takes a spike (or a shift) until the sums show it
        (``timing.array_latency``)."""
        return array_latency(self.lanes, self.tile_lanes, self.fixed.fmt.count_bits)

    @property
    def product_levels(self) -> int:
        """Registered adder levels of a lane's product z w (``timing.product_levels``)."""
        return product_levels(self.fixed.fmt.count_bits)

    def _pack(self, matrix, t, parts):
        """Tile t's words of ``matrix`` (K x columns): word (j per_lane + h) parts + q holds
        matrix[h L + p, j] for the lanes p of part q of the tile, ceil(tile width / parts) a part."""
        L, n, wb = self.lanes, self.per_lane, self.fixed.fmt.weight_bits
        lanes = list(range(t * self.tile_lanes, min((t + 1) * self.tile_lanes, L)))
        pw = -(-len(lanes) // parts)
        words = []
        for j in range(matrix.shape[1]):
            for h in range(n):
                for q in range(parts):
                    v = 0
                    for k, p in enumerate(lanes[q * pw:(q + 1) * pw]):
                        v |= (int(matrix[h * L + p, j]) & ((1 << wb) - 1)) << (k * wb)
                    words.append(v)
        return words

    def tile_words(self, t):
        """(lanes, initial contents) of tile t's W memory: word j per_lane + h, a whole column."""
        return min(self.tile_lanes, self.lanes - t * self.tile_lanes), self._pack(self.fixed.W, t, 1)

    def tile_drive_words(self, t):
        """Initial contents of tile t's F memory: a column of F in drive_parts words, so the tile's F
        memory is drive_parts times narrower than its W memory."""
        return self._pack(self.fixed.F, t, self.drive_parts)

    def _product(self, m, p, z, w):
        """Lane p's z w as a registered adder tree over the bits of z: level 0 adds pairs of
        ``z_k ? w << k : 0``, each later level pairs of sums (a written-out tree of adders keeps
        synthesis from turning it into a multiplier of LUT logic: 146 LUT4 per 4 x 8 product with
        ``*`` against 49 + 24 carry cells this way, measured with Yosys synth_ecp5)."""
        terms = [Mux(z[k], w << k, 0) for k in range(len(z))]
        level = 0
        while True:
            pairs = [terms[i:i + 2] for i in range(0, len(terms), 2)]
            nxt = []
            for q, pair in enumerate(pairs):
                r = Signal(signed(len(w) + len(z) + 1), name=f"zw{p}_l{level}_{q}", reset_less=True)
                m.d.sync += r.eq(sum(pair[1:], pair[0]))
                nxt.append(r)
            terms, level = nxt, level + 1
            if len(terms) == 1:
                return terms[0]

    def elaborate(self, platform):
        m = Module()
        fx, fmt, L, n = self.fixed, self.fixed.fmt, self.lanes, self.per_lane
        K, wb, cb, lb = fx.n_latents, fmt.weight_bits, fmt.count_bits, self.lateral_bits

        # accept an event and step through its words: a W column takes n = per_lane words (h), an
        # F column n x drive_parts (h, then the part of the lanes its word feeds)
        parts = max(self.drive_parts, 1)
        h = Signal(range(max(n, 2)))
        part = Signal(range(max(parts, 2)))
        held = Signal.like(self.spikes.payload)
        have = Signal()
        shifting = Signal()
        done = Signal()                          # the held event's last word is issued this cycle
        last = Signal()
        m.d.comb += [done.eq((h == n - 1) & (~held.drive | (part == parts - 1))), last.eq(~have | done),
                     self.shift_ready.eq(last), self.spikes.ready.eq(last & ~self.shift)]
        with m.If(have):
            with m.If(done):
                m.d.sync += [have.eq(0), h.eq(0), part.eq(0)]
            with m.Elif(held.drive & (part != parts - 1)):
                m.d.sync += part.eq(part + 1)
            with m.Else():
                m.d.sync += [part.eq(0), h.eq(h + 1)]
        with m.If(self.spikes.valid & self.spikes.ready):
            m.d.sync += [have.eq(1), held.eq(self.spikes.payload), h.eq(0), part.eq(0)]
            if not self.drive_parts:               # no F here: every event is a W column
                m.d.sync += held.drive.eq(0)
        m.d.sync += shifting.eq(self.shift & last)
        # one event per cycle into the tree: the word's address, the digit, and what it steers
        N = fx.n_inputs
        abits = index_bits(max(K * n, N * n * parts))
        ev_layout = data.StructLayout({"addr": unsigned(abits), "z": unsigned(cb), "first": unsigned(1),
                                       "h": unsigned(index_bits(n)), "part": unsigned(index_bits(parts)),
                                       "drive": unsigned(1), "valid": unsigned(1), "shift": unsigned(1)})
        ev = Signal(ev_layout)
        # what steers a lane's sums: the event less its address and digit
        steer_layout = data.StructLayout({"first": unsigned(1), "h": unsigned(index_bits(n)),
                                          "part": unsigned(index_bits(parts)), "drive": unsigned(1),
                                          "valid": unsigned(1), "shift": unsigned(1)})

        def _steer(e):
            return Cat(e.first, e.h, e.part, e.drive, e.valid, e.shift)
        word = held.j * n + h
        m.d.comb += [ev.addr.eq(Mux(held.drive, word * parts + part, word)), ev.first.eq(held.first),
                     ev.h.eq(h), ev.part.eq(part), ev.drive.eq(held.drive), ev.valid.eq(have & ~shifting),
                     ev.shift.eq(shifting), ev.z.eq(Mux(shifting, 0, held.z))]

        tiles = -(-L // self.tile_lanes)
        leaves, levels = broadcast(m, "ev", ev, tiles)
        assert levels == self.levels, (levels, self.levels)
        accs = [[None] * n for _ in range(L)]
        for t in range(tiles):
            width, words = self.tile_words(t)
            mem = memory.Memory(shape=unsigned(width * wb), depth=K * n, init=words)
            m.submodules[f"w_tile{t}"] = mem
            rd = mem.read_port()
            e0 = leaves[t]
            m.d.comb += rd.addr.eq(e0.addr)
            pw = -(-width // parts)               # lanes per part of the tile's F word
            if self.drive_parts:
                fmem = memory.Memory(shape=unsigned(pw * wb), depth=N * n * parts, init=self.tile_drive_words(t))
                m.submodules[f"f_tile{t}"] = fmem
                frd = fmem.read_port()
                m.d.comb += frd.addr.eq(e0.addr)
            # the event travels beside its data: stage 1 while the block RAM reads, stage 2 with
            # the tile's output register (the weight chosen from W or F, next to the block RAM),
            # stage 3 with the weights registered beside their lanes, then one stage per level of
            # the product's adder tree; the last stage's event steers the accumulators
            stages = [e0]
            for k in range(3 + self.product_levels):
                e = Signal(ev_layout, name=f"ev_t{t}_{k + 1}")
                m.d.sync += e.eq(stages[-1])
                stages.append(e)
            e2, e_early = stages[2], stages[-3]
            # each group of LANE_GROUP lanes takes its own register copy of the W/F select (stage
            # 1) and the digit (stage 3): one register drives a few lanes' gating, not a whole
            # tile's (the first probe's worst path: one tile's z register to a lane 12 ns of wire
            # away). The event that steers the sums travels two levels, a copy per group then a
            # copy per lane beside its accumulators (the first whole-core build's worst path: a
            # group's copy 46 columns from one of its lanes' sums, 13.9 ns of wire)
            d_copies, z_copies, g_copies = [], [], []
            for q in range(-(-width // LANE_GROUP)):
                dc = Signal(name=f"drive_t{t}_copy{q}", attrs={"keep": 1}, reset_less=True)
                zc = Signal(cb, name=f"z_t{t}_copy{q}", attrs={"keep": 1}, reset_less=True)
                gc = Signal(steer_layout, name=f"steer_t{t}_copy{q}", attrs={"keep": 1})
                m.d.sync += [dc.eq(e0.drive), zc.eq(e2.z), gc.eq(_steer(e_early))]
                d_copies.append(dc)
                z_copies.append(zc)
                g_copies.append(gc)
            for k in range(width):
                p = t * self.tile_lanes + k
                # the block RAM's clock-to-out ends in a register beside it (the second probe's
                # worst path ran from a DP16KD's output across 6-7 ns of wire to the lane)
                wq = Signal(wb, name=f"wq{p}", reset_less=True)
                if self.drive_parts:
                    m.d.sync += wq.eq(Mux(d_copies[k // LANE_GROUP], frd.data.word_select(k % pw, wb),
                                          rd.data.word_select(k, wb)))
                else:
                    m.d.sync += wq.eq(rd.data.word_select(k, wb))
                w2 = Signal(wb, name=f"w{p}", reset_less=True)
                m.d.sync += w2.eq(wq)
                prod = self._product(m, p, z_copies[k // LANE_GROUP], w2.as_signed())
                lc = Signal(steer_layout, name=f"steer{p}", attrs={"keep": 1})
                m.d.sync += lc.eq(g_copies[k // LANE_GROUP])
                for hh in range(n):
                    acc = Signal(signed(lb), name=f"l{hh * L + p}", reset_less=True)
                    accs[p][hh] = (acc, lc, prod, k // pw)
        # each sum takes base + product: base is its own sum, 0 at a phase's first spike, or its
        # neighbour's sum G neurons on for a shift (whose product is 0: a shift event carries
        # z = 0); one adder and one 3-way select per bit, the event's valid/shift as the enable
        G = self.gather_lanes
        neuron = [accs[i % L][i // L] for i in range(K)]
        for i, (acc, e, prod, lane_part) in enumerate(neuron):
            hh = i // L
            hit = e.valid & (e.h == hh) if n > 1 else e.valid
            if self.drive_parts > 1:
                hit = hit & (~e.drive | (e.part == lane_part))
            base = Signal(signed(lb), name=f"base{i}")
            m.d.comb += base.eq(Mux(e.shift, neuron[(i + G) % K][0], Mux(e.first, 0, acc)))
            with m.If(hit | e.shift):
                m.d.sync += acc.eq(base + prod)
        m.d.comb += [self.busy.eq(have | shifting),
                     self.head.eq(Cat(*[neuron[k][0].as_unsigned() for k in range(G)]))]
        return m
