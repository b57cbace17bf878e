"""Paper-style figures from a results directory: one PNG per metric, all systems on it.

Every point whose row has the metric's 95% interval columns (``Metric.ci``) gets
an error bar; rows without them (points written before a metric had an
interval) or with an undefined interval are drawn without one.
"""
import json
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .errors import UserError  # noqa: E402
from .sim.results import read_metrics  # noqa: E402

SNR_AXIS = {"esno": "$E_s/N_0$ [dB] (per complex symbol, noise CN(0, $N_0$))",
            "ebno": "$E_b/N_0$ [dB] (per information bit, noise CN(0, $N_0$))"}


def _fact(system, path):
    value = system
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
            continue
        if not isinstance(value, dict) or part not in value:
            raise UserError(f"plot.x / plot.series: system {system['label']!r} has no fact "
                            f"{path!r} in run.json; available: {', '.join(system)}")
        value = value[part]
    return value


def _either(row, column, fallback):
    value = row.get(column, np.nan)
    return value if np.isfinite(value) else row.get(fallback, np.nan)


def _errors(rows, metric):
    """Error bar lengths [2, points] below and above each row's value; NaN where none."""
    names = metric.get("ci") or ("", "")
    name = metric["name"]
    y = np.array([r[name] for r in rows], float)
    # A mean over training seeds (``seeds:``) has the seeds' range instead of an interval.
    low = np.array([_either(r, names[0], f"{name}_seed_min") for r in rows], float)
    high = np.array([_either(r, names[1], f"{name}_seed_max") for r in rows], float)
    # Clipped at 0: an interval may end exactly at its value, up to rounding.
    return np.maximum(0.0, np.vstack([y - low, high - y]))


def _sweep_axes(ax, run, rows, metric):
    """Metric against a system parameter (plot.x): one curve per SNR (and series)."""
    options = run["scenario"].get("plot") or {}
    curves = {}
    for system in _shown(run):
        series = str(_fact(system, options["series"])) if options.get("series") else None
        for row in rows:
            if row["system"] == system["label"] and np.isfinite(row.get(metric["name"], np.nan)):
                key = (series, row["snr_db"])
                curves.setdefault(key, []).append((float(_fact(system, options["x"])), row))
    unit = {"esno": "Es/N0", "ebno": "Eb/N0"}[run.get("snr_definition", "esno")]
    for i, ((series, snr), points) in enumerate(sorted(curves.items(), key=str)):
        points.sort(key=lambda p: p[0])
        x, at = [p[0] for p in points], [p[1] for p in points]
        label = f"{series}, " if series else ""
        ax.errorbar(x, [r[metric["name"]] for r in at], yerr=_errors(at, metric), marker="o",
                    ms=4, capsize=3, color=f"C{i % 10}", label=f"{label}{unit} = {snr:g} dB")
    ax.set_xlabel(options.get("x_label") or options["x"])
    return bool(curves)


def _shown(run):
    """Systems to draw: a system trained over several seeds as their mean with the seeds' range."""
    seeded = {label for s in run.get("systems", []) for label in s.get("aggregate_of", [])}
    return [s for s in run.get("systems", []) if s["label"] not in seeded]


def plot_results(out):
    """Write ``<metric>.png`` for every metric in ``out/metrics.csv``; returns the paths."""
    out = pathlib.Path(out)
    rows = read_metrics(out)
    run_file = out / "run.json"
    if not run_file.exists():
        raise UserError(f"{out}: no run.json here; run 'linksim run SCENARIO' first")
    run = json.loads(run_file.read_text())
    definition = run.get("snr_definition", "esno")
    metrics = {}
    for system in run.get("systems", []):
        for metric in system["metrics"]:
            metrics.setdefault(metric["name"], metric)
    paths = []
    sweep = bool((run["scenario"].get("plot") or {}).get("x"))
    for name, metric in metrics.items():
        fig, ax = plt.subplots(figsize=(6.4, 4.6), dpi=120)
        drawn = _sweep_axes(ax, run, rows, metric) if sweep else False
        hollow = False
        for i, system in enumerate([] if sweep else _shown(run)):
            color = f"C{i % 10}"
            points = [r for r in rows if r["system"] == system["label"]
                      and np.isfinite(r.get(name, np.nan))]
            if metric["log"]:
                points = [r for r in points if r[name] > 0]
            if points:
                x = np.array([r["snr_db"] for r in points])
                y = np.array([r[name] for r in points])
                ax.errorbar(x, y, yerr=_errors(points, metric), marker="o",
                            ms=4, capsize=3, color=color, label=system["label"]
                            + (", bars: seed range" if "aggregate_of" in system else ""))
                # Hollow markers: some samples did not fit the bit budget (baselines).
                partial = np.array([r.get("feasible_fraction", 1.0) < 1.0 for r in points])
                if partial.any():
                    ax.plot(x[partial], y[partial], "o", ms=7, mfc="white", mec=color, zorder=3)
                    hollow = True
                drawn = True
            curve = run.get("theory", {}).get(system["label"], {}).get(name)
            if curve:
                x, y = np.array(curve["snr_db"]), np.array(curve["values"], float)
                keep = y > 1e-7 if metric["log"] else np.isfinite(y)
                ax.plot(x[keep], y[keep], "--", color=color, lw=1.2, label=curve["label"])
                drawn = True
        if not drawn:
            plt.close(fig)
            continue
        if metric["log"]:
            ax.set_yscale("log")
        if not sweep:
            ax.set_xlabel(SNR_AXIS[definition])
        ax.set_ylabel(metric["label"])
        ax.set_title(f"{run['scenario']['name']}: {metric['label']}\n"
                     f"{run['channel']}; {run['receiver']}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        if hollow:
            ax.plot([], [], "o", mfc="white", mec="gray",
                    label="hollow: some samples infeasible (budget)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_training_curve(csv_path, *, title, summary=None):
    """``<csv_path without .csv>.png`` from a training-curve CSV (:data:`linksim.sim.train.CURVE_COLUMNS`).

    Loss and validation loss per epoch on a log axis, the learning rate on a second
    axis, and the epoch whose weights were kept (``summary["best_epoch"]``) marked.
    """
    csv_path = pathlib.Path(csv_path)
    data = np.genfromtxt(csv_path, delimiter=",", names=True)
    data = np.atleast_1d(data)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.semilogy(data["epoch"], data["loss"], "o-", ms=3, label="training loss")
    if np.isfinite(data["val_loss"]).any():
        ax.semilogy(data["epoch"], data["val_loss"], "s-", ms=3, label="validation loss")
    if summary and summary.get("best_epoch"):
        ax.axvline(summary["best_epoch"], color="grey", ls=":",
                   label=f"kept: epoch {summary['best_epoch']} ({summary['stopped']})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(True, which="both", alpha=0.3)
    lr_axis = ax.twinx()
    lr_axis.semilogy(data["epoch"], data["learning_rate"], color="tab:red", lw=1, alpha=0.6)
    lr_axis.set_ylabel("learning rate", color="tab:red")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(csv_path.parent / f"{csv_path.name.removesuffix('.csv')}.png", dpi=120)
    plt.close(fig)
