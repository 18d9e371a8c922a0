"""cocotb co-simulation of the generated Verilog on Icarus and Verilator: every iteration's u
and z (trace stream), the outputs and the cycle count against the golden model, under random
input gaps and output backpressure. Build folders per (simulator, parameter set) live under
the session's tmp dir, so xdist workers never share one."""
import numpy as np
import pytest

from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import trace_one
from ipvae.golden_model.random_model import random_bundle
from ipvae.rtl.boards.registry import get_board
from ipvae.sim.regression import assert_exact as check
from ipvae.sim.regression import corner_cases, heldout_cases, run, summarise

SIMS = ["icarus", "verilator"]


@pytest.fixture(scope="session")
def build_root(tmp_path_factory):
    return tmp_path_factory.mktemp("sim_build")


@pytest.fixture(scope="session")
def regress(request):
    """How the slow regressions run their cases: here, or with ``pytest -m slow --cluster SPEC``
    as one shard a worker on that Dask cluster (ipvae/shards.py), every case's result back once."""
    spec = request.config.getoption("--cluster")
    if spec is None:
        yield run
        return
    from ipvae.cluster import check_spec, close, connect
    from ipvae.shards import sharded_regression
    client = connect(check_spec(spec), log=print)

    def sharded(sim, bundle_path, lanes, cases, build_root, **kw):
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        res = sharded_regression(client, sim, bundle_path, lanes, cases, build_root, workers, log=print, **kw)
        assert not res["errors"], res["errors"]
        assert [r["name"] for r in res["results"]] == [c["name"] for c in cases]
        return res
    yield sharded
    close(client)


@pytest.fixture(scope="session")
def odd_bundles(tmp_path_factory):
    """Random bundles at sizes no other test uses (N=49, K=80): plausible, silent (u0 = -8),
    and saturated (u0 = +10: counts at the cap, u driven to both clamps)."""
    root = tmp_path_factory.mktemp("bundles")
    return dict(plain=random_bundle(root / "plain", 49, 80, seed=1),
                silent=random_bundle(root / "silent", 49, 80, seed=2, u0=-8, drive_scale=0.05),
                saturated=random_bundle(root / "saturated", 49, 80, seed=3, u0=10))


@pytest.mark.parametrize("sim", SIMS)
def test_default_bundle_heldout_patches(sim, build_root):
    cases = heldout_cases(None, 3, iterations=6) + corner_cases(64, Formats(), iterations=3)
    res = run(sim, None, 16, cases, build_root, gap=0.3, backpressure=0.3)
    check(res)
    assert summarise(res)["bit_exact"] == len(cases)


@pytest.mark.parametrize("sim, board", [("icarus", "ulx3s-45f"), ("verilator", "ulx3s-45f"),
                                        ("verilator", "ulx3s-25f")])
def test_array_core_default_bundle(sim, board, build_root):
    """The array core (rtl/core/array_core.py) as the 45F (128 lateral lanes, 16 sampler units) and
    the 25F (64 lanes of two neurons, 8 units) build it, from their registry records: bit-exact with
    the golden model at S lanes, cycle-exact with array_cycles."""
    b = get_board(board)
    cases = heldout_cases(None, 2, iterations=6) + corner_cases(64, Formats(), iterations=2)[:2]
    res = run(sim, None, b.lanes, cases, build_root, gap=0.3, backpressure=0.3, search=b.search,
              lateral_lanes=b.lateral_lanes)
    check(res)
    assert summarise(res)["bit_exact"] == len(cases)


def test_array_core_odd_sizes_and_corners(build_root, odd_bundles):
    """The array core at N = 49, K = 80 with 40 lateral lanes (two neurons a lane) in two tiles of 36
    and 4 lanes, 8 sampler units: random codes, then the saturated bundle's corners (counts at the
    cap, u at both clamps) and the silent one's (no spike: no lateral phase). Verilator (the array
    core runs on Icarus in test_array_core_default_bundle and the slow regression)."""
    sim = "verilator"
    rng = np.random.default_rng(4)
    cases = [dict(name=f"rand{i}", x=rng.integers(-128, 128, size=49), iterations=4, seed=s)
             for i, s in enumerate((3, 2 ** 32 - 1))]
    check(run(sim, odd_bundles["plain"], 8, cases, build_root, gap=0.3, backpressure=0.3, lateral_lanes=40))
    for kind in ("saturated", "silent"):
        corners = corner_cases(49, Formats(), iterations=3)[:3]
        check(run(sim, odd_bundles[kind], 8, corners, build_root, gap=0.2, backpressure=0.2, lateral_lanes=40))


