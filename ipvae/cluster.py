"""Where the independent pieces of work run: a Dask ``distributed`` cluster (docs/cluster.md).

A sweep point, a nextpnr seed or a shard of co-simulated inferences is one task. ``--cluster
local`` (the default) starts a ``LocalCluster`` of worker processes sized to this machine;
``--cluster tcp://HOST:8786`` sends the tasks to a scheduler already running (started by hand or
by dask-jobqueue on a farm), and the results come back to the process that asked. Dask does the
scheduling: a worker that dies mid-task has its task run again elsewhere (the scheduler's
``allowed-failures``), so every result arrives once; a task that fails on its own (a build error,
a mismatch) is reported once, with its error, and the other tasks' results are kept.

Tasks read and write files under the paths they are given (bundles, build folders): on a farm the
workers share that file system with the machine that asks, as farms' home and project folders are.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from ipvae.golden_model.errors import ParameterError

__all__ = ["CLUSTER_HELP", "TaskFailure", "Outcome", "check_spec", "connect", "close", "free_slots", "run_tasks",
           "run_all", "FARMS", "farm_cluster"]

CLUSTER_HELP = ("where tasks run: 'local' (a Dask LocalCluster of processes on this machine, the default) or "
                "a scheduler's address, tcp://HOST:8786 (docs/cluster.md)")

#: seconds to wait for a named scheduler before saying it does not answer
CONNECT_TIMEOUT_S = 5


def check_spec(spec):
    """'local' or a scheduler address (tcp://, tls://, ws://, ucx://); a ParameterError otherwise."""
    if spec == "local" or any(str(spec).startswith(p) for p in ("tcp://", "tls://", "ws://", "wss://", "ucx://")):
        return spec
    raise ParameterError(f"--cluster must be 'local' or a scheduler address like tcp://HOST:8786, got {spec!r}")


def connect(spec="local", workers=None, log=print):
    """A ``distributed.Client``: on a new LocalCluster of ``workers`` single-threaded worker processes
    (default: the CPU count) for 'local', else on the scheduler at ``spec``. Prints the dashboard
    address when there is one. Close it with ``client.close()`` (and its cluster, for 'local')."""
    check_spec(spec)
    import logging

    from distributed import Client, LocalCluster
    for name in ("distributed", "distributed.nanny", "distributed.worker", "distributed.scheduler"):
        logging.getLogger(name).setLevel(logging.CRITICAL)      # the console is for progress lines
    if spec == "local":
        n = workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.CRITICAL)   # a failed task is reported once, by run_tasks
        client = Client(cluster)
    else:
        try:
            client = Client(spec, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise ParameterError(f"no Dask scheduler answers at {spec} within {CONNECT_TIMEOUT_S} s "
                                 f"({type(exc).__name__}); start one with `dask scheduler` (docs/cluster.md)") from None
    link = getattr(client, "dashboard_link", None)
    n = len(client.scheduler_info().get("workers", {}))
    log(f"[cluster] {spec}: {n} worker(s)" + (f", dashboard {link}" if link else ""))
    return client


def close(client):
    """Close the client and, for a LocalCluster it started, the cluster."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


@dataclass
class TaskFailure:
    """A task that failed on its own: its key, its arguments' label and the error, once."""
    key: str
    label: str
    error: str


@dataclass
class Outcome:
    """The results of a batch of tasks by key, in submission order, and the failures."""
    results: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)        # task key -> seconds from the batch's start to its result


def free_slots(client, in_flight):
    """Tasks to send now: the cluster's threads (at least one, so a scheduler still waiting for its
    workers gets the first task) less those in flight."""
    return max(1, sum(client.nthreads().values())) - in_flight


