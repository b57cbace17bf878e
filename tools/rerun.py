"""Rerun shipped scenarios and compare each with its committed results.

Usage::

    python tools/rerun.py [--out DIR] [--against REV] [--exact] SCENARIO.yaml...

Per scenario: ``linksim run SCENARIO --out DIR/<name> --quiet --no-plot`` (resumes: finished
points in ``DIR/<name>/points`` are reused, so a second call only compares), then the rows of
``results/<name>/metrics.csv`` (as committed at ``REV``, default as on disk) against the
rerun with :mod:`compare_results`: counts equal and every metric inside the other run's 95%
interval, or with ``--exact`` every column equal (PHY and conventional systems on their seed).
Points and columns the committed results lack (systems added to the scenario since, intervals
the code writes since) are listed, not failed.

Prints one line per scenario and exits 1 when any differs.
"""
import argparse
import io
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tools"), str(ROOT)]
from compare_results import compare_rows, read, rows  # noqa: E402
from linksim import scenario as scenario_file  # noqa: E402
from linksim.errors import UserError  # noqa: E402


def committed_rows(results, name, rev):
    """Rows of ``<results>/<name>/metrics.csv`` at git revision ``rev`` (None: as on disk)."""
    path = results / name / "metrics.csv"
    if rev is None:
        return read(path.parent)
    return rows(io.StringIO(subprocess.run(
        ["git", "show", f"{rev}:./{path.name}"], cwd=path.parent, check=True,
        capture_output=True, text=True).stdout))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="+", type=pathlib.Path)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/reruns"))
    parser.add_argument("--results", type=pathlib.Path, default=ROOT / "results",
                        help="where the committed results are (default: results/)")
    parser.add_argument("--against", metavar="REV", help="git revision of the committed results")
    parser.add_argument("--exact", action="store_true", help="every column equal")
    args = parser.parse_args(argv)
    try:
        names = [scenario_file.load(scenario).name for scenario in args.scenarios]
    except UserError as err:  # before anything runs: one line, like the CLI
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = False
    for scenario, name in zip(args.scenarios, names):
        out = args.out / name
        run = subprocess.run([sys.executable, "-m", "linksim.cli", "run", str(scenario), "--out",
                              str(out), "--quiet", "--no-plot"], capture_output=True, text=True)
        if run.returncode != 0:
            failed = True
            print(f"{name}: linksim run failed: {run.stderr.strip().splitlines()[-1:]}")
            continue
        old = committed_rows(args.results, name, args.against)
        new = read(out)
        tally, problems, new_columns = {}, [], set()
        for key in sorted(set(old) & set(new)):
            for line in compare_rows(old[key], new[key], exact=args.exact, tally=tally):
                if line.endswith("only in B"):  # a metric or interval the code writes since
                    new_columns.add(line.split("'")[1])
                else:
                    problems.append(f"  {key[0]} @ {key[1]:g} dB: {line}")
        only_old = sorted(set(old) - set(new))
        added = sorted({system for system, _ in set(new) - set(old)})
        placed, outside = tally.get("placed", 0), tally.get("outside", 0)
        failed |= bool(problems or only_old)
        print(f"{name}: {len(set(old) & set(new))} points compared, "
              + (("identical" if not problems else f"{len(problems)} value(s) differ")
                 if args.exact else
                 f"{placed} of {placed + outside} metric values inside the other run's interval, "
                 f"{len(problems)} difference(s)")
              + (f"; {len(only_old)} committed point(s) not rerun" if only_old else "")
              + (f"; systems new since: {', '.join(added)}" if added else "")
              + (f"; columns new since: {', '.join(sorted(new_columns))}" if new_columns else ""))
        for line in problems:
            print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
