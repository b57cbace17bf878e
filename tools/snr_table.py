"""Print a markdown table of one results directory: a row per system, a column per SNR point.

Usage::

    python tools/snr_table.py DIR --cell '{psnr:.2f} / {100 * accuracy:.1f}' [--systems 'A;B']

``--cell`` is a Python f-string over the row's columns of ``DIR/metrics.csv`` (numbers as
floats). The results READMEs' tables are printed with it; the command sits above each table.
"""
import argparse
import csv
import pathlib


def _number(text):
    try:
        return float(text)
    except ValueError:
        return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=pathlib.Path)
    parser.add_argument("--cell", required=True, help="f-string over metrics.csv columns")
    parser.add_argument("--systems", help="labels to keep, separated by ';', in this order")
    args = parser.parse_args(argv)
    with open(args.directory / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    snrs = sorted({float(r["snr_db"]) for r in rows})
    systems = list(dict.fromkeys(r["system"] for r in rows))
    if args.systems:
        systems = [s for s in args.systems.split(";") if s in systems]
    cells = {(r["system"], float(r["snr_db"])): r for r in rows}
    print("| system | " + " | ".join(f"{s:g} dB" for s in snrs) + " |")
    print("|---|" + "---|" * len(snrs))
    for system in systems:
        values = []
        for snr in snrs:
            row = cells.get((system, snr))
            values.append("" if row is None else eval(  # noqa: S307 - the caller's own format
                "f" + repr(args.cell), {}, {k: _number(v) for k, v in row.items()}))
        print(f"| {system} | " + " | ".join(values) + " |")


if __name__ == "__main__":
    main()
