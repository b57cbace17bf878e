"""Hundreds of broken scenarios and CLI overrides: one ``error:`` line, exit 2, nothing written.

Every case is run in-process (click's CliRunner) from a temporary working
directory, through ``run`` (with and without ``--out``), ``validate`` and
``train --out``; the working directory (where ``results/<name>`` and any stray
``checkpoints/`` would appear) and ``--out`` must be untouched afterwards. Most cases fail in the schema pass, before
TensorFlow is imported; a few need the built components (code sizes, data set
length, codec modality). A handful run the real CLI in a subprocess for the
exit code, the single stderr line and the time to the error.
"""
import copy
import json
import os
import pathlib
import random
import subprocess
import sys
import time

import pytest
import yaml
from click.testing import CliRunner

from linksim import registry
from linksim.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINK = {"name": "tiny", "seed": 3, "snr": {"definition": "esno", "db": [0.0, 2.0]},
        "link": {"code": {"name": "uncoded", "k": 100}, "modulation": {"name": "qam"}},
        "channel": {"name": "awgn"},
        "stop": {"block_errors": 50, "max_blocks": 400, "batch_size": 200}}
CONVENTIONAL = {"snr": {"db": {"start": 0, "stop": 6, "step": 3}},
                "source": {"name": "fashion_mnist", "limit": 4},
                "systems": [{"name": "conventional", "codec": {"name": "jpeg"},
                             "bandwidth_ratio": 0.5,
                             "mcs": {"code": {"name": "ldpc5g", "k": 64, "n": 128},
                                     "modulation": {"name": "qam", "bits_per_symbol": 4}}}]}
LEARNED = {"snr": {"db": [0.0]}, "train": {"epochs": 1},
           "systems": [{"name": "deepjscc", "dataset": {"name": "fashion_mnist"},
                        "test_samples": 4,
                        "transmission": {"mode": "digital",
                                         "code": {"name": "ldpc5g", "k": 64, "n": 128}}}]}


def bomb(key):
    """``key: {a: [9 x "lol"], b: [9 x *a], ...}``: 10**9 values once the aliases are expanded."""
    levels = ["a: &a [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]"
               for i in range(8)]
    return f"{key}: {{{', '.join(levels)}}}\n".encode()


def with_change(base, path, value):
    """``base`` with the dotted ``path`` (``systems.0.mcs``) set; ``...`` deletes it."""
    data = copy.deepcopy(base)
    node = data
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


def dump(data):
    return yaml.safe_dump(data, sort_keys=False).encode()


def typo(word, rng):
    i = rng.randrange(len(word))
    return word[:i] + word[i + 1:] if len(word) > 3 else word + "x"


def nested(depth, leaf="1"):
    return "[" * depth + leaf + "]" * depth


# ----------------------------------------------------------------------- the cases
# Each case: (id, file content (bytes) or None for a directory, extra CLI args, key path the
# line must name (None where the whole file is wrong), needs_build: fails only once built).


