"""Normalized performance loss against a reference system, from a results folder (U-DeepSC Fig. 8).

For every metric column ``m`` of ``metrics.csv`` that is not a channel-use count
(``*_symbols``), and every system but the reference, the loss at each SNR is

    (m_reference - m_system) / m_reference

(the paper's "normalized performance loss" against its noiseless upper bound);
the 95% interval of ``m_system`` maps through the same line (the reference's own
uncertainty is not added). Writes ``normalized_loss.csv`` and ``normalized_loss.png``
into the results folder, and prints the table.

Usage: python tools/normalized_loss.py RESULTS_DIR --reference "LABEL"
"""
import argparse
import csv
import json
import math
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from linksim.errors import UserError  # noqa: E402
from linksim.plot import SNR_AXIS  # noqa: E402
from linksim.sim.results import read_metrics  # noqa: E402


def losses(rows, reference):
    """[(metric, system, snr_db, loss, low, high)] for every metric both systems report."""
    ref = {(r["snr_db"]): r for r in rows if r["system"] == reference}
    first = next(iter(ref.values()))
    # The reference's own metrics (metrics.csv has every system's columns, NaN where absent).
    metrics = [k for k, v in first.items()
               if not k.endswith(("_ci_low", "_ci_high", "_symbols")) and k != "snr_db"
               and f"{k}_ci_low" in first and isinstance(v, float) and not math.isnan(v)]
    out = []
    for row in rows:
        if row["system"] == reference or row["snr_db"] not in ref:
            continue
        for m in metrics:
            value, top = row.get(m, math.nan), ref[row["snr_db"]][m]
            if not isinstance(value, float) or math.isnan(value) or not top:
                continue
            scale = lambda v: (top - v) / top  # noqa: E731
            out.append((m, row["system"], row["snr_db"], scale(value),
                        scale(row[f"{m}_ci_high"]), scale(row[f"{m}_ci_low"])))
    return out


def fail(line):
    """Bad input: one line on stderr, exit status 2."""
    print(f"error: {line}", file=sys.stderr)
    sys.exit(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=pathlib.Path)
    parser.add_argument("--reference", required=True, help="label of the reference system")
    args = parser.parse_args()
    try:
        rows = read_metrics(args.results)
    except UserError as err:
        fail(str(err))
    systems = sorted({r["system"] for r in rows})
    if args.reference not in systems:
        fail(f"{args.results / 'metrics.csv'}: --reference: no system {args.reference!r}; "
             f"allowed: {', '.join(systems)}")
    table = losses(rows, args.reference)
    run = json.loads((args.results / "run.json").read_text())
    with open(args.results / "normalized_loss.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["metric", "system", "snr_db", "normalized_loss", "ci_low", "ci_high",
                         "reference"])
        for line in table:
            writer.writerow([*line[:3], *(f"{v:.5g}" for v in line[3:]), args.reference])
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    metrics = sorted({m for m, *_ in table})
    cols = min(3, len(metrics))
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    systems = sorted({s for _, s, *_ in table})
    colours = {s: f"C{i % 10}" for i, s in enumerate(systems)}
    for ax, metric in zip(axes.flat, metrics):
        for system in sorted({s for m, s, *_ in table if m == metric}):
            points = sorted((snr, loss, lo, hi) for m, s, snr, loss, lo, hi in table
                            if m == metric and s == system)
            snr, loss, lo, hi = zip(*points)
            ax.errorbar(snr, loss, yerr=[[a - b for a, b in zip(loss, lo)],
                                         [b - a for a, b in zip(loss, hi)]],
                        marker="o", capsize=3, label=system, color=colours[system])
        ax.set_title(metric.replace("_", " "), fontsize=9)
        ax.set_xlabel(SNR_AXIS[run["snr_definition"]])
        ax.set_ylabel("normalized loss")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=colours[s], marker="o", label=s) for s in systems]
    fig.legend(handles=handles, loc="lower right", fontsize=8)
    fig.suptitle(f"(reference - metric) / reference; reference: {args.reference}\n"
                 f"{run['channel']}; {run['receiver']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(args.results / "normalized_loss.png", dpi=110)
    for line in table:
        print(f"{line[0]:<36} {line[1]:<40} {line[2]:>6.1f} dB  {line[3]:+.3f} "
              f"[{line[4]:+.3f}, {line[5]:+.3f}]")


if __name__ == "__main__":
    main()
