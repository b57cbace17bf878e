"""Compare two results directories: sample counts equal, metrics within each other's 95% interval.

Usage::

    python tools/compare_results.py A B [--exact] [--subset]

Reads ``A/metrics.csv`` and ``B/metrics.csv`` and matches rows by (system, SNR).
Per matched row:

* sample counts (``blocks``, ``bits``: how many frames, samples or bits a point holds) and
  text columns (``mcs``, ``snr_definition``) must be equal;
* a metric with an interval (``<m>``, ``<m>_ci_low``, ``<m>_ci_high``) must have
  each side's value inside the other side's interval (NaN on both sides agrees); where
  only one side has the interval (older results), the other's value must lie inside it;
* with ``--exact`` every column but ``seconds`` must be equal, as written (bit-identical
  results: PHY and conventional systems on the same seed); an empty cell and ``nan`` are
  both "no value" (older results wrote one, newer the other).

Rows present on one side only fail, unless ``--subset`` (B may hold fewer points).
Prints one line per difference and a summary; exit status 0 when they agree, 1
when not, 2 on a missing file.
"""
import argparse
import csv
import math
import pathlib
import sys

#: How much each point simulated. The error counts (``block_errors``, ``correct``, ...) are the
#: numerators of metrics with intervals and are judged through them.
COUNTS = ("blocks", "bits")
TEXT = ("mcs", "snr_definition")
#: Wall time of a point: differs between any two runs.
IGNORED = ("seconds",)


def rows(lines):
    """Rows of a metrics.csv (an iterable of its lines) keyed by (system, snr_db), as written."""
    return {(row["system"], float(row["snr_db"])): row for row in csv.DictReader(lines)}


def read(directory):
    """:func:`rows` of ``directory/metrics.csv``."""
    path = pathlib.Path(directory) / "metrics.csv"
    if not path.is_file():
        print(f"error: {path}: no metrics.csv", file=sys.stderr)
        sys.exit(2)
    with open(path, newline="") as f:
        return rows(f)


def _number(text):
    try:
        return float(text) if text != "" else math.nan
    except ValueError:
        return None


def _inside(value, low, high):
    if math.isnan(value):
        return True  # no value, nothing to place
    if math.isnan(low) or math.isnan(high):
        return None  # no interval on this side
    return low - 1e-12 * abs(low) <= value <= high + 1e-12 * abs(high)


def compare_rows(a, b, *, exact, tally=None):
    """Differences between two metrics.csv rows, as lines; ``tally`` (a dict) counts the
    metric values placed in the other side's interval (``placed``) and those outside
    (``outside``)."""
    tally = {} if tally is None else tally
    problems = []
    for column in sorted(set(a) | set(b)):
        if column not in a or column not in b:
            problems.append(f"column {column!r} only in {'A' if column in a else 'B'}")
            continue
        if column in IGNORED:
            continue
        low, high = f"{column}_ci_low", f"{column}_ci_high"
        if a[column] == b[column] or {a[column].lower(), b[column].lower()} <= {"", "nan"}:
            if (low in a or low in b) and a[column] != "":
                tally["placed"] = tally.get("placed", 0) + 1
            continue
        if exact or column in COUNTS or column in TEXT:
            problems.append(f"{column}: {a[column]} != {b[column]}")
            continue
        if low not in a and low not in b:
            continue  # a column without an interval: only --exact checks it
        va, vb = _number(a[column]), _number(b[column])
        if va is None or vb is None:
            problems.append(f"{column}: {a[column]!r} != {b[column]!r}")
            continue
        if math.isnan(va) != math.isnan(vb):
            problems.append(f"value of {column!r} only in {'B' if math.isnan(va) else 'A'}")
            continue
        # Older results may lack a metric's interval: then the one side that has it decides.
        checks = [_inside(vb, _number(a[low]), _number(a[high])) if low in a else None,
                  _inside(va, _number(b[low]), _number(b[high])) if low in b else None]
        if True in checks or False in checks:
            outcome = "outside" if False in checks else "placed"
            tally[outcome] = tally.get(outcome, 0) + 1
        if False in checks:
            problems.append(f"{column}: A {va:.6g} [{a.get(low)}, {a.get(high)}] vs B {vb:.6g} "
                            f"[{b.get(low)}, {b.get(high)}]: outside the other's 95% interval")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--exact", action="store_true",
                        help="every column must be equal (bit-identical results)")
    parser.add_argument("--subset", action="store_true",
                        help="B may lack points of A (and A points of B)")
    args = parser.parse_args(argv)
    rows_a, rows_b = read(args.a), read(args.b)
    failures = 0
    tally = {}
    for key in sorted(set(rows_a) | set(rows_b)):
        system, snr = key
        if key not in rows_a or key not in rows_b:
            if not args.subset:
                failures += 1
                print(f"{system} @ {snr:g} dB: only in {'A' if key in rows_a else 'B'}")
            continue
        for line in compare_rows(rows_a[key], rows_b[key], exact=args.exact, tally=tally):
            failures += 1
            print(f"{system} @ {snr:g} dB: {line}")
    matched = len(set(rows_a) & set(rows_b))
    rule = "identical" if args.exact else "sample counts equal, metrics within the 95% intervals"
    placed, outside = tally.get("placed", 0), tally.get("outside", 0)
    values = (f"; {placed} of {placed + outside} metric values with intervals inside the "
              "other run's interval" if placed + outside and not args.exact else "")
    print(f"{matched} point(s) compared ({rule}): "
          + ("agree" if not failures else f"{failures} difference(s)") + values)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
