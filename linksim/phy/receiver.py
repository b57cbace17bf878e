"""Channel knowledge and equalization for the flat SISO link.

A receiver frames data symbols for transmission (inserting pilots when it
estimates the channel) and turns received symbols back into unbiased data
symbol estimates with the post-equalization noise variance the demapper needs.

For a flat SISO channel the unbiased LMMSE estimate of a symbol equals the ZF
estimate ``y / h_hat``; the two differ in the noise handed to the demapper:
ZF passes ``N0 / |h_hat|^2``, LMMSE adds the channel-estimation error,
``(N0 + var_e) / |h_hat|^2`` with ``var_e = N0 / num_pilots`` for LS.
"""
from typing import Literal

import tensorflow as tf

from ..registry import register

Equalizer = Literal["zf", "lmmse"]


class Receiver:
    """Perfect CSI: the receiver knows ``h`` exactly; no pilots are sent.

    ``frame`` and ``equalize`` work on rows: one row is one transmitted
    sample/frame and shares the channel's coherence structure.
    """

    num_pilots = 0

    def __init__(self, *, equalizer="zf"):
        self.equalizer = equalizer

    @property
    def spec(self):
        """The registry spec that rebuilds this receiver."""
        return {"name": "perfect", "equalizer": self.equalizer}

    @property
    def description(self):
        return f"perfect CSI, {self.equalizer.upper()}"

    def frame(self, x, coherence):
        """Data symbols [batch, n] -> transmitted symbols [batch, n] (no overhead)."""
        return x

    def num_transmitted(self, num_data, coherence):
        """Channel uses to send ``num_data`` data symbols."""
        return num_data

    def estimate(self, y, h, no, coherence, num_data):
        """Returns data-symbol observations, channel estimates, estimation error variance."""
        return y, h, tf.zeros([], y.dtype.real_dtype)

    def equalize(self, y, h, no, coherence, num_data):
        """Received [batch, n_tx] -> (x_hat [batch, num_data] complex, no_eff [batch, num_data]).

        ``no`` is N0 (linear), scalar or one value per row.
        """
        y_data, h_hat, error_var = self.estimate(y, h, no, coherence, num_data)
        no = tf.cast(no, error_var.dtype)
        if no.shape.rank == 1:
            no = no[:, tf.newaxis]
        gain = tf.maximum(tf.abs(h_hat) ** 2, 1e-12)
        x_hat = y_data / tf.cast(h_hat, y_data.dtype)
        noise = no + error_var if self.equalizer == "lmmse" else no
        return x_hat, noise / gain


class LSReceiver(Receiver):
    """Least-squares channel estimate from pilots at the start of each coherence block.

    Each coherence block of ``c`` symbols carries ``num_pilots`` unit-energy
    pilots (value ``(1+j)/sqrt(2)``) followed by ``c - num_pilots`` data symbols.
    The LS estimate averages ``y_p / p`` over the block's pilots: its error is
    CN(0, N0 / num_pilots), the closed form the tests check.
    """

    def __init__(self, *, num_pilots=4, equalizer="lmmse"):
        super().__init__(equalizer=equalizer)
        if num_pilots < 1:
            raise ValueError(f"num_pilots must be >= 1, got {num_pilots}")
        self.num_pilots = num_pilots

    @property
    def spec(self):
        return {"name": "ls", "num_pilots": self.num_pilots, "equalizer": self.equalizer}

    @property
    def description(self):
        return f"LS estimate ({self.num_pilots} pilots), {self.equalizer.upper()}"

    def _data_per_block(self, coherence, num_data):
        if coherence is None:
            return num_data
        per_block = coherence - self.num_pilots
        if per_block < 1:
            raise ValueError(f"coherence block of {coherence} symbols leaves no room for data "
                             f"after {self.num_pilots} pilots; use block fading or fewer pilots")
        return per_block

    def num_transmitted(self, num_data, coherence):
        per_block = self._data_per_block(coherence, num_data)
        num_blocks = -(-num_data // per_block)
        return num_blocks * (per_block + self.num_pilots)

    def frame(self, x, coherence):
        num_data = x.shape[-1]
        per_block = self._data_per_block(coherence, num_data)
        num_blocks = -(-num_data // per_block)
        batch = tf.shape(x)[0]
        # Zero symbols pad the last block: they carry no energy and are dropped at the receiver.
        x = tf.pad(x, [[0, 0], [0, num_blocks * per_block - num_data]])
        x = tf.reshape(x, [batch, num_blocks, per_block])
        pilots = tf.fill([batch, num_blocks, self.num_pilots],
                         tf.complex(0.70710678, 0.70710678))
        x = tf.concat([tf.cast(pilots, x.dtype), x], axis=-1)
        return tf.reshape(x, [batch, -1])

    def estimate(self, y, h, no, coherence, num_data):
        per_block = self._data_per_block(coherence, num_data)
        num_blocks = -(-num_data // per_block)
        batch = tf.shape(y)[0]
        y = tf.reshape(y, [batch, num_blocks, self.num_pilots + per_block])
        pilot = tf.complex(0.70710678, 0.70710678)
        h_ls = tf.reduce_mean(y[..., :self.num_pilots], axis=-1, keepdims=True) / pilot
        y_data = tf.reshape(y[..., self.num_pilots:], [batch, -1])[:, :num_data]
        h_hat = tf.reshape(tf.broadcast_to(h_ls, [batch, num_blocks, per_block]),
                           [batch, -1])[:, :num_data]
        no = tf.cast(no, y_data.dtype.real_dtype)
        if no.shape.rank == 1:
            no = no[:, tf.newaxis]
        return y_data, h_hat, no / self.num_pilots


@register("receiver", "perfect")
def perfect(*, equalizer: Equalizer = "zf"):
    """Perfect channel knowledge at the receiver, ZF or LMMSE equalization, no pilot overhead."""
    return Receiver(equalizer=equalizer)


@register("receiver", "ls")
def ls(*, num_pilots: int = 4, equalizer: Equalizer = "lmmse"):
    """LS channel estimate from num_pilots pilots per coherence block, ZF or LMMSE equalization."""
    return LSReceiver(num_pilots=num_pilots, equalizer=equalizer)
