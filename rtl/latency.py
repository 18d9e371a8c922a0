"""Latency and memory tables of the core for the reference configurations (docs/latency.md).

Cycles come from rtl/cycle_model.py. For the default bundle the spike counts are measured: the
golden model runs held-out patches and its driving samples z_t feed the cycle model. The
16x16, K=512 configuration has no trained bundle yet, so its spikes are drawn per neuron with
the default bundle's measured spiking probability of each iteration (independent neurons):
an estimate, labelled as such.
"""
from __future__ import annotations

import numpy as np

from golden_model.formats import encode_input
from golden_model.golden import run

from . import cycle_model
from .poisson_search import table_shape

SEARCH = cycle_model.DEFAULT_SEARCH


def _search_shape(fmt):
    return table_shape(fmt, SEARCH)

UP5K = dict(name="iCE40 UP5K", ebr_kbit=30 * 4, spram_kbit=4 * 256, clock_mhz=48)
ECP5 = dict(name="ECP5-85F", ebr_kbit=208 * 18, spram_kbit=0, clock_mhz=100)


def memory_kbit(n, k, lanes, fmt, widths):  # noqa: D401
    """Bits of every memory of the core, in kbit (1024 bits)."""
    s = k // lanes
    mems = dict(
        F=k * n * fmt.weight_bits, W=k * k * fmt.weight_bits,
        tables=lanes * fmt.table_rows * (fmt.count_max + 1) * fmt.prob_bits,
        state=k * (2 * fmt.u_bits + widths["drive"] + widths["lateral"] + fmt.count_bits) + n * fmt.input_bits
        + s * (lanes * fmt.count_bits + max((s - 1).bit_length(), 1)),
    )
    return {key: v / 1024 for key, v in mems.items()}


ICE40_MODES = ((256, 16), (512, 8), (1024, 4), (2048, 2))                  # SB_RAM40_4K
ECP5_MODES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))  # DP16KD


