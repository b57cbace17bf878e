"""``seeds:`` on a learned system: one system per training seed, and their mean with its range."""
import json

import pytest
from click.testing import CliRunner

from linksim.cli import main
from linksim.sim.results import read_metrics

SCENARIO = """
name: seeds
seed: 3
snr: {{db: [10]}}
channel: {{name: awgn}}
stop: {{max_blocks: 100, batch_size: 100}}
train: {{epochs: 1, batch_size: 32, snr_db: [0, 20], train_samples: 64, validation_split: 0.0}}
systems: [{system}]
"""
TINY = "{name: deepjscc, label: tiny, dataset: {name: fashion_mnist}, filters: 2, test_samples: 100"


def write(tmp_path, system):
    path = tmp_path / "seeds.yaml"
    path.write_text(SCENARIO.format(system=system))
    return path


@pytest.mark.parametrize("seeds,needle", [
    ("[]", "systems[0].seeds"), ("[1, 1]", "repeats a seed"), ("[-1]", "systems[0].seeds[0]"),
    ("3", "systems[0].seeds"),
])
def test_bad_seeds_are_one_line_errors(tmp_path, seeds, needle):
    path = write(tmp_path, f"{TINY}, seeds: {seeds}}}")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2 and needle in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_seeds_only_for_systems_trained_with_a_seed(tmp_path):
    system = ("{name: capacity_bound, codec: {name: jpeg}, dataset: {name: fashion_mnist}, "
              "bandwidth_ratio: 0.5, seeds: [1, 2]}")
    result = CliRunner().invoke(main, ["validate", str(write(tmp_path, system))])
    assert result.exit_code == 2 and "not trained with a seed" in result.output, result.output


def test_each_seed_is_its_own_system_and_the_mean_has_their_range(tmp_path):
    path, out = write(tmp_path, f"{TINY}, seeds: [1, 2]}}"), tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    rows = {r["system"]: r for r in read_metrics(out)}
    assert sorted(rows) == ["tiny (mean of 2 seeds)", "tiny (seed 1)", "tiny (seed 2)"]
    one, two, mean = rows["tiny (seed 1)"], rows["tiny (seed 2)"], rows["tiny (mean of 2 seeds)"]
    assert one["psnr"] != two["psnr"]  # other weights
    assert mean["psnr"] == pytest.approx((one["psnr"] + two["psnr"]) / 2)
    assert (mean["psnr_seed_min"], mean["psnr_seed_max"]) == \
        (min(one["psnr"], two["psnr"]), max(one["psnr"], two["psnr"]))
    assert mean["psnr_seed_std"] == pytest.approx(abs(one["psnr"] - two["psnr"]) / 2 ** 0.5)
    assert mean["seeds"] == 2
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["tiny_seed_1",
                                                                        "tiny_seed_2"]
    run = json.loads((out / "run.json").read_text())
    facts = {s["label"]: s for s in run["systems"]}
    assert facts["tiny (seed 2)"]["seed"] == 2 and facts["tiny (seed 2)"]["seed_of"] == "tiny"
    assert facts["tiny (mean of 2 seeds)"]["aggregate_of"] == ["tiny (seed 1)", "tiny (seed 2)"]
    assert "(seeds " in (out / "table.md").read_text() and (out / "psnr.png").exists()
    # A rerun reuses every point and leaves every file as it was.
    again = CliRunner().invoke(main, ["run", str(path), "--out", str(out), "--quiet"])
    assert again.exit_code == 0 and "results files unchanged" in again.output, again.output
