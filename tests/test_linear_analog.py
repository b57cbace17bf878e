"""Linear analog floors: closed-form MSE on AWGN, power, budgets, LS, keys, the floor warning."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from sionna.phy import config

from linksim import metrics
from linksim import scenario as scenario_lib
from linksim.cli import main
from linksim.sim import runner
from linksim.sim.results import read_metrics
from linksim.systems import linear_analog
from linksim.systems.linear_optimal import floor_warnings

SCENARIO = """
name: tiny
seed: 3
snr: {{db: [10]}}
channel: {channel}
receiver: {receiver}
stop: {{max_blocks: 400, batch_size: 200}}
train: {{epochs: 1, batch_size: 32, snr_db: [0, 20], train_samples: 2000, validation_split: 0.0}}
systems: {systems}
"""


def write(tmp_path, systems, channel="{name: awgn}", receiver="{name: perfect}"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO.format(systems=systems, channel=channel, receiver=receiver))
    return path


def build(tmp_path, systems, **link):
    path = write(tmp_path, systems, **link)
    return scenario_lib.build(scenario_lib.load(path), file=path,
                              checkpoint_root=tmp_path / "ckpt")[2]


def system_of(tmp_path, name, budget, **link):
    system = build(tmp_path, f"[{{name: {name}, dataset: {{name: fashion_mnist}}, {budget}, "
                             "test_samples: 400}]", **link)[0]
    system.prepare(show_progress=False)
    return system


def assert_zero_in_interval(differences):
    """The mean of ``differences`` is 0 within its 95% t-interval."""
    low, high = metrics.mean_interval(np.sum(differences), np.sum(differences ** 2),
                                      len(differences))
    assert low <= 0.0 <= high, (low, np.mean(differences), high)


@pytest.mark.parametrize("name", ["uncoded_analog", "linear_optimal"])
@pytest.mark.parametrize("budget", ["bandwidth_ratio: 0.5", "bandwidth_ratio: 0.2",
                                    "channel_uses_per_sample: 500"])
def test_simulated_mse_matches_the_closed_form_on_awgn(tmp_path, name, budget):
    system = system_of(tmp_path, name, budget)
    dataset = system._test_data()
    images = dataset.x[:400].astype(np.float64)
    vectors = images.reshape(len(images), -1)
    for no in (0.3, 0.01):
        gains = system.gains(no)
        config.seed = 7
        error = np.mean((system.reconstruct(images, no).reshape(len(images), -1) - vectors) ** 2,
                        axis=-1)
        # Given these images, averaged over the noise only: exact per image.
        expected = system.projection.expected_mse(gains, system.owner, no / 2, x=vectors)
        assert_zero_in_interval(error - expected)
        # Over the source distribution: the closed form on the training statistics is the
        # noise-averaged MSE of the training images themselves.
        train = system._load("train", system.train_samples).x[:400].reshape(400, -1)
        config.seed = 8
        sent = system.projection.components(train)[:, system.owner] * gains[system.owner]
        received, noise = linear_analog.transmit(sent, no, channel=system.channel,
                                                 receiver=system.receiver)
        estimate = linear_analog.lmmse_combine(received, noise, gains,
                                               system.projection.variances, system.owner)
        error = np.mean((system.projection.back(estimate) - train) ** 2, axis=-1)
        expected = system.projection.expected_mse(gains, system.owner, no / 2, x=train)
        assert_zero_in_interval(error - expected)
    all_train = system._load("train", system.train_samples).x.reshape(2000, -1)
    assert np.mean(system.projection.expected_mse(gains, system.owner, 0.005, x=all_train)) == \
        pytest.approx(system.projection.expected_mse(gains, system.owner, 0.005), rel=1e-6)


def test_linear_optimal_beats_uncoded_and_both_are_about_the_issue_numbers(tmp_path):
    psnr = {}
    for name in ("uncoded_analog", "linear_optimal"):
        system = system_of(tmp_path / name, name, "bandwidth_ratio: 0.5")
        config.seed = 1
        psnr[name] = system.summarize(system.run_batch(0.01, batch_index=0))["psnr"]
    # Issue 10: about 32 and 38.5 dB at Es/N0 = 20 dB, 392 channel uses per 28x28 image.
    assert 30.5 < psnr["uncoded_analog"] < 33.5 and 37 < psnr["linear_optimal"] < 40


def test_power_is_one_per_data_symbol_on_average(tmp_path):
    for name in ("uncoded_analog", "linear_optimal"):
        system = system_of(tmp_path / name, name, "bandwidth_ratio: 0.3")
        k = system.data_symbols()
        for no in (1.0, 0.01):
            gains = system.gains(no)
            variances = system.projection.variances
            assert np.sum(gains[system.owner] ** 2 * variances[system.owner]) == \
                pytest.approx(k, rel=1e-9)
        assert system.describe()["mean_symbol_energy_test"] == pytest.approx(1.0, abs=0.1)


def test_reverse_waterfilling_is_optimal():
    rng = np.random.default_rng(0)
    variances = np.sort(rng.exponential(size=20))[::-1]
    for noise in (0.01, 1.0, 10.0):
        power = linear_analog.reverse_waterfilling(variances, 10.0, noise)
        assert power.sum() == pytest.approx(10.0) and np.all(power >= 0)
        mse = np.sum(variances * noise / (power + noise))
        for _ in range(200):
            other = rng.dirichlet(np.ones(20)) * 10.0
            assert mse <= np.sum(variances * noise / (other + noise)) + 1e-12
    # Very low SNR: only the strongest components get power.
    assert np.count_nonzero(linear_analog.reverse_waterfilling(variances, 1.0, 10.0)) < 20


def test_budgets_block_means_below_and_repetition_above(tmp_path):
    below = system_of(tmp_path / "a", "uncoded_analog", "bandwidth_ratio: 0.25")
    assert below.describe()["channel_uses_per_sample"] == 196
    assert below.projection.num_components == 392  # 2 reals per channel use, 2 pixels each
    above = system_of(tmp_path / "b", "uncoded_analog", "bandwidth_ratio: 0.75")
    counts = linear_analog.repeats(above.owner, 784)
    assert above.describe()["channel_uses_per_sample"] == 588
    assert sorted(set(counts)) == [1, 2] and counts.sum() == 1176
    pca = system_of(tmp_path / "c", "linear_optimal", "channel_uses_per_sample: 100")
    assert pca.projection.num_components == 200 and pca.describe()["components_sent"] == 200


def test_ls_receiver_on_rayleigh_counts_pilots_in_the_budget(tmp_path):
    link = {"channel": "{name: rayleigh}", "receiver": "{name: ls, num_pilots: 4}"}
    for name in ("uncoded_analog", "linear_optimal"):
        system = system_of(tmp_path / name, name, "channel_uses_per_sample: 100", **link)
        facts = system.describe()
        assert facts["channel_uses_per_sample"] == 100 and facts["data_symbols_per_sample"] == 96
        config.seed = 2
        row = system.summarize(system.run_batch(0.1, batch_index=0))
        assert row["blocks"] == 200 and 10 < row["psnr"] < 40
        assert row["psnr_ci_low"] < row["psnr"] < row["psnr_ci_high"]


@pytest.mark.parametrize("entry,needle", [
    ("{name: linear_optimal, dataset: {name: fashion_mnist}, bandwith_ratio: 0.5}",
     "systems[0].bandwith_ratio"),
    ("{name: uncoded_analog, dataset: {name: fashion_mnist}}", "give exactly one of"),
    (("{name: uncoded_analog, dataset: {name: fashion_mnist}, bandwidth_ratio: 0.5, "
      "channel_uses_per_sample: 3}"), "give exactly one of"),
    ("{name: linear_optimal, dataset: {name: fashion_mnist}, bandwidth_ratio: -1}",
     "systems[0].bandwidth_ratio"),
    ("{name: linear_optimal, dataset: {name: fashion_mnist, split: test}, bandwidth_ratio: 1}",
     "systems[0].dataset.split"),
])
def test_bad_keys_are_one_line_errors(tmp_path, entry, needle):
    result = CliRunner().invoke(main, ["validate", str(write(tmp_path, f"[{entry}]"))])
    assert result.exit_code == 2 and needle in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


# Deep JSCC at its default ratio 1/6: 131 channel uses per 28x28 image.
WEAK = ("{name: deepjscc, label: weak, dataset: {name: fashion_mnist}, filters: 2, "
        "test_samples: 400, training: {train_samples: 64}}")


def test_weak_learned_analog_system_gets_a_floor_warning(tmp_path):
    floor = ("{name: linear_optimal, dataset: {name: fashion_mnist}, "
             "channel_uses_per_sample: 131, test_samples: 400}")
    path = write(tmp_path, f"[{WEAK}, {floor}]")
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "out"),
                                       "--quiet", "--no-plot"])
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert len(run["warnings"]) == 1, run["warnings"]
    assert run["warnings"][0].startswith("'weak' is below linear_optimal ('linear optimal")
    assert "in this scenario" in run["warnings"][0]
    assert f"warning: {run['warnings'][0]}" in result.output
    # Without a linear_optimal in the scenario the floor is computed (checkpoint reused).
    alone = write(tmp_path / "alone", f"[{WEAK}]")
    scenario = scenario_lib.load(alone)
    systems = scenario_lib.build(scenario, checkpoint_root=tmp_path / "out" / "checkpoints")[2]
    facts = {"weak": run["systems"][0]}
    rows = [r for r in read_metrics(tmp_path / "out") if r["system"] == "weak"]
    warnings = floor_warnings(systems, facts, rows, seed=3, stop=scenario.stop,
                              definition="esno")
    assert len(warnings) == 1 and "computed at 131 channel uses" in warnings[0]


def test_systems_on_the_same_rows_see_the_same_noise(tmp_path):
    """Same seed, same row shape: two systems' equalized symbols differ only by what they sent."""
    system = system_of(tmp_path, "uncoded_analog", "bandwidth_ratio: 0.5")
    sent = np.zeros((3, 784))
    config.seed = runner.batch_seed(1, 10.0, 0)
    first, _ = linear_analog.transmit(sent, 0.1, channel=system.channel, receiver=system.receiver)
    config.seed = runner.batch_seed(1, 10.0, 0)
    second, _ = linear_analog.transmit(sent + 1.0, 0.1, channel=system.channel,
                                       receiver=system.receiver)
    np.testing.assert_allclose(second - first, 1.0, atol=1e-5)
