"""The digital link: bits -> FEC -> mapper -> channel -> equalizer -> demapper -> FEC decoder."""
import tensorflow as tf
from sionna.phy import Block


class DigitalLink(Block):
    """Sends codewords over one channel row per frame.

    Each frame (one batch row: a Monte Carlo block, or all codewords of one
    source sample) is mapped to one row of symbols, so block fading gives the
    whole frame one channel realization, as it does a learned system's sample.

    Parameters
    ----------
    code : linksim.phy.coding.Code
    modulation : linksim.phy.modulation.Modulation
    channel : linksim.phy.channel.FlatFadingChannel
    receiver : linksim.phy.receiver.Receiver

    Input
    -----
    bits : [batch, codewords, k], tf.float32
        Information bits of ``codewords`` codewords per frame.
    no : scalar or [batch], tf.float32
        Noise variance N0 per complex symbol (linear).
    return_iterations : bool
        Also return the decoder iterations of each codeword.

    Output
    ------
    bits_hat : [batch, codewords, k], tf.float32
        Decoded information bits.
    iterations : [batch, codewords], tf.int32
        Only with ``return_iterations``: decoder iterations used per codeword
        (see :meth:`linksim.phy.coding.Code.decode`).
    """

    def __init__(self, *, code, modulation, channel, receiver, precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        self.code = code
        self.modulation = modulation
        self.channel = channel
        self.receiver = receiver

    def symbols_per_frame(self, codewords):
        """Data symbols and channel uses (pilots included) of one frame."""
        m = self.modulation.bits_per_symbol
        data = -(-codewords * self.code.n // m)
        return data, self.receiver.num_transmitted(data, self.channel.coherence)

    def call(self, bits, no, return_iterations=False):
        batch, codewords = tf.shape(bits)[0], bits.shape[1]
        coded_bits = self.code.n * codewords
        m = self.modulation.bits_per_symbol
        c = tf.reshape(self.code.encoder(bits), [batch, coded_bits])
        pad = (-coded_bits) % m
        c = tf.pad(c, [[0, 0], [0, pad]])
        x = self.modulation.mapper(c)
        num_data = x.shape[-1]
        coherence = self.channel.coherence
        x_tx = self.receiver.frame(x, coherence)
        y, h = self.channel(x_tx, no)
        x_hat, no_eff = self.receiver.equalize(y, h, no, coherence, num_data)
        llr = self.modulation.demapper(x_hat, no_eff)[:, :coded_bits]
        llr = tf.reshape(llr, [batch, codewords, self.code.n])
        if return_iterations:
            return self.code.decode(llr)
        return self.code.decoder(llr)
