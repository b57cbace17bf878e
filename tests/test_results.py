"""Results directories stay honest: provenance per point, no rewrite without new points,
--snr-db merges, failures leave only valid files, --fresh deletes only linksim's files."""
import csv
import json
import os
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from linksim.cli import main
from linksim.errors import UserError
from linksim.sim import distributed, runner
from linksim.systems.link import LinkSystem
from test_cli import GOOD as TINY

RESULTS = ("run.json", "metrics.csv", "table.md")


def scenario(tmp_path, **changes):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**TINY, **changes}))
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def run(path, out, *extra):
    result = invoke("run", path, "--out", out, "--quiet", "--no-plot", *extra)
    assert result.exit_code == 0, result.output
    return result


def snapshot(out):
    return {name: ((out / name).read_bytes(), (out / name).stat().st_mtime_ns)
            for name in RESULTS}


def snrs(out):
    with open(out / "metrics.csv", newline="") as f:
        return [float(row["snr_db"]) for row in csv.DictReader(f)]


def test_rerun_without_new_points_leaves_results_untouched(tmp_path):
    path, out = scenario(tmp_path), tmp_path / "out"
    run(path, out)
    before = snapshot(out)
    again = run(path, out)
    assert "0 point(s) computed; 2 reused" in again.output
    assert "results files unchanged" in again.output
    assert snapshot(out) == before


def test_points_carry_their_provenance(tmp_path):
    path, out = scenario(tmp_path), tmp_path / "out"
    run(path, out)
    for point in out.glob("points/*/*.json"):
        provenance = json.loads(point.read_text())["provenance"]
        assert provenance["versions"]["tensorflow"] and provenance["machine"]["cpu_count"]
        assert "git_commit" in provenance and provenance["time"].endswith("+00:00")
        assert "worker" not in provenance  # serial: computed by the driver
    info = json.loads((out / "run.json").read_text())
    assert [entry["points"] for entry in info["produced_by"]] == [2]
    assert "started" not in info and "finished" not in info  # no claim of when it was rerun


def test_run_json_from_before_per_point_provenance_is_kept(tmp_path):
    path, out = scenario(tmp_path), tmp_path / "out"
    run(path, out)
    for point in out.glob("points/*/*.json"):
        record = json.loads(point.read_text())
        record.pop("provenance")
        point.write_text(json.dumps(record, indent=1))
    info = json.loads((out / "run.json").read_text())
    info.pop("produced_by")
    info.update(started="2025-01-01T00:00:00+00:00", finished="2025-01-01T00:01:00+00:00")
    (out / "run.json").write_text(json.dumps(info, indent=2))
    before = snapshot(out)
    run(path, out)
    assert snapshot(out) == before
    # A new point is recorded as its own; the old points keep what the old run.json said.
    run(path, out, "--snr-db", "1")
    produced_by = json.loads((out / "run.json").read_text())["produced_by"]
    assert [e["points"] for e in produced_by] == [2, 1]
    assert produced_by[0]["first"] == "2025-01-01T00:00:00+00:00" and "note" in produced_by[0]


def test_snr_override_merges_with_finished_points(tmp_path):
    path, out = scenario(tmp_path), tmp_path / "out"
    run(path, out)
    more = run(path, out, "--snr-db", "1")
    assert "1 point(s) computed; 2 reused" in more.output and "merged" in more.output
    assert snrs(out) == [0.0, 1.0, 2.0]
    assert json.loads((out / "run.json").read_text())["snr_db"] == [0.0, 1.0, 2.0]


def test_failure_in_prepare_writes_nothing(tmp_path, monkeypatch):
    def broken(self, *, show_progress=True):
        raise UserError("prepare refused")
    monkeypatch.setattr(LinkSystem, "prepare", broken)
    result = invoke("run", scenario(tmp_path), "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 2 and "prepare refused" in result.output
    assert not (tmp_path / "out").exists()


def failing_after(monkeypatch, calls):
    """Make the simulation fail once ``calls`` points have been simulated."""
    real, done = runner.simulate_point, []

    def simulate(system, **kwargs):
        if len(done) == calls:
            raise RuntimeError("simulated failure")
        done.append(kwargs["snr_db"])
        return real(system, **kwargs)
    monkeypatch.setattr(runner, "simulate_point", simulate)


def test_failure_after_first_point_keeps_points_but_no_metrics(tmp_path, monkeypatch):
    path, out = scenario(tmp_path), tmp_path / "out"
    with monkeypatch.context() as patch:
        failing_after(patch, 1)
        result = invoke("run", path, "--out", out, "--quiet", "--no-plot")
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)
    assert len(list(out.glob("points/*/*.json"))) == 1
    assert not (out / "metrics.csv").exists() and not (out / "table.md").exists()
    assert "systems" not in json.loads((out / "run.json").read_text())  # only the claim
    resumed = run(path, out)
    assert "1 point(s) computed; 1 reused" in resumed.output and snrs(out) == [0.0, 2.0]


