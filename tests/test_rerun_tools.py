"""tools/compare_results.py and tools/rerun.py: the checks behind "a rerun reproduces the
committed results" (counts, intervals, bit-identical runs)."""
import csv
import os
import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import compare_results  # noqa: E402

ROW = {"system": "s", "snr_db": "0.0", "snr_definition": "esno", "blocks": "1000",
       "accuracy": "0.80", "accuracy_ci_low": "0.775", "accuracy_ci_high": "0.823",
       "correct": "800", "seconds": "1.5"}


def write(directory, rows):
    directory.mkdir(parents=True)
    with open(directory / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return directory


def test_metrics_inside_each_others_interval_agree():
    tally = {}
    other = {**ROW, "accuracy": "0.81", "accuracy_ci_low": "0.785", "accuracy_ci_high": "0.833",
             "correct": "810", "seconds": "9"}
    assert compare_results.compare_rows(ROW, other, exact=False, tally=tally) == []
    assert tally == {"placed": 1}
    # The same rows are not bit-identical: --exact names the numerator (the time is ignored).
    assert compare_results.compare_rows(ROW, other, exact=True)[0].startswith("accuracy:")


def test_a_metric_outside_the_interval_or_another_sample_count_differs():
    far = {**ROW, "accuracy": "0.90", "accuracy_ci_low": "0.88", "accuracy_ci_high": "0.917"}
    tally = {}
    problems = compare_results.compare_rows(ROW, far, exact=False, tally=tally)
    assert len(problems) == 1 and "outside the other's 95% interval" in problems[0]
    assert tally == {"outside": 1}
    assert compare_results.compare_rows(ROW, {**ROW, "blocks": "999"}, exact=False) == \
        ["blocks: 1000 != 999"]


def test_older_results_without_an_interval_are_judged_by_the_newer_one():
    old = {k: v for k, v in ROW.items() if not k.startswith("accuracy_ci")}
    assert compare_results.compare_rows(old, {**ROW, "accuracy": "0.81"}, exact=False) == [
        "column 'accuracy_ci_high' only in B", "column 'accuracy_ci_low' only in B"]
    problems = compare_results.compare_rows({**old, "accuracy": "0.70"}, ROW, exact=False)
    assert any(p.startswith("accuracy: A 0.7 [None, None]") for p in problems)
    # An empty cell and nan are both "no value", also for --exact.
    assert compare_results.compare_rows({**ROW, "ssim": ""}, {**ROW, "ssim": "nan"},
                                        exact=True) == []
    assert compare_results.compare_rows({**ROW, "ssim": ""}, {**ROW, "ssim": "0.5"},
                                        exact=False) == []


def test_cli_exit_status(tmp_path):
    a = write(tmp_path / "a", [ROW])
    b = write(tmp_path / "b", [{**ROW, "accuracy": "0.95", "accuracy_ci_low": "0.93",
                                "accuracy_ci_high": "0.96"}])
    tool = [sys.executable, str(ROOT / "tools" / "compare_results.py")]
    same = subprocess.run([*tool, str(a), str(a), "--exact"], capture_output=True, text=True)
    assert same.returncode == 0 and "identical): agree" in same.stdout
    other = subprocess.run([*tool, str(a), str(b)], capture_output=True, text=True)
    assert other.returncode == 1 and "0 of 1 metric values" in other.stdout


def test_rerun_of_a_link_scenario_is_bit_identical(tmp_path):
    """tools/rerun.py reruns a scenario into --out and compares it with the committed copy."""
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(yaml.safe_dump({
        "name": "tiny", "seed": 5, "snr": {"definition": "esno", "db": [0.0, 3.0]},
        "link": {"code": {"name": "uncoded", "k": 64}, "modulation": {"name": "qam"}},
        "stop": {"max_blocks": 200, "batch_size": 100}}))
    committed = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "linksim.cli", "run", str(scenario), "--out",
                    str(committed / "tiny"), "--quiet", "--no-plot"], check=True, env=env,
                   capture_output=True)
    rerun = subprocess.run([sys.executable, str(ROOT / "tools" / "rerun.py"), "--exact",
                            "--results", str(committed), "--out", str(tmp_path / "reruns"),
                            str(scenario)], capture_output=True, text=True, env=env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert rerun.stdout.strip() == "tiny: 2 points compared, identical"
    assert (tmp_path / "reruns" / "tiny" / "metrics.csv").is_file()
