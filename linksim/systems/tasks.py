"""Receiver-side task metrics shared by systems: what a received sample is worth.

Images: PSNR, SSIM and the accuracy of a CNN trained once on clean images;
text: BLEU and exact-sentence rate; speech: WER of an offline recognizer,
waveform SNR and PCM sample error rate. Every total is additive over samples,
so the Monte Carlo runner can sum batches, and every metric comes with its 95%
interval (rules in :mod:`linksim.metrics`): t-intervals for PSNR and SSIM,
Wilson for accuracy and exact-sentence rate, the delta method for corpus BLEU
and for the ratios over utterances (WER, waveform SNR, PCM sample error rate).
"""
import pathlib

import jiwer
import numpy as np

from .. import metrics, registry
from .base import Metric, mean_with_ci, rate_with_ci, sums, with_ci


class Task:
    """Receiver-side metrics of one modality; every total is additive over samples.

    Subclasses set ``metrics`` and ``primary`` (the metric ``select: metric``
    maximizes, negated where lower is better).
    """

    metrics: tuple[Metric, ...] = ()
    primary: tuple[str, float] = ("", 1.0)

    def __init__(self, dataset):
        self.dataset = dataset

    def prepare(self, *, show_progress=True):
        """Train or load whatever the metric needs (classifier, recognizer)."""

    def describe(self):
        return {}

    def substitute(self, index):
        """What the receiver outputs when a sample is infeasible or undecodable."""
        raise NotImplementedError

    def score(self, indices, outputs):
        """Additive totals of received ``outputs`` against samples ``indices``."""
        raise NotImplementedError

    def summarize(self, totals):
        raise NotImplementedError


