"""Nakagami-m fading: moments, BPSK BER against the closed form, and use by every system kind."""
import math

import numpy as np
import pytest
from sionna.phy import config

from linksim import metrics, registry
from linksim import scenario as scenario_lib
from linksim.errors import UserError
from linksim.phy.nakagami import ber_nakagami_bpsk
from linksim.scenario import Stop
from linksim.sim.runner import simulate_point
from linksim.systems.context import Context


def nakagami(**keys):
    return registry.build("channel", {"name": "nakagami", **keys}, key="channel")


@pytest.mark.parametrize("m", [0.5, 1.0, 2.5])
def test_unit_power_and_m_dependent_moments(m):
    config.seed = 3
    h = nakagami(m=m, fading="fast").draw(100_000, 2).numpy()
    power = np.abs(h) ** 2
    assert power.mean() == pytest.approx(1.0, abs=0.02)
    # |h|^2 ~ Gamma(m, 1/m): E|h|^4 = (m + 1) / m, and the amplitude law's m is E^2 / Var.
    assert (power ** 2).mean() == pytest.approx((m + 1) / m, rel=0.05)
    assert power.mean() ** 2 / power.var() == pytest.approx(m, rel=0.05)
    # Uniform phase: no mean, and the real and imaginary parts share the power.
    assert abs(h.mean()) < 0.01
    assert (h.real ** 2).mean() == pytest.approx(0.5, abs=0.01)


def test_block_fading_holds_h_over_the_coherence_block():
    config.seed = 3
    h = nakagami(m=2.0, coherence_symbols=4).draw(3, 10).numpy()
    assert np.all(h[:, :4] == h[:, :1]) and np.all(h[:, 4:8] == h[:, 4:5])
    assert np.all(h[:, 0] != h[:, 4])


def test_closed_form_at_m_1_is_rayleigh():
    esno = np.array([0.5, 3.0, 30.0])
    np.testing.assert_allclose(ber_nakagami_bpsk(esno, m=1.0),
                               0.5 * (1 - np.sqrt(esno / (1 + esno))), rtol=1e-7)
    # Milder fading (larger m) gives fewer errors at the same average SNR.
    assert ber_nakagami_bpsk(10.0, m=0.5) > ber_nakagami_bpsk(10.0, m=1) \
        > ber_nakagami_bpsk(10.0, m=4)


def link(channel, *, modulation, blocks, batch):
    stop = Stop(block_errors=10 ** 9, max_blocks=blocks, batch_size=batch)
    context = Context(channel=nakagami(**channel),
                      receiver=registry.build("receiver", "perfect", key="receiver"), stop=stop,
                      key="link")
    system = registry.build("system", {"name": "link", "code": {"name": "uncoded", "k": 100},
                                       "modulation": modulation}, key="link", context=context)
    return system, stop


@pytest.mark.parametrize("channel,modulation,snr_db,correlated", [
    ({"m": 2.0, "fading": "fast"}, {"name": "bpsk"}, 6.0, 1),
    ({"m": 0.7, "fading": "block"}, {"name": "bpsk"}, 10.0, 100),
    ({"m": 3.0, "fading": "fast"}, {"name": "qam", "bits_per_symbol": 2, "demapping": "maxlog"},
     8.0, 1)])
def test_uncoded_ber_matches_closed_form(channel, modulation, snr_db, correlated):
    system, stop = link(channel, modulation=modulation, blocks=20_000, batch=2000)
    row = system.summarize(simulate_point(system, snr_db=snr_db, definition="esno", seed=7,
                                          stop=stop)[0])
    label, expected = system.theory([snr_db], "esno")["ber"]
    assert label.startswith("closed form") and "Nakagami" in label
    # Bits sharing one fading draw are not independent: shrink the sample by that many.
    lo, hi = metrics.wilson_interval(row["bit_errors"] / correlated, row["bits"] / correlated,
                                     confidence=0.999)
    assert lo <= expected[0] <= hi, (row["ber"], expected[0], lo, hi)
    # The gamma sampler is XLA-compatible: the link kept its compiled step.
    assert system._xla


def test_no_closed_form_is_said_so():
    system, _ = link({"m": 2.0}, modulation={"name": "qam", "bits_per_symbol": 4},
                     blocks=10, batch=10)
    assert "ber" not in system.theory([10.0], "esno")


def test_conventional_system_runs_over_nakagami():
    def build(channel):
        context = Context(channel=registry.build("channel", channel, key="channel"),
                          receiver=registry.build("receiver", "perfect", key="receiver"),
                          stop=Stop(max_blocks=4, batch_size=4), key="s")
        return registry.build("system", {
            "name": "conventional", "dataset": {"name": "fashion_mnist", "split": "test",
                                                "limit": 4},
            "codec": "jpeg", "bandwidth_ratio": 1.0, "classifier": False,
            "mcs": {"code": {"name": "ldpc5g", "k": 392, "n": 784},
                    "modulation": {"name": "qam", "bits_per_symbol": 2}}},
            key="s", context=context)
    no = 10 ** (-40 / 10)
    rows = []
    for channel in ({"name": "awgn"}, {"name": "nakagami", "m": 4.0, "fading": "fast"}):
        system = build(channel)
        config.seed = 2
        rows.append(system.summarize(system.run_batch(no, batch_index=0)))
    # At 40 dB with mild fading every frame arrives: the same images as over AWGN.
    assert rows[1]["blocks"] == 4
    assert rows[1]["psnr"] == rows[0]["psnr"]


def scenario(tmp_path, channel):
    path = tmp_path / "tiny.yaml"
    path.write_text(f"""
name: tiny
seed: 3
snr: {{db: [10]}}
channel: {channel}
stop: {{max_blocks: 50, batch_size: 50}}
train: {{epochs: 1, batch_size: 50, snr_db: [5, 15], train_samples: 200, validation_split: 0.0}}
systems: [{{name: mtoc, dataset: {{name: fashion_mnist}}, n_c: 8, test_samples: 50, label: m}}]
""")
    return scenario_lib.build(scenario_lib.load(path), file=path,
                              checkpoint_root=tmp_path / "ckpt")[2][0]


def test_rayleigh_checkpoint_is_not_reused_for_nakagami(tmp_path):
    import keras
    scenario(tmp_path, "{name: rayleigh}").prepare(show_progress=False)
    # Nakagami with m = 1 has Rayleigh's statistics, but it is another channel.
    system = scenario(tmp_path, "{name: nakagami, m: 1.0}")
    with pytest.raises(UserError, match="other settings"):
        system.prepare(show_progress=False)
    system.train(fresh=True, show_progress=False)
    settings = (system.directory / "settings.json").read_text()
    assert '"name": "nakagami"' in settings and '"m": 1.0' in settings
    config.seed = 11
    row = system.summarize(system.run_batch(0.1, batch_index=0))
    assert row["blocks"] == 50 and 0 <= row["accuracy_rx1"] <= 1
    # The saved model rebuilds its channel from the registry spec in its config.
    loaded = keras.models.load_model(system.checkpoint)
    air = next(layer for layer in loaded._flatten_layers() if type(layer).__name__ ==
               "AirInterface")
    assert air.channel_layer.channel.spec == system.channel.spec
    assert type(air.channel_layer.channel).__name__ == "NakagamiChannel"
    assert math.isclose(air.channel_layer.channel.m, 1.0)