def _cases():
    rng = random.Random(12)
    cases = []

    def add(name, content, key, args=(), needs_build=False):
        cases.append(pytest.param(content, list(args), key, needs_build, id=name))

    # Files that are not YAML text.
    for i in range(6):
        add(f"binary-{i}", bytes(rng.randrange(256) for _ in range(200 + 50 * i)), None)
    add("utf16", dump(LINK).decode().encode("utf-16"), None)
    add("utf16-be", dump(LINK).decode().encode("utf-16-be"), None)
    add("latin1", "name: café\n".encode("latin-1") + dump(LINK), None)
    add("invalid-utf8-in-value", dump(LINK) + b"description: \xff\xfe\n", None)
    add("nul-byte-raw", dump(LINK).replace(b"tiny", b"ti\x00ny"), None)
    add("empty", b"", None)
    add("only-comment", b"# nothing here\n", None)
    add("two-documents", dump(LINK) + b"---\n" + dump(LINK), None)
    add("too-large", b"# " + b"x" * 300_000 + b"\n" + dump(LINK), None)
    add("directory", None, None)
    add("bad-yaml", b"snr: [1, 2\nlink: {", None)
    add("tab-indent", b"snr:\n\tdb: [1]\n", None)
    # Not a mapping.
    for text in (b"[1, 2, 3]\n", b"42\n", b"just text\n", b"null\n", b"~\n"):
        add(f"top-{text[:6].decode().strip()}", text, None)
    # Nesting and aliases.
    for depth in (40, 200, 1000, 5000):
        add(f"deep-list-{depth}", dump(LINK) + f"description: {nested(depth)}\n".encode(),
            "description")
        add(f"deep-map-{depth}", dump(LINK) + ("train: " + "{a: " * depth + "1"
                                               + "}" * depth + "\n").encode(), "train")
    for key in ("description", "train", "source", "plot", "channel"):
        add(f"alias-bomb-{key}", dump({k: v for k, v in LINK.items() if k != key}) + bomb(key),
            key)
    for key in ("description", "train", "channel", "stop"):
        add(f"self-reference-{key}",
            dump({k: v for k, v in LINK.items() if k != key}) + f"{key}: &s {{x: *s}}\n".encode(),
            key)
    add("self-reference-list", dump(LINK) + b"description: &s [1, *s]\n", "description")
    # Duplicate keys.
    add("duplicate-top", dump(LINK) + b"seed: 4\n", "seed")
    add("duplicate-nested", b"snr: {db: [1], db: [2]}\n" + dump(with_change(LINK, "snr", ...)),
        "snr.db")
    add("duplicate-in-system", b"systems:\n  - {name: link, code: uncoded, code: uncoded, "
        b"modulation: qam}\nsnr: {db: [1]}\n", "systems[0].code")
    # Integers and floats out of range.
    for digits in (25, 400, 5000):
        big = "9" * digits
        for key in ("seed", "stop.max_blocks", "link.code.k", "link.codewords_per_frame"):
            text = dump(LINK).decode()
            data = with_change(LINK, key, 12345)
            text = dump(data).decode().replace("12345", big)
            add(f"bigint-{digits}-{key}", text.encode(), key)
    for value in (".inf", "-.inf", ".nan", ".NaN"):
        add(f"float-{value}-list", dump(with_change(LINK, "snr.db", [0.0, 7.5])).replace(
            b"7.5", value.encode()), "snr.db[1]")
        add(f"float-{value}-step", dump(with_change(LINK, "snr.db", {"start": 0, "stop": 3,
                                                                     "step": 7.5})).replace(
            b"7.5", value.encode()), "snr.db.step")
    for value in ("1e400", "-1e999", "nan", "inf"):
        add(f"string-float-{value}", dump(with_change(LINK, "snr.db", [value])), "snr.db[0]")
        add(f"string-float-rate-{value}", dump(with_change(LEARNED, "train.learning_rate",
                                                           value)), "train.learning_rate")
    # SNR grids that are empty, reversed or too long.
    for name, db, key in (
            ("reversed", {"start": 24, "stop": 8, "step": 2}, "snr.db"),
            ("zero-step", {"start": 0, "stop": 8, "step": 0}, "snr.db.step"),
            ("negative-step", {"start": 0, "stop": 8, "step": -1}, "snr.db.step"),
            ("huge-range", {"start": 0, "stop": 1e9, "step": 1}, "snr.db"),
            ("tiny-step", {"start": 0, "stop": 3, "step": 1e-300}, "snr.db"),
            ("empty-list", [], "snr.db"),
            ("duplicates", [1, 2, 1], "snr.db"),
            ("too-many", list(range(1001)), "snr.db"),
            ("beyond-range", [1e308], "snr.db[0]"),
            ("text", ["high"], "snr.db[0]"),
            ("scalar", 3, "snr.db"),
            ("missing-stop", {"start": 0, "step": 1}, "snr.db.stop"),
            ("range-typo", {"strt": 0, "stop": 3, "step": 1}, "snr.db.strt"),
            ("range-extra", {"start": 0, "stop": 3, "step": 1, "stpe": 2}, "snr.db.stpe")):
        add(f"snr-{name}", dump(with_change(LINK, "snr.db", db)), key)
    add("snr-typo", dump(with_change(LINK, "snr.dbb", [1])), "snr.dbb")
    add("snr-missing", dump(with_change(LINK, "snr", ...)), "snr")
    # CLI overrides.
    for value in (",", " , ", "3:0:1", "0:3:1e-300", "1e308", "nan", "inf", "0:1", "a,b",
                  "0:3:0", "0:3:-1", "-1e9:1e9:1", "1:2:3:4", "1," * 2000, "0:nan:1",
                  "1,1", "1e400", "0:1e9:1"):
        add(f"snr-option-{value[:12]}", dump(LINK), "snr.db", args=("--snr-db", value))
    for value in ("1e308", "abc", "-1", "9" * 30, "nan", "1.5", "4294967296"):
        add(f"seed-option-{value[:12]}", dump(LINK), "seed", args=("--seed", value))
    # Names that would write outside the results directory.
    for value in ("../../x", "/tmp/linksim-abs", "a/../b", "..", ".hidden", "a\x00b", "", "a b",
                  "x" * 70, "a/b/c/d/e", "C:\\x", ["list"], 5):
        add(f"name-{str(value)[:10]}", dump(with_change(LINK, "name", value)), "name")
    # Misspelt keys at every level, each with a few random typos.
    for path, base in (("seed", LINK), ("stop.batch_size", LINK),
                       ("stop.early_stop", with_change(LINK, "stop.early_stop", False)),
                       ("snr.definition", LINK), ("link.code.k", LINK),
                       ("link.modulation.bits_per_symbol",
                        with_change(LINK, "link.modulation.bits_per_symbol", 4)),
                       ("link.codewords_per_frame", with_change(LINK, "link.codewords_per_frame",
                                                                2)),
                       ("channel.fading", with_change(LINK, "channel", {"name": "rayleigh",
                                                                        "fading": "fast"})),
                       ("receiver.num_pilots", with_change(LINK, "receiver",
                                                           {"name": "ls", "num_pilots": 2})),
                       ("systems.0.bandwidth_ratio", CONVENTIONAL),
                       ("systems.0.mcs.select", with_change(CONVENTIONAL, "systems.0.mcs.select",
                                                            "bler")),
                       ("systems.0.codec.chroma", with_change(CONVENTIONAL,
                                                              "systems.0.codec.chroma", "444")),
                       ("source.limit", CONVENTIONAL),
                       ("train.epochs", LEARNED), ("systems.0.test_samples", LEARNED),
                       ("systems.0.transmission.mode", LEARNED),
                       ("systems.0.transmission.code.k", LEARNED),
                       ("systems.0.dataset.source", with_change(LEARNED,
                                                                "systems.0.dataset.source",
                                                                "auto"))):
        *parents, last = path.split(".")
        for _ in range(3):
            wrong = typo(last, rng)
            data = copy.deepcopy(base)
            node = data
            for key in parents:
                node = node[int(key)] if isinstance(node, list) else node[key]
            node[wrong] = node.pop(last)
            shown = ".".join(parents + [wrong]).replace(".0.", "[0].")
            add(f"typo-{path}-{wrong}", dump(data), shown)
    add("typo-mcs-table-row", dump(with_change(CONVENTIONAL, "systems.0.mcs", {"table": [
        {"code": {"name": "ldpc5g", "k": 64, "n": 128}, "modulaton": {"name": "qam"}}]})),
        "systems[0].mcs.table[0].modulaton")
    add("mcs-table-and-code", dump(with_change(CONVENTIONAL, "systems.0.mcs.table", [
        {"code": {"name": "ldpc5g", "k": 64, "n": 128}, "modulation": {"name": "qam"}}])),
        "systems[0].mcs")
    add("mcs-empty-table", dump(with_change(CONVENTIONAL, "systems.0.mcs", {"table": []})),
        "systems[0].mcs.table")
    # Unknown component names and wrong types, for every kind.
    for kind, path, base in (("channel", "channel", LINK), ("receiver", "receiver", LINK),
                             ("code", "link.code", LINK), ("modulation", "link.modulation", LINK),
                             ("system", "systems.0", CONVENTIONAL),
                             ("codec", "systems.0.codec", CONVENTIONAL),
                             ("dataset", "source", CONVENTIONAL),
                             ("dataset", "systems.0.dataset", LEARNED),
                             ("code", "systems.0.mcs.code", CONVENTIONAL),
                             ("code", "systems.0.transmission.code", LEARNED)):
        shown = path.replace(".0", "[0]")
        for name in registry.names(kind)[:2]:
            add(f"unknown-{path}-{name}", dump(with_change(base, path, {"name": name + "z"})),
                shown + ".name")
        for value in ([1, 2], 3.5, True, {"k": 1}):
            add(f"type-{path}-{value!r}", dump(with_change(base, path, value)), shown)
    for path, value, base in (("seed", "one", LINK), ("seed", -1, LINK), ("seed", 2 ** 40, LINK),
                              ("stop", [1], LINK), ("stop.batch_size", 0, LINK),
                              ("stop.batch_size", 10 ** 7, LINK), ("stop.max_blocks", -5, LINK),
                              ("stop.early_stop", "maybe", LINK), ("description", [1], LINK),
                              ("link", "ldpc", LINK), ("link.code.k", "many", LINK),
                              ("link.code.k", 1.5, LINK), ("link.codewords_per_frame", 1e9, LINK),
                              ("link.xla", "sometimes", LINK), ("systems", {"a": 1}, LINK),
                              ("plot", "x", LINK), ("plot", {"x": 3}, LINK),
                              ("channel", {"name": "rayleigh", "fading": "slow"}, LINK),
                              ("channel", {"name": "rician", "k_factor": "big"}, LINK),
                              ("systems.0.mcs.bler_target", 2, CONVENTIONAL),
                              ("systems.0.mcs.calibration_frames", 10 ** 9, CONVENTIONAL),
                              ("systems.0.bandwidth_ratio", -1, CONVENTIONAL),
                              ("systems.0.channel_uses_per_sample", 0, CONVENTIONAL),
                              ("systems.0.label", ["x"], CONVENTIONAL),
                              ("train.snr_db", [1, 2, 3], LEARNED),
                              ("train.validation_split", 1.0, LEARNED),
                              ("train.epochs", 0, LEARNED),
                              ("systems.0.transmission", "analogue", LEARNED),
                              ("systems.0.transmission.bits", 99, LEARNED),
                              ("systems.0.training", {"epoks": 3}, LEARNED),
                              ("systems.0.key", "x", LEARNED),
                              ("systems.0.checkpoint_dir", "/tmp/x", LEARNED),
                              ("train", {"epoks": 3}, LEARNED),
                              ("source", {"nam": "fashion_mnist"}, CONVENTIONAL),
                              ("source", {"name": "fashion_mnist", "limt": 3}, CONVENTIONAL)):
        shown = path.replace(".0.", "[0].").replace(".0", "[0]")
        add(f"value-{path}-{str(value)[:12]}", dump(with_change(base, path, value)), shown)
    add("nothing-to-simulate", dump(with_change(LINK, "link", ...)), "systems")
    # Mistakes only the built components reveal (checked by validate and before run writes).
    add("ldpc-k-above-n", dump(with_change(LINK, "link.code", {"name": "ldpc5g", "k": 2000,
                                                                "n": 1024})),
        "link.code", needs_build=True)
    add("digital-ldpc-k-above-n", dump(with_change(LEARNED, "systems.0.transmission.code",
                                                   {"name": "ldpc5g", "k": 256, "n": 128})),
        "systems[0].transmission.code", needs_build=True)
    add("batch-too-large", dump(with_change(with_change(LINK, "link.codewords_per_frame", 100000),
                                            "stop.batch_size", 1000)),
        "link.codewords_per_frame", needs_build=True)
    # Codec/data pairings are read from the declarations, in the schema pass.
    add("speech-codec-on-images", dump(with_change(CONVENTIONAL, "systems.0.codec", "pcm16")),
        "systems[0].codec")
    add("text-codec-on-images", dump(with_change(CONVENTIONAL, "systems.0.codec", "utf8")),
        "systems[0].codec")
    text_source = with_change(CONVENTIONAL, "source", {"name": "sentences", "limit": 4})
    add("image-codec-on-text", dump(text_source), "systems[0].codec")
    add("bandwidth-ratio-on-text", dump(with_change(text_source, "systems.0.codec", "utf8")),
        "systems[0].bandwidth_ratio")
    add("both-channel-use-keys", dump(with_change(CONVENTIONAL,
                                                  "systems.0.channel_uses_per_sample", 100)),
        "systems[0].channel_uses_per_sample")
    add("codec-on-own-dataset", dump(with_change(with_change(
        CONVENTIONAL, "systems.0.dataset", {"name": "speech"}), "source", ...)),
        "systems[0].codec")
    add("test-offset-past-data", dump(with_change(LEARNED, "systems.0.test_offset", 20000)),
        "systems[0].test_offset", needs_build=True)
    add("plot-x-no-fact", dump(with_change(LINK, "plot", {"x": "nope"})), "plot.x",
        needs_build=True)
    add("plot-series-no-fact", dump(with_change(LINK, "plot", {"x": "k", "series": "kk"})),
        "plot.series", needs_build=True)
    add("duplicate-labels", dump(with_change(CONVENTIONAL, "systems",
                                             CONVENTIONAL["systems"] * 2)),
        "systems[1].label", needs_build=True)
    add("learned-dataset-limit", dump(with_change(LEARNED, "systems.0.dataset.limit", 3)),
        "systems[0].dataset.limit", needs_build=True)
    add("pilots-fill-fast-fading", dump(with_change(with_change(
        LINK, "channel", {"name": "rayleigh", "fading": "fast"}), "receiver", {"name": "ls"})),
        "link", needs_build=True)
    add("pilots-fill-coherence-block", dump(with_change(with_change(
        LINK, "channel", {"name": "rayleigh", "coherence_symbols": 4}), "receiver",
        {"name": "ls", "num_pilots": 4})), "link", needs_build=True)
    add("turbo-k-beyond-interleaver", dump(with_change(LINK, "link.code",
                                                       {"name": "turbo", "k": 100000})),
        "link.code", needs_build=True)
    add("ebno-without-bits", dump(with_change(LEARNED, "snr.definition", "ebno")),
        "snr.definition", needs_build=True)
    return cases


