"""Sweeps on Dask workers give the serial run's counts and survive a worker or the driver dying.

All traffic stays on 127.0.0.1 (local clusters bound to loopback).
"""
import csv
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml
from click.testing import CliRunner

from linksim.cli import main

pytest.importorskip("distributed", reason="Dask distributed is not installed "
                                          "(pip install -e '.[distributed]')")

# Six points of 30 batches each; the sweep stops after the error-free 30 dB point (40 dB skipped).
SCENARIO = {
    "name": "sweep",
    "seed": 5,
    "snr": {"definition": "esno", "db": [0.0, 2.0, 4.0, 6.0, 30.0, 40.0]},
    "link": {"code": {"name": "uncoded", "k": 100}, "modulation": {"name": "qam"}},
    "channel": {"name": "awgn"},
    "stop": {"block_errors": 10 ** 6, "max_blocks": 3000, "batch_size": 100},
}


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def counts(out):
    """metrics.csv rows without the wall-clock column."""
    with open(out / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def points(out):
    return {p.relative_to(out): p.stat().st_mtime_ns for p in out.glob("points/*/*.json")}


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenario") / "sweep.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    return path


@pytest.fixture(scope="module")
def serial(scenario_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "out"
    result = invoke("run", scenario_file, "--out", out, "--quiet", "--no-plot")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      scheduler_port=0, dashboard_address=None,
                      silence_logs=logging.ERROR) as local, Client(local) as client:
        yield client


def test_two_workers_give_the_serial_counts(scenario_file, serial, tmp_path):
    out = tmp_path / "out"
    result = invoke("run", scenario_file, "--out", out, "--workers", 2, "--no-plot")
    assert result.exit_code == 0, result.output
    assert counts(out) == counts(serial)
    assert set(points(out)) == set(points(serial))  # nothing past the error-free point kept
    lines = [line for line in result.output.splitlines() if ", worker " in line]
    assert len(lines) == 5  # one line per finished point, naming the worker
    assert "1 skipped after an error-free point" in result.output


def test_killed_worker_loses_no_finished_point(scenario_file, serial, cluster, tmp_path):
    out = tmp_path / "out"
    pids = cluster.run(os.getpid)
    killed = {}

    def kill_a_busy_worker():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            busy = [w for w, tasks in cluster.processing().items() if tasks]
            if points(out) and busy:
                killed["points"] = points(out)
                killed["task"] = cluster.processing()[busy[0]]
                os.kill(pids[busy[0]], signal.SIGKILL)
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_a_busy_worker)
    watcher.start()
    result = invoke("run", scenario_file, "--out", out, "--cluster", cluster.scheduler.address,
                    "--no-plot")
    watcher.join()
    assert result.exit_code == 0, result.output
    assert killed.get("task"), "the sweep ended before a worker could be killed mid-point"
    finished_before = killed["points"]
    after = points(out)
    assert all(after.get(p) == stamp for p, stamp in finished_before.items())  # kept, not redone
    assert counts(out) == counts(serial)

    metrics = (out / "metrics.csv").read_bytes()
    again = invoke("run", scenario_file, "--out", out, "--cluster", cluster.scheduler.address,
                   "--no-plot", "--quiet")
    assert again.exit_code == 0 and "0 point(s) computed" in again.output, again.output
    assert (out / "metrics.csv").read_bytes() == metrics and points(out) == after


def test_killed_driver_resumes(scenario_file, serial, cluster, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    driver = subprocess.Popen(
        [sys.executable, "-m", "linksim.cli", "run", str(scenario_file), "--out", str(out),
         "--cluster", cluster.scheduler.address, "--quiet", "--no-plot"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not points(out) and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.wait()
    finished_before = points(out)
    assert finished_before and not (out / "metrics.csv").exists(), "killed mid-sweep"

    result = invoke("run", scenario_file, "--out", out, "--cluster", cluster.scheduler.address,
                    "--no-plot", "--quiet")
    assert result.exit_code == 0, result.output
    assert f"{len(finished_before)} reused" in result.output
    assert all(points(out).get(p) == stamp for p, stamp in finished_before.items())
    assert counts(out) == counts(serial)
