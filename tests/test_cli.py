"""Scenario errors are one line with exit code 2; runs are reproducible and resume."""
import json

import pytest
import yaml
from click.testing import CliRunner

from linksim.cli import main

GOOD = {
    "name": "tiny",
    "seed": 3,
    "snr": {"definition": "esno", "db": [0.0, 2.0]},
    "link": {"code": {"name": "uncoded", "k": 100}, "modulation": {"name": "qam"}},
    "channel": {"name": "awgn"},
    "stop": {"block_errors": 50, "max_blocks": 400, "batch_size": 200},
}


def write(tmp_path, data, name="s.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if isinstance(data, dict) else data)
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def with_change(path, value):
    data = json.loads(json.dumps(GOOD))
    node = data
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    return data


@pytest.mark.parametrize("data,needle", [
    (with_change("link.code.k", "many"), "link.code.k: 'many' is not valid"),
    (with_change("link.code", {"name": "ldpc5g", "k": 2000, "n": 1024}),
     "link.code: k=2000 must not exceed n=1024"),
    (with_change("stop.max_blocks", -5), "stop.max_blocks: -5 is not valid"),
    (with_change("channel", {"name": "rayleigh", "fadng": "fast"}),
     "unknown key (did you mean 'fading'?)"),
    (with_change("channel", {"name": "raleigh"}), "did you mean 'rayleigh'?"),
    (with_change("snr.definition", "snr"), "snr.definition: 'snr' is not valid"),
    (with_change("link.modulation", {"name": "qam", "bits_per_symbol": 3}),
     "link.modulation.bits_per_symbol: 3 is not valid"),
    ({**GOOD, "sed": 4}, "sed: unknown key (did you mean 'seed'?)"),
    (with_change("link.code", {"name": "turbo", "k": 64, "constraint_length": 9}),
     "constraint_length must be one of 3, 4, 5, 6"),
    # YAML reads the flow mapping "{..., label: A (b, c)}" as a key "c)": not an identifier.
    (with_change("link", {**GOOD["link"], "label": "A (b", "c)": None}),
     "link.c): unknown key; allowed keys: code, modulation"),
])
def test_bad_scenario_gives_one_line_and_exit_2(tmp_path, data, needle):
    path = write(tmp_path, data)
    for command in ("validate", "run"):
        result = invoke(command, path, "--out", tmp_path / "out") if command == "run" \
            else invoke(command, path)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and str(path) in lines[0], result.output
    assert not (tmp_path / "out").exists()


def test_missing_file_and_bad_yaml(tmp_path):
    result = invoke("run", tmp_path / "nope.yaml")
    assert result.exit_code == 2 and "scenario file not found" in result.output
    path = write(tmp_path, "snr: [1, 2\nlink: {")
    result = invoke("validate", path)
    assert result.exit_code == 2 and "invalid YAML" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_run_is_reproducible_and_resumes(tmp_path):
    path = write(tmp_path, GOOD)
    first = invoke("run", path, "--out", tmp_path / "a", "--quiet", "--no-plot")
    assert first.exit_code == 0, first.output
    again = invoke("run", path, "--out", tmp_path / "b", "--quiet", "--no-plot")
    assert (tmp_path / "a" / "metrics.csv").read_text().split("seconds")[0] == \
        (tmp_path / "b" / "metrics.csv").read_text().split("seconds")[0]
    rows_a = [line.rsplit(",", 1)[0] for line in (tmp_path / "a" / "metrics.csv").read_text().splitlines()]
    rows_b = [line.rsplit(",", 1)[0] for line in (tmp_path / "b" / "metrics.csv").read_text().splitlines()]
    assert rows_a == rows_b and again.exit_code == 0

    point = next((tmp_path / "a" / "points").glob("*/snr_+000.000.json"))
    stamp = point.stat().st_mtime_ns
    more = invoke("run", path, "--out", tmp_path / "a", "--quiet", "--no-plot",
                  "--snr-db", "0,2,4")
    assert more.exit_code == 0, more.output
    assert point.stat().st_mtime_ns == stamp  # reused, not recomputed
    assert len((tmp_path / "a" / "metrics.csv").read_text().strip().splitlines()) == 4

    changed = invoke("run", path, "--out", tmp_path / "a", "--seed", "9", "--quiet")
    assert changed.exit_code == 2 and "--fresh" in changed.output
    fresh = invoke("run", path, "--out", tmp_path / "a", "--seed", "9", "--quiet", "--fresh",
                   "--no-plot")
    assert fresh.exit_code == 0
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["seed"] == 9 and run["snr_definition"] == "esno" and run["versions"]["tensorflow"]


def test_error_free_point_ends_the_sweep(tmp_path):
    data = with_change("snr.db", [0.0, 30.0, 40.0])
    path = write(tmp_path, data)
    result = invoke("run", path, "--out", tmp_path / "o", "--quiet")
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert [p["snr_db"] for p in run["skipped_after_error_free_point"]] == [40.0]
    assert (tmp_path / "o" / "bler.png").exists() and (tmp_path / "o" / "ber.png").exists()


def test_list_and_plot(tmp_path):
    listing = invoke("list")
    assert listing.exit_code == 0
    for name in ("awgn", "rayleigh", "rician", "ldpc5g", "turbo", "qam", "ls", "link"):
        assert name in listing.output
    assert invoke("list", "chanel").exit_code == 2
    assert invoke("plot", tmp_path / "missing").exit_code == 2


@pytest.mark.parametrize("system,needle", [
    ({"name": "deepjscc", "dataset": {"name": "fashon_mnist"}},
     "systems[0].dataset.name: unknown dataset 'fashon_mnist' (did you mean 'fashion_mnist'?)"),
    ({"name": "deepjscc", "dataset": {"name": "fashion_mnist"}, "transmission": {"mode": "analogue"}},
     "systems[0].transmission.mode: 'analogue' is not valid"),
    ({"name": "conventional", "codec": {"name": "jpg"}, "bandwidth_ratio": 0.5,
      "mcs": {"code": {"name": "uncoded"}, "modulation": {"name": "qam"}}},
     "systems[0].codec.name: unknown codec 'jpg' (did you mean 'jpeg'?)"),
    ({"name": "conventional", "codec": "jpeg", "bandwidth_ratio": 0.5},
     "systems[0].mcs: required key is missing"),
])
def test_bad_system_keys_give_one_line(tmp_path, system, needle):
    data = {"snr": {"db": [0]}, "source": {"name": "fashion_mnist", "limit": 4},
            "systems": [system]}
    result = invoke("validate", write(tmp_path, data))
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and needle in result.output, result.output


def test_directory_without_points_is_taken_over(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text('{"scenario_hash": "from-an-aborted-run"}')
    result = invoke("run", write(tmp_path, GOOD), "--out", out, "--quiet", "--no-plot")
    assert result.exit_code == 0, result.output
    assert (out / "metrics.csv").exists()
