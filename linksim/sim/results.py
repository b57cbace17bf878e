"""Results directory: one JSON per finished point, metrics.csv and run.json, all written atomically.

Layout of ``results/<scenario>/``::

    run.json                    scenario as resolved, hash, SNR grid, systems, who made the points
    metrics.csv                 one row per (system, SNR point)
    points/<system>/<snr>.json  finished points with their provenance: what a rerun resumes from
    table.md                    every metric as a system x SNR table
    <metric>.png                plots

Life of a directory: a run first only *checks* it (a directory of another scenario
with finished points, or a non-empty one linksim did not make, is refused). Just
before the first point is computed it *claims* it (``run.json`` holding only the
scenario hash; ``--fresh`` or a new scenario first deletes what linksim wrote
there, nothing else). Points are saved as they finish; metrics.csv, table.md and
the complete run.json are written last, so an interrupted run leaves finished
points and either no metrics.csv or the previous, consistent one.
"""
import csv
import io
import json
import math
import os
import pathlib
import re
import statistics
import tempfile

from ..errors import UserError

TABLE, METRICS, RUN = "table.md", "metrics.csv", "run.json"
#: Keys of a point's record (and metrics.csv row) besides its system's metric columns;
#: ``seeds`` is the column of a mean over training seeds (:func:`seed_aggregates`).
POINT_KEYS = ("system", "snr_db", "snr_definition", "totals", "seconds", "provenance", "seeds")