def blocks(depth, width, modes):
    """Fewest block RAMs for one depth x width memory with one read port."""
    return min(-(-width // w) * -(-depth // d) for d, w in modes)


def memory_blocks(n, k, lanes, fmt, widths, modes):
    """Block RAMs per memory of the core (each memory rounded up separately)."""
    s = k // lanes
    sw = max((s - 1).bit_length(), 1)
    cw = 16
    return dict(
        F=blocks(s * n, lanes * fmt.weight_bits, modes), W=blocks(k * s, lanes * fmt.weight_bits, modes),
        tables=lanes * blocks(*_search_shape(fmt), modes),
        state=sum(blocks(d, w, modes) for d, w in (
            (s, lanes * fmt.u_bits), (s, lanes * fmt.u_bits), (s, lanes * widths["drive"]),
            (s, lanes * widths["lateral"]), (s, lanes * fmt.count_bits), (s, lanes * fmt.count_bits + sw),
            (n, fmt.input_bits), (s, lanes * cw))),
    )


def _max_lanes(n, k, fmt, widths, ebr_kbit, weights_in_ebr):
    """Largest lane count dividing K whose memories fit the block RAM."""
    best = 0
    for p in range(1, k + 1):
        if k % p:
            continue
        mk = memory_kbit(n, k, p, fmt, widths)
        need = mk["tables"] + mk["state"] + (mk["F"] + mk["W"] if weights_in_ebr else 0)
        if need <= ebr_kbit:
            best = p
    return best


def measured_spikes(bundle, x, iterations, lanes, seed=1):
    """Counts of every sampling pass (B, T+1, K) of the golden model on inputs x."""
    codes, _ = encode_input(x, bundle.fmt)
    seeds = (seed * 1_000_003 + np.arange(len(codes))) % (1 << 32)
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


def write_latency_doc(bundle, x, path, iterations=32, seed=1):
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

    w = SEARCH
    up = table(n0, k0, (1, 2, 4, 8, 16), iterations, lambda p: measured_spikes(bundle, x, iterations, p, seed), w)
    up_par = table(n0, k0, (1, 2, 4, 8, 16), iterations, lambda p: measured_spikes(bundle, x, iterations, p, seed),
                   None)
    ec = table(256, 512, (8, 16, 32, 64), iterations, synthetic(512), w)
    lines = [
        "# Latency of the inference core",
        "",
        "Cycles per inference are exact: `rtl/cycle_model.py` is asserted against simulation of the",
        "core for every run of the test suite (tests/test_core.py). With S = K/P slots,",
        "",
        f"    cycles = S·N + {cycle_model.DRIVE_TAIL} + Σ_{{t≤T}} (Σ_s C_ts + {cycle_model.PASS_OVERHEAD}) + Σ_{{t<T, n_t>0}} ({cycle_model.LATERAL_HANDOFF} + {cycle_model.ENTRY_OVERHEAD}·e_t + n_t·S)",
        "",
        "counted from the cycle after the last input beat to the first cycle of the output phase; the",
        "first output beat follows 2 cycles later, then K/P output beats. n_t is the number of",
        "neurons that spiked in pass t, e_t the number of P-neuron slots holding at least one spike,",
        "C_ts the sampler's cycles for slot s: 1 (parallel sampler) or max_p floor(z_p/W) + 1 (search",
        f"sampler, the default, reading W = {SEARCH} thresholds per cycle from a narrow table per lane).",
        f"The lane-limited bound is N·K/P + Σ_t (n_t + 1)·K/P; the overhead is {cycle_model.DRIVE_TAIL} cycles of drive pipeline, {cycle_model.PASS_OVERHEAD} per pass plus the sampler's search",
        f"(pipeline drain), {cycle_model.ENTRY_OVERHEAD} per non-empty slot (spike-list read) and {cycle_model.LATERAL_HANDOFF} per lateral phase,",
        "all independent of K².",
        "",
        f"Spiking per iteration (default bundle, {len(x)} held-out patches, T={iterations}): "
        + ", ".join(f"t={t}: {p_t[t]:.2f}" for t in (0, 1, 4, 8, 16, iterations - 1)) + ".",
        "",
        f"## iCE40 UP5K reference: {int(np.sqrt(n0))}×{int(np.sqrt(n0))} patches, N={n0}, K={k0}, T={iterations} "
        f"(measured spikes of the default bundle, search sampler W={SEARCH})",
        "",
        f"| P | cycles (median) | cycles (max) | bound | cycles / bound | µs at {UP5K['clock_mhz']} MHz |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['lanes']} | {r['cycles']:.0f} | {r['cycles_max']} | {r['bound']:.0f} | {r['ratio']:.3f} | "
              f"{r['cycles'] / UP5K['clock_mhz']:.1f} |" for r in up]
    lines += ["", "With the parallel sampler (one compare per threshold, wide tables): "
              + ", ".join(f"P={r['lanes']}: {r['cycles']:.0f} ({r['ratio']:.3f}×)" for r in up_par) + "."]
    lines += [
        "",
        f"## ECP5-85F reference: 16×16 patches, N=256, K=512, T={iterations} (estimated spikes, search sampler W={SEARCH})",
        "",
        f"| P | cycles (median) | cycles (max) | bound | cycles / bound | µs at {ECP5['clock_mhz']} MHz |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['lanes']} | {r['cycles']:.0f} | {r['cycles_max']} | {r['bound']:.0f} | {r['ratio']:.3f} | "
              f"{r['cycles'] / ECP5['clock_mhz']:.1f} |" for r in ec]
    lines += ["", "## Block RAMs after rounding", "",
              "Each memory rounded up to whole SB_RAM40_4K (iCE40: 256×16 … 2048×2) or DP16KD (ECP5: 512×36 … 16384×1)",
              f"blocks. The search sampler's table copy is {_search_shape(fmt)[0]} words of {_search_shape(fmt)[1]} bits: "
              f"{blocks(*_search_shape(fmt), ICE40_MODES)} EBR or "
              f"{blocks(*_search_shape(fmt), ECP5_MODES)} DP16KD per lane. The parallel sampler's copy "
              f"(one {fmt.count_max * fmt.prob_bits}-bit word per row) would take "
              f"{blocks(fmt.table_rows, fmt.count_max * fmt.prob_bits, ICE40_MODES)} EBR or "
              f"{blocks(fmt.table_rows, fmt.count_max * fmt.prob_bits, ECP5_MODES)} DP16KD.", "",
              "| configuration | P | F | W | tables | state | total | available |", "|---|---|---|---|---|---|---|---|"]
    for name, n, k, lanes, modes, avail in ((f"UP5K N={n0} K={k0}", n0, k0, (1, 2, 4, 8), ICE40_MODES, "30 EBR (+4 SPRAM)"),
                                            ("ECP5 N=256 K=512", 256, 512, (8, 16, 32, 64), ECP5_MODES, "208 DP16KD")):
        for p in lanes:
            b = memory_blocks(n, k, p, fmt, widths, modes)
            lines.append(f"| {name} | {p} | {b['F']} | {b['W']} | {b['tables']} | {b['state']} | {sum(b.values())} | {avail} |")
    lines += ["",
              "On the UP5K only the SPRAMs (4 × 256 kbit, 16-bit words) can hold F and W, and SPRAM has no",
              "initial contents: the weights must be loaded at run time (UART or flash) before that works.",
              "Yosys builds the shallow state memories from logic (the parallel-sampler build at P = 4 asked for",
              "68 EBR, docs/rtl.md), so the state column is an upper bound. W dominates: 32 EBR on the UP5K",
              "(beyond its 30 without SPRAM), about 115 DP16KD on the ECP5.", ""]
    lines += ["", "## Memory", "",
              "Bits the core stores (kbit = 1024 bits), before block-RAM rounding. The Poisson table is",
              "replicated once per lane (one read per lane and cycle); F and W are read once per cycle as",
              "P-weight words.", "",
              "| configuration | P | F | W | Poisson tables | state | total | device block RAM |",
              "|---|---|---|---|---|---|---|---|"]
    for name, n, k, lanes, dev in ((f"UP5K N={n0} K={k0}", n0, k0, (1, 2, 4, 8, 16), UP5K),
                                   ("ECP5 N=256 K=512", 256, 512, (8, 16, 32, 64), ECP5)):
        for p in lanes:
            mk = memory_kbit(n, k, p, fmt, widths)
            tot = sum(mk.values())
            avail = f"{dev['ebr_kbit']} kbit EBR" + (f" + {dev['spram_kbit']} kbit SPRAM" if dev["spram_kbit"] else "")
            lines.append(f"| {name} | {p} | {mk['F']:.0f} | {mk['W']:.0f} | {mk['tables']:.0f} | {mk['state']:.1f} | "
                         f"{tot:.0f} | {avail} |")
    up_fit = _max_lanes(n0, k0, fmt, widths, UP5K["ebr_kbit"], weights_in_ebr=False)
    ec_fit = _max_lanes(256, 512, fmt, widths, ECP5["ebr_kbit"], weights_in_ebr=True)
    lines += ["",
              f"Reading: on the UP5K, F and W ({memory_kbit(n0, k0, 1, fmt, widths)['F'] + memory_kbit(n0, k0, 1, fmt, widths)['W']:.0f} kbit) "
              "go to SPRAM (16-bit words, several SPRAMs side by side for P-weight words), leaving the",
              f"EBR for the Poisson-table copies ({memory_kbit(n0, k0, 1, fmt, widths)['tables']:.1f} kbit each) and the state: "
              f"at most P = {up_fit} lanes fit.",
              f"On the ECP5-85F everything is in DP16KD: at most P = {ec_fit} lanes fit (before block-RAM rounding).",
              "Each table copy serves one lane; sharing a copy between two lanes through the second port",
              "of a true dual-port RAM would halve that cost.", ""]
    from pathlib import Path
    Path(path).write_text("\n".join(lines))
    return up, ec
