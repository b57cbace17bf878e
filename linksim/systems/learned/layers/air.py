"""Keras layers that put a learned system on linksim's simulated link.

A learned encoder emits real features; :class:`AirInterface` carries them to
the decoder over the *same* Sionna channel and receiver the conventional
baselines use, in one of three ways (the YAML key ``transmission``):

``analog``
    ``2k`` reals are packed pairwise into ``k`` complex symbols
    (``x[2i] + j x[2i+1]``), normalized per sample to ``sqrt(k) z / ||z||``
    (mean energy 1 per channel use), sent through
    :class:`~linksim.phy.link.SymbolLink` (framed by the receiver, pilots for
    LS; the channel; equalized) and unpacked back to reals.
``quantized``
    Every real is first quantized to ``bits`` bits on a uniform grid spanning
    the sample's own [min, max] and dequantized at the transmitter (MIJSCC,
    Eqs. 8-11), then sent analog as above. The gradient is straight-through.
``digital``
    Features are split into vectors of ``codeword_dim`` and replaced by the
    nearest entry of a learned codebook (VQ-VAE: codebook and commitment
    losses, straight-through gradient). At evaluation the codebook *indices*
    become bits, go through :class:`~linksim.phy.link.DigitalLink` (optional
    FEC, a Sionna mapper, the channel, equalizer, demapper, decoder) and the
    received indices are looked up in the codebook. Training does not simulate
    bit errors: the decoder learns from the noiseless codebook vectors
    (separation: the digital link is assumed to deliver the indices), which
    is what the quantizer is trained for; channel errors show up at
    evaluation only.

Noise: with ``no`` given (the Monte Carlo runner's N0, linear) the layer uses
it; without it (training, Keras validation) it draws the SNR in dB uniformly
from the training range ``snr_db = (lo, hi)`` (or uses a fixed value), per
sample or per batch, and converts with :func:`linksim.phy.snr.noise_variance`
(``N0 = 10^(-SNR_dB / 10)``). A receiver may sit ``snr_offset_db`` above
(positive) or below the nominal SNR.

Channel and receiver are stored in a layer's config (and in checkpoint
fingerprints) as their registry specs (``{"name": "rician", "k_factor": 2.0,
...}``) and rebuilt through the registry.

All randomness (channel, noise, training SNR) comes from Sionna's
``config.tf_rng``, which the runner reseeds before every batch, so evaluation
is reproducible and sees the same channel realizations as any other system
sending rows of the same shape. Set ``sionna.phy.config.seed`` *before* the
first call of a model using these layers: the generator must exist outside
``tf.function`` (otherwise TensorFlow reports that it "could not be lifted
out of a tf.function").
"""

import keras
import tensorflow as tf
from sionna.phy import config

from .... import registry
from ....phy.link import DigitalLink, SymbolLink
from ....phy.snr import noise_variance
from . import PACKAGE
from .complex_symbols import PowerNormalization, complex_to_real, real_to_complex
from .quantizers import UniformQuantizer, VectorQuantizer, bits_to_indices, indices_to_bits


def _snr_range(snr_db):
    """A fixed SNR or a ``[lo, hi]`` range in dB -> (lo, hi)."""
    if isinstance(snr_db, (int, float)):
        return float(snr_db), float(snr_db)
    lo, hi = (float(v) for v in snr_db)
    if lo > hi:
        raise ValueError(f"training snr_db range [{lo}, {hi}] must have lo <= hi")
    return lo, hi