def _umask():
    # os.umask can only be read by setting it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path, text):
    """Write ``text`` to ``path`` so readers see the old or the new file, never half of one.

    The file gets the mode a plain ``open`` would give it (0644 under umask 022),
    not mkstemp's private 0600.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def write_if_changed(path, text):
    """Write ``text`` atomically unless ``path`` already holds exactly it; True if written."""
    path = pathlib.Path(path)
    if path.exists() and path.read_bytes() == text.encode():
        return False
    write_atomic(path, text)
    return True


def slug(label):
    """A system label as a file or directory name: runs of other characters -> '_'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "system"


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _read_run(path):
    """A run.json written by linksim (a dict with ``scenario_hash``), else None."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "scenario_hash" in data else None


class ResultStore:
    """Finished points of one scenario run in ``out``; refuses to mix runs of another scenario.

    Parameters
    ----------
    out : pathlib.Path
        The results directory (need not exist).
    scenario_hash : str
        :meth:`linksim.scenario.Scenario.content_hash` of the scenario being run.
    fresh : bool
        Discard what an earlier run wrote here (at :meth:`claim`, not before).

    Raises
    ------
    UserError
        ``out`` holds finished points of another scenario (and not ``fresh``), or
        is a non-empty directory without a linksim run.json.
    """

    def __init__(self, out, *, scenario_hash, fresh=False):
        self.out = pathlib.Path(out)
        self.scenario_hash = scenario_hash
        self.fresh = fresh
        self.previous = _read_run(self.out / RUN)
        if self.out.exists() and not self.out.is_dir():
            raise UserError(f"{self.out}: not a directory; --out needs a directory")
        if self.previous is None and self.out.is_dir() and any(self.out.iterdir()):
            raise UserError(f"{self.out}: not empty and has no run.json of linksim; choose a new "
                            "or empty --out (linksim only replaces results it wrote)")
        old = self.previous and self.previous["scenario_hash"]
        # Only finished points can be mixed up; a claim without points (a run stopped before
        # its first point) is simply taken over.
        if old != scenario_hash and self._point_files() and not fresh:
            raise UserError(f"{self.out}: holds results of a different scenario (hash {old}, "
                            f"now {scenario_hash}); rerun with --fresh to replace them or "
                            "choose another --out")
        self._claimed = old == scenario_hash and not fresh

    @property
    def complete(self):
        """True when run.json describes a finished run of this scenario (not just a claim)."""
        return (not self.fresh and self.previous is not None
                and self.previous["scenario_hash"] == self.scenario_hash
                and "systems" in self.previous)

    def _point_files(self):
        return sorted(self.out.glob("points/*/snr_*.json"))

    def claim(self):
        """Make ``out`` this scenario's: called when the first point starts (idempotent).

        With ``fresh`` or a directory of another scenario, first deletes the files linksim
        wrote there: points, metrics.csv, table.md, run.json and the plots run.json names.
        """
        if self._claimed:
            return
        for point in self._point_files():
            point.unlink()
        for folder in self.out.glob("points/*"):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        if (self.out / "points").is_dir() and not any((self.out / "points").iterdir()):
            (self.out / "points").rmdir()
        for name in (METRICS, TABLE, *sorted(_plots(self.previous))):
            (self.out / name).unlink(missing_ok=True)
        self.out.mkdir(parents=True, exist_ok=True)
        # Claim the directory first, so a later run with another scenario refuses to mix.
        write_atomic(self.out / RUN, json.dumps({"scenario_hash": self.scenario_hash}, indent=2))
        self.previous = None
        self._claimed = True

    def previous_facts(self):
        """System facts of the last complete run here, by label (reused for systems not rebuilt);
        copies, so that updating them leaves :attr:`previous` as it was on disk."""
        return {s["label"]: dict(s) for s in (self.previous or {}).get("systems", [])}

    def _point_path(self, label, snr_db):
        return self.out / "points" / slug(label) / f"snr_{snr_db:+08.3f}.json"

    def finished_snrs(self, labels):
        """SNR values (dB) of the finished points of systems ``labels`` (none when fresh)."""
        if self.fresh:
            return set()
        folders = {slug(label) for label in labels}
        return {json.loads(p.read_text())["snr_db"] for p in self._point_files()
                if p.parent.name in folders}

    def load_point(self, label, snr_db):
        """The saved record of a finished point, or None (always None when fresh)."""
        path = self._point_path(label, snr_db)
        return json.loads(path.read_text()) if path.exists() and not self.fresh else None

    def save_point(self, label, snr_db, record):
        record = {k: _json_safe(v) for k, v in record.items()}
        write_atomic(self._point_path(label, snr_db), json.dumps(record, indent=1))

    def discard_point(self, label, snr_db):
        self._point_path(label, snr_db).unlink(missing_ok=True)

    def metrics_text(self, rows):
        """metrics.csv for point rows (list of dicts), columns in order of first use."""
        columns = []
        for row in rows:
            columns += [c for c in row if c not in columns]
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: ("" if row.get(c) is None else row.get(c)) for c in columns})
        return text.getvalue()

    def metrics_unchanged(self, rows):
        path = self.out / METRICS
        return path.exists() and path.read_bytes() == self.metrics_text(rows).encode()

    def table_text(self, rows, metrics, *, title, definition):
        """table.md: one table per metric (value and 95% interval), a row per system and a
        column per SNR point, then the samples (blocks) behind each point."""
        snrs = sorted({r["snr_db"] for r in rows})
        systems = list(dict.fromkeys(r["system"] for r in rows))
        unit = {"esno": "Es/N0", "ebno": "Eb/N0"}[definition]
        lines = [f"# {title}", "", f"Columns: {unit} in dB; cells: value [95% interval]. Written "
                 "by `linksim run`; see run.json for the scenario and points/ for who computed "
                 "each point.", ""]

        def table(heading, cell):
            lines.extend([f"## {heading}", "",
                          "| system | " + " | ".join(f"{s:g}" for s in snrs) + " |",
                          "|---|" + "---|" * len(snrs)])
            for system in systems:
                by_snr = {r["snr_db"]: r for r in rows if r["system"] == system}
                lines.append(f"| {system} | "
                             + " | ".join(cell(by_snr[s]) if s in by_snr else "" for s in snrs)
                             + " |")
            lines.append("")

        def number(value):
            return "" if value is None or value != value else f"{value:.4g}"

        for metric in metrics:
            low, high = metric.ci or (None, None)

            def cell(row, metric=metric, low=low, high=high):
                value = number(row.get(metric.name))
                if value and number(row.get(low)) and number(row.get(high)):
                    value += f" [{number(row[low])}, {number(row[high])}]"
                elif value and f"{metric.name}_seed_min" in row:
                    # A mean over training seeds: their range instead of an interval.
                    value += (f" (seeds {number(row[f'{metric.name}_seed_min'])}.."
                              f"{number(row[f'{metric.name}_seed_max'])})")
                return value
            table(metric.label, cell)
        table("Samples per point (blocks: frames, or source samples)",
              lambda row: number(row.get("blocks")))
        return "\n".join(lines)

    def write_results(self, rows, table, info):
        """metrics.csv, table.md, then run.json (the mark of a complete run), each only if changed.

        ``table``: the text of table.md; ``info``: run.json without the scenario hash.
        Returns the names of the files written.
        """
        self.claim()
        # Plots of metrics no system reports any more (metric_names changed): stale.
        for name in sorted(_plots(self.previous) - _plots(info)):
            (self.out / name).unlink(missing_ok=True)
        run = json.dumps({"scenario_hash": self.scenario_hash, **info}, indent=2, default=str)
        written = [name for name, text in ((METRICS, self.metrics_text(rows)), (TABLE, table),
                                           (RUN, run))
                   if write_if_changed(self.out / name, text)]
        self.previous = json.loads(run)
        return written


def _plots(run):
    """The PNG names of the metrics a run.json (or its ``info``) lists; empty for None."""
    return {f"{m['name']}.png" for s in (run or {}).get("systems", [])
            for m in s.get("metrics", [])}


def seed_aggregates(rows, systems):
    """Rows and run.json facts of the mean over training seeds (``seeds:``), with its spread.

    ``systems``: run.json facts of every system (``label``, ``metrics``, ``seed_of``). For
    each ``seed_of`` group and each SNR point every seed finished, the row
    ``<label> (mean of N seeds)`` holds, per metric, the mean over seeds, their
    standard deviation (``<m>_seed_std``, ddof 1) and range (``<m>_seed_min``,
    ``<m>_seed_max``: the plots draw it as the error bars, table.md as ``(seeds lo..hi)``),
    and ``seeds`` = N.
    """
    groups = {}
    for facts in systems:
        if facts.get("seed_of"):
            groups.setdefault(facts["seed_of"], []).append(facts)
    out_rows, out_facts = [], []
    for base, members in groups.items():
        label = f"{base} (mean of {len(members)} seeds)"
        names = [m["name"] for m in members[0]["metrics"]]
        by_snr = {}
        for row in rows:
            if row["system"] in {m["label"] for m in members}:
                by_snr.setdefault(row["snr_db"], []).append(row)
        for snr in sorted(by_snr):
            points = by_snr[snr]
            if len(points) < len(members):
                continue
            row = {"system": label, "snr_db": snr, "snr_definition": points[0]["snr_definition"]}
            for name in names:
                values = [p[name] for p in points if p.get(name) is not None]
                if len(values) < len(points):
                    continue
                row |= {name: sum(values) / len(values), f"{name}_seed_min": min(values),
                        f"{name}_seed_max": max(values),
                        f"{name}_seed_std": statistics.stdev(values) if len(values) > 1
                        else 0.0}
            out_rows.append(row | {"seeds": len(points)})
        # The members' shared facts (settings for plot.x sweeps), then what makes it a mean.
        shared = {k: v for k, v in members[0].items()
                  if k not in ("label", "seed", "seed_of", "checkpoint", "metrics")}
        out_facts.append({**shared, "label": label,
                          "aggregate_of": [m["label"] for m in members],
                          "spread": "error bars: min..max over seeds; <m>_seed_std: their "
                                    "standard deviation",
                          "metrics": members[0]["metrics"]})
    return out_rows, out_facts


def read_metrics(out):
    """Rows of metrics.csv as dicts with floats where a value parses as a number."""
    path = pathlib.Path(out) / METRICS
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
