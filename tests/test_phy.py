"""The PHY against closed forms and reference points."""
import math

import numpy as np
import pytest
import tensorflow as tf

from linksim import metrics, registry
from linksim.phy import theory
from linksim.scenario import Stop
from linksim.phy.snr import noise_variance
from linksim.sim.runner import simulate_point
from linksim.systems.context import Context


def make_link(*, modulation, channel="awgn", receiver="perfect", code=None, **stop):
    stop = Stop(**{"block_errors": 10 ** 9, "max_blocks": 200, "batch_size": 200, **stop})
    system = registry.build(
        "system", {"name": "link", "code": code or {"name": "uncoded", "k": 1200},
                   "modulation": modulation},
        key="link", context=Context(channel=registry.build("channel", channel, key="channel"),
                                    receiver=registry.build("receiver", receiver, key="receiver"),
                                    stop=stop))
    return system, stop


def simulated(system, stop, snr_db, definition="esno"):
    totals, _ = simulate_point(system, snr_db=snr_db, definition=definition, seed=7, stop=stop)
    return system.summarize(totals)


def assert_within_ci(row, expected, *, correlated_bits=1):
    """Bits sharing one fading draw are not independent: shrink the sample by that many."""
    lo, hi = metrics.wilson_interval(row["bit_errors"] / correlated_bits,
                                    row["bits"] / correlated_bits, confidence=0.999)
    assert lo <= expected <= hi, (row["ber"], expected, lo, hi)


@pytest.mark.parametrize("name,bits,snrs", [
    ("bpsk", 1, [0.0, 6.0]), ("qam", 2, [0.0, 8.0]), ("qam", 4, [6.0, 14.0]),
    ("qam", 6, [12.0, 20.0])])
def test_uncoded_ber_awgn_matches_closed_form(name, bits, snrs):
    spec = {"name": name, "demapping": "maxlog"}
    if name == "qam":
        spec["bits_per_symbol"] = bits
    system, stop = make_link(modulation=spec)
    for snr_db in snrs:
        row = simulated(system, stop, snr_db)
        expected = theory.ber_awgn(10 ** (snr_db / 10), modulation=name, bits_per_symbol=bits)
        assert_within_ci(row, float(expected))


@pytest.mark.parametrize("fading", ["fast", "block"])
def test_uncoded_bpsk_rayleigh_matches_closed_form(fading):
    system, stop = make_link(modulation={"name": "bpsk"}, code={"name": "uncoded", "k": 100},
                             channel={"name": "rayleigh", "fading": fading},
                             max_blocks=20000, batch_size=2000)
    for snr_db in (0.0, 10.0):
        row = simulated(system, stop, snr_db)
        expected = 0.5 * (1 - math.sqrt(10 ** (snr_db / 10) / (1 + 10 ** (snr_db / 10))))
        assert_within_ci(row, expected, correlated_bits=100 if fading == "block" else 1)


def test_16qam_rayleigh_closed_form_agrees_with_simulation():
    system, stop = make_link(modulation={"name": "qam", "bits_per_symbol": 4,
                                         "demapping": "maxlog"},
                             channel={"name": "rayleigh", "fading": "fast"})
    row = simulated(system, stop, 15.0)
    expected = theory.ber_rayleigh([10 ** 1.5], modulation="qam", bits_per_symbol=4)[0]
    assert_within_ci(row, expected)


def test_ebno_convention():
    # Eb/N0 = Es/N0 / (bits per symbol * code rate), Es = 1.
    assert float(noise_variance(3.0, "ebno", 2 * 0.5)) == pytest.approx(10 ** -0.3)
    assert float(noise_variance(3.0, "ebno", 4 * 0.5)) == pytest.approx(10 ** -0.3 / 2)
    assert float(noise_variance(10.0, "esno", None)) == pytest.approx(0.1)


@pytest.mark.parametrize("spec", [{"name": "bpsk"}, {"name": "qam", "bits_per_symbol": 4},
                                  {"name": "qam", "bits_per_symbol": 8},
                                  {"name": "psk", "bits_per_symbol": 3}])
