"""Linear analog transmission of images: the no-learning floors of analog JSCC.

A *linear analog code* sends a mean-removed source vector ``x - mu`` (``n``
reals per image) as ``m`` real *components* ``c = T (x - mu)`` (uncorrelated
or treated as such), each scaled by its own gain and repeated round robin
over the ``2 k`` real dimensions of ``k`` complex channel uses (real dimension
``j`` carries component ``j mod m``; ``m <= 2 k``). The receiver estimates
every component by the scalar LMMSE rule from all its observations (maximum
ratio combining of the repeats, then shrinkage with the component variance
``lambda``) and back-projects: ``x_hat = mu + B c_hat``. ``B`` has orthogonal
columns and ``B T`` is an orthogonal projection (identity, PCA subspace, block
averages), so the error splits into a per-component part and the part of
``x - mu`` the code never sends; :meth:`Projection.expected_mse` gives both in
closed form for AWGN.

Power: every data symbol has unit energy *on average* over the source (Es = 1
as for every other system): the gains satisfy ``sum_j g_j^2 lambda_j = k``
with ``lambda`` from the training split. The gains are fixed numbers, not a
per-image normalisation, so the code stays linear (a per-image norm would make
the receiver need the norm). ``describe()`` records the mean symbol energy
measured on the test images.

Channel: the components ride the scenario's channel and receiver exactly as a
learned analog system's features do: packed pairwise into complex symbols
(``r[2i] + j r[2i+1]``), framed by the receiver (pilots for LS, counted in the
channel-use budget), sent through the channel, equalized. The equalizer's
per-symbol noise variance ``N0_eff`` (``N0 / |h|^2``; with LS and LMMSE also
the estimation error) becomes ``N0_eff / 2`` per real dimension in the LMMSE
rule, so fading and channel estimation need no other case. One row per
image, batch ``b`` = test images ``b*bs .. (b+1)*bs - 1``: systems whose rows
have the same number of symbols see the same channel realizations.

Scoring: reconstructions are clipped to [0, 1] (what a display shows, and what
the learned systems' sigmoid outputs guarantee) and scored by
:class:`~linksim.systems.tasks.SourceTask`, like the codecs: PSNR (MAX = 1) and
SSIM with t-intervals, and with ``classifier: true`` the accuracy (Wilson) of
the shared clean-trained CNN.
"""
import numpy as np
import tensorflow as tf

from .. import registry
from ..errors import ScenarioError, UserError
from ..phy.link import SymbolLink
from ..totals import SampleTotals
from .base import Metric, System
from .tasks import SourceTask

# ------------------------------------------------------------------ the math


def round_robin(num_components, num_dims):
    """Component carried by each real dimension [num_dims] int: ``j mod num_components``."""
    if not 1 <= num_components <= num_dims:
        raise ValueError(f"{num_components} components cannot fill {num_dims} real dimensions")
    return np.arange(num_dims) % num_components


def repeats(owner, num_components):
    """How many real dimensions carry each component [num_components]."""
    return np.bincount(owner, minlength=num_components)


def common_gain(variances, owner, energy):
    """Per-component gains [m] of one common scale: ``g^2 sum_j lambda_owner(j) = energy``."""
    total = float(np.sum(variances[owner]))
    return np.full(len(variances), np.sqrt(energy / total) if total > 0 else 0.0)


def reverse_waterfilling(variances, total_power, noise):
    """Powers [m] minimising ``sum_c lambda_c noise / (p_c + noise)``, ``sum_c p_c = total_power``.

    The optimal linear power allocation for MSE (Lee and Petersen 1976):
    ``p_c = max(0, theta sqrt(lambda_c) - noise)`` with ``theta`` set by the
    budget; weak components get no power at low SNR. ``noise``: noise variance
    per real dimension (``N0 / 2``).
    """
    variances = np.maximum(np.asarray(variances, np.float64), 0.0)
    root = np.sqrt(variances)
    order = np.argsort(-root)
    power = np.zeros_like(root)
    for active in range(len(root), 0, -1):
        top = order[:active]
        if root[top].sum() <= 0:
            continue
        theta = (total_power + active * noise) / root[top].sum()
        if theta * root[order[active - 1]] > noise:
            power[top] = theta * root[top] - noise
            break
    return power


def gains_for_powers(powers, variances, owner):
    """Per-dimension gains [m] giving component ``c`` the total power ``p_c`` over its repeats."""
    count = repeats(owner, len(variances))
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.sqrt(powers / (np.maximum(count, 1) * variances))
    return np.where((powers > 0) & (variances > 0), gain, 0.0)


