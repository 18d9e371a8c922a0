"""Build the simulated board top (rtl/link/board_link.py: UARTs, host link, core) and run
sim/cocotb_board.py against it: the host protocol end to end through the UART pins."""
import json
import uuid
from pathlib import Path

from ipvae.golden_model import bundle as bundle_mod
from ipvae.rtl.core import cycle_model, timing
from ipvae.rtl.core.config import CoreConfig
from ipvae.rtl.link.board_link import BoardLink

from .runner import compile_design

TOPLEVEL = "ipvae_board_link"


def run_board(sim, bundle_path, lanes, cases, *, weights="rom", clock_hz=1_000_000, baud=125_000,
              max_iterations=63, timeout_cycles=4096, load_chunk_words=64, build_root="sim_build",
              search=timing.DEFAULT_SEARCH, waves=False, stream=(), reply_slice=False, reseed_wait=True,
              lateral_lanes=0):
    """cases: [{name, x (codes), iterations, seed, with_u}], each request/response; stream: more
    cases sent pipelined (counts only), whose rate the results' "stream" reports. reply_slice,
    reseed_wait and lateral_lanes (the array core): a board's choices (rtl/boards/registry.py).
    Returns the results dict of the cocotb module; raises AssertionError (with the cocotb failure)
    if any check failed."""
    b = bundle_mod.load(bundle_path)
    config = CoreConfig(b.fixed, lanes, max_iterations=max_iterations, search=search, weights=weights,
                        reseed_wait=reseed_wait, lateral_lanes=lateral_lanes)
    top = BoardLink(config, clock_hz=clock_hz, baud=baud, timeout_cycles=timeout_cycles, reply_slice=reply_slice)
    runner, build_dir = compile_design(sim, top, TOPLEVEL, build_root, waves)
    # the longest reply wait: a whole inference at T = max_iterations with every neuron at the count cap
    worst = cycle_model.worst_case(config, max_iterations)
    tag = uuid.uuid4().hex[:8]
    plan_file, results_file = build_dir / f"plan-{tag}.json", build_dir / f"results-{tag}.json"
    plan_file.write_text(json.dumps(dict(
        config.settings(), bundle=str(bundle_mod.resolve(bundle_path)), divisor=top.divisor,
        clock_hz=clock_hz, timeout_cycles=timeout_cycles,
        load_chunk_words=load_chunk_words, reply_timeout_cycles=worst + 2 * timeout_cycles,
        cases=[dict(c, x=[int(v) for v in c["x"]]) for c in cases],
        stream=[dict(c, x=[int(v) for v in c["x"]]) for c in stream])))
    xml = runner.test(test_module="ipvae.sim.cocotb_board", hdl_toplevel=TOPLEVEL, build_dir=build_dir,
                      test_dir=build_dir,
                      waves=waves, results_xml=str(build_dir / f"results-{tag}.xml"),
                      extra_env={"IPVAE_BOARD_PLAN": str(plan_file), "IPVAE_BOARD_RESULTS": str(results_file)},
                      log_file=build_dir / f"test-{tag}.log")
    from cocotb_tools.runner import get_results
    _, failed = get_results(xml)
    log = build_dir / f"test-{tag}.log"
    if failed or not results_file.exists():
        tail = "\n".join(Path(log).read_text(errors="replace").splitlines()[-30:])
        raise AssertionError(f"board co-simulation failed ({sim}); {log}:\n{tail}")
    res = json.loads(results_file.read_text())
    res.update(sim=sim, build_dir=str(build_dir))
    return res