def test_constellations_have_unit_energy(spec):
    modulation = registry.build("modulation", spec, key="modulation")
    points = modulation.constellation.points.numpy()
    assert np.mean(np.abs(points) ** 2) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("mean,power", [("standard", 1.0), ("paper", (math.sqrt(2) / 3) ** 2 + 1 / 3)])
def test_rician_power(mean, power):
    channel = registry.build("channel", {"name": "rician", "k_factor": 2.0, "rician_mean": mean},
                             key="channel")
    h = channel.draw(200000, 1).numpy()
    assert np.mean(np.abs(h) ** 2) == pytest.approx(power, rel=0.02)


def test_ls_estimate_mse_matches_theory():
    channel = registry.build("channel", {"name": "rayleigh", "coherence_symbols": 20},
                             key="channel")
    receiver = registry.build("receiver", {"name": "ls", "num_pilots": 4}, key="receiver")
    no = 0.1
    x = tf.complex(tf.ones([5000, 160]), tf.zeros([5000, 160])) / math.sqrt(2) * (1 + 1j)
    x_tx = receiver.frame(tf.cast(x, tf.complex64), channel.coherence)
    y, h = channel(x_tx, no)
    _, h_hat, error_var = receiver.estimate(y, h, no, channel.coherence, 160)
    data_h = tf.reshape(tf.reshape(h, [5000, -1, 20])[..., 4:], [5000, -1])
    mse = np.mean(np.abs(h_hat.numpy() - data_h.numpy()) ** 2)
    assert mse == pytest.approx(theory.ls_mse(no, 4), rel=0.03)
    assert float(error_var) == pytest.approx(no / 4)


def test_ls_receiver_costs_pilot_channel_uses():
    system, _ = make_link(modulation={"name": "qam", "bits_per_symbol": 4},
                          code={"name": "uncoded", "k": 400},
                          channel={"name": "rayleigh", "coherence_symbols": 54},
                          receiver={"name": "ls", "num_pilots": 4})
    info = system.describe()
    assert info["data_symbols_per_frame"] == 100
    assert info["channel_uses_per_frame"] == 108


def test_ldpc_512_1024_qpsk_crosses_bler_1e2_between_1p5_and_2_db():
    system, stop = make_link(modulation={"name": "qam", "bits_per_symbol": 2},
                             code={"name": "ldpc5g", "k": 512, "n": 1024, "iterations": 20},
                             max_blocks=2000, batch_size=1000)
    low = simulated(system, stop, 1.5, "ebno")
    high = simulated(system, stop, 2.0, "ebno")
    assert low["bler_ci_low"] > 1e-2 > high["bler_ci_high"], (low["bler"], high["bler"])


def test_ldpc_bler_is_above_normal_approximation():
    system, stop = make_link(modulation={"name": "qam", "bits_per_symbol": 2},
                             code={"name": "ldpc5g", "k": 512, "n": 1024}, max_blocks=1000,
                             batch_size=1000)
    row = simulated(system, stop, 1.0, "ebno")
    assert row["bler_ci_low"] > theory.normal_approximation_bler(1.0, k=512, n=1024)


def test_turbo_decodes_at_moderate_snr():
    system, stop = make_link(modulation={"name": "qam", "bits_per_symbol": 2},
                             code={"name": "turbo", "k": 512, "rate": "1/3"},
                             max_blocks=200, batch_size=200)
    assert system.code.n == 3 * 512 + 4 * 3  # rate 1/3 plus termination of both encoders
    row = simulated(system, stop, 2.0, "ebno")
    assert row["bler"] < 0.05
    worse = simulated(system, stop, -1.0, "ebno")
    assert worse["bler"] > 0.5


@pytest.mark.parametrize("kind,name", [("channel", n) for n in registry.names("channel")]
                         + [("receiver", n) for n in registry.names("receiver")])
def test_spec_rebuilds_the_component(kind, name):
    # Learned layers and checkpoint fingerprints store these specs and rebuild from them.
    component = registry.build(kind, name, key=kind)
    assert component.spec["name"] == name
    again = registry.build(kind, component.spec, key=kind)
    assert type(again) is type(component) and again.spec == component.spec
    assert again.description == component.description
