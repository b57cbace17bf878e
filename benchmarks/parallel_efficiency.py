"""Parallel efficiency of a linksim sweep on Dask: 1 vs N workers, local and "multi-node".

A fixed sweep (5G LDPC (1024,512) + QPSK on AWGN, ``--points`` Eb/N0 values, each
exactly ``--blocks`` blocks: no error target, no early stop) is timed on

* a local cluster, as ``linksim run --workers N`` makes it (``LocalCluster`` on
  127.0.0.1, one single-thread worker process each), with 1 and N workers;
* a simulated multi-node cluster: a ``dask scheduler`` process plus separate
  ``dask worker`` processes (each its own ``--nthreads 1`` and memory limit), all on
  127.0.0.1, joined with ``linksim run --cluster``, with 1 and N workers.

Fair setup: one worker process per core, TensorFlow limited to one intra-op and one
inter-op thread per worker (linksim sets that on each worker from its Dask threads).
Start-up is not timed: each cluster first runs the sweep once to warm up (TensorFlow
import, XLA compilation in every worker), then the same sweep is timed ``--repeats``
times with ``fresh=True`` (every point recomputed) and the best time is kept.
Speedup = T(1 worker) / T(N); efficiency = speedup / N. Counts are checked to be
identical across all runs, and every listening socket of the scheduler and workers
to be on 127.0.0.1.

    python benchmarks/parallel_efficiency.py [--workers 2] [--points 8] [--blocks 4000]
                                             [--repeats 3]
"""
import argparse
import contextlib
import csv
import logging
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import psutil  # noqa: E402  (a dependency of distributed)
import yaml  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

from linksim import scenario as scenario_lib  # noqa: E402
from linksim.sim.runner import run  # noqa: E402


def sweep_scenario(directory, *, points, blocks, batch):
    spec = {"name": "parallel_efficiency", "seed": 1,
            "snr": {"definition": "ebno", "db": [round(0.25 * i, 2) for i in range(points)]},
            "link": {"code": {"name": "ldpc5g", "k": 512, "n": 1024, "iterations": 20},
                     "modulation": {"name": "qam", "bits_per_symbol": 2}},
            "channel": {"name": "awgn"},
            "stop": {"block_errors": 10 ** 9, "max_blocks": blocks, "batch_size": batch,
                     "early_stop": False}}
    path = pathlib.Path(directory) / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return scenario_lib.load(path)


def timed_sweep(scenario, out, address, repeats):
    """Warm-up run, then timed runs (all points recomputed); returns (best seconds, counts)."""
    run(scenario, out=out, fresh=True, show_progress=False, cluster=address)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        summary = run(scenario, out=out, fresh=True, show_progress=False, cluster=address)
        times.append(time.perf_counter() - start)
    with open(pathlib.Path(out) / "metrics.csv", newline="") as f:
        counts = [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]
    assert summary.computed == len(scenario.snr.values())
    return min(times), counts


def listening_hosts(pids):
    """IP addresses that the processes ``pids`` (and their children) listen on."""
    hosts = set()
    for pid in pids:
        parent = psutil.Process(pid)
        for process in [parent, *parent.children(recursive=True)]:
            hosts |= {c.laddr.ip for c in process.net_connections(kind="inet")
                      if c.status == psutil.CONN_LISTEN}
    return hosts


def wait_for_workers(address, count):
    with Client(address, timeout=60) as client:
        client.wait_for_workers(count, timeout=300)
        return list(client.run(os.getpid).values())


class Table:
    """Prints each measured row at once (a partial run still reports), keeps them for checks."""

    def __init__(self):
        self.rows = []
        print("| cluster | workers | sweep time [s] | speedup | efficiency |")
        print("|---|---|---|---|---|", flush=True)

    def add(self, name, n, seconds, counts, hosts):
        self.rows.append((name, n, seconds, counts, hosts))
        single = next(s for other, m, s, _, _ in self.rows if other == name and m == 1)
        print(f"| {name} | {n} | {seconds:.1f} | {single / seconds:.2f} | "
              f"{single / seconds / n:.2f} |", flush=True)


def local_cluster(scenario, tmp, workers, table, repeats):
    for n in sorted({1, workers}):
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                          scheduler_port=0, dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster:
            pids = [os.getpid(), *wait_for_workers(cluster.scheduler_address, n)]
            seconds, counts = timed_sweep(scenario, tmp / f"local{n}", cluster.scheduler_address,
                                          repeats)
            table.add("local cluster (LocalCluster)", n, seconds, counts, listening_hosts(pids))


def multi_node(scenario, tmp, workers, table, repeats):
    """A scheduler and worker processes started as separate `dask` commands."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    loopback = ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]
    scheduler_file = tmp / "scheduler.json"
    processes = []
    try:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", *loopback, "--port", "0",
             "--no-dashboard", "--scheduler-file", str(scheduler_file)],
            env=env, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = yaml.safe_load(scheduler_file.read_text())["address"]
        for n in sorted({1, workers}):
            while len(processes) - 1 < n:  # "nodes": each its own process, threads, memory
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "distributed.cli.dask_worker", address, *loopback,
                     "--nthreads", "1", "--nworkers", "1", "--memory-limit", "4GiB",
                     "--no-dashboard", "--name", f"node-{len(processes)}"],
                    env=env, stderr=subprocess.DEVNULL))
            wait_for_workers(address, n)
            seconds, counts = timed_sweep(scenario, tmp / f"nodes{n}", address, repeats)
            table.add("multi-node (scheduler + `dask worker` processes)", n, seconds, counts,
                      listening_hosts([p.pid for p in processes]))
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            if process.poll() is None:
                process.kill()
                process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=min(os.cpu_count(), 4),
                        help="N (compared with 1); at most one per core is fair")
    parser.add_argument("--points", type=int, default=8)
    parser.add_argument("--blocks", type=int, default=4000, help="blocks per point")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is kept")
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU cores; load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at start")
    print(f"sweep: LDPC (1024,512) + QPSK, AWGN, {args.points} points x {args.blocks} blocks "
          f"(batch {args.batch}); best of {args.repeats} timed runs; TensorFlow 1 thread per "
          "worker process\n")
    table = Table()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        scenario = sweep_scenario(tmp, points=args.points, blocks=args.blocks, batch=args.batch)
        local_cluster(scenario, tmp, args.workers, table, args.repeats)
        multi_node(scenario, tmp, args.workers, table, args.repeats)
    rows = table.rows
    reference = rows[0][3]
    hosts = set().union(*(r[4] for r in rows))
    print(f"\ncounts identical in every run: {all(r[3] == reference for r in rows)}; "
          f"listening on: {', '.join(sorted(hosts))}")


if __name__ == "__main__":
    main()
