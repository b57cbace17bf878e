"""Word error rate, of transcripts or of received speech through an offline recognizer."""
import jiwer
import numpy as np

from .. import metrics
from ..registry import register
from ..systems.base import Metric
from ..totals import RatioTotals
from .base import Scorer


@register("scorer", "wer")
class WER(Scorer):
    """Word error rate: jiwer's word edits over reference words; delta-method interval over utterances.

    Reference: transcripts, str [N]. Output: hypotheses, str [N]; or, once
    :meth:`prepare` was given a speech data set, received audio (int16 PCM per
    utterance) that PocketSphinx (offline, en-us model in its wheel) transcribes.
    Without the ``pocketsphinx`` package received audio cannot be transcribed:
    the scorer then reports no metric and says so in :meth:`describe`.
    Totals: :class:`RatioTotals` of word edits over reference words.
    """

    higher_is_better = False

    def __init__(self):
        try:
            import pocketsphinx
        except ImportError:
            pocketsphinx = None
        self._pocketsphinx = pocketsphinx
        self._recognizer = None
        self._speech = False
        self.clean_wer = None
        self.metrics = (Metric("wer", "WER (PocketSphinx)"),) if pocketsphinx else ()

    def prepare(self, *, dataset=None, dataset_spec=None, show_progress=True):
        """With a speech ``dataset``: start the recognizer and transcribe the clean audio."""
        if dataset is None or dataset.modality != "speech" or self._speech:
            return
        self._speech = True
        if self._pocketsphinx is None:
            return
        self._recognizer = self._pocketsphinx.Decoder(samprate=dataset.sample_rate,
                                                      loglevel="FATAL")
        self.clean_wer = metrics.wer(dataset.transcripts, [self._recognize(x) for x in dataset.x])

    def _recognize(self, samples):
        self._recognizer.start_utt()
        self._recognizer.process_raw(np.asarray(samples, "<i2").tobytes(), full_utt=True)
        self._recognizer.end_utt()
        hyp = self._recognizer.hyp()
        return hyp.hypstr if hyp is not None else ""

    def describe(self):
        if not self._speech:
            return {}
        if self._recognizer is None:
            return {"wer": "unavailable: the offline recognizer (pip package pocketsphinx) "
                           "is not installed"}
        return {"recognizer": "PocketSphinx en-us (bundled model)",
                "recognizer_clean_wer": self.clean_wer}

    def score(self, reference, output):
        if self._speech and self._recognizer is None:
            return RatioTotals()
        edits, words = [], []
        for ref, out in zip(reference, output):
            hyp = self._recognize(np.asarray(out, np.int16)) if self._speech else str(out)
            counts = jiwer.process_words(ref, hyp)
            edits.append(counts.substitutions + counts.deletions + counts.insertions)
            words.append(counts.substitutions + counts.deletions + counts.hits)
        return RatioTotals.of(edits, words)

    def summarize(self, totals):
        return totals.columns("wer") if self.metrics else {}
