"""How far each committed learned model's training got: stopped by early stopping, or by the
epoch budget with its monitored loss still falling.

Usage::

    python tools/convergence.py [RESULTS_DIR ...]   (default: every run.json under results/)

Reads ``run.json`` (``training_stop`` of each learned system: the reason, epochs run, best
epoch) and the per-epoch curves in ``training/<system>[.<stage>].csv`` next to it, and prints
one markdown row per trained model (stage): the reason, epochs run of the maximum, the best
epoch, and ``late gain``: how much the monitored loss fell in the last quarter of the epochs
run (at least one epoch), as a share of its best value,

    late gain = (best loss before the last quarter - best loss) / best loss.

Verdict: ``plateau`` where early stopping ended training or the late gain is below 1%,
``still improving`` otherwise (a larger budget would very likely change the results).
Systems averaged over seeds (``mean of N seeds``) have no model of their own and are skipped;
a system that reuses another's model (its ``training_stop``, no curve of its own) gets ``-``
and ``no curve``.
"""
import csv
import json
import math
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from linksim.sim.results import slug  # noqa: E402

#: Below this late gain a model counts as at its plateau.
PLATEAU = 0.01


def curve(directory, label, stage, monitor):
    """Monitored loss per epoch of one model (stage), or None without its curve."""
    name = slug(label) + (f".{stage}" if stage else "")
    path = directory / "training" / f"{name}.csv"
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        values = [float(row[monitor]) for row in csv.DictReader(f)]
    return [v for v in values if math.isfinite(v)] or None


def late_gain(losses):
    """Share of the best loss gained in the last quarter of the epochs (None: too short)."""
    if losses is None or len(losses) < 2:
        return None
    cut = len(losses) - max(1, len(losses) // 4)
    before, best = min(losses[:cut]), min(losses)
    return (before - best) / abs(best)


def rows(directory):
    facts = json.loads((directory / "run.json").read_text())
    for system in facts.get("systems", []):
        stop = system.get("training_stop")
        if not stop or "mean of" in system["label"]:
            continue
        stages = {None: stop} if "stopped" in stop else stop
        for stage, record in stages.items():
            gain = late_gain(curve(directory, system["label"], stage, record["monitor"]))
            if record["stopped"] == "early_stopping" or (gain is not None and gain < PLATEAU):
                verdict = "plateau"
            else:
                verdict = "still improving" if gain is not None else "no curve"
            shown = (directory.relative_to(ROOT / "results").as_posix()
                     if directory.is_relative_to(ROOT / "results") else str(directory))
            yield (shown, system["label"],
                   stage or "", record["stopped"],
                   f"{record['epochs_run']}/{record['max_epochs']}", record["best_epoch"],
                   "-" if gain is None else f"{100 * gain:.1f}%", verdict)


def main(argv):
    directories = ([pathlib.Path(a).resolve() for a in argv] if argv else
                   sorted(p.parent for p in (ROOT / "results").rglob("run.json")))
    print("| results | system | stage | stopped by | epochs | best epoch | late gain | verdict |")
    print("|---|---|---|---|---|---|---|---|")
    for directory in directories:
        for row in rows(directory):
            print("| " + " | ".join(str(v) for v in row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
