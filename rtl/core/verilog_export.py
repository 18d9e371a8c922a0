"""``ipvae rtl``: write the core's Verilog and a JSON of its parameters for a bundle."""
from __future__ import annotations

import json
from pathlib import Path

from amaranth.back import verilog

from ipvae.golden_model import bundle as bundle_mod

from . import cycle_model, timing
from .ipvae_core import IpvaeCore

__all__ = ["core_parameters", "generate"]


def core_parameters(core, bundle_path=None):
    """The core's parameters as JSON-ready data (the array core adds its lateral lanes, its F
    words per column and its tiles, and states its own cycle model)."""
    fx = core.fixed
    array = getattr(core.config, "lateral_lanes", 0)
    params = dict(
        bundle=str(bundle_path or bundle_mod.DEFAULT_BUNDLE), n_inputs=fx.n_inputs, n_latents=fx.n_latents,
        lanes=core.lanes, slots=core.slots, max_iterations=core.max_iterations, trace=core.has_trace,
        sampler="parallel" if core.search == timing.PARALLEL_SAMPLER else f"search, {core.search} thresholds per cycle",
        formats=fx.fmt.to_dict(), exponents=dict(e_f=fx.e_f, e_w=fx.e_w, drive_shift=fx.drive_shift,
                                                 delta_shift=fx.delta_shift),
        widths=fx.widths(),
        ports=dict(i=f"signed({fx.fmt.input_bits}) stream, N beats",
                   o=f"{{z: {core.lanes}x{fx.fmt.count_bits}, u: {core.lanes}x{fx.fmt.u_bits}}} stream, K/P beats",
                   iterations=f"unsigned({len(core.iterations)})", seed="unsigned(32)", cycles="unsigned(32)"),
        cycle_model=(f"cycles = S N + {cycle_model.DRIVE_TAIL} + sum_(t<=T) (sum_s C_ts + {timing.PASS_OVERHEAD}) "
                     f"+ sum_(t<T: n_t>0) ({timing.LATERAL_HANDOFF} + {timing.LATERAL_ENTRY_CYCLES} e_t + n_t S),"
                     f" S = K/P, C_ts = 1 (parallel) or max_p floor(z_p/W)+{timing.SEARCH_OVERHEAD}, minus 1 per pass "
                     f"(search W); first output beat at cycles+2"),
    )
    if array:
        c = core.config
        params.update(lateral_lanes=c.lateral_lanes, drive_parts=c.drive_parts, tile_lanes=c.tile_lanes,
                      cycle_model="rtl/core/cycle_model.py array_cycles: drive 2 (2 + N (K/L) drive_parts + K/S + "
                                  "latency) + 1, then per pass its l read-out overlapping its sampling and its "
                                  "spikes one per K/L cycles; first output beat at cycles+2")
    return params


def generate(bundle_path, lanes, out_dir, max_iterations=1023, trace=False, search=timing.DEFAULT_SEARCH,
             name="ipvae_core"):
    b = bundle_mod.load(bundle_path)
    core = IpvaeCore(b.fixed, lanes=lanes, max_iterations=max_iterations, trace=trace, search=search)
    text = verilog.convert(core, name=name, emit_src=False)   # ports from the component's signature
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.v").write_text(text)
    (out / f"{name}.json").write_text(json.dumps(core_parameters(core, bundle_path), indent=1))
    return out / f"{name}.v", out / f"{name}.json"