class ImageTask(Task):
    """PSNR (MAX = 1) and SSIM per image; accuracy of a clean-trained CNN where labels exist.

    The classifier (two conv layers, one hidden dense layer, Keras) is trained
    once on ``classifier_train_samples`` images of the training split and
    cached in ``<data_dir>/classifiers``; its accuracy on clean test images is
    reported by ``describe()``.
    """

    primary = ("psnr", 1.0)

    def __init__(self, dataset, *, dataset_spec, classifier, classifier_train_samples):
        super().__init__(dataset)
        self.mean_image = np.mean(np.asarray(dataset.x, np.float32), axis=0)
        self.dataset_spec = dataset_spec
        self.use_classifier = classifier and dataset.y is not None
        self.classifier_train_samples = classifier_train_samples
        self.classifier = None
        self.clean_accuracy = None
        self.metrics = (Metric("psnr", "PSNR [dB]"), Metric("ssim", "SSIM")) + (
            (Metric("accuracy", "classification accuracy"),) if self.use_classifier else ())

    def _classifier_path(self):
        from ..sources.datasets import data_dir
        shape = "x".join(str(s) for s in self.dataset.x.shape[1:])
        return (pathlib.Path(data_dir()) / "classifiers"
                / f"{self.dataset.name}-{shape}-{self.classifier_train_samples}-cnn.keras")

    def prepare(self, *, show_progress=True):
        if not self.use_classifier or self.classifier is not None:
            return
        import keras

        from ..sim.train import ProgressBar
        path = self._classifier_path()
        if path.exists():
            self.classifier = keras.models.load_model(path)
        else:
            train_spec = {**({"name": self.dataset_spec} if isinstance(self.dataset_spec, str)
                             else self.dataset_spec),
                          "split": "train", "limit": self.classifier_train_samples}
            train = registry.build("dataset", train_spec, key="classifier")
            keras.utils.set_random_seed(0)
            model = keras.Sequential([
                keras.Input(train.x.shape[1:]),
                keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
                keras.layers.MaxPooling2D(),
                keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
                keras.layers.MaxPooling2D(),
                keras.layers.Flatten(),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(train.num_classes, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            model.fit(train.x, train.y, epochs=3, batch_size=128, verbose=0,
                      callbacks=[ProgressBar()] if show_progress else [])
            path.parent.mkdir(parents=True, exist_ok=True)
            model.save(path)
            self.classifier = model
        self.clean_accuracy = metrics.accuracy(self.dataset.y, self._predict(self.dataset.x))

    def _predict(self, images):
        return np.argmax(self.classifier.predict(np.asarray(images, np.float32), verbose=0,
                                                 batch_size=256), axis=-1)

    def describe(self):
        if not self.use_classifier:
            return {}
        return {"classifier": f"Keras CNN trained on {self.classifier_train_samples} clean "
                              f"training images, cached at {self._classifier_path()}",
                "classifier_clean_accuracy": self.clean_accuracy}

    def substitute(self, index):
        return self.mean_image

    def score(self, indices, outputs):
        x = np.asarray(self.dataset.x[indices], np.float32)
        y = np.stack([np.asarray(o, np.float32).reshape(x.shape[1:]) for o in outputs])
        totals = sums("psnr", metrics.psnr(x, y)) | sums("ssim", metrics.ssim(x, y))
        if self.use_classifier:
            totals["correct"] = int(np.sum(self._predict(y) == self.dataset.y[indices]))
        return totals

    def summarize(self, totals):
        out = mean_with_ci("psnr", totals) | mean_with_ci("ssim", totals)
        if self.use_classifier:
            out |= rate_with_ci("accuracy", totals["correct"], totals["blocks"])
        return out


class TextTask(Task):
    """Corpus BLEU (sacrebleu 13a, from additive n-gram counts) and exact-sentence rate.

    BLEU's interval is the delta-method interval of corpus BLEU over sentences
    (:func:`linksim.metrics.bleu_interval`), exact-sentence rate's is Wilson's.
    """

    metrics = (Metric("bleu", "BLEU"), Metric("exact_match", "exact sentence rate"))
    primary = ("bleu", 1.0)

    def substitute(self, index):
        return ""

    def score(self, indices, outputs):
        refs = [self.dataset.x[i] for i in indices]
        hyps = [str(o) for o in outputs]
        return metrics.bleu_statistics(refs, hyps) | {
            "exact": int(np.sum(metrics.exact_match(refs, hyps)))}

    def summarize(self, totals):
        n = totals["blocks"]
        return (with_ci("bleu", metrics.bleu_score(totals), metrics.bleu_interval(totals, n))
                | rate_with_ci("exact_match", totals["exact"], n))


class SpeechTask(Task):
    """Word error rate through PocketSphinx (offline, en-us model shipped in its wheel),
    waveform SNR and PCM sample error rate.

    WER counts jiwer's word edits over reference words; without the
    ``pocketsphinx`` package WER is NaN and the waveform metrics remain.
    """

    primary = ("wer", -1.0)

    def __init__(self, dataset):
        super().__init__(dataset)
        try:
            from pocketsphinx import Decoder
            self._recognizer = Decoder(samprate=dataset.sample_rate, loglevel="FATAL")
        except ImportError:
            self._recognizer = None
        self.clean_wer = None
        self.metrics = ((Metric("wer", "WER (PocketSphinx)"),) if self._recognizer else ()) + (
            Metric("waveform_snr", "waveform SNR [dB]"),
            Metric("sample_error_rate", "PCM sample error rate", log=True))

    def _recognize(self, samples):
        self._recognizer.start_utt()
        self._recognizer.process_raw(np.asarray(samples, "<i2").tobytes(), full_utt=True)
        self._recognizer.end_utt()
        hyp = self._recognizer.hyp()
        return hyp.hypstr if hyp is not None else ""

    def prepare(self, *, show_progress=True):
        if self._recognizer is not None and self.clean_wer is None:
            hyps = [self._recognize(x) for x in self.dataset.x]
            self.clean_wer = metrics.wer(self.dataset.transcripts, hyps)

    def describe(self):
        if self._recognizer is None:
            return {"wer": "unavailable: the offline recognizer (pip package pocketsphinx) "
                           "is not installed"}
        return {"recognizer": "PocketSphinx en-us (bundled model)",
                "recognizer_clean_wer": self.clean_wer}

    def substitute(self, index):
        return np.zeros_like(self.dataset.x[index])

    def score(self, indices, outputs):
        # Per utterance, so the ratios get intervals over utterances (linksim.metrics).
        columns = {"signal_energy": [], "error_energy": [], "pcm_samples": [],
                   "pcm_sample_errors": [], "word_errors": [], "reference_words": []}
        for i, out in zip(indices, outputs):
            x = np.asarray(self.dataset.x[i], np.float64)
            y = np.asarray(out, np.float64).reshape(x.shape)
            columns["signal_energy"].append(np.sum(x ** 2))
            columns["error_energy"].append(np.sum((x - y) ** 2))
            columns["pcm_samples"].append(x.size)
            columns["pcm_sample_errors"].append(np.sum(x != y))
            if self._recognizer is not None:
                words = jiwer.process_words(self.dataset.transcripts[i],
                                            self._recognize(np.asarray(out, np.int16)))
                columns["word_errors"].append(words.substitutions + words.deletions
                                              + words.insertions)
                columns["reference_words"].append(words.substitutions + words.deletions
                                                  + words.hits)
        totals = {}
        for numerator, denominator in _SPEECH_RATIOS:
            if columns[numerator]:
                totals |= _ratio_sums(numerator, denominator, columns[numerator],
                                      columns[denominator])
        return totals

    def summarize(self, totals):
        n = totals["blocks"]
        signal, error = totals["signal_energy"], totals["error_energy"]
        # Capped like PSNR so a lossless point stays finite; the interval is built on the
        # log of signal / error energy, so it needs some error energy.
        floor = signal * 10 ** (-metrics.PSNR_CAP_DB / 10)
        low = high = np.nan
        if error > floor:
            low, high = metrics.ratio_interval(
                signal, error, n, numerator_squares=totals["signal_energy_sq"],
                denominator_squares=totals["error_energy_sq"],
                cross=totals["signal_energy_x_error_energy"], log=True)
        out = with_ci("waveform_snr", 10 * np.log10(signal / max(error, floor)),
                      (10 * np.log10(low), 10 * np.log10(high)))
        out |= _ratio_with_ci("sample_error_rate", totals, "pcm_sample_errors", "pcm_samples")
        if self._recognizer is not None:
            out |= _ratio_with_ci("wer", totals, "word_errors", "reference_words")
        return out


#: (numerator, denominator) totals of the speech metrics: WER, PCM sample error rate and
#: waveform SNR (signal over error energy).
_SPEECH_RATIOS = (("word_errors", "reference_words"), ("pcm_sample_errors", "pcm_samples"),
                  ("signal_energy", "error_energy"))


def _ratio_sums(numerator, denominator, a, b):
    """Sums, sums of squares and cross sum of per-sample ``a`` and ``b`` for a ratio interval."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return {numerator: float(a.sum()), denominator: float(b.sum()),
            f"{numerator}_sq": float(np.sum(a ** 2)), f"{denominator}_sq": float(np.sum(b ** 2)),
            f"{numerator}_x_{denominator}": float(np.sum(a * b))}


def _ratio_with_ci(name, totals, numerator, denominator):
    """``name`` = sum(numerator) / sum(denominator) with its delta-method interval, clipped at 0."""
    value = totals[numerator] / totals[denominator]
    low, high = metrics.ratio_interval(
        totals[numerator], totals[denominator], totals["blocks"],
        numerator_squares=totals[f"{numerator}_sq"],
        denominator_squares=totals[f"{denominator}_sq"],
        cross=totals[f"{numerator}_x_{denominator}"])
    return with_ci(name, value, (float(np.maximum(0.0, low)), high))


def make_task(dataset, *, dataset_spec, classifier, classifier_train_samples):
    if dataset.modality == "image":
        return ImageTask(dataset, dataset_spec=dataset_spec, classifier=classifier,
                         classifier_train_samples=classifier_train_samples)
    if dataset.modality == "text":
        return TextTask(dataset)
    return SpeechTask(dataset)
