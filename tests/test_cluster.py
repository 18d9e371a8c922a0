"""Work on a Dask cluster (ipvae/cluster.py), real Dask: a LocalCluster of 2 worker processes runs a
sharded co-simulation regression equal to the serial one; a worker killed while it holds a task
costs nothing (the task runs again, every result arrives once); a failing task is one clear error
beside the others' results; an unreachable scheduler is one line and exit 2 within seconds."""
import os
import signal
import threading
import time

import numpy as np
import pytest

from ipvae.cli import main
from ipvae.cluster import close, connect, run_tasks
from ipvae.golden_model.random_model import random_bundle
from ipvae.shards import sharded_regression, split
from ipvae.sim.regression import run as serial_run


def hold(seconds, value):
    """A task that takes ``seconds`` and returns ``value`` with the pid that ran it."""
    time.sleep(seconds)
    return value, os.getpid()


def fail_on(value, bad):
    if value == bad:
        raise ValueError(f"task {value} fails on its own")
    return value * 10


@pytest.fixture(scope="module")
def client():
    c = connect("local", workers=2, log=lambda s: None)
    yield c
    close(c)


def test_split_keeps_order_and_sizes():
    parts = split(list(range(7)), 3)
    assert parts == [[0, 1, 2], [3, 4], [5, 6]] and split([1], 4) == [[1]]


def test_sharded_regression_equals_the_serial_run(client, tmp_path):
    path = random_bundle(tmp_path / "b", 12, 8, seed=3)
    rng = np.random.default_rng(4)
    cases = [dict(name=f"c{i}", x=rng.integers(-128, 128, size=12), iterations=5, seed=i + 1) for i in range(6)]
    serial = serial_run("verilator", path, 4, cases, tmp_path / "serial", gap=0.2, backpressure=0.2)
    lines = []
    merged = sharded_regression(client, "verilator", path, 4, cases, tmp_path / "sharded", 3, log=lines.append,
                                gap=0.2, backpressure=0.2)
    assert merged["errors"] == [] and merged["failed"] == 0 and merged["shards"] == 3
    keys = ("name", "seed", "bit_exact", "cycles", "model_cycles", "spikes", "z_out")
    assert [{k: r[k] for k in keys} for r in merged["results"]] == [{k: r[k] for k in keys} for r in serial["results"]]
    assert all(r["bit_exact"] and r["cycles"] == r["model_cycles"] for r in merged["results"])
    assert any("3/3 done" in line for line in lines)
    workers = {p.name for p in (tmp_path / "sharded").iterdir()}
    assert workers and all(name.startswith("worker-") for name in workers)     # one build folder a worker


def test_a_killed_worker_loses_nothing(client):
    """SIGKILL to the worker process running a task: the nanny starts a new worker, the scheduler
    runs the task again, and each of the six results arrives exactly once."""
    killed = []

    def killer():
        deadline = time.time() + 30
        while time.time() < deadline and not killed:
            busy = [addr for addr, keys in client.processing().items() if keys]
            if busy:
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.2)

    t = threading.Thread(target=killer)
    t.start()
    out = run_tasks(client, hold, [(f"hold {i}", (1.5, i)) for i in range(6)], name="hold", log=lambda s: None)
    t.join()
    assert killed, "no worker was seen holding a task"
    values = [v for _, (v, _) in out.results.values()]
    assert values == list(range(6)) and out.failures == []


def test_a_failing_task_is_reported_once_and_the_rest_kept(client):
    lines = []
    out = run_tasks(client, fail_on, [(f"t{i}", (i, 2)) for i in range(5)], name="tasks", log=lines.append)
    assert [v for _, v in out.results.values()] == [0, 10, 30, 40]
    assert len(out.failures) == 1 and out.failures[0].label == "t2"
    assert out.failures[0].error == "ValueError: task 2 fails on its own"
    assert sum("FAILED" in line for line in lines) == 1


