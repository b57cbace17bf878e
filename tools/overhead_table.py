"""Communication overhead per task instance (MFMSC paper, Table I), from each model's configuration.

Rule (the one that reproduces every number of the paper's table): an analog system sends
each complex channel use as two float32, 8 bytes (``BYTES_PER_SYMBOL`` in
``linksim/systems/learned/mfmsc.py``); 1 KB = 1000 bytes. MFMSC sends one fused vector of
16 channel uses (0.128 KB), MMSC all L tokens (VQA v2: L = 50, 6.400 KB; MM-IMDb: L = 31,
3.968 KB), T-/U-DeepSC their Table II symbol count (VQA: 30, 0.240 KB; MM-IMDb: 44,
0.352 KB). A digital system (``udeepsc``) sends its index bits: at most every feature
vector's ``indices_per_vector x log2(codebook_size)`` bits (its FSM sends fewer), over the
FEC code rate, / 8 bytes.

With no argument: the paper's table, computed, beside the printed values. With scenario
files: every ``mfmsc`` and ``udeepsc`` system's overhead per task (the data sets must be
installed: they give the image sizes).

Usage: python tools/overhead_table.py [SCENARIO ...]
"""
import argparse
import math
import os
import pathlib
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from linksim.errors import UserError  # noqa: E402


def fail(line):
    """Bad input: one line on stderr, exit status 2."""
    print(f"error: {line}", file=sys.stderr)
    sys.exit(2)


def paper_rows():
    """Markdown rows of Table I: computed KB and the paper's printed KB per data set."""
    from linksim.systems.learned.mfmsc import PAPER_TABLE_I, paper_table
    lines = ["| data set | MMSC | T-DeepSC | U-DeepSC | MFMSC | printed (paper) |",
             "|---|---|---|---|---|---|"]
    for name, kb in paper_table().items():
        printed = " / ".join(f"{v:.3f}" for v in PAPER_TABLE_I[name]["printed_kb"])
        lines.append(f"| {name} | " + " | ".join(f"{kb[s]:.3f} KB" for s in
                                                  ("MMSC", "T-DeepSC", "U-DeepSC", "MFMSC"))
                     + f" | {printed} |")
    return lines


def udeepsc_bytes(system, task):
    """Bytes of ``task``'s index bits when U-DeepSC keeps every feature vector (an upper bound)."""
    from linksim.systems.learned.multitask import TASKS
    t = system.transmission
    split = system.test_data()[task]
    vectors = 0
    for modality in TASKS[task][0]:
        if modality == "image":
            h, w, _ = split.inputs["image"].shape[1:]
            p = system.patch_size[task]
            vectors += (h // p) * (w // p) + 1
        else:
            vectors += system.text_length + 1
    bits = vectors * system.model_settings["indices_per_vector"] * math.log2(t.codebook_size)
    if t.code is not None:
        from linksim import registry
        code = registry.build("code", t.code, key="transmission.code")
        bits = math.ceil(bits / code.k) * code.n
    return vectors, bits / 8


def scenario_rows(path, scenario):
    """Markdown rows of every mfmsc / udeepsc system of ``scenario`` (loaded from ``path``)."""
    from linksim import scenario as scenario_lib
    with tempfile.TemporaryDirectory() as tmp:
        systems = scenario_lib.build(scenario, file=path, checkpoint_root=tmp)[2]
    lines = [f"### {path}", "", "| system | task | vectors sent | channel uses | bytes | KB |",
             "|---|---|---|---|---|---|"]
    for system in systems:
        kind = type(system).__name__
        if kind == "MFMSC":
            for task, (vectors, uses, size) in system.overhead().items():
                lines.append(f"| {system.label} | {task} | {vectors} | {uses} | {size} | "
                             f"{size / 1000:.3f} |")
        elif kind == "UDeepSC":
            for task in (t.name for t in system.tasks):
                vectors, size = udeepsc_bytes(system, task)
                lines.append(f"| {system.label} | {task} | at most {vectors} | (digital) | "
                             f"at most {size:g} | {size / 1000:.3f} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", type=pathlib.Path)
    args = parser.parse_args()
    from linksim import scenario as scenario_lib
    try:
        # Every file is checked (no TensorFlow yet) before anything is computed.
        scenarios = [(path, scenario_lib.load(path)) for path in args.scenarios]
        for path, scenario in scenarios:
            if not {s.get("name") for s in scenario.system_specs()} & {"mfmsc", "udeepsc"}:
                fail(f"{path}: systems: no mfmsc or udeepsc system; the table covers those")
        lines = ["## Table I, the paper's settings (8 bytes per complex channel use)", "",
                 *paper_rows()]
        for path, scenario in scenarios:
            lines += ["", *scenario_rows(path, scenario)]
    except UserError as err:
        fail(str(err))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