@pytest.mark.parametrize("sim", SIMS)
def test_odd_sizes_and_corners(sim, build_root, odd_bundles):
    from ipvae.golden_model import bundle as B
    rng = np.random.default_rng(0)
    cases = [dict(name=f"rand{i}", x=rng.integers(-128, 128, size=49), iterations=4, seed=s)
             for i, s in enumerate((0, 99, 2 ** 32 - 1))]
    check(run(sim, odd_bundles["plain"], 8, cases, build_root, gap=0.3, backpressure=0.3))
    for kind in ("silent", "saturated"):
        corners = corner_cases(49, Formats(), iterations=3)
        check(run(sim, odd_bundles[kind], 8, corners, build_root, gap=0.2, backpressure=0.2))
    # the corner bundles really reach the corners
    sat, sil = B.load(odd_bundles["saturated"]).fixed, B.load(odd_bundles["silent"]).fixed
    tr = trace_one(sat, np.zeros(49, np.int64), 3, 7, lanes=8)
    assert tr["z"].max() == sat.fmt.count_max and tr["u"].max() == sat.fmt.u_hi and tr["u"].min() == sat.fmt.u_lo
    assert trace_one(sil, np.zeros(49, np.int64), 3, 7, lanes=8)["z"].sum() == 0


@pytest.mark.slow
@pytest.mark.parametrize("sim, samples", [("verilator", 1000), ("icarus", 100)])
def test_large_regression(sim, samples, build_root, odd_bundles, regress):
    """>= 1,000 inferences across bundles and seeds (slow: pytest -m slow)."""
    res = regress(sim, None, 16, heldout_cases(None, samples, iterations=16, seed=5), build_root,
                  gap=0.1, backpressure=0.1)
    check(res)
    rng = np.random.default_rng(1)
    cases = [dict(name=f"rand{i}", x=rng.integers(-128, 128, size=49), iterations=8, seed=i)
             for i in range(samples // 10)]
    check(regress(sim, odd_bundles["plain"], 8, cases, build_root, gap=0.1, backpressure=0.1))


@pytest.mark.slow
@pytest.mark.parametrize("sim, samples", [("verilator", 1000), ("icarus", 100)])
def test_large_regression_array_core(sim, samples, build_root, odd_bundles, regress):
    """>= 1,000 inferences of the array core (128 lateral lanes, 16 sampler units on the default
    bundle; 40 and 8 on the odd N = 49, K = 80 bundles, corners included) (slow: pytest -m slow)."""
    check(regress(sim, None, 16, heldout_cases(None, samples, iterations=16, seed=6), build_root,
              gap=0.1, backpressure=0.1, lateral_lanes=128))
    rng = np.random.default_rng(2)
    cases = [dict(name=f"rand{i}", x=rng.integers(-128, 128, size=49), iterations=8, seed=i)
             for i in range(samples // 10)]
    check(regress(sim, odd_bundles["plain"], 8, cases, build_root, gap=0.1, backpressure=0.1, lateral_lanes=40))
    for kind in ("saturated", "silent"):
        check(regress(sim, odd_bundles[kind], 8, corner_cases(49, Formats(), iterations=6), build_root,
                  gap=0.1, backpressure=0.1, lateral_lanes=40))


def test_waves_on_demand(build_root, monkeypatch):
    """WAVES=1 dumps an FST file into the run's build folder; off by default."""
    cases = heldout_cases(None, 1, iterations=2)
    res = run("icarus", None, 16, cases, build_root)
    from pathlib import Path
    assert not list(Path(res["build_dir"]).glob("*.fst"))
    monkeypatch.setenv("WAVES", "1")
    res = run("icarus", None, 16, cases, build_root)
    check(res)
    assert list(Path(res["build_dir"]).glob("*.fst"))
