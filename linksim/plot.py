"""Paper-style figures from a results directory: one PNG per metric, all systems on it."""
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
    for name, metric in metrics.items():
        fig, ax = plt.subplots(figsize=(6.4, 4.6), dpi=120)
        drawn = False
        for i, system in enumerate(run["systems"]):
            color = f"C{i % 10}"
            points = [r for r in rows if r["system"] == system["label"]
                      and np.isfinite(r.get(name, np.nan))]
            if metric["log"]:
                points = [r for r in points if r[name] > 0]
            if points:
                x = np.array([r["snr_db"] for r in points])
                y = np.array([r[name] for r in points])
                yerr = None
                if metric.get("ci"):
                    lo = np.array([r[metric["ci"][0]] for r in points])
                    hi = np.array([r[metric["ci"][1]] for r in points])
                    yerr = np.vstack([y - lo, hi - y])
                ax.errorbar(x, y, yerr=yerr, marker="o", ms=4, capsize=3, color=color,
                            label=system["label"])
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
        ax.set_xlabel(SNR_AXIS[definition])
        ax.set_ylabel(metric["label"])
        ax.set_title(f"{run['scenario']['name']}: {metric['label']}\n"
                     f"{run['channel']}; {run['receiver']}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths
