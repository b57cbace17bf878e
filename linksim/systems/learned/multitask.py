"""The task table shared by the multi-task, multi-modal systems (U-DeepSC, MFMSC).

A task names what a sample carries and what the receiver must give back:

============================  ===============================  ========================
task                          inputs -> output                 scored by
============================  ===============================  ========================
``image_classification``      image -> class                   accuracy
``image_reconstruction``      image -> image                   PSNR (MAX = 1)
``text_classification``       text tokens -> class             accuracy
``text_reconstruction``       text tokens -> tokens            BLEU, exact sentences
``vqa``                       image + question -> answer       VQA answer accuracy
============================  ===============================  ========================

:class:`MultiTaskSystem` is the learned-system base of such systems: one test
split per task, image shapes checked against each task's patch size, the task
losses and one scoring path with columns ``<task>_<metric>`` and
``<task>_symbols`` (complex channel uses per sample).
"""
import keras
import numpy as np
import tensorflow as tf

from ...errors import ScenarioError
from ...sources.tokenizer import detokenize
from ..base import Metric
from .base import LearnedSystem

#: Task name -> (modalities, what the head outputs).
TASKS = {
    "image_classification": (("image",), "class"),
    "image_reconstruction": (("image",), "image"),
    "text_classification": (("text",), "class"),
    "text_reconstruction": (("text",), "tokens"),
    "vqa": (("image", "text"), "class"),
}
#: Batch entries the model reads per modality, for a task on text alone or with an image.
_TEXT_INPUTS = {"text": ("tokens", "token_mask"), "question": ("question_tokens", "question_mask")}
SEP = 102  # MiniLM's [SEP] token id: a reconstructed text ends there
UNK = 100  # [UNK]
_SCORED = {"image_classification": [("accuracy", "accuracy")],
           "image_reconstruction": [("psnr", "PSNR [dB] (MAX = 1)")],
           "text_classification": [("accuracy", "accuracy")],
           "text_reconstruction": [("bleu", "BLEU"), ("exact_match", "exact sentences")],
           "vqa": [("accuracy", "answer accuracy")]}


def task_inputs(name):
    """Batch entries the model reads for task ``name``."""
    if name == "vqa":
        return ("image", *_TEXT_INPUTS["question"])
    return ("image",) if TASKS[name][0] == ("image",) else _TEXT_INPUTS["text"]


def task_target(name):
    """The batch entry a task learns to output."""
    return {"image_classification": "label", "image_reconstruction": "image",
            "text_classification": "label", "text_reconstruction": "tokens",
            "vqa": "answer"}[name]


def task_pairs(data):
    """{task: (inputs {name: array}, target array)}: what ``train.fit_tasks`` trains on, from
    the splits {task: split} of :meth:`LearnedSystem.test_data` or the training data."""
    return {name: ({k: split.inputs[k] for k in task_inputs(name)},
                   split.inputs[task_target(name)]) for name, split in data.items()}


def task_metrics(name):
    """The result columns of task ``name``: its scores, then its channel uses per sample."""
    words = name.replace("_", " ")
    return [Metric(f"{name}_{m}", f"{words}: {label}") for m, label in _SCORED[name]] + [
        Metric(f"{name}_symbols", f"{words}: channel uses per sample")]


def task_loss(name, targets, output, *, output_vocabulary):
    """Mean loss of a batch of task ``name``: cross-entropy for classes and tokens, MSE for images.

    ``output``: logits [batch, classes], logits [batch, tokens, vocabulary] or an
    image [batch, H, W, C] in [0, 1]. Padding tokens (id 0) are left out; ids at
    or beyond ``output_vocabulary`` are learned as [UNK].
    """
    kind = TASKS[name][1]
    if kind == "class":
        return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            targets, output, from_logits=True))
    if kind == "image":
        return tf.reduce_mean(tf.square(tf.cast(targets, tf.float32) - output))
    weights = tf.cast(targets > 0, tf.float32)
    targets = tf.where(targets < output_vocabulary, targets, UNK)
    per_token = keras.losses.sparse_categorical_crossentropy(targets, output, from_logits=True)
    return tf.reduce_sum(per_token * weights) / tf.reduce_sum(weights)


class PerTaskModels(keras.Model):
    """One ``model_class`` model per task, nothing shared; routes a batch by its task.

    The baselines that train the same network per task (T-DeepSC, MFSC) subclass
    it with their ``model_class`` and register the subclass for Keras saving.

    Parameters
    ----------
    tasks : dict
        Task name -> the task's spec, as the model class takes it.
    **options
        The model class's other keyword arguments, the same for every task's model.

    Input and output: as ``model_class``; ``call(inputs, task)`` runs the task's model.
    """

    model_class = None
    name_prefix = "task"

    def __init__(self, *, tasks, **options):
        name = options.pop("name", None)
        super().__init__(name=name)
        self.task_specs = {k: dict(v) for k, v in tasks.items()}
        # Registry specs, so that the config is JSON (each model rebuilds its own link).
        for key in ("channel", "receiver"):
            if hasattr(options.get(key), "spec"):
                options[key] = options[key].spec
        self.options = options
        self.models = [self.model_class(tasks={k: v}, name=f"{self.name_prefix}_{k}", **options)
                       for k, v in self.task_specs.items()]
        self.task_names = list(self.task_specs)

    def model_of(self, task):
        return self.models[self.task_names.index(task)]

    def call(self, inputs, task, no=None, training=False):
        return self.model_of(task)(inputs, task=task, no=no, training=training)

    def get_config(self):
        return {**super().get_config(), "tasks": self.task_specs, **self.options}


class MultiTaskSystem(LearnedSystem):
    """A learned system over :data:`TASKS`; subclasses set ``patch_size`` {task: int}."""

    def _task_specs(self):
        """{task: {"image_shape", "patch_size", "num_classes"}} from the test splits."""
        specs = {}
        for task in self.tasks:
            split = self.test_data()[task.name]
            image = split.inputs.get("image")
            classes = None
            if TASKS[task.name][1] == "class":
                classes = (len(split.dataset.field_classes["answer"]) if task.name == "vqa"
                           else split.dataset.num_classes)
            p = self.patch_size[task.name]
            if image is not None and "image" in TASKS[task.name][0]:
                h, w, _ = image.shape[1:]
                if h % p or w % p:
                    raise ScenarioError(f"{self.key}.tasks.{task.name}.patch_size",
                                        f"{p} does not divide the {h}x{w} images; allowed: a "
                                        f"divisor of both")
            specs[task.name] = {"image_shape": None if image is None else list(image.shape[1:]),
                                "patch_size": p, "num_classes": classes}
        return specs

    def check(self, *, key):
        super().check(key=key)
        if self._data is not None:  # the data are installed: check patch sizes and classes
            self._task_specs()

    def score_task(self, name, output, batch):
        """Scorer totals of one batch of task ``name`` (``output``: the model's, as NumPy)."""
        kind = TASKS[name][1]
        if name == "vqa":
            answers = self.test_data()[name].dataset.field_classes["answer"]
            # VQAv2 scores against its 10 annotators (min(matches / 3, 1)); easy-VQA has one answer.
            reference = (batch["annotator_answers"].tolist() if "annotator_answers" in batch
                         else [answers[i] for i in batch["answer"]])
            return {"accuracy": self.scorers["vqa_accuracy"].score(
                reference, [answers[i] for i in output.argmax(-1)])}
        if kind == "class":
            return {"accuracy": self.scorers["accuracy"].score(batch["label"], output)}
        if kind == "image":
            return {"psnr": self.scorers["psnr"].score(batch["image"], output)}
        predicted = output.argmax(-1)
        # A reconstructed text ends at its first [SEP]; what follows is padding.
        predicted[np.cumsum(predicted == SEP, axis=1) > 0] = 0
        reference, hypothesis = detokenize(batch["tokens"]), detokenize(predicted)
        return {"bleu": self.scorers["bleu"].score(reference, hypothesis),
                "exact_match": self.scorers["exact_match"].score(reference, hypothesis)}

    def summarize(self, totals):
        row = {"blocks": totals.blocks}
        for task in self.tasks:
            for metric, value in self.task_totals(totals, task.name).items():
                scorer = {"symbols": None, "accuracy": "vqa_accuracy" if task.name == "vqa"
                          else "accuracy"}.get(metric, metric)
                columns = (value.columns("symbols") if scorer is None
                           else self.scorers[scorer].summarize(value))
                for column, number in columns.items():
                    row[f"{task.name}_{column.replace('vqa_accuracy', 'accuracy')}"] = number
        return row
