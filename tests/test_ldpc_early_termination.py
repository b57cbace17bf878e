"""5G LDPC with early termination: the same error rates as Sionna's decoder, fewer iterations."""
import numpy as np
import pytest
import tensorflow as tf
from sionna.phy.fec.ldpc import LDPC5GDecoder

from linksim import registry
from linksim.phy.early_termination import EarlyTerminationLDPC5GDecoder
from linksim.scenario import Stop
from linksim.phy.snr import noise_variance
from linksim.sim.runner import simulate_point
from linksim.systems.context import Context

K, N, ITERATIONS = 256, 512, 20


def make_link(early_termination):
    # Two codewords per frame: iterations are counted per codeword, not per frame.
    stop = Stop(block_errors=10 ** 9, max_blocks=600, batch_size=150)
    system = registry.build(
        "system", {"name": "link", "codewords_per_frame": 2,
                   "code": {"name": "ldpc5g", "k": K, "n": N, "iterations": ITERATIONS,
                            "early_termination": early_termination},
                   "modulation": {"name": "qam", "bits_per_symbol": 2}},
        key="link",
        context=Context(channel=registry.build("channel", {"name": "awgn"}, key="c"),
                        receiver=registry.build("receiver", {"name": "perfect"}, key="r"),
                        stop=stop))
    return system, stop


def noisy_llr(code, batch, ebno_db):
    """Info bits [batch, k] and QPSK AWGN channel logits [batch, n] of their codewords."""
    qpsk = registry.build("modulation", {"name": "qam", "bits_per_symbol": 2}, key="m")
    no = float(noise_variance(ebno_db, "ebno", code.rate * 2, precision="double"))
    bits = tf.cast(tf.random.uniform([batch, code.k], maxval=2, dtype=tf.int32), tf.float32)
    x = qpsk.mapper(code.encoder(bits))
    noise = tf.complex(tf.random.normal(x.shape), tf.random.normal(x.shape)) * np.sqrt(no / 2)
    return bits, qpsk.demapper(x + tf.cast(noise, x.dtype), no)


def test_error_rates_agree_and_iterations_fall_with_snr():
    systems = {flag: make_link(flag) for flag in (True, False)}
    iterations = []
    for ebno_db in (1.5, 2.5, 3.5):
        # Same seed: both systems see the same bits and noise (paired comparison).
        rows = {flag: system.summarize(simulate_point(system, snr_db=ebno_db, definition="ebno",
                                                      seed=3, stop=stop)[0])
                for flag, (system, stop) in systems.items()}
        on, off = rows[True], rows[False]
        assert on["blocks"] == off["blocks"] == 600
        for metric in ("bler", "ber"):
            lo, hi = f"{metric}_ci_low", f"{metric}_ci_high"
            assert on[lo] <= off[hi] and off[lo] <= on[hi], (ebno_db, metric, on, off)
        assert off["iterations_mean"] == ITERATIONS
        iterations.append(on["iterations_mean"])
    assert iterations[0] > iterations[1] > iterations[2], iterations
    assert iterations[-1] < ITERATIONS / 2, iterations
    # Compiled with XLA, no fallback to graph mode.
    assert all(system._xla for system, _ in systems.values())


def test_early_termination_false_is_sionna_decoder_bit_exact():
    code = registry.build("code", {"name": "ldpc5g", "k": K, "n": N,
                                   "early_termination": False}, key="code")
    assert type(code.decoder) is LDPC5GDecoder
    reference = LDPC5GDecoder(code.encoder, num_iter=ITERATIONS, cn_update="boxplus-phi",
                              hard_out=True, return_infobits=True)
    # Noisy LLRs near the waterfall, where decoding outcomes differ between blocks.
    bits, llr = noisy_llr(code, 100, 1.5)
    decoded = tf.function(code.decoder, jit_compile=True)(llr)
    assert np.array_equal(decoded.numpy(), tf.function(reference, jit_compile=True)(llr).numpy())
    assert 0 < np.mean(np.any(decoded.numpy() != bits.numpy(), axis=-1)) < 1


@pytest.mark.parametrize("n", [N, 500], ids=["quasi-cyclic check", "gathered check"])
def test_decoder_keeps_leading_dimensions_and_stops_early_without_noise(n):
    code = registry.build("code", {"name": "ldpc5g", "k": K, "n": n}, key="code")
    assert isinstance(code.decoder, EarlyTerminationLDPC5GDecoder)
    bits = tf.cast(tf.random.uniform([4, 3, K], maxval=2, dtype=tf.int32), tf.float32)
    llr = 10.0 * (2.0 * code.encoder(bits) - 1.0)  # Sionna's logits: positive means 1
    decoded, used = tf.function(code.decode, jit_compile=True)(llr)
    assert decoded.shape == (4, 3, K) and used.shape == (4, 3)
    assert np.array_equal(decoded.numpy(), bits.numpy())
    assert 1 <= used.numpy().min() and used.numpy().max() < ITERATIONS



def test_quasi_cyclic_and_gathered_syndrome_checks_agree():
    code = registry.build("code", {"name": "ldpc5g", "k": K, "n": N}, key="code")

    class Gathered(EarlyTerminationLDPC5GDecoder):
        def _syndrome_check(self):
            return self._gather_check()

    gathered = Gathered(code.encoder, num_iter=ITERATIONS)
    _, llr = noisy_llr(code, 64, 2.0)
    used = [tf.function(decoder)(llr, return_num_iter=True)[1].numpy()
            for decoder in (code.decoder, gathered)]
    assert np.array_equal(*used)
    assert 1 < used[0].min() and used[0].max() <= ITERATIONS and len(set(used[0])) > 2
