"""Visual question answering: answer accuracy."""
from typing import Annotated

from pydantic import Field

from ..registry import register
from ..systems.base import Metric
from ..totals import MeanTotals
from .base import Scorer


def _normalize(answer):
    return " ".join(str(answer).lower().split())


@register("scorer", "vqa_accuracy")
class VQAAccuracy(Scorer):
    """VQA answer accuracy, mean over questions of min(matching annotators / 3, 1); t-interval.

    Reference: per question one answer (str) or the annotators' answers (list of
    str); output: the predicted answer per question (str). Answers are compared
    lower-cased with runs of white space collapsed. With one reference answer a
    question scores 1 when it matches, else 0. Totals: :class:`MeanTotals`.
    """

    metrics = (Metric("vqa_accuracy", "VQA answer accuracy"),)

    def __init__(self, *, annotators_for_full_credit: Annotated[int, Field(ge=1, le=100)] = 3):
        self.full = annotators_for_full_credit

    def score(self, reference, output):
        values = []
        for answers, predicted in zip(reference, output):
            answers = [answers] if isinstance(answers, str) else list(answers)
            matches = sum(_normalize(a) == _normalize(predicted) for a in answers)
            values.append(float(matches > 0) if len(answers) == 1
                          else min(matches / self.full, 1.0))
        return MeanTotals.of(values)

    def summarize(self, totals):
        return totals.columns("vqa_accuracy")
