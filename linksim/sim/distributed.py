"""A sweep's points as tasks on Dask distributed workers (``linksim run --workers / --cluster``).

Engine: Dask distributed, imported only here and only when asked for, so a serial
run never loads it (``pip install -e '.[distributed]'``). A local cluster
(``--workers N``) listens on 127.0.0.1 only. Ray was not chosen: Ray (2.60, as
checked here) binds its services to the machine's network interface address even
when told ``_node_ip_address="127.0.0.1"``, so a "local" Ray run opens ports on the
network.

How a system reaches a worker: it is rebuilt there from the scenario (plain JSON
data), once per worker process, never pickled (Keras models and Sionna blocks do
not pickle reliably). The driver prepares a learned system first (trains it if it
has no checkpoint); workers only load that checkpoint, so they must see the
driver's ``<out>/checkpoints/`` and data cache (``$LINKSIM_DATA``): the same machine
or a shared file system.

Who writes: the driver saves each point the moment its result arrives, so points
need no shared file system and the results directory has a single writer. A
worker that dies mid-point loses only that point's work: the scheduler runs it
again elsewhere. A driver that dies loses the points in flight; a rerun resumes.

Scheduling: points go out in SNR order (lowest SNR first, systems interleaved),
one per worker process in flight (so at most that many points are computed ahead).
When a point of an error-rate sweep comes back error-free, the sweep's points above
it still in flight are cancelled; those above it that came back first were saved and
are dropped by the runner at the end, so metrics.csv and points/ equal the serial run's.
"""
import contextlib
import json
import logging
import threading
import uuid

from ..errors import UserError
from ..tf_start import import_tensorflow

# Sionna's random generators and seed are process-global: one point at a time per process.
_LOCK = threading.Lock()
_SYSTEMS = {}


def run_points(sweeps, *, begin, finish, workers, cluster, spec, show_progress):
    """Compute every missing point of ``sweeps`` on Dask workers.

    Parameters
    ----------
    sweeps : list of linksim.sim.runner._Sweep
    begin : callable(sweep)
        Called in the driver before a sweep's first point is sent (prepare, claim).
    finish : callable(sweep, snr_db, record)
        Called in the driver with each needed point as it arrives (saves it).
    workers : int | None
        Start a local cluster of this many single-thread worker processes on 127.0.0.1.
    cluster : str | None
        Or join the Dask scheduler at this address, e.g. ``tcp://127.0.0.1:8786``.
    spec : dict
        ``scenario`` (``Scenario.model_dump(mode="json")``) and ``checkpoint_root``
        (absolute): what a worker rebuilds the systems from.
    show_progress : bool
        Print where the points run.
    """
    with contextlib.ExitStack() as stack:
        client = _connect(stack, workers=workers, cluster=cluster)
        if show_progress:
            names = sorted(str(w.get("name")) for w in client.scheduler_info()["workers"].values())
            print(f"dask: {client.scheduler.address}, {len(names)} worker(s): "
                  f"{', '.join(names)}", flush=True)
        _schedule(client, sweeps, begin=begin, finish=finish, spec=spec)


def _connect(stack, *, workers, cluster):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UserError("--workers / --cluster need Dask distributed: "
                        "pip install -e '.[distributed]'") from None
    if cluster is not None:
        try:
            client = stack.enter_context(Client(cluster, timeout=10))
        except (OSError, TimeoutError, ValueError) as err:
            raise UserError(f"--cluster {cluster}: no Dask scheduler answers there "
                            f"({err}); give its address, e.g. tcp://127.0.0.1:8786") from None
        try:
            client.wait_for_workers(1, timeout=60)
        except TimeoutError:
            raise UserError(f"--cluster {cluster}: no worker joined within 60 s") from None
        return client
    # One single-thread worker process per point in flight; loopback only, no dashboard.
    # Errors only: a worker whose TensorFlow threads delay its exit is otherwise reported
    # at every shutdown.
    local = stack.enter_context(LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
        scheduler_port=0, dashboard_address=None, silence_logs=logging.ERROR))
    return stack.enter_context(Client(local))


def _schedule(client, sweeps, *, begin, finish, spec):
    from distributed import as_completed
    in_flight = {}
    arrived = as_completed()

    def fill():
        slots = max(1, len(client.nthreads()))  # worker processes: one point each
        while len(in_flight) < slots:
            busy = set(in_flight.values())
            choice = min(((sweep.grid.index(snr), i, snr) for i, sweep in enumerate(sweeps)
                          for snr in sweep.missing if (i, snr) not in busy), default=None)
            if choice is None:
                return
            _, i, snr = choice
            begin(sweeps[i])
            label = sweeps[i].system.label
            future = client.submit(_evaluate_remote, spec, label, snr, pure=False,
                                   key=f"linksim-point-{snr:+.3f}dB-{uuid.uuid4().hex[:12]}")
            in_flight[future] = (i, snr)
            arrived.add(future)

    fill()
    while in_flight:
        future = next(arrived)
        where = in_flight.pop(future, None)
        if where is None:  # cancelled below
            continue
        i, snr = where
        # Still needed: points that stop being needed are cancelled at once (below).
        finish(sweeps[i], snr, future.result())  # a failing point stops the run
        for other, (j, other_snr) in list(in_flight.items()):
            if j == i and other_snr not in sweeps[i].missing:
                other.cancel()
                del in_flight[other]
        fill()


def _evaluate_remote(spec, label, snr_db):
    """Worker side: one point of system ``label`` (rebuilt from ``spec``) at ``snr_db``."""
    from distributed import get_worker
    worker = get_worker()
    with _LOCK:
        key = json.dumps(spec, sort_keys=True)
        if key not in _SYSTEMS:
            # TensorFlow threads of this worker = its Dask threads (1 in a local cluster).
            import_tensorflow(threads=worker.state.nthreads)
            from .. import scenario as scenario_lib
            scenario = scenario_lib.Scenario.model_validate(spec["scenario"])
            _, _, systems = scenario_lib.build(scenario,
                                               checkpoint_root=spec["checkpoint_root"])
            _SYSTEMS[key] = (scenario, {s.label: s for s in systems})
        scenario, systems = _SYSTEMS[key]
        system = systems[label]
        checkpoint = getattr(system, "checkpoint", None)
        if checkpoint is not None and not checkpoint.exists():
            # Training here would duplicate the driver's work and could differ from it.
            raise UserError(f"worker {worker.name}: {checkpoint} not found; workers load the "
                            "checkpoint the driver trained, so they need its checkpoints/ "
                            "directory (same machine or a shared file system)")
        system.prepare(show_progress=False)
        from .runner import evaluate_point
        return evaluate_point(system, snr_db=snr_db, definition=scenario.snr.definition,
                              seed=scenario.seed, stop=scenario.stop,
                              worker=f"{worker.name} {worker.address}")