def lmmse_combine(received, noise, gains, variances, owner):
    """LMMSE estimates of the components from their repeats.

    Parameters
    ----------
    received : [batch, 2k] float
        Equalized real dimensions ``r_j = g_c c + w_j``.
    noise : [batch, 2k] float
        Noise variance of each ``w_j``.
    gains, variances : [m] float
    owner : [2k] int

    Returns
    -------
    [batch, m] float64
        ``lambda_c sum_j g r_j / v_j / (1 + lambda_c sum_j g^2 / v_j)`` (Gaussian posterior mean).
    """
    batch, m = received.shape[0], len(variances)
    g = gains[owner]
    index = (np.arange(batch)[:, None] * m + owner[None, :]).ravel()

    def per_component(values):
        return np.bincount(index, weights=values.ravel(), minlength=batch * m).reshape(batch, m)

    inverse = 1.0 / np.maximum(noise, 1e-30)
    matched = per_component(g * received * inverse)
    energy = per_component(np.broadcast_to(g ** 2, received.shape) * inverse)
    return variances * matched / (1.0 + variances * energy)


class Projection:
    """``c = T (x - mu)``, ``x_hat = mu + B c`` (see the module docstring) with training statistics.

    Parameters
    ----------
    mean : [n] float64
        Training mean ``mu``.
    forward : [m, n] float64
        ``T``.
    backward : [n, m] float64
        ``B``, orthogonal columns, ``B T`` an orthogonal projection.
    train : [N, n] float
        Training vectors (for the component variances and the unsent residual).
    """

    def __init__(self, *, mean, forward, backward, train):
        self.mean = mean
        self.forward = forward
        self.backward = backward
        components = self.components(train)
        self.variances = np.mean(components ** 2, axis=0)
        self.weights = np.sum(backward ** 2, axis=0)
        self.residual = float(np.mean(self.unsent(train, components)))

    @property
    def num_components(self):
        return self.forward.shape[0]

    @property
    def source_dim(self):
        return self.forward.shape[1]

    def components(self, x):
        """[batch, n] -> [batch, m] float64."""
        return (np.asarray(x, np.float64) - self.mean) @ self.forward.T

    def back(self, components):
        """[batch, m] -> [batch, n] float64, not clipped."""
        return self.mean + components @ self.backward.T

    def unsent(self, x, components):
        """``||(I - B T)(x - mu)||^2`` per vector [batch]."""
        return np.sum((np.asarray(x, np.float64) - self.back(components)) ** 2, axis=-1)

    def expected_mse(self, gains, owner, noise, x=None):
        """Closed-form MSE per source real on AWGN with perfect CSI, before clipping.

        Component ``c`` with ``S_c = r_c g_c^2 / noise`` (``r_c`` repeats, ``noise``
        = ``N0 / 2`` per real dimension) is estimated as ``beta_c c + e`` with
        ``beta_c = lambda_c S_c / (1 + lambda_c S_c)`` and ``e`` of variance
        ``lambda_c^2 S_c / (1 + lambda_c S_c)^2``; the error adds
        ``||B[:, c]||^2 ((beta_c - 1)^2 c^2 + var e)`` over components plus the
        unsent residual. With ``x`` None: averaged over the training statistics
        (``c^2 -> lambda_c``), a float; with ``x`` [batch, n]: the MSE of each of
        these vectors averaged over the noise only, [batch].
        """
        if x is None:
            moments, residual = self.variances, self.residual
        else:
            components = self.components(x)
            moments, residual = components ** 2, self.unsent(x, components)
        snr = repeats(owner, self.num_components) * gains ** 2 / noise
        lam = self.variances
        error = ((lam * snr / (1.0 + lam * snr) - 1.0) ** 2 * moments
                 + lam ** 2 * snr / (1.0 + lam * snr) ** 2)
        return (np.sum(self.weights * error, axis=-1) + residual) / self.source_dim


def transmit(reals, no, *, channel, receiver):
    """Real dimensions over the link: ``[batch, 2k]`` -> (equalized, noise), both ``[batch, 2k]``.

    Packs pairs into complex symbols and sends them through the scenario's
    :class:`~linksim.phy.link.SymbolLink` (pilots, channel at N0 ``no``,
    equalizer); the noise of each real dimension is half the equalizer's
    per-symbol ``N0_eff``.
    """
    pairs = tf.constant(np.asarray(reals, np.float32).reshape(len(reals), -1, 2))
    z = tf.complex(pairs[..., 0], pairs[..., 1])
    no = tf.fill([len(reals)], tf.constant(no, tf.float32))
    z_hat, no_eff = SymbolLink(channel=channel, receiver=receiver)(z, no)
    received = np.stack([tf.math.real(z_hat).numpy(), tf.math.imag(z_hat).numpy()], -1)
    noise = np.repeat(np.broadcast_to(no_eff.numpy(), z_hat.shape) / 2.0, 2, axis=-1)
    return received.reshape(len(reals), -1).astype(np.float64), noise.astype(np.float64)