def run_tasks(client, fn, tasks, *, name, log=print, every_s=30.0):
    """Run ``fn(*args)`` for each ``(label, args)`` of ``tasks`` on the cluster. A progress line (done
    / total, running, failed, time left) goes to ``log`` whenever tasks finish and at least every
    ``every_s`` seconds while they run. Returns an :class:`Outcome` whose results follow the tasks'
    order; a task's own error is one :class:`TaskFailure`, never an exception here.

    At most one task per worker thread is in flight, the next sent as one finishes, in the tasks'
    order (as a process pool takes them): sent all at once, a few tasks are each placed on a worker
    at submission (the scheduler queues only large groups), two to a single-threaded worker, and
    the pair runs back to back while another worker idles. Measured on a 4-point sweep whose third
    point is 3x the others: 194 s on 2 workers against the pool's 167 s; one per worker, 111 s against
    111 s (docs/cluster.md)."""
    from distributed import wait
    tasks = list(tasks)
    t0 = time.time()
    futures, waiting = {}, list(enumerate(tasks))
    out = Outcome()
    pending, done = set(), 0

    def send():
        for _ in range(min(free_slots(client, len(pending)), len(waiting))):
            i, (label, args) = waiting.pop(0)
            key = f"{name}-{i}-{os.getpid()}-{int(t0 * 1e3)}"
            fut = client.submit(fn, *args, key=key, pure=False)
            futures[fut] = (key, label)
            pending.add(fut)

    def progress():
        running = sum(1 for f in pending if f.status == "pending")
        left = (time.time() - t0) / done * (len(tasks) - done) if done else float("nan")
        log(f"[{name}] {done}/{len(tasks)} done, {running} running, {len(waiting)} waiting, "
            f"{len(out.failures)} failed"
            + (f", ~{left:.0f} s left" if done else f", {time.time() - t0:.0f} s so far"))

    send()
    while pending:
        try:
            finished, pending = wait(pending, timeout=every_s, return_when="FIRST_COMPLETED")
        except TimeoutError:
            send()                               # workers may have joined meanwhile
            progress()
            continue
        for fut in finished:
            key, label = futures[fut]
            done += 1
            if fut.status == "finished":
                out.results[key] = (label, fut.result())
                out.seconds[key] = time.time() - t0
                continue
            why = "cancelled (its workers were lost too often)"
            if fut.status == "error":
                exc = fut.exception()
                why = (f"{type(exc).__name__}: {exc}".splitlines() or [type(exc).__name__])[0]
            out.failures.append(TaskFailure(key, label, why))
            log(f"[{name}] {label}: FAILED: {why}")
        send()
        progress()
    order = [k for k, _ in futures.values()]
    out.results = {k: out.results[k] for k in order if k in out.results}
    return out


def run_all(spec, fn, tasks, *, name, workers=None, log=print):
    """Connect to ``spec``, run the tasks (:func:`run_tasks`), close, and return their results in the
    tasks' order; failed tasks are listed in one ToolError after every other task has finished."""
    from ipvae.golden_model.errors import ToolError
    tasks = list(tasks)
    client = connect(spec, workers=workers, log=log)
    try:
        outcome = run_tasks(client, fn, tasks, name=name, log=log)
    finally:
        close(client)
    if outcome.failures:
        raise ToolError(f"{len(outcome.failures)} of {len(tasks)} {name} task(s) failed: "
                        + "; ".join(f"{f.label}: {f.error}" for f in outcome.failures))
    return [r for _, r in outcome.results.values()]


#: batch systems `ipvae farm` starts workers on: dask-jobqueue's cluster class for each
FARMS = {"slurm": "SLURMCluster", "lsf": "LSFCluster", "pbs": "PBSCluster", "sge": "SGECluster"}


def farm_cluster(kind, *, cores, memory, walltime, queue=None, account=None, prologue=(), log_directory=None):
    """A dask-jobqueue cluster whose batch jobs each run ``cores`` single-threaded workers (one
    nextpnr or simulator at a time each): its scheduler runs in this process, at
    ``cluster.scheduler_address``; ``cluster.scale(jobs=N)`` submits the jobs. ``prologue`` lines
    run in each job before its workers start (``cd`` to the shared checkout, activate its .venv),
    so the workers find the same package and tools as this machine."""
    if kind not in FARMS:
        raise ParameterError(f"farm must be one of {', '.join(FARMS)}, got {kind!r}")
    import dask_jobqueue
    cls = getattr(dask_jobqueue, FARMS[kind])
    opts = dict(cores=cores, processes=cores, memory=memory, walltime=walltime, queue=queue,
                job_script_prologue=list(prologue), log_directory=log_directory)
    if account:
        opts["account" if kind == "slurm" else "project"] = account
    if kind == "lsf":
        opts["use_stdin"] = True                  # bsub < script, as LSF sites expect
    return cls(**opts)