CASES = _cases()


def snapshot(root):
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*")}


def test_there_are_enough_cases():
    assert len(CASES) >= 200


@pytest.mark.parametrize("content,args,key,needs_build", CASES)
def test_broken_input_is_one_line_exit_2_and_writes_nothing(tmp_path, monkeypatch, content,
                                                            args, key, needs_build):
    work = tmp_path / "work"
    work.mkdir()
    path = work / "scenario.yaml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    monkeypatch.chdir(work)
    before = snapshot(tmp_path)
    commands = [["run", path, "--out", tmp_path / "out", "--quiet", *args],
                ["run", path, "--quiet", *args]]
    if not args:
        commands += [["validate", path], ["train", path, "--out", tmp_path / "out", "--quiet"]]
    for command in commands:
        start = time.perf_counter()
        result = CliRunner().invoke(main, [str(a) for a in command])
        seconds = time.perf_counter() - start
        lines = result.output.splitlines()
        assert result.exit_code == 2, (command, result.output, result.exception)
        assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), result.output
        assert "Traceback" not in result.output
        if key is not None:
            assert f": {key}" in lines[0], (key, lines[0])
        assert seconds < (120 if needs_build else 10), seconds
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "out").exists()
    assert not pathlib.Path("/tmp/linksim-abs").exists()


