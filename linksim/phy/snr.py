"""SNR in dB -> noise variance N0: linksim's one conversion, through Sionna's ``ebnodb2no``.

Constellations and learned channel inputs have unit average energy per complex
symbol (Es = 1) and noise is CN(0, N0), so Es/N0 = 1/N0. Eb/N0 counts
information bits per channel use (code rate x bits per symbol, pilots not
counted): N0 = 1 / (Eb/N0 x bits per channel use).
"""
from sionna.phy.utils import ebnodb2no


def noise_variance(snr_db, definition="esno", info_bits_per_channel_use=None, *,
                   precision=None):
    """N0 (linear) for an SNR in dB.

    Parameters
    ----------
    snr_db : float | array | tf.Tensor
        SNR in dB, any shape.
    definition : "esno" | "ebno"
        Es/N0 per complex symbol, or Eb/N0 per information bit.
    info_bits_per_channel_use : float | None
        Needed for "ebno" only.
    precision : None | "single" | "double"
        As Sionna's: the dtype of the result (None: Sionna's configured precision).

    Returns
    -------
    : tf.float, shape of ``snr_db``
        N0 per complex channel use.
    """
    rate = info_bits_per_channel_use if definition == "ebno" else 1.0
    return ebnodb2no(snr_db, num_bits_per_symbol=1, coderate=rate, precision=precision)
