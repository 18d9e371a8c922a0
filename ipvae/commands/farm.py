"""``ipvae farm``: a Dask scheduler here whose workers are batch jobs on Slurm, LSF, PBS or SGE
(dask-jobqueue), kept up until Ctrl-C; the other commands reach it with ``--cluster ADDRESS``."""
from __future__ import annotations

import time

from .args import positive_int


def cmd_farm(a):
    from ipvae.cluster import farm_cluster
    prologue = list(a.prologue or [])
    cluster = farm_cluster(a.kind, cores=a.cores, memory=a.memory, walltime=a.walltime, queue=a.queue,
                           account=a.account, prologue=prologue, log_directory=a.log_directory)
    try:
        if a.dry_run:
            print(cluster.job_script(), flush=True)
            return
        cluster.scale(jobs=a.jobs)
        print(f"[farm] {a.kind}: {a.jobs} job(s) of {a.cores} worker(s) submitted; scheduler "
              f"{cluster.scheduler_address}, dashboard {cluster.dashboard_link}", flush=True)
        print(f"[farm] run e.g. `ipvae sweep ... --cluster {cluster.scheduler_address}`; Ctrl-C cancels the jobs",
              flush=True)
        while True:
            time.sleep(60)
            n = len(cluster.scheduler_info.get("workers", {}))
            print(f"[farm] {n} worker(s) connected", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.close()


def register(sub):
    from ipvae.cluster import FARMS
    s = sub.add_parser("farm", help="a Dask scheduler here, its workers as batch jobs (Slurm, LSF, PBS, SGE); "
                                    "docs/cluster.md")
    s.add_argument("kind", choices=sorted(FARMS), help="the batch system")
    s.add_argument("--jobs", type=positive_int, default=2, help="batch jobs to submit (default 2)")
    s.add_argument("--cores", type=positive_int, default=8, help="cores per job: one single-threaded worker each")
    s.add_argument("--memory", default="32GB", help="memory per job (default 32GB: an 85F place-and-route "
                                                    "takes about 3 GB a seed)")
    s.add_argument("--walltime", default="04:00:00", help="per job (default 04:00:00; LSF takes HH:MM)")
    s.add_argument("--queue", help="queue or partition")
    s.add_argument("--account", help="account (Slurm) or project (LSF, PBS, SGE)")
    s.add_argument("--prologue", action="append", metavar="LINE",
                   help="a shell line each job runs before its workers (repeat): e.g. 'cd /shared/ipvae-fpga' "
                        "and 'source .venv/bin/activate'")
    s.add_argument("--log-directory", help="where the jobs' own logs go")
    s.add_argument("--dry-run", action="store_true", help="print the job script and submit nothing")
    s.set_defaults(fn=cmd_farm)