def test_an_unreachable_scheduler_is_one_line(tmp_path, capsys):
    t0 = time.time()
    assert main(["sim", "--cluster", "tcp://127.0.0.1:9", "--samples", "2", "--build", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert time.time() - t0 < 10
    assert len(err) == 1 and "no Dask scheduler answers at tcp://127.0.0.1:9" in err[0]
    with pytest.raises(SystemExit) as exc:       # argparse's own error: exit status 2, one line
        main(["sim", "--cluster", "farm", "--build", str(tmp_path)])
    assert exc.value.code == 2
    assert "must be 'local' or a scheduler address like tcp://HOST:8786, got 'farm'" in capsys.readouterr().err


def test_a_sweep_on_two_workers_equals_one_worker(tmp_path):
    """A 2-point iCE40 sweep of a tiny bundle (N = K = 16, 4x4 photo patches) on a LocalCluster of 2
    workers and of 1: the same points (quality, cycles, resources, Fmax) and Pareto set."""
    from ipvae.golden_model.data import DataSpec
    from ipvae.sweep import run_sweep
    path = random_bundle(tmp_path / "b", 16, 16, seed=2, data=DataSpec(patch=4, n_train=400, n_valid=100))
    runs = [run_sweep("icebreaker", [1, 2], [8], bundle=str(path), out=tmp_path / f"w{n}", jobs=n, samples=40,
                      log=lambda s: None) for n in (2, 1)]
    drop = ("seconds", "bundle", "out_dir", "report")
    same = [[{k: v for k, v in p.items() if k not in drop} for p in pts] for pts in runs]
    assert same[0] == same[1] and [p["lanes"] for p in runs[0]] == [1, 2]
    assert all(p["fits"] for p in runs[0]) and (tmp_path / "w2" / "sweep.md").exists()


@pytest.mark.slow
def test_synthesis_seeds_as_tasks_equal_threads(tmp_path):
    """Two nextpnr seeds of the UP5K smoke configuration as Dask tasks and on threads: the same
    Fmax, resources and critical path for each seed (nextpnr is deterministic per seed)."""
    from ipvae.synth import synthesize
    reps = [synthesize("icebreaker", bundle="random:16x16", lanes=2, seeds=[1, 2], out_dir=tmp_path / name,
                       weights="rom", max_iterations=63, iterations=8, jobs=2, log=lambda s: None, cluster=cluster)
            for name, cluster in (("threads", None), ("tasks", "local"))]
    keep = ("seed", "fmax", "core_fmax_mhz")
    assert [{k: r[k] for k in keep} for r in reps[0]["seeds"]] == [{k: r[k] for k in keep} for r in reps[1]["seeds"]]
    for key in ("best_seed", "utilization", "critical_path", "bitstream_sha256", "cycles"):
        assert reps[0][key] == reps[1][key], key


def test_a_quantisation_study_on_the_cluster_equals_the_serial_one(client, tmp_path):
    """Every point of the width study as a task (the bundle loaded by the worker): the same metrics,
    in the same order, as the loop in one process."""
    from ipvae.golden_model.data import DataSpec
    from ipvae.golden_model.quant_study import run_study
    path = random_bundle(tmp_path / "b", 16, 16, seed=5, data=DataSpec(patch=4, n_train=200, n_valid=60))
    serial, ref = run_study(path, samples=30, out_dir=tmp_path / "serial", log=lambda s: None)
    tasks = run_study(path, samples=30, out_dir=tmp_path / "tasks", log=lambda s: None,
                      run_points=lambda fn, todo: [r for _, r in run_tasks(client, fn, todo, name="quant",
                                                                             log=lambda s: None).results.values()])
    assert tasks[0] == serial and tasks[1] == ref and len(serial) > 20


def test_a_machine_without_a_tool_says_which(tmp_path, monkeypatch):
    """A worker (or this machine) missing a simulator or a synthesis tool: a ToolError naming the
    tool and the machine, before anything runs."""
    import socket

    from ipvae.golden_model.errors import ToolError
    from ipvae.sim.runner import require_simulator
    from ipvae.synth import _run
    monkeypatch.setenv("PATH", str(tmp_path))          # nothing on PATH
    with pytest.raises(ToolError, match=f"icarus: `iverilog` is not installed on {socket.gethostname()}"):
        require_simulator("icarus")
    with pytest.raises(ToolError, match="nextpnr seed 1: `nextpnr-absent` is not installed on"):
        _run([str(tmp_path / "nextpnr-absent"), "--help"], tmp_path, tmp_path / "log", "nextpnr seed 1", print)


def test_farm_job_scripts(capsys):
    """`ipvae farm KIND --dry-run` prints the batch script dask-jobqueue would submit: the queue,
    account, cores, one single-threaded worker per core, and the prologue before the workers."""
    assert main(["farm", "slurm", "--dry-run", "--cores", "4", "--memory", "16GB", "--queue", "batch",
                 "--account", "hw", "--prologue", "cd /shared/ipvae-fpga", "--prologue",
                 "source .venv/bin/activate"]) == 0
    text = capsys.readouterr().out
    for line in ("#SBATCH -p batch", "#SBATCH -A hw", "#SBATCH --cpus-per-task=4", "#SBATCH -t 04:00:00"):
        assert line in text
    assert text.index("source .venv/bin/activate") < text.index("dask_worker")
    assert "--nworkers 4" in text and "--nthreads 1" in text
    assert main(["farm", "lsf", "--dry-run", "--walltime", "02:00", "--account", "hw"]) == 0
    text = capsys.readouterr().out
    assert '#BSUB -P "hw"' in text and "#BSUB -W 02:00" in text and "--nworkers 8" in text


@pytest.mark.slow
def test_a_sweep_on_a_separate_scheduler_equals_the_local_one(tmp_path):
    """`dask scheduler` and two `dask worker` processes started apart from the command: the sweep
    sent to its address gives the local cluster's report; run again into the same folder, every
    point reuses its finished build (an interrupted sweep picks up where it stopped)."""
    import socket
    import subprocess
    import sys

    from ipvae.golden_model.data import DataSpec
    from ipvae.sweep import run_sweep
    path = random_bundle(tmp_path / "b", 16, 16, seed=2, data=DataSpec(patch=4, n_train=400, n_valid=100))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m"]
    procs = [subprocess.Popen(dask + ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
                                      "--dashboard-address", ":0"], stderr=subprocess.DEVNULL)]
    time.sleep(3)
    procs.append(subprocess.Popen(dask + ["distributed.cli.dask_worker", address, "--nworkers", "2", "--nthreads", "1"],
                                  stderr=subprocess.DEVNULL))
    try:
        time.sleep(5)
        far = run_sweep("icebreaker", [1, 2], [8], bundle=str(path), out=tmp_path / "far", samples=40,
                        log=lambda s: None, cluster=address)
        near = run_sweep("icebreaker", [1, 2], [8], bundle=str(path), out=tmp_path / "near", jobs=2, samples=40,
                         log=lambda s: None)
        drop = ("seconds", "bundle", "out_dir", "report")
        same = [[{k: v for k, v in p.items() if k not in drop} for p in pts] for pts in (far, near)]
        assert same[0] == same[1] and all(p["fits"] for p in far)
        reports = sorted((tmp_path / "far").glob("P*/report.json"))
        stamps = [r.stat().st_mtime_ns for r in reports]
        again = run_sweep("icebreaker", [1, 2], [8], bundle=str(path), out=tmp_path / "far", samples=40,
                          log=lambda s: None, cluster=address)
        assert [r.stat().st_mtime_ns for r in reports] == stamps and len(reports) == 2
        assert [{k: v for k, v in p.items() if k not in drop} for p in again] == same[0]
    finally:
        for p in procs[::-1]:
            p.terminate()
            p.wait(30)


def test_the_projected_schedule():
    """Each free worker takes the next task in order: the makespan the scaling figure projects."""
    from ipvae.cluster_bench import makespan
    assert makespan([3, 1, 1, 1], 1) == 6 and makespan([3, 1, 1, 1], 2) == 3 and makespan([1, 1, 1, 3], 2) == 4
    assert makespan([5, 2], 8) == 5
    with pytest.raises(ValueError):
        makespan([1], 0)


def test_a_process_pool_runner_keeps_order_and_failures():
    from ipvae.cluster_bench import pool_runner
    out = pool_runner(2)(fail_on, [(f"t{i}", (i, 2)) for i in range(4)])
    assert [v for _, v in out.results.values()] == [0, 10, 30]
    assert [f.label for f in out.failures] == ["t2"] and "task 2 fails on its own" in out.failures[0].error
