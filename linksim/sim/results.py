"""Results directory: one JSON per finished point, metrics.csv and run.json, all written atomically.

Layout of ``results/<scenario>/``::

    run.json                    scenario as resolved, hash, versions, machine, durations
    metrics.csv                 one row per (system, SNR point)
    points/<system>/<snr>.json  finished points: what an interrupted run resumes from
    table.md                    every metric as a system x SNR table
    <metric>.png                plots
"""
import csv
import json
import math
import os
import pathlib
import re
import tempfile

from ..errors import UserError


def write_atomic(path, text):
    """Write ``text`` to ``path`` so readers see the old or the new file, never half of one."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def slug(label):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "system"


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ResultStore:
    """Finished points of one scenario run in ``out``; refuses to mix runs of another scenario."""

    def __init__(self, out, *, scenario_hash, fresh=False):
        self.out = pathlib.Path(out)
        self.scenario_hash = scenario_hash
        run_file = self.out / "run.json"
        has_points = any(self.out.glob("points/*/*.json"))
        old = json.loads(run_file.read_text()).get("scenario_hash") if run_file.exists() else None
        # Only finished points can be mixed up; a claim without points (a run stopped before
        # its first point, e.g. by a scenario mistake) is simply taken over.
        if has_points and old != scenario_hash and not fresh:
            raise UserError(f"{self.out}: holds results of a different scenario (hash {old}, "
                            f"now {scenario_hash}); rerun with --fresh to replace them or "
                            "choose another --out")
        if fresh:
            for point in self.out.glob("points/*/*.json"):
                point.unlink()
        self.out.mkdir(parents=True, exist_ok=True)
        # Claim the directory first, so a later run with another scenario refuses to mix.
        if old != scenario_hash or fresh:
            write_atomic(run_file, json.dumps({"scenario_hash": scenario_hash}, indent=2))

    def previous_facts(self):
        """System facts of the last complete run here, by label (reused for systems not rebuilt)."""
        run_file = self.out / "run.json"
        systems = json.loads(run_file.read_text()).get("systems", []) if run_file.exists() else []
        return {s["label"]: s for s in systems}

    def _point_path(self, label, snr_db):
        return self.out / "points" / slug(label) / f"snr_{snr_db:+08.3f}.json"

    def load_point(self, label, snr_db):
        path = self._point_path(label, snr_db)
        return json.loads(path.read_text()) if path.exists() else None

    def save_point(self, label, snr_db, record):
        record = {k: _json_safe(v) for k, v in record.items()}
        write_atomic(self._point_path(label, snr_db), json.dumps(record, indent=1))

    def write_metrics(self, rows):
        """metrics.csv from point records (list of dicts), columns in order of first use."""
        columns = []
        for row in rows:
            columns += [c for c in row if c not in columns]
        with tempfile.NamedTemporaryFile("w", dir=self.out, delete=False, newline="",
                                         prefix=".metrics.csv.") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({c: ("" if row.get(c) is None else row.get(c)) for c in columns})
        os.replace(f.name, self.out / "metrics.csv")

    def write_table(self, rows, metrics, *, title, definition):
        """table.md: one table per metric, a row per system and a column per SNR point."""
        snrs = sorted({r["snr_db"] for r in rows})
        systems = list(dict.fromkeys(r["system"] for r in rows))
        unit = {"esno": "Es/N0", "ebno": "Eb/N0"}[definition]
        lines = [f"# {title}", "", f"Columns: {unit} in dB. Written by `linksim run`; "
                 "see run.json for the scenario, versions and machine.", ""]
        for metric in metrics:
            lines += [f"## {metric.label}", "",
                      "| system | " + " | ".join(f"{s:g}" for s in snrs) + " |",
                      "|---|" + "---|" * len(snrs)]
            for system in systems:
                values = {r["snr_db"]: r.get(metric.name) for r in rows if r["system"] == system}
                cells = ["" if values.get(s) is None else f"{values[s]:.4g}" for s in snrs]
                lines.append(f"| {system} | " + " | ".join(cells) + " |")
            lines.append("")
        write_atomic(self.out / "table.md", "\n".join(lines))

    def write_run(self, info):
        write_atomic(self.out / "run.json",
                     json.dumps({"scenario_hash": self.scenario_hash, **info}, indent=2,
                                default=str))


def read_metrics(out):
    """Rows of metrics.csv as dicts with floats where a value parses as a number."""
    path = pathlib.Path(out) / "metrics.csv"
    if not path.exists():
        raise UserError(f"{out}: no metrics.csv here; run 'linksim run SCENARIO' first")
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            parsed = {}
            for key, value in row.items():
                try:
                    parsed[key] = float(value) if value != "" else float("nan")
                except ValueError:
                    parsed[key] = value
            rows.append(parsed)
    return rows