# ------------------------------------------------------------------ the systems


class LinearAnalogSystem(System):
    """Keys, data, channel-use budget, transmission and scoring of the linear analog systems.

    Subclasses implement :meth:`fit` (the :class:`Projection` from training
    vectors and the number of real dimensions) and :meth:`gains` (per component,
    at N0).

    Parameters
    ----------
    dataset : dict
        Registry ``dataset`` spec without ``split``/``limit`` (any image set).
    bandwidth_ratio, channel_uses_per_sample
        Exactly one: the channel uses per image (pilots included), as for the
        other systems (``round(bandwidth_ratio * H W C)``).
    test_samples, test_offset
        As for the learned systems: the same test images in the same batches.
    train_samples : int | None
        Training images the statistics are fitted on; None: the scenario's
        ``train.train_samples``, else the whole training split.
    classifier, classifier_train_samples
        As for ``deepjscc``.
    """

    # Facts that need the data set, which validation may not have (see ``describe``).
    later_facts = ("test_data", "source_dimension", "channel_uses_per_sample",
                   "data_symbols_per_sample", "bandwidth_ratio_actual", "train_data",
                   "components_sent", "mean_symbol_energy_test", "classifier",
                   "classifier_clean_accuracy")

    def __init__(self, *, label, dataset, bandwidth_ratio, channel_uses_per_sample,
                 test_samples, test_offset, train_samples, classifier,
                 classifier_train_samples, context):
        super().__init__(label=label)
        key = context.key
        for name in ("split", "limit"):
            if name in dataset:
                raise ScenarioError(f"{key}.dataset.{name}", "set by the system: use "
                                    "train_samples, test_samples and test_offset")
        if "name" not in dataset:
            raise ScenarioError(f"{key}.dataset.name", "required key is missing")
        registry.get("dataset", dataset["name"], key=f"{key}.dataset.name")
        if (bandwidth_ratio is None) == (channel_uses_per_sample is None):
            raise ScenarioError(f"{key}.bandwidth_ratio", "give exactly one of "
                                "'bandwidth_ratio' and 'channel_uses_per_sample'")
        self.dataset_spec = dataset
        self.bandwidth_ratio = bandwidth_ratio
        self.channel_uses_requested = channel_uses_per_sample
        self.test_samples = test_samples
        self.test_offset = test_offset
        self.train_samples = train_samples if train_samples is not None else \
            (context.train or {}).get("train_samples")
        self.use_classifier = classifier
        self.classifier_train_samples = classifier_train_samples
        self.channel = context.channel
        self.receiver = context.receiver
        self.batch_size = context.stop.batch_size
        self.key = key
        self.metrics = (Metric("psnr", "PSNR [dB] (MAX = 1)"), Metric("ssim", "SSIM")) + (
            (Metric("accuracy", "classification accuracy"),) if classifier else ())
        self.task = None
        self.projection = None
        self.owner = None
        self._test = None
        self._train_provenance = None
        self._energy = None

    # ----------------------------------------------------------- subclass hooks

    def fit(self, train, num_dims):
        """The :class:`Projection` for training vectors [N, n] and ``num_dims`` real dimensions."""
        raise NotImplementedError

    def gains(self, no):
        """Per-component gains [m] at N0 ``no`` (linear)."""
        raise NotImplementedError

    # ----------------------------------------------------------- data and budget

    def _load(self, split, limit):
        spec = {**self.dataset_spec, "split": split, "limit": limit}
        dataset = registry.build("dataset", spec, key=f"{self.key}.dataset")
        if dataset.modality != "image" or not isinstance(dataset.x, np.ndarray):
            raise ScenarioError(f"{self.key}.dataset.name", f"{dataset.name!r} is not a set of "
                                "equal-size images; linear analog systems need one")
        return dataset

    def _test_data(self):
        if self._test is None:
            dataset = self._load("test", self.test_offset + self.test_samples)
            if len(dataset.x) <= self.test_offset:
                raise ScenarioError(f"{self.key}.test_offset", f"{self.test_offset} skips the "
                                    f"whole test split ({len(dataset.x)} samples); allowed: "
                                    f"0..{len(dataset.x) - 1}")
            self._test = dataset
        return self._test

    def check(self, *, key):
        try:
            self._test_data()
        except ScenarioError:
            raise
        except UserError:
            # The data set is not installed here: reported when it is needed.
            return
        self.data_symbols()

    @property
    def channel_uses(self):
        """Channel uses per image, pilots included (the budget)."""
        if self.channel_uses_requested is not None:
            return self.channel_uses_requested
        return max(1, round(self.bandwidth_ratio * self._test_data().x[0].size))

    def data_symbols(self):
        """Most data symbols whose frame (pilots included) fits the budget."""
        budget, coherence = self.channel_uses, self.channel.coherence
        count = budget
        while count > 0 and self.receiver.num_transmitted(count, coherence) > budget:
            count -= 1
        if count == 0:
            raise ScenarioError(self.key, f"{budget} channel uses leave no room for data after "
                                f"the receiver's {self.receiver.num_pilots} pilots")
        return count

    # ----------------------------------------------------------- System interface

    def prepare(self, *, show_progress=True):
        if self.projection is not None:
            return
        train = self._load("train", self.train_samples)
        self._train_provenance = f"{train.provenance}, {len(train.x)} images"
        vectors = train.x.reshape(len(train.x), -1).astype(np.float64)
        self.projection = self.fit(vectors, 2 * self.data_symbols())
        self.owner = round_robin(self.projection.num_components, 2 * self.data_symbols())
        test = self._test_data()
        if self.use_classifier and test.y is None:
            raise ScenarioError(f"{self.key}.classifier", f"{test.name!r} has no labels to "
                                "score accuracy with; set classifier: false")
        self.task = SourceTask(dataset=test, dataset_spec=self.dataset_spec,
                               classifier=self.use_classifier,
                               classifier_train_samples=self.classifier_train_samples,
                               key=self.key)
        self.task.prepare(show_progress=show_progress)
        # Mean energy per data symbol on the test images under the 0 dB gains (1 on average
        # over the training images at every SNR).
        x = test.x[self.test_offset:self.test_offset + self.test_samples]
        sent = self.components(x.reshape(len(x), -1)) * self.gains(1.0)
        self._energy = float(np.mean(np.sum(sent[:, self.owner] ** 2, axis=-1))
                             / self.data_symbols())

    def components(self, vectors):
        return self.projection.components(vectors)

    def reconstruct(self, images, no):
        """Images [batch, H, W, C] -> reconstructions, same shape, float64, not clipped."""
        vectors = images.reshape(len(images), -1)
        gains = self.gains(no)
        sent = self.components(vectors)[:, self.owner] * gains[self.owner]
        received, noise = transmit(sent, no, channel=self.channel, receiver=self.receiver)
        estimate = lmmse_combine(received, noise, gains, self.projection.variances, self.owner)
        return self.projection.back(estimate).reshape(images.shape)

    def run_batch(self, no, *, batch_index):
        images = self._test_data().x
        start = self.test_offset + batch_index * self.batch_size
        stop = min(start + self.batch_size, self.test_offset + self.test_samples, len(images))
        if start >= stop:
            return SampleTotals()
        indices = np.arange(start, stop)
        outputs = np.clip(self.reconstruct(images[indices], no), 0.0, 1.0)
        return SampleTotals(blocks=len(indices),
                            scores=self.task.score(indices, outputs.astype(np.float32)))

    def finished(self, totals, stop):
        available = len(self._test_data().x) - self.test_offset
        return totals.blocks >= min(available, self.test_samples, stop.max_blocks)

    def summarize(self, totals):
        return {**self.task.summarize(totals.scores), "blocks": totals.blocks}

    def describe(self):
        facts = {"dataset": self.dataset_spec, "test_samples": self.test_samples,
                 "test_offset": self.test_offset, "transmission": "analog",
                 "bandwidth_ratio_requested": self.bandwidth_ratio}
        if self._test is None and self.channel_uses_requested is None:
            return facts  # validated where the data set is not installed: sizes unknown
        facts.update(channel_uses_per_sample=self.channel_uses,
                     data_symbols_per_sample=self.data_symbols())
        if self._test is not None:
            size = self._test.x[0].size
            facts.update(test_data=self._test.provenance, source_dimension=size,
                         bandwidth_ratio_actual=self.channel_uses / size)
        if self.projection is not None:
            facts.update(train_data=self._train_provenance,
                         components_sent=self.projection.num_components,
                         mean_symbol_energy_test=self._energy, **self.task.describe())
        return facts
