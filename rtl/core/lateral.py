"""Lateral-competition units: event-driven accumulation of W's columns for the neurons that
spiked, scaled by their counts, P lanes wide (docs/arithmetic.md §4, step 3b)."""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ipvae.golden_model.golden import FixedModel
from ipvae.golden_model.layout import weight_words

from . import timing
from .bits import index_bits
from .fanout import copy_of, lane_copies
from .priority_encoder import lowest_set
from .weight_memory import WeightMemory, check_weights, load_layout

__all__ = ["spike_layout", "LateralUnits"]


def spike_layout(fmt, lanes, slots):
    return data.StructLayout({"z": unsigned(lanes * fmt.count_bits), "slot": unsigned(index_bits(slots))})


class LateralUnits(wiring.Component):
    """Lateral-competition units: event-driven accumulation of W's columns for the neurons that
    spiked, scaled by their counts, P lanes wide (docs/arithmetic.md §4, step 3b).

    Members
    -------
    spikes : In(stream.Signature(StructLayout({"z": P*count_bits, "slot": ...})))
        Slots with at least one spike, appended during a sampling pass (ready while idle).
    start : In(1)
        Pulse: accumulate l = sum_j z_j W[:, j] over the slots received since the last phase.
    busy : Out(1)
        High from the cycle after ``start`` until the write of the last column is under way (the
        read port then returns the finished l from the next cycle on).
    entries : Out(range(S + 1))
        Slots received for the coming phase (0: nothing spiked, l is not needed).
    l_addr : In(range(S)); l_data : Out(unsigned(P * lateral_bits))
        Read port for the sampling pass (data one cycle after the address), valid while idle.
    load : In(stream.Signature(StructLayout({"addr": range(K K/P), "data": unsigned(P * weight_bits)})))
        Only with ``weights="ram"``: write word ``addr`` = j K/P + s (W[sP+p, j] in lane p's bits) of
        the run-time loadable W store (rtl/core/loadable_ram.py). Ready while idle.

    For each slot entry: one cycle to read it and one to select its lowest spiking lane, then K/P
    cycles per spiking neuron j in ascending order: lane p adds z_j W[sP+p, j] into its accumulator
    for slot s, as a read-modify-write three stages behind the issue (register, multiply and read,
    add and write) with a transparent read port (so K/P = 1 works). The first column of a phase
    overwrites instead of adding, so no clearing pass is needed. Latency of a phase:
    ``phase_cycles(e, n) = 2 e + n K/P + 2`` cycles of busy for e entries and n spiking neurons.

    Parameters
    ----------
    fixed : FixedModel
        The integer model: K, W, the lateral width.
    lanes : int
        P, a divisor of K.
    weights : str
        "rom" or "ram" (W loaded through ``load``).
    """
    ENTRY_CYCLES = timing.LATERAL_ENTRY_CYCLES
    DRAIN_CYCLES = timing.LATERAL_DRAIN_CYCLES

    def __init__(self, fixed: FixedModel, lanes: int, weights: str = "rom"):
        check_weights(weights)
        self.fixed, self.lanes, self.slots, self.weights = fixed, lanes, fixed.n_latents // lanes, weights
        S = self.slots
        members = {
            "spikes": In(stream.Signature(spike_layout(fixed.fmt, lanes, S))),
            "start": In(1),
            "busy": Out(1),
            "entries": Out(range(S + 1)),
            "l_addr": In(range(max(S, 2))),
            "l_data": Out(unsigned(lanes * fixed.widths()["lateral"])),
        }
        if weights == "ram":
            members["load"] = In(stream.Signature(load_layout(lanes * fixed.fmt.weight_bits,
                                                              fixed.n_latents * S)))
        super().__init__(members)

    def phase_cycles(self, entries, spiking):
        return self.ENTRY_CYCLES * entries + spiking * self.slots + self.DRAIN_CYCLES

    def elaborate(self, platform):
        m = Module()
        fx, fmt, P, S, K = self.fixed, self.fixed.fmt, self.lanes, self.slots, self.fixed.n_latents
        wb, cb, lw = fmt.weight_bits, fmt.count_bits, fx.widths()["lateral"]
        sw = index_bits(S)
        w_addr, w_data = Signal(range(max(K * S, 2))), Signal(P * wb)
        loading = Signal()
        m.submodules.w_mem = w_mem = WeightMemory(P * wb, K * S, self.weights,
                                                  weight_words(fx, P)[1] if self.weights == "rom" else None)
        m.d.comb += [w_mem.rd_addr.eq(w_addr), w_mem.rd_en.eq(1), w_data.eq(w_mem.rd_data)]
        if self.weights == "ram":
            m.d.comb += [w_mem.loading.eq(loading), w_mem.wr_addr.eq(self.load.payload.addr),
                         w_mem.wr_data.eq(self.load.payload.data), w_mem.wr_en.eq(self.load.valid)]
        m.submodules.l_mem = l_mem = memory.Memory(shape=unsigned(P * lw), depth=S, init=[])
        m.submodules.list_mem = list_mem = memory.Memory(shape=unsigned(P * cb + sw), depth=S, init=[])
        l_wr = l_mem.write_port()
        l_rd = l_mem.read_port(transparent_for=(l_wr,))
        list_wr, list_rd = list_mem.write_port(), list_mem.read_port()

        entries = Signal(range(S + 1))
        li = Signal(range(S + 1))
        ent_z, ent_s = Signal(P * cb), Signal(sw)
        mask = Signal(P)
        lane = Signal(range(max(P, 2)))
        col = Signal(range(S + 1))
        first_col = Signal()
        issue = Signal()
        m.d.comb += [self.entries.eq(entries), self.l_data.eq(l_rd.data)]

        def lowest(bits):
            # balanced tree, log2 P select levels (a Mux chain is P deep: the ECP5's 64 lanes)
            return lowest_set(bits)[1]

        # spike list
        m.d.comb += [list_wr.addr.eq(entries), list_wr.data.eq(Cat(self.spikes.payload.z, self.spikes.payload.slot)),
                     list_rd.addr.eq(li)]
        # column read-modify-write, three stages after the issue (W[:, j] word col and l[col]):
        # 1: register the W word and z_j; 2: multiply (z_j from a register copy per lane group
        # (rtl/core/fanout.py), the W word from block RAM: neither shares a cycle with the other's
        # delay) and read l[col];
        # 3: add and write. A column's read in stage 2 sees the write of the previous issue
        # through the transparent port, so any S = K/P works
        lv1, lv2, lv3 = Signal(), Signal(), Signal()
        lc1, lc2, lc3 = Signal(sw), Signal(sw), Signal(sw)
        lf1, lf2, lf3 = Signal(), Signal(), Signal()
        zj1 = Signal(cb)
        zj2 = lane_copies("zj2", cb, P)   # one register per lane group: no chip-wide broadcast
        w2 = Signal(P * wb)
        prod = [Signal(signed(cb + 1 + wb), name=f"zw{p}") for p in range(P)]
        j = ent_s * P + lane
        m.d.comb += [w_addr.eq(j * S + col), l_rd.addr.eq(Mux(lv2, lc2, self.l_addr))]
        m.d.sync += [lv1.eq(issue), lc1.eq(col), lf1.eq(first_col), zj1.eq(ent_z.word_select(lane, cb)),
                     lv2.eq(lv1), lc2.eq(lc1), lf2.eq(lf1), *[c.eq(zj1) for c in zj2], w2.eq(w_data),
                     lv3.eq(lv2), lc3.eq(lc2), lf3.eq(lf2)]
        m.d.sync += [prod[p].eq(Cat(copy_of(zj2, p), Const(0, 1)).as_signed() * w2.word_select(p, wb).as_signed())
                     for p in range(P)]
        m.d.comb += [l_wr.addr.eq(lc3), l_wr.en.eq(lv3),
                     l_wr.data.eq(Cat(*[(prod[p] + Mux(lf3, 0, l_rd.data.word_select(p, lw).as_signed()))[:lw]
                                        for p in range(P)]))]
        # busy until the last write is under way: a read in the next cycle sees every column
        pipeline_busy = lv1 | lv2

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += [self.busy.eq(pipeline_busy), self.spikes.ready.eq(1), list_wr.en.eq(self.spikes.valid)]
                if self.weights == "ram":
                    m.d.comb += [loading.eq(1), self.load.ready.eq(1)]
                with m.If(self.spikes.valid):
                    m.d.sync += entries.eq(entries + 1)
                with m.If(self.start & (entries != 0)):
                    m.d.sync += [li.eq(0), first_col.eq(1)]
                    m.next = "READ"
            with m.State("READ"):
                m.d.comb += self.busy.eq(1)
                m.next = "SELECT"
            with m.State("SELECT"):
                m.d.comb += self.busy.eq(1)
                ent = list_rd.data
                bits = Cat(*[ent[:P * cb].word_select(p, cb) != 0 for p in range(P)])
                m.d.sync += [ent_z.eq(ent[:P * cb]), ent_s.eq(ent[P * cb:]), mask.eq(bits),
                             lane.eq(lowest(bits)), col.eq(0)]
                m.next = "COLUMN"
            with m.State("COLUMN"):
                m.d.comb += [self.busy.eq(1), issue.eq(1)]
                m.d.sync += col.eq(col + 1)
                with m.If(col == S - 1):
                    rest = Signal(P)
                    m.d.comb += rest.eq(mask & ~(Const(1, P) << lane))
                    m.d.sync += [col.eq(0), first_col.eq(0)]
                    with m.If(rest != 0):
                        m.d.sync += [mask.eq(rest), lane.eq(lowest(rest))]
                    with m.Elif(li == entries - 1):
                        m.d.sync += entries.eq(0)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += li.eq(li + 1)
                        m.next = "READ"
        return m