@keras.saving.register_keras_serializable(PACKAGE)
class ChannelLayer(keras.layers.Layer):
    """Analog transmission of real features over a linksim channel and receiver.

    Parameters
    ----------
    channel : linksim.phy.channel.Channel | dict
        The channel, or its registry spec (as in a saved config).
    receiver : linksim.phy.receiver.Receiver | dict
        Perfect CSI or LS pilots, or its registry spec; its ``frame`` adds pilot
        overhead and its ``equalize`` returns the unbiased symbol estimates the
        decoder sees.
    snr_db : float | (float, float)
        Training Es/N0 in dB, fixed or a uniform range.
    snr_draw : "sample" | "batch"
        Draw the training SNR once per sample or once per batch.
    snr_offset_db : float
        This receiver's SNR relative to the nominal one (dB), in training and evaluation.
    snr_fixed_db : float | None
        A fixed Es/N0 (dB) for this receiver, in training and evaluation, whatever
        the nominal SNR (a receiver held at one SNR while another is swept).

    Input
    -----
    x : [batch, 2k], float32
        Real features, ``2k`` even.
    no : None | scalar | [batch], float32
        Nominal N0 (linear); ``None`` draws it from ``snr_db``.

    Output
    ------
    : [batch, 2k], float32
        Equalized received features (real and imaginary parts of ``k`` symbols).
    """

    def __init__(self, *, channel, receiver, snr_db=10.0, snr_draw="sample",
                 snr_offset_db=0.0, snr_fixed_db=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(channel, dict):
            channel = registry.build("channel", channel, key="channel")
        if isinstance(receiver, dict):
            receiver = registry.build("receiver", receiver, key="receiver")
        if snr_draw not in ("sample", "batch"):
            raise ValueError(f"snr_draw must be 'sample' or 'batch', got {snr_draw!r}")
        self.link = SymbolLink(channel=channel, receiver=receiver)
        self.snr_range = _snr_range(snr_db)
        self.snr_draw = snr_draw
        self.snr_offset_db = float(snr_offset_db)
        self.snr_fixed_db = None if snr_fixed_db is None else float(snr_fixed_db)
        self.normalize = PowerNormalization()

    @property
    def channel(self):
        return self.link.channel

    @property
    def receiver(self):
        return self.link.receiver

    def channel_uses(self, num_reals):
        """Complex channel uses (pilots included) for ``num_reals`` real features."""
        if num_reals % 2:
            raise ValueError(f"{num_reals} real features cannot be packed into complex symbols; "
                             "use an even number")
        return self.link.channel_uses(num_reals // 2)

    def noise_variance(self, batch_size, no=None):
        """N0 per sample [batch], including this receiver's SNR offset."""
        if self.snr_fixed_db is not None:
            no = noise_variance(self.snr_fixed_db)
        elif no is None:
            lo, hi = self.snr_range
            shape = [batch_size] if self.snr_draw == "sample" else [1]
            snr_db = config.tf_rng.uniform(shape, lo, hi) if hi > lo else tf.fill(shape, lo)
            no = noise_variance(snr_db)
        no = tf.broadcast_to(tf.reshape(tf.cast(no, tf.float32), [-1]), [batch_size])
        # An SNR offset of d dB scales N0 as an Es/N0 of d dB does.
        return no * noise_variance(self.snr_offset_db)

    def call(self, x, no=None):
        if x.shape[-1] is not None and x.shape[-1] % 2:
            raise ValueError(f"{x.shape[-1]} real features cannot be packed into complex "
                             "symbols; use an even number")
        batch = tf.shape(x)[0]
        no = self.noise_variance(batch, no)
        z_hat, _ = self.link(real_to_complex(self.normalize(x)), no)
        return complex_to_real(z_hat)

    def get_config(self):
        return {**super().get_config(), "channel": self.channel.spec,
                "receiver": self.receiver.spec, "snr_db": list(self.snr_range),
                "snr_draw": self.snr_draw, "snr_offset_db": self.snr_offset_db,
                "snr_fixed_db": self.snr_fixed_db}


class IndexLink:
    """Codebook indices over :class:`~linksim.phy.link.DigitalLink` (bits, FEC, mapper, channel).

    ``m`` indices of ``b`` bits each (MSB first) form ``m b`` bits per sample,
    zero-padded to whole codewords of the code, all in one channel row.

    Parameters
    ----------
    num_indices : int
        Indices per sample, ``m``.
    bits_per_index : int
    code : dict | None
        A registry ``code`` spec (e.g. ``{name: ldpc5g, k: 512, n: 1024}``); None: uncoded.
    modulation : dict
        A registry ``modulation`` spec (e.g. ``{name: qam, bits_per_symbol: 4}``).
    channel, receiver
        As for :class:`ChannelLayer`.
    key : str
        Scenario key path for error messages.
    """

    def __init__(self, *, num_indices, bits_per_index, code, modulation, channel, receiver,
                 key="transmission"):
        self.num_indices = num_indices
        self.bits_per_index = bits_per_index
        payload = num_indices * bits_per_index
        self.code = registry.build("code", code or {"name": "uncoded", "k": payload},
                                   key=f"{key}.code")
        self.modulation = registry.build("modulation", modulation, key=f"{key}.modulation")
        self.codewords = -(-payload // self.code.k)
        self.link = DigitalLink(code=self.code, modulation=self.modulation, channel=channel,
                                receiver=receiver)
        self.description = (f"{self.code.description}, {self.modulation.description}, "
                            f"{num_indices} x {bits_per_index}-bit indices")

    def channel_uses(self):
        return self.link.symbols_per_frame(self.codewords)[1]

    def __call__(self, indices, no):
        """[batch, m] int32 indices, N0 scalar or [batch] -> [batch, m] int32 received indices."""
        batch = tf.shape(indices)[0]
        payload = self.num_indices * self.bits_per_index
        bits = indices_to_bits(indices, bits_per_index=self.bits_per_index)
        bits = tf.reshape(tf.pad(bits, [[0, 0], [0, self.codewords * self.code.k - payload]]),
                          [batch, self.codewords, self.code.k])
        bits_hat = tf.reshape(self.link(bits, no), [batch, -1])[:, :payload]
        return bits_to_indices(bits_hat, bits_per_index=self.bits_per_index)


@keras.saving.register_keras_serializable(PACKAGE)
class AirInterface(keras.layers.Layer):
    """Everything between encoder and decoder: the ``transmission`` mode plus the channel.

    Parameters
    ----------
    transmission : dict
        ``{mode: analog | quantized | digital, bits, codebook_size, codeword_dim,
        commitment, code, modulation}`` (see :class:`Transmission` in
        ``linksim.systems.learned.base``); unused keys are ignored by the mode.
    num_features : int
        Real features per sample the encoder emits (``2k`` for analog and quantized;
        a multiple of ``codeword_dim`` for digital).
    channel, receiver, snr_db, snr_draw, snr_offset_db, snr_fixed_db
        As for :class:`ChannelLayer`.

    Input
    -----
    z : [batch, num_features], float32
    no : None | scalar | [batch], float32
        N0 (linear) at evaluation; ``None`` in training (drawn from ``snr_db``).
    training : bool
        In digital mode, training and ``no=None`` pass noiseless codewords.

    Output
    ------
    : [batch, num_features], float32
        What the decoder receives.
    """

    def __init__(self, *, transmission, num_features, channel, receiver, snr_db=10.0,
                 snr_draw="sample", snr_offset_db=0.0, snr_fixed_db=None, **kwargs):
        super().__init__(**kwargs)
        self.transmission = dict(transmission)
        self.mode = self.transmission["mode"]
        self.num_features = num_features
        self.channel_layer = ChannelLayer(channel=channel, receiver=receiver, snr_db=snr_db,
                                          snr_draw=snr_draw, snr_offset_db=snr_offset_db,
                                          snr_fixed_db=snr_fixed_db)
        if self.mode == "quantized":
            self.quantizer = UniformQuantizer(bits=self.transmission["bits"])
        if self.mode == "digital":
            dim = self.transmission["codeword_dim"]
            if num_features % dim:
                raise ValueError(f"{num_features} features do not split into codewords of "
                                 f"dim {dim}")
            self.quantizer = VectorQuantizer(num_codewords=self.transmission["codebook_size"],
                                             dim=dim, commitment=self.transmission["commitment"])
            self.index_link = IndexLink(
                num_indices=num_features // dim, bits_per_index=self.quantizer.bits_per_index,
                code=self.transmission.get("code"), modulation=self.transmission["modulation"],
                channel=self.channel_layer.channel, receiver=self.channel_layer.receiver)
        elif num_features % 2:
            raise ValueError(f"{num_features} real features cannot be packed into complex "
                             "symbols; use an even number")

    def build(self, input_shape):
        if self.mode == "digital":
            self.quantizer.build((None, None, self.quantizer.dim))

    @property
    def channel_uses(self):
        """Complex channel uses per sample, pilots included."""
        if self.mode == "digital":
            return self.index_link.channel_uses()
        return self.channel_layer.channel_uses(self.num_features)

    def describe(self):
        facts = {"transmission": self.mode, "channel_uses_per_sample": self.channel_uses}
        if self.mode == "quantized":
            facts["quantization_bits"] = self.quantizer.bits
        if self.mode == "digital":
            facts.update(codebook_size=self.quantizer.num_codewords,
                         codeword_dim=self.quantizer.dim, digital_link=self.index_link.description)
        return facts

    def call(self, z, no=None, training=False):
        if self.mode == "digital":
            vectors = tf.reshape(z, [tf.shape(z)[0], -1, self.quantizer.dim])
            if training or no is None:
                received = self.quantizer(vectors)
            else:
                no = self.channel_layer.noise_variance(tf.shape(z)[0], no)
                indices = self.index_link(self.quantizer.indices(vectors), no)
                received = self.quantizer.lookup(indices)
            return tf.reshape(received, [tf.shape(z)[0], self.num_features])
        if self.mode == "quantized":
            z = self.quantizer(z)
        return self.channel_layer(z, no)

    def get_config(self):
        channel = self.channel_layer.get_config()
        return {**super().get_config(), "transmission": self.transmission,
                "num_features": self.num_features, "channel": channel["channel"],
                "receiver": channel["receiver"], "snr_db": channel["snr_db"],
                "snr_draw": channel["snr_draw"], "snr_offset_db": channel["snr_offset_db"],
                "snr_fixed_db": channel["snr_fixed_db"]}
