"""Receiver-side task metrics shared by systems: what a received sample is worth.

Images: PSNR, SSIM and the accuracy of a CNN trained once on clean images;
text: BLEU and exact-sentence rate; speech: WER of an offline recognizer,
waveform SNR and PCM sample error rate. Every total is additive over samples,
so the Monte Carlo runner can sum batches.
"""
import pathlib

import jiwer
import numpy as np
import sacrebleu
from sacrebleu.metrics import BLEU

from .. import metrics, registry
from .base import Metric, mean_of


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
        totals = {"psnr_sum": float(np.sum(metrics.psnr(x, y))),
                  "ssim_sum": float(np.sum(metrics.ssim(x, y)))}
        if self.use_classifier:
            totals["correct"] = int(np.sum(self._predict(y) == self.dataset.y[indices]))
        return totals

    def summarize(self, totals):
        out = {"psnr": mean_of(totals, "psnr_sum"), "ssim": mean_of(totals, "ssim_sum")}
        if self.use_classifier:
            out["accuracy"] = mean_of(totals, "correct")
        return out


class TextTask(Task):
    """Corpus BLEU (sacrebleu 13a, from additive n-gram counts) and exact-sentence rate."""

    metrics = (Metric("bleu", "BLEU"), Metric("exact_match", "exact sentence rate"))
    primary = ("bleu", 1.0)

    def substitute(self, index):
        return ""

    def score(self, indices, outputs):
        refs = [self.dataset.x[i] for i in indices]
        hyps = [str(o) for o in outputs]
        bleu = sacrebleu.corpus_bleu(hyps, [refs])
        totals = {f"bleu_correct_{n}": bleu.counts[n] for n in range(4)}
        totals |= {f"bleu_total_{n}": bleu.totals[n] for n in range(4)}
        totals |= {"bleu_sys_len": bleu.sys_len, "bleu_ref_len": bleu.ref_len,
                   "exact": float(np.sum(metrics.exact_match(refs, hyps)))}
        return totals

    def summarize(self, totals):
        score = BLEU.compute_bleu([totals[f"bleu_correct_{n}"] for n in range(4)],
                                  [totals[f"bleu_total_{n}"] for n in range(4)],
                                  totals["bleu_sys_len"], totals["bleu_ref_len"])
        return {"bleu": score.score, "exact_match": mean_of(totals, "exact")}


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
        totals = {"signal_energy": 0.0, "error_energy": 0.0, "pcm_samples": 0,
                  "pcm_sample_errors": 0}
        refs, hyps = [], []
        for i, out in zip(indices, outputs):
            x = np.asarray(self.dataset.x[i], np.float64)
            y = np.asarray(out, np.float64).reshape(x.shape)
            totals["signal_energy"] += float(np.sum(x ** 2))
            totals["error_energy"] += float(np.sum((x - y) ** 2))
            totals["pcm_samples"] += x.size
            totals["pcm_sample_errors"] += int(np.sum(x != y))
            if self._recognizer is not None:
                refs.append(self.dataset.transcripts[i])
                hyps.append(self._recognize(np.asarray(out, np.int16)))
        if self._recognizer is not None:
            words = jiwer.process_words(refs, hyps)
            totals["word_errors"] = words.substitutions + words.deletions + words.insertions
            totals["reference_words"] = words.substitutions + words.deletions + words.hits
        return totals

    def summarize(self, totals):
        # Capped like PSNR so a lossless point stays finite.
        floor = totals["signal_energy"] * 10 ** (-metrics.PSNR_CAP_DB / 10)
        error = max(totals["error_energy"], floor)
        out = {"waveform_snr": 10 * np.log10(totals["signal_energy"] / error),
               "sample_error_rate": totals["pcm_sample_errors"] / totals["pcm_samples"]}
        if self._recognizer is not None:
            out["wer"] = totals["word_errors"] / totals["reference_words"]
        return out


def make_task(dataset, *, dataset_spec, classifier, classifier_train_samples):
    if dataset.modality == "image":
        return ImageTask(dataset, dataset_spec=dataset_spec, classifier=classifier,
                         classifier_train_samples=classifier_train_samples)
    if dataset.modality == "text":
        return TextTask(dataset)
    return SpeechTask(dataset)