def test_failed_extension_keeps_the_previous_results(tmp_path, monkeypatch):
    path, out = scenario(tmp_path), tmp_path / "out"
    run(path, out)
    before = snapshot(out)
    with monkeypatch.context() as patch:
        failing_after(patch, 1)
        result = invoke("run", path, "--out", out, "--quiet", "--no-plot", "--snr-db", "4,6")
    assert result.exit_code == 1
    assert snapshot(out) == before  # still the consistent results of the finished run
    assert len(list(out.glob("points/*/*.json"))) == 3  # the new point is kept for resume


def test_fresh_deletes_only_what_linksim_wrote(tmp_path):
    path, out = scenario(tmp_path), tmp_path / "out"
    result = invoke("run", path, "--out", out, "--quiet")
    assert result.exit_code == 0 and (out / "bler.png").exists()
    (out / "notes.md").write_text("mine")
    (out / "points" / "mine.txt").write_text("mine too")
    old = set(out.glob("points/*/*.json"))
    run(path, out, "--fresh", "--seed", "9", "--snr-db", "1")
    assert (out / "notes.md").read_text() == "mine" and (out / "points" / "mine.txt").exists()
    assert not (out / "bler.png").exists()  # a plot of the discarded results
    assert not old & set(out.glob("points/*/*.json")) and snrs(out) == [1.0]


@pytest.mark.parametrize("fresh", [(), ("--fresh",)])
def test_foreign_directory_is_refused(tmp_path, fresh):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.csv").write_text("not linksim's")
    result = invoke("run", scenario(tmp_path), "--out", out, "--quiet", *fresh)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "no run.json of linksim" in lines[0]
    assert [p.name for p in out.iterdir()] == ["metrics.csv"]
    assert (out / "metrics.csv").read_text() == "not linksim's"


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640)])
def test_result_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        out = tmp_path / "out"
        run(scenario(tmp_path), out)
    finally:
        os.umask(old)
    for path in [out / name for name in RESULTS] + list(out.glob("points/*/*.json")):
        assert path.stat().st_mode & 0o777 == mode, path


def test_points_out_of_order_give_the_serial_results(tmp_path, monkeypatch):
    """A parallel engine may finish points above the first error-free one first: the
    results (rows and kept points) are still the serial run's."""
    path = scenario(tmp_path, snr={"definition": "esno", "db": [0.0, 20.0, 30.0, 40.0]})
    serial = tmp_path / "serial"
    run(path, serial)

    def all_at_once_highest_first(sweeps, *, begin, finish, spec, **_):
        while todo := sorted(((snr, sweep) for sweep in sweeps for snr in sweep.missing),
                             key=lambda t: -t[0]):
            for snr, sweep in todo:
                if snr not in sweep.missing:
                    continue
                begin(sweep)
                scenario_spec = spec["scenario"]
                finish(sweep, snr, runner.evaluate_point(
                    sweep.system, snr_db=snr, definition=scenario_spec["snr"]["definition"],
                    seed=scenario_spec["seed"], stop=runner.scenario_lib.Stop(
                        **scenario_spec["stop"]), worker="fake"))
    monkeypatch.setattr(distributed, "run_points", all_at_once_highest_first)
    out = tmp_path / "parallel"
    result = run(path, out, "--workers", "2")
    assert "2 computed ahead and dropped" in result.output
    strip = [line.rsplit(",", 1)[0] for line in (serial / "metrics.csv").read_text().splitlines()]
    assert [line.rsplit(",", 1)[0] for line in (out / "metrics.csv").read_text().splitlines()] \
        == strip and snrs(out) == [0.0, 20.0]
    assert {p.name for p in out.glob("points/*/*.json")} == \
        {p.name for p in serial.glob("points/*/*.json")}
    info = json.loads((out / "run.json").read_text())
    assert [s["snr_db"] for s in info["skipped_after_error_free_point"]] == [30.0, 40.0]


def test_serial_run_never_imports_dask(tmp_path):
    code = ("import sys; from click.testing import CliRunner; from linksim.cli import main; "
            f"r = CliRunner().invoke(main, ['run', {str(scenario(tmp_path))!r}, '--out', "
            f"{str(tmp_path / 'out')!r}, '--quiet', '--no-plot']); assert r.exit_code == 0, "
            "r.output; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dask', 'distributed')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
