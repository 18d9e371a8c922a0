"""Latency and memory tables of the core for the reference configurations (docs/latency.md).

Cycles come from rtl/core/cycle_model.py over measured spikes: the golden model runs held-out patches
of the bundle and its driving samples z_t feed the cycle model. The 16x16, K=512 (ECP5-85F) rows
use the ULX3S-85F's own bundle (the trained paper bundle) the same way; only when that board names
an untrained random bundle are its spikes drawn per neuron with the default bundle's measured
spiking probability of each iteration (an estimate, labelled as such).
"""
from __future__ import annotations

import numpy as np

from ipvae.golden_model.formats import encode_input
from ipvae.golden_model.golden import run
from ipvae.golden_model.layout import seeds_for
from ipvae.rtl.boards import ecp5, ice40
from ipvae.rtl.core import cycle_model, timing
from ipvae.rtl.core.poisson_search import table_shape

SEARCH = timing.DEFAULT_SEARCH


def _search_shape(fmt, per_cycle=SEARCH):
    return table_shape(fmt, per_cycle)



ICE40_MODES = ice40.BLOCK_RAM_MODES     # SB_RAM40_4K
ECP5_MODES = ecp5.BLOCK_RAM_MODES       # DP16KD


def blocks(depth, width, modes):
    """Fewest block RAMs for one depth x width memory with one read port."""
    return min(-(-width // w) * -(-depth // d) for d, w in modes)


def memory_blocks(n, k, lanes, fmt, widths, modes, per_cycle=SEARCH, copies=None):
    """Block RAMs per memory of the core (each memory rounded up separately). copies: Poisson
    table copies (default one per lane; ECP5 builds share one true dual-port copy per two lanes)."""
    s = k // lanes
    sw = max((s - 1).bit_length(), 1)
    cw = 16
    copies = lanes if copies is None else copies
    return dict(
        F=blocks(s * n, lanes * fmt.weight_bits, modes), W=blocks(k * s, lanes * fmt.weight_bits, modes),
        tables=copies * blocks(*_search_shape(fmt, per_cycle), modes),
        state=sum(blocks(d, w, modes) for d, w in (
            (2 * s, lanes * fmt.u_bits), (s, lanes * widths["drive"]),
            (s, lanes * widths["lateral"]), (s, lanes * fmt.count_bits), (s, lanes * fmt.count_bits + sw),
            (n, fmt.input_bits), (s, lanes * cw))),
    )


def measured_spikes(bundle, x, iterations, lanes, seed=1):
    """Counts of every sampling pass (B, T+1, K) of the golden model on inputs x."""
    codes, _ = encode_input(x, bundle.fmt)
    seeds = seeds_for(seed, len(codes))
    res = run(bundle.fixed, codes, iterations, seeds, lanes=lanes, trace=True)
    return np.stack([res["z"][t] for t in range(iterations + 1)], axis=1)


def table(n, k, lanes_list, iterations, spikes_for, per_cycle):
    """Rows of (P, cycles median, bound median, ratio) with spikes_for(P) -> (B, T+1, K)."""
    rows = []
    for p in lanes_list:
        z = spikes_for(p)
        cyc = [cycle_model.cycles(n, k, p, iterations, zz, per_cycle) for zz in z]
        bnd = [cycle_model.bound(n, k, p, iterations, zz) for zz in z]
        rows.append(dict(lanes=p, cycles=float(np.median(cyc)), cycles_max=int(np.max(cyc)),
                         bound=float(np.median(bnd)), ratio=float(np.median(np.array(cyc) / np.array(bnd)))))
    return rows


def _link_section(boards):
    """Through the UART (docs/uart_protocol.md): core-only and link-paced inferences per second of
    the two reference boards at their shipped core, clock and baud (rtl/cycle_model.link_cycles).
    boards: (board name, N, K, formats, core cycles (median)) each."""
    from ipvae.golden_model import protocol as proto
    from ipvae.rtl.boards.registry import get_board
    from ipvae.rtl.link.uart import uart_divisor
    lines = ["", "## Through the UART (INFER pipelined, counts only)", "",
             "| board | lanes | core cycles | request + reply bytes | baud | link cycles per inference | µs | "
             "inferences/s (core alone) |",
             "|---|---|---|---|---|---|---|---|"]
    for name, n, k, fm, cycles in boards:
        if cycles is None:
            continue
        board = get_board(name)
        req, rep = proto.infer_bytes(n, k, fm.count_bits)
        divisor = uart_divisor(board.core_hz, board.baud)
        link = cycle_model.link_cycles(n, req, rep, cycles, divisor, k // board.lanes)
        mhz = board.core_hz / 1e6
        lanes = f"S = {board.lanes}, L = {board.lateral_lanes}" if board.lateral_lanes else f"P = {board.lanes}"
        lines.append(f"| {board.platform_name} | {lanes} | {cycles:.0f} | {req} + {rep} | {board.baud:,} | "
                     f"{link:.0f} | {link / mhz:.1f} | {mhz * 1e6 / link:.0f} ({mhz * 1e6 / cycles:.0f}) |")
    lines += ["", "The next request arrives while the core computes, and the counts wait in the link's result buffer",
              "(rtl/link/result_buffer.py) so the core takes the next codes while the reply drains: a pipelined",
              "stream costs the compute, the feed (N + 2 cycles) and the hand-over of the K/P output beats, or",
              "the reply's bytes if the UART is slower than the core. tests/test_cosim_board.py measures it",
              "through the UART pins within 2 % of this model."]
    return lines


def _board_cycles(name, bundle, x, iterations, seed):
    """Median core cycles of a board's shipped core (fused lanes or the array:
    ``cycle_model.core_cycles``) over measured spikes of its model; None when that is not at hand."""
    if bundle is None:
        return None
    from ipvae.rtl.boards.registry import get_board
    from ipvae.rtl.core.config import CoreConfig
    board = get_board(name)
    config = CoreConfig(bundle.fixed, board.lanes, search=board.search, lateral_lanes=board.lateral_lanes)
    z = measured_spikes(bundle, x, iterations, board.lanes, seed)
    return float(np.median([cycle_model.core_cycles(config, iterations, zz) for zz in z]))


#: the array core's configurations the latency document tabulates: (L lateral lanes, S sampler units, W)
ARRAY_CONFIGS = ((512, 32, 1), (512, 32, 2), (512, 16, 2), (512, 16, 4), (256, 16, 4))


#: the array table's second clock: what the same cycles take at 100 MHz (beside the board's clock)
ARRAY_REFERENCE_MHZ = 100


def array_section(bundle, x, iterations, seed, clock_mhz, configs=ARRAY_CONFIGS, drive_parts=2):
    """The array core (rtl/core/array_core.py) on the ECP5-85F's model: exact cycles of
    ``cycle_model.array_cycles`` over measured spikes at S lanes, its floor and the ratio."""
    from ipvae.rtl.core.config import CoreConfig
    fx = bundle.fixed
    n, k = fx.n_inputs, fx.n_latents
    lines = ["", f"## The array core on the ECP5-85F's model (rtl/core/array_core.py): N={n}, K={k}, T={iterations}",
             "",
             "One lateral array of L lanes does the drive (2 N events of 4-bit digits, a column of F in "
             f"{drive_parts} words) and every lateral phase (one spike per K/L cycles); S units update and sample, "
             "the read-out of l overlapping the pass. Exact cycles (`cycle_model.array_cycles`, asserted against "
             "simulation), floor = Σ_{t<T} n_t·K/L + 2·N·(K/L)·drive_parts: the lanes' work at one column a cycle.",
             "", f"| L | S | W | cycles (median) | cycles (max) | floor | cycles / floor | µs at {clock_mhz:g} MHz | "
             f"µs at {ARRAY_REFERENCE_MHZ} MHz |", "|---|---|---|---|---|---|---|---|---|"]
    for L, S, W in configs:
        config = CoreConfig(fx, S, search=W, lateral_lanes=L, drive_parts=drive_parts)
        z = measured_spikes(bundle, x, iterations, S, seed)
        cyc = np.array([cycle_model.array_cycles(config, iterations, zz) for zz in z])
        fl = np.array([cycle_model.array_floor(n, k, L, iterations, zz, drive_parts) for zz in z])
        med = float(np.median(cyc))
        lines.append(f"| {L} | {S} | {W} | {med:.0f} | {cyc.max()} | {np.median(fl):.0f} | "
                     f"{np.median(cyc / fl):.3f} | {med / clock_mhz:.1f} | {med / ARRAY_REFERENCE_MHZ:.1f} |")
    return lines


def write_latency_doc(bundle, x, path, iterations=32, seed=1, ecp5=None):
    """ecp5: (bundle, held-out inputs) of the ULX3S-85F's model, or None for estimated spikes."""
    fmt, widths = bundle.fmt, bundle.fixed.widths()
    n0, k0 = bundle.fixed.n_inputs, bundle.fixed.n_latents
    z_ref = measured_spikes(bundle, x, iterations, 1, seed)
    p_t = (z_ref > 0).mean(axis=(0, 2))                     # spiking probability per pass
    rng = np.random.default_rng(seed)
    zs_ref = z_ref[z_ref > 0]                                # counts of the spikes, to resample

    def synthetic(k, b=len(x)):
        def draw(p):
            spike = rng.random((b, iterations + 1, k)) < p_t[None, :, None]
            return np.where(spike, rng.choice(zs_ref, size=spike.shape), 0)
        return draw

    from ipvae.rtl.boards.registry import get_board
    w, w_ecp5 = get_board("icebreaker").search, get_board("ulx3s-85f").search
    UP5K = dict(clock_mhz=get_board("icebreaker").core_hz / 1e6)          # constraints/<board>.toml
    ECP5 = dict(clock_mhz=get_board("ulx3s-85f").core_hz / 1e6)
    up = table(n0, k0, (1, 2, 4, 8, 16), iterations, lambda p: measured_spikes(bundle, x, iterations, p, seed), w)
    up_par = table(n0, k0, (1, 2, 4, 8, 16), iterations, lambda p: measured_spikes(bundle, x, iterations, p, seed),
                   timing.PARALLEL_SAMPLER)
    ecp5_lanes = (8, 16, 32, 64, 128)
    if ecp5 is not None:
        eb, ex = ecp5
        ne, ke = eb.fixed.n_inputs, eb.fixed.n_latents
        ec = table(ne, ke, ecp5_lanes, iterations, lambda p: measured_spikes(eb, ex, iterations, p, seed), w_ecp5)
        ec_source = f"measured spikes of the trained paper bundle on {len(ex)} held-out patches"
    else:
        ne, ke = 256, 512
        ec = table(ne, ke, ecp5_lanes, iterations, synthetic(512), w_ecp5)
        ec_source = "estimated spikes"
    lines = [
        "# Latency of the inference core",
        "",
        "Cycles per inference are exact: `rtl/core/cycle_model.py` is asserted against simulation of the",
        "core for every run of the test suite (tests/test_core.py). With S = K/P slots,",
        "",
        f"    cycles = S·N + {cycle_model.DRIVE_TAIL} + Σ_{{t≤T}} (Σ_s C_ts + {timing.PASS_OVERHEAD}) + "
        f"Σ_{{t<T, n_t>0}} ({timing.LATERAL_HANDOFF} + {timing.LATERAL_ENTRY_CYCLES}·e_t + n_t·S)",
        "",
        "counted from the cycle after the last input beat to the first cycle of the output phase; the",
        "first output beat follows 2 cycles later, then K/P output beats. n_t is the number of",
        "neurons that spiked in pass t, e_t the number of P-neuron slots holding at least one spike,",
        f"C_ts the sampler's cycles for slot s: 1 (parallel sampler) or max_p floor(z_p/W) + {timing.SEARCH_OVERHEAD}, "
        f"one less per pass (search",
        f"sampler, the default, reading W = {SEARCH} thresholds per cycle from a narrow table per lane).",
        f"The lane-limited bound is N·K/P + Σ_t (n_t + 1)·K/P; the overhead is {cycle_model.DRIVE_TAIL} cycles of "
        f"drive pipeline, {timing.PASS_OVERHEAD} per pass plus the sampler's search",
        f"(pipeline drain), {timing.LATERAL_ENTRY_CYCLES} per non-empty slot (spike-list read) and "
        f"{timing.LATERAL_HANDOFF} per lateral phase,",
        "all independent of K².",
        "",
        f"Spiking per iteration (default bundle, {len(x)} held-out patches, T={iterations}): "
        + ", ".join(f"t={t}: {p_t[t]:.2f}" for t in sorted({0, 1, 4, 8, 16, iterations - 1} & set(range(iterations))))
        + ".",
        "",
        f"## iCE40 UP5K reference: {int(np.sqrt(n0))}×{int(np.sqrt(n0))} patches, N={n0}, K={k0}, T={iterations} "
        f"(measured spikes of the default bundle, search sampler W={w})",
        "",
        f"| P | cycles (median) | cycles (max) | bound | cycles / bound | µs at {round(UP5K['clock_mhz'], 2):g} MHz |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['lanes']} | {r['cycles']:.0f} | {r['cycles_max']} | {r['bound']:.0f} | {r['ratio']:.3f} | "
              f"{r['cycles'] / UP5K['clock_mhz']:.1f} |" for r in up]
    lines += ["", "With the parallel sampler (one compare per threshold, wide tables): "
              + ", ".join(f"P={r['lanes']}: {r['cycles']:.0f} ({r['ratio']:.3f}×)" for r in up_par) + "."]
    lines += [
        "",
        f"## The fused-lane core on the ECP5-85F's model: 16×16 patches, N={ne}, K={ke}, T={iterations} "
        f"({ec_source}, search sampler W={w_ecp5})",
        "",
        f"| P | cycles (median) | cycles (max) | bound | cycles / bound | µs at {round(ECP5['clock_mhz'], 2):g} MHz |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['lanes']} | {r['cycles']:.0f} | {r['cycles_max']} | {r['bound']:.0f} | {r['ratio']:.3f} | "
              f"{r['cycles'] / ECP5['clock_mhz']:.1f} |" for r in ec]
    if ecp5 is not None:
        lines += array_section(eb, ex, iterations, seed, ECP5["clock_mhz"])
    lines += _link_section([("icebreaker", n0, k0, fmt, _board_cycles("icebreaker", bundle, x, iterations, seed)),
                            ("ulx3s-85f", ne, ke, ecp5[0].fmt if ecp5 else fmt,
                             _board_cycles("ulx3s-85f", *(ecp5 or (None, None)), iterations, seed))])
    lines += ["", "## Block RAMs after rounding (estimate; docs/synthesis.md has the placed builds)", "",
              "Each memory rounded up to whole SB_RAM40_4K (iCE40: 256×16 … 2048×2) or DP16KD (ECP5: 512×36 … 16384×1)",
              f"blocks. UP5K builds read W = {w} thresholds per cycle from a "
              f"{_search_shape(fmt, w)[0]}×{_search_shape(fmt, w)[1]} "
              f"table per lane ({blocks(*_search_shape(fmt, w), ICE40_MODES)} EBR); ECP5 builds read W = {w_ecp5} from "
              f"a "
              f"{_search_shape(fmt, w_ecp5)[0]}×{_search_shape(fmt, w_ecp5)[1]} table shared by two lanes through the "
              f"two ports of "
              "one true dual-port DP16KD (at most 18 bits wide per port). u and the prior u0 share one memory.", "",
              "| configuration | P | F | W | tables | state | total | available |", "|---|---|---|---|---|---|---|---|"]
    for name, n, k, lanes, modes, avail, pc, shared in (
            (f"UP5K N={n0} K={k0}", n0, k0, (1, 2, 4, 8), ICE40_MODES, "30 EBR (F, W in 4 SPRAM)", w, False),
            ("ECP5 N=256 K=512", 256, 512, (8, 16, 32, 64), ECP5_MODES, "208 DP16KD", w_ecp5, True)):
        for p in lanes:
            b = memory_blocks(n, k, p, fmt, widths, modes, pc, copies=-(-p // 2) if shared else p)
            total = sum(b.values()) - (b["F"] + b["W"] if modes is ICE40_MODES else 0)
            lines.append(f"| {name} | {p} | {b['F']} | {b['W']} | {b['tables']} | {b['state']} | {total} | {avail} |")
    lines += ["",
              "On the UP5K only the SPRAMs (4 × 256 kbit, 16-bit words) can hold F and W (the total leaves",
              "them out): SPRAM has no initial contents, so the board top loads them over the UART",
              "(docs/uart_protocol.md). Yosys builds shallow state memories from logic or LUT RAM, so the",
              "state column is an upper bound.", ""]
    from pathlib import Path
    Path(path).write_text("\n".join(lines))
    return up, ec
