"""Energy per inference of the iCE40 UP5K core: an estimate, bracketed, from measured currents.

Lattice publishes no per-resource dynamic power for the iCE40 UltraPlus in its data sheet (its
Power Calculator, in Radiant, is not reachable from this project's machines), so the estimate
rests on the one set of measurements of the same chip we could read: tinyvision.ai's
``ice40_power`` (github.com/tinyvision-ai-inc/ice40_power, README.md at commit 1af931e): core-rail
(1.219 V) and PLL-rail currents of an iCE40UP5K on Lattice's breakout board, measured with a
Joulescope JS110, for counters, a multiplier in logic and in one SB_MAC16, and a PLL at 16/32/48
MHz. ``MEASURED`` below holds the rows used, as published; every coefficient is fitted from them here.

The model (core rail):  I = I_pll(f) + k·(LC - 28)·f + i_dsp·D·f

- ``I_pll(f)``: the line through the PLL rows: the clock network, the PLL's core share, the static
  current and the rows' own small design, at the board's clock f. The source does not say what
  those rows ran; we take it to be the 24-bit counter (28 LCs) of the rows beside them.
- ``k``: µA per LC per MHz. Low end: the counters' slope (28-bit counters, ~2 of 28 bits change a
  cycle); high end: the 8×8 multiplier of two counters in logic (180 LCs switching most cycles).
- ``i_dsp``: µA per SB_MAC16 per MHz, the one-DSP row less its 44 extra LCs at the same ``k``;
  the low end counts the P DSPs of one phase (drive and lateral never overlap), the high end all.

Not in the model, because the source did not measure them: block RAM (EBR) and SPRAM reads, and
the I/O banks (the UART moves a few bytes per inference). The ECP5 has no such source here: the
85F gets a bracket from two published whole-design powers (``ECP5_ENDS``), stated as such. The
CPU's power cannot be read on these machines (no RAPL in the VM), so
the comparison is the break-even: the power a CPU core would have to stay under to match the
board's energy per inference while running the NumPy loop.
"""
from __future__ import annotations

__all__ = ["MEASURED", "SOURCE", "ECP5_ENDS", "coefficients", "ice40_estimate", "ecp5_estimate", "estimate"]

SOURCE = ("tinyvision.ai, ice40_power (github.com/tinyvision-ai-inc/ice40_power, README.md at commit 1af931e): "
          "iCE40UP5K breakout board, Joulescope JS110, core rail at 1.219 V")
CORE_V = 1.219          # the rail as measured (the UP5K's nominal VCC is 1.2 V)

# core-rail current in µA, as published; "lc" is the design's logic-cell count
MEASURED = {
    "counter_32lc_12mhz": dict(mhz=12, lc=32, ua=613.5),       # external 12 MHz, 28-bit counter
    "counter_228lc_12mhz": dict(mhz=12, lc=228, ua=641.3),     # external 12 MHz, 8 × 28-bit counters
    "hfosc_counter_12mhz": dict(mhz=12, lc=28, ua=645.0),      # HFOSC 12 MHz, 24-bit counter
    "math_logic_12mhz": dict(mhz=12, lc=208, ua=996.0),        # + 8×8 multiply of two counters in logic
    "math_dsp_12mhz": dict(mhz=12, lc=72, dsp=1, ua=882.0),    # + the same multiply in one SB_MAC16
    # the PLL rows: their design is not stated; lc=28 assumes the 24-bit counter of the rows above
    "pll_16mhz": dict(mhz=16, lc=28, ua=1419.0, pll_rail_ua=138.6),
    "pll_32mhz": dict(mhz=32, lc=28, ua=2029.0, pll_rail_ua=138.9),
    "pll_48mhz": dict(mhz=48, lc=28, ua=2573.0, pll_rail_ua=103.6),
}
BASE_LC = MEASURED["pll_16mhz"]["lc"]     # the PLL rows' own logic, already inside I_pll


def coefficients():
    """The model's coefficients fitted from ``MEASURED``: the PLL line (least squares over its three
    rows), k and i_dsp at the low and the high end, and the PLL rail's largest current."""
    pll = [v for name, v in MEASURED.items() if name.startswith("pll_")]
    n = len(pll)
    mx = sum(v["mhz"] for v in pll) / n
    my = sum(v["ua"] for v in pll) / n
    slope = sum((v["mhz"] - mx) * (v["ua"] - my) for v in pll) / sum((v["mhz"] - mx) ** 2 for v in pll)
    c_lo, c_hi = MEASURED["counter_32lc_12mhz"], MEASURED["counter_228lc_12mhz"]
    k_low = (c_hi["ua"] - c_lo["ua"]) / ((c_hi["lc"] - c_lo["lc"]) * c_lo["mhz"])
    base, logic, dsp = MEASURED["hfosc_counter_12mhz"], MEASURED["math_logic_12mhz"], MEASURED["math_dsp_12mhz"]
    k_high = (logic["ua"] - base["ua"]) / ((logic["lc"] - base["lc"]) * base["mhz"])

    def per_dsp(k):
        return (dsp["ua"] - base["ua"] - k * (dsp["lc"] - base["lc"]) * base["mhz"]) / (dsp["dsp"] * base["mhz"])
    # the low-end LCs leave the most of the DSP row to the DSP: pair each k with the DSP share it implies
    return dict(pll_intercept_ua=my - slope * mx, pll_slope_ua_per_mhz=slope,
                k_low=k_low, k_high=k_high, dsp_low=per_dsp(k_high), dsp_high=per_dsp(k_low),
                pll_rail_ua=max(v["pll_rail_ua"] for v in pll))


