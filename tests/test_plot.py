"""Plots from a results directory: error bars where rows have intervals, none where old rows lack them."""
import csv
import json

import matplotlib.axes
import numpy as np
import pytest

from linksim import plot
from linksim.sim.results import read_metrics


def _results(tmp_path, rows, *, sweep=False, ci=True):
    metric = {"name": "psnr", "label": "PSNR [dB]", "log": False}
    if ci:
        metric["ci"] = ["psnr_ci_low", "psnr_ci_high"]
    systems = [{"label": f"sys {w}", "width": w, "metrics": [metric]} for w in (1, 2)]
    run = {"scenario": {"name": "demo", "plot": {"x": "width"} if sweep else None},
           "snr_definition": "esno", "channel": "AWGN", "receiver": "perfect CSI",
           "systems": systems, "theory": {}}
    (tmp_path / "run.json").write_text(json.dumps(run))
    columns = list(dict.fromkeys(c for r in rows for c in r))
    with open(tmp_path / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


ROWS = [  # the first row was written before PSNR had an interval: no CI columns
    {"system": "sys 1", "snr_db": 0.0, "psnr": 20.0},
    {"system": "sys 1", "snr_db": 4.0, "psnr": 22.0, "psnr_ci_low": 21.5, "psnr_ci_high": 22.4},
    {"system": "sys 2", "snr_db": 0.0, "psnr": 18.0, "psnr_ci_low": 17.0, "psnr_ci_high": 19.0},
    {"system": "sys 2", "snr_db": 4.0, "psnr": 25.0, "psnr_ci_low": "", "psnr_ci_high": ""},
]


def test_error_bars_from_interval_columns_and_none_for_old_rows(tmp_path):
    rows = read_metrics(_results(tmp_path, ROWS))
    metric = {"name": "psnr", "ci": ["psnr_ci_low", "psnr_ci_high"]}
    bars = plot._errors(rows, metric)
    assert bars.shape == (2, 4)
    assert np.all(np.isnan(bars[:, 0])) and np.all(np.isnan(bars[:, 3]))
    np.testing.assert_allclose(bars[:, 1:3], [[0.5, 1.0], [0.4, 1.0]])
    # A metric recorded without interval names (an old run.json) has no bars at all.
    assert np.all(np.isnan(plot._errors(rows, {"name": "psnr"})))


@pytest.mark.parametrize("sweep", [False, True])
@pytest.mark.parametrize("ci", [True, False])
def test_plots_draw_bars_where_intervals_exist(tmp_path, monkeypatch, sweep, ci):
    drawn = []
    errorbar = matplotlib.axes.Axes.errorbar

    def record(self, x, y, *args, yerr=None, **kwargs):
        drawn.append(np.asarray(yerr, float))
        return errorbar(self, x, y, *args, yerr=yerr, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar", record)
    paths = plot.plot_results(_results(tmp_path, ROWS, sweep=sweep, ci=ci))
    assert [p.name for p in paths] == ["psnr.png"] and paths[0].stat().st_size > 0
    # One curve per system (SNR sweep) or per SNR (plot.x sweep over the systems' width).
    assert len(drawn) == 2
    finite = sum(int(np.isfinite(bars).all(axis=0).sum()) for bars in drawn)
    assert finite == (2 if ci else 0)
