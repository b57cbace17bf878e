"""The links: symbols -> channel -> equalizer, and bits -> FEC -> mapper -> that -> FEC decoder."""
import tensorflow as tf
from sionna.phy import Block


class SymbolLink(Block):
    """Data symbols over the channel and back: receiver framing, channel, equalization.

    The one place where a receiver frames symbols (pilots for LS), the channel
    applies ``h`` and noise, and the receiver equalizes; the digital link, the
    learned air interface and the prefix channel all send through it.

    Parameters
    ----------
    channel : linksim.phy.channel.Channel
    receiver : linksim.phy.receiver.Receiver

    Input
    -----
    x : [batch, num_data], tf.complex64
        Data symbols, one row per sample or frame (block fading: one ``h`` per row
        unless the channel's ``coherence`` says otherwise).
    no : scalar or [batch], tf.float32
        Noise variance N0 per complex symbol (linear).

    Output
    ------
    x_hat : [batch, num_data], tf.complex64
        Unbiased estimates of the data symbols.
    no_eff : [batch, num_data], tf.float32
        Post-equalization noise variance (for a demapper).
    """

    def __init__(self, *, channel, receiver, precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        self.channel = channel
        self.receiver = receiver

    def channel_uses(self, num_data):
        """Channel uses (pilots included) to send ``num_data`` data symbols in one row."""
        return self.receiver.num_transmitted(num_data, self.channel.coherence)

    def call(self, x, no):
        coherence = self.channel.coherence
        y, h = self.channel(self.receiver.frame(x, coherence), no)
        return self.receiver.equalize(y, h, no, coherence, x.shape[-1])


class DigitalLink(Block):
    """Sends codewords over one channel row per frame.

    Each frame (one batch row: a Monte Carlo block, or all codewords of one
    source sample) is mapped to one row of symbols, so block fading gives the
    whole frame one channel realization, as it does a learned system's sample.

    Parameters
    ----------
    code : linksim.phy.coding.Code
    modulation : linksim.phy.modulation.Modulation
    channel : linksim.phy.channel.Channel
    receiver : linksim.phy.receiver.Receiver
        Sent through a :class:`SymbolLink` (``symbol_link``).

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
        self.symbol_link = SymbolLink(channel=channel, receiver=receiver, precision=precision)

    def symbols_per_frame(self, codewords):
        """Data symbols and channel uses (pilots included) of one frame."""
        m = self.modulation.bits_per_symbol
        data = -(-codewords * self.code.n // m)
        return data, self.symbol_link.channel_uses(data)

    def call(self, bits, no, return_iterations=False):
        batch, codewords = tf.shape(bits)[0], bits.shape[1]
        coded_bits = self.code.n * codewords
        m = self.modulation.bits_per_symbol
        c = tf.reshape(self.code.encoder(bits), [batch, coded_bits])
        pad = (-coded_bits) % m
        c = tf.pad(c, [[0, 0], [0, pad]])
        x_hat, no_eff = self.symbol_link(self.modulation.mapper(c), no)
        llr = self.modulation.demapper(x_hat, no_eff)[:, :coded_bits]
        llr = tf.reshape(llr, [batch, codewords, self.code.n])
        if return_iterations:
            return self.code.decode(llr)
        return self.code.decoder(llr)