def ice40_estimate(lc, dsp, lanes, mhz, cycles):
    """Core power and energy per inference of an iCE40 UP5K design: ``lc`` logic cells, ``dsp``
    SB_MAC16 (``lanes`` of them busy at a time at the low end), clocked from the PLL at ``mhz``,
    ``cycles`` per inference. Returns the low and high ends (mW, µJ) and the terms behind them."""
    c = coefficients()
    base = c["pll_intercept_ua"] + c["pll_slope_ua_per_mhz"] * mhz
    extra = max(lc - BASE_LC, 0)
    ends = {}
    for end, k, i_dsp, busy in (("low", c["k_low"], c["dsp_low"], min(lanes, dsp)),
                                ("high", c["k_high"], c["dsp_high"], dsp)):
        logic_ua, dsp_ua = k * extra * mhz, i_dsp * busy * mhz
        mw = (base + logic_ua + dsp_ua) * CORE_V / 1e3 + c["pll_rail_ua"] * CORE_V / 1e3
        ends[end] = dict(mw=mw, uj=mw * cycles / mhz / 1e3, base_ua=base, logic_ua=logic_ua, dsp_ua=dsp_ua)
    return ends


#: The ECP5's bracket: no measurement of our design and no per-resource figures, only two published
#: power figures of whole ECP5 designs, per device (LFE5U-<size>F), each end with its source.
#: Low: a board's core-rail (1.1 V) current budget; high: a vendor reference design's whole power.
ECP5_ENDS = {
    85: dict(low_mw=212 * 1.1, high_mw=850.0,
             low=("the ButterStick board's design discussion (github.com/butterstick-fpga/butterstick-hardware, "
                  "issue 2): the 85F's 1.1 V core rail budgeted at 212 mA"),
             high=("Lattice's ECP5 human-detection reference design (MobileNet, 224 x 224, 10 fps), quoted at "
                   "850 mW for the whole design")),
}


def ecp5_estimate(size, us):
    """The ECP5 bracket for an LFE5U-``size``F running ``us`` µs per inference: the two published
    whole-design powers of :data:`ECP5_ENDS` times the time (None if the device has none). Not a
    model of the design: the clock, the logic used and the switching do not enter; the note says so."""
    ends = ECP5_ENDS.get(size)
    if ends is None:
        return None
    return {end: dict(mw=ends[f"{end}_mw"], uj=ends[f"{end}_mw"] * us / 1e3, source=ends[end])
            for end in ("low", "high")}


def estimate(fpga):
    """The estimate for one FPGA row of ``ipvae bench`` (``bench.fpga_latency``: a synthesis report's
    resources, bitstream clock and median cycles), or None with the reason when the chip has no
    published figures here. An ECP5 row carries ``bracket`` = True: its ends are published powers of
    other designs (:func:`ecp5_estimate`), not a model of this one."""
    if fpga["family"] == "ecp5":
        import re
        size = re.search(r"LFE5U-(\d+)F", fpga["board"])
        ends = ecp5_estimate(int(size.group(1)), fpga["us"]) if size else None
        if ends is None:
            return None, f"{fpga['board']}: no published power figure of this device reachable here"
        u = fpga["used"]
        return dict(board=fpga["board"], lanes=fpga["lanes"], core=fpga.get("core", f"P={fpga['lanes']}"),
                    mhz=fpga["clock"], us=fpga["us"], bracket=True,
                    lut4=u.get("LUT4", 0), dsp=u.get("DSP", 0), dp16kd=u.get("DP16KD", 0), **ends), None
    if fpga["family"] != "ice40":
        return None, f"{fpga['board']}: no measured or vendor per-resource power figures reachable here"
    u = fpga["used"]
    ends = ice40_estimate(u["LC"], u["DSP"], fpga["lanes"], fpga["clock"], fpga["cycles"])
    return dict(board=fpga["board"], lc=u["LC"], dsp=u["DSP"], ebr=u["EBR"], spram=u.get("SPRAM", 0),
                lanes=fpga["lanes"], mhz=fpga["clock"], us=fpga["us"], **ends), None