def test_schema_pass_needs_no_tensorflow():
    """Every component's options model and every shipped scenario, without importing TF."""
    code = ("import sys, pathlib\n"
            "from linksim import registry, scenario\n"
            "for kind in registry.KINDS:\n"
            "    for entry in registry.entries(kind):\n"
            "        entry.options_model(registry.CONTEXT)\n"
            "for f in sorted(pathlib.Path('scenarios').rglob('*.yaml')):\n"
            "    scenario.load(f)\n"
            "heavy = [m for m in ('tensorflow', 'sionna', 'keras') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("content,args,command,needle", [
    (dump({**LINK, "sed": 4}), (), "run", "sed: unknown key (did you mean 'seed'?)"),
    (dump(with_change(LINK, "channel", {"name": "rayleigh", "fadng": "fast"})), (), "run",
     "channel.fadng: unknown key (did you mean 'fading'?)"),
    (dump(with_change(LINK, "link.code.k", "many")), (), "validate", "link.code.k: 'many'"),
    (bytes(range(256)), (), "validate", "not UTF-8"),
    (dump(LINK), ("--snr-db", "3:0:1"), "run", "snr.db (--snr-db)"),
    (dump(LINK) + bomb("description"), (), "run", "description"),
    (dump({**LEARNED, "train": {"epoks": 3}}), (), "run",
     "train.epoks: unknown key (did you mean 'epochs'?); allowed keys: epochs"),
    (dump({**CONVENTIONAL, "source": {"nam": "fashion_mnist"}}), (), "run",
     "source.nam: unknown key (did you mean 'name'?)"),
    (dump({**CONVENTIONAL, "source": {"name": "fashion_mnist", "limt": 4}}), (), "validate",
     "source.limt: unknown key (did you mean 'limit'?); allowed keys: split, limit"),
    (dump(with_change(CONVENTIONAL, "source", {"name": "sentences"})), (), "run",
     "systems[0].codec: 'jpeg' encodes image, but the data set 'sentences' holds text; "
     "allowed codecs: utf8"),
])
def test_cli_subprocess_one_line_exit_2(tmp_path, content, args, command, needle):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "linksim.cli", command, str(path), *args],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - start
    lines = (result.stdout + result.stderr).splitlines()
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ") and needle in lines[0], \
        lines
    print(f"{command} {needle!r}: {seconds:.2f} s")
    assert seconds < 10  # about 1 s without load; generous against shared machines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_results_and_checkpoints_stay_in_out(tmp_path, monkeypatch):
    """A learned system's checkpoint directory is under --out (default results/<name>)."""
    from linksim import scenario as scenario_lib
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({**LEARNED, "name": "a/b"}))
    monkeypatch.chdir(tmp_path)
    default = scenario_lib.load(path)
    assert default.results_dir == pathlib.Path("results/a/b")
    out = scenario_lib.load(path, out=tmp_path / "o")
    assert out.results_dir == tmp_path / "o"
    _, _, systems = scenario_lib.build(out, file=path)
    assert systems[0].directory.parent == tmp_path / "o" / "checkpoints"
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "o").exists()
