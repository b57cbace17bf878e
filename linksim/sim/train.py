"""Keras training of a learned system: resumable, logged per epoch, with progress.

Layout of a system's checkpoint directory::

    model.keras     the trained model (written once training has finished)
    settings.json   what it was trained with (a hash guards against stale checkpoints)
    history.csv     per-epoch loss and metrics (train and validation)
    tb/             TensorBoard event files of the same
    train.json      why training stopped (see :func:`fit`)
    backup/         while training is unfinished: Keras BackupAndRestore state (weights,
                    optimizer, epoch) and :class:`Convergence`'s state (best loss and
                    epoch, patience counters, learning rate, the curve so far, the best
                    weights); an interrupted run resumes from the last finished epoch

and, when given a ``curve`` path, ``<curve>.csv`` and ``<curve>.png``: loss,
validation loss and learning rate per epoch (results, committed; checkpoints
are not).

Resume restores the weights, the optimizer, the epoch, early stopping's and the
schedule's state and the learning rate, so the resumed run makes the same
decisions from the same losses. It is not bit-identical to an uninterrupted
run: Keras shuffles the training samples of a resumed ``fit`` from the start
of its own sequence. (Channel noise is not the cause: it is drawn from a
generator reset from (seed, epoch) at every epoch, and validation always sees
the same noise, so validation losses of different epochs are comparable.)

Column names are Keras's: ``loss`` (the total that is minimized), and for a
model with named (dict) outputs ``<output>_loss`` and ``<output>_<metric>``,
e.g. ``rx2_accuracy`` or ``reconstruction_psnr``; ``val_`` prefixes the
validation columns.
"""
import json
import math
import shutil
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from sionna.phy import config
from tqdm.auto import tqdm

from ..metrics import PSNR_CAP_DB
from ..plot import plot_training_curve
from .results import write_atomic

#: Columns of the training-curve CSV.
CURVE_COLUMNS = ("epoch", "loss", "val_loss", "learning_rate")


@keras.saving.register_keras_serializable("linksim")
def psnr(y_true, y_pred):
    """Per-sample PSNR in dB (MAX = 1) of images in [0, 1], for training logs.

    The same quantity as :func:`linksim.metrics.psnr` (which scores evaluation),
    in Keras ops so it runs inside the training step; Keras averages it over
    the samples of an epoch.

    Input
    -----
    y_true, y_pred : [batch, ...], float32

    Output
    ------
    [batch], float32
    """
    axes = tuple(range(1, len(y_true.shape)))
    mse = ops.mean(ops.square(ops.cast(y_true, y_pred.dtype) - y_pred), axis=axes)
    db = -10.0 * ops.log(ops.maximum(mse, 1e-30)) / ops.log(10.0)
    return ops.minimum(db, PSNR_CAP_DB)


class ProgressBar(keras.callbacks.Callback):
    """A tqdm bar per epoch over its batches, with the running loss; then a line per epoch.

    The bar goes to stderr and only on a terminal (tqdm's ``disable=None``), so
    logs and CI output get no bar refreshes. The epoch line (every logged value
    and the time the epoch took) goes to stdout, terminal or not, through
    ``tqdm.write`` so that it does not break a bar that is being drawn.
    """

    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params["epochs"]
        self._start = time.perf_counter()
        self._bar = tqdm(total=self.params.get("steps"), desc=f"epoch {epoch + 1}/{epochs}",
                         unit="batch", leave=False, dynamic_ncols=True, disable=None,
                         file=sys.stderr)

    def on_train_batch_end(self, batch, logs=None):
        self._bar.update(1)
        if not self._bar.disable:  # reading the loss waits for the step; skip when unseen
            self._bar.set_postfix(loss=f"{float(logs['loss']):.4g}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        self._bar.close()
        values = "  ".join(f"{name}={float(value):.4g}" for name, value in sorted(logs.items()))
        tqdm.write(f"epoch {epoch + 1}/{self.params['epochs']}  {values}  "
                   f"({time.perf_counter() - self._start:.1f} s)")


class Convergence(keras.callbacks.Callback):
    """Early stopping, learning-rate schedule, training curve; state kept across resumes.

    At the start of every epoch the learning rate is set from the schedule
    (see :class:`~linksim.systems.options.Training`) and Sionna's generator is
    reset from (``seed``, epoch); validation runs on a generator reset from
    ``seed`` and then put back, so every epoch's validation sees the same noise.
    At the end of every epoch the monitored loss is compared with the best so
    far (an improvement must be below ``best * (1 - min_delta)``), and the
    state is written to ``backup_dir`` *before* Keras's BackupAndRestore (which
    comes after this callback) records the epoch as finished. At the end of
    training the best epoch's weights are put back.

    Parameters
    ----------
    training : linksim.systems.options.Training
    epochs : int
        Maximum epochs.
    monitor : str
        ``"val_loss"`` or ``"loss"``.
    backup_dir : pathlib.Path
    seed : int
    curve : pathlib.Path | None
        Path stem of the curve's ``.csv`` (written every epoch) and ``.png`` (at the end).
    """

    def __init__(self, *, training, epochs, monitor, backup_dir, seed, curve=None):
        super().__init__()
        self.training = training
        self.epochs = epochs
        self.monitor = monitor
        self.backup_dir = backup_dir
        self.seed = seed
        self.curve = curve
        self.state = {"rows": [], "best": math.inf, "best_epoch": None, "wait": 0,
                      "lr_wait": 0, "learning_rate": training.learning_rate,
                      "stopped_early": False}
        self.best_weights = None
        self._resumed = False
        self._rng_state = None

    @property
    def _state_path(self):
        return self.backup_dir / "convergence.json"

    def _best_path(self, epoch):
        return self.backup_dir / f"best-{epoch}.weights.npz"

    def _resume(self, epoch):
        """Take the saved state back to ``epoch`` finished epochs (Keras's restored epoch;
        None: all saved)."""
        self._resumed = True
        if not self._state_path.exists() or epoch == 0:
            return
        saved = json.loads(self._state_path.read_text())
        # Rows past Keras's epoch were written in the moment before an interrupted
        # BackupAndRestore save; those epochs run again.
        rows = saved["rows"][:epoch]
        self.state = {**rows[-1]["state"], "rows": rows}
        if self.state["best_epoch"] is not None:
            with np.load(self._best_path(self.state["best_epoch"])) as data:
                self.best_weights = [data[f"arr_{i}"] for i in range(len(data.files))]

    def on_epoch_begin(self, epoch, logs=None):
        if not self._resumed:
            self._resume(epoch)
        # The previous epoch is fully recorded now: older best weights are not needed.
        for path in self.backup_dir.glob("best-*.weights.npz"):
            if path != self._best_path(self.state["best_epoch"]):
                path.unlink()
        t = self.training
        if t.lr_schedule == "cosine":
            span = t.learning_rate - t.min_learning_rate
            self.state["learning_rate"] = (t.min_learning_rate + 0.5 * span
                                           * (1 + math.cos(math.pi * epoch / self.epochs)))
        self.model.optimizer.learning_rate = self.state["learning_rate"]
        config.tf_rng.reset_from_seed((self.seed * 1_000_003 + epoch + 1) % 2 ** 31)

    def on_test_begin(self, logs=None):
        self._rng_state = config.tf_rng.state.numpy()
        config.tf_rng.reset_from_seed(self.seed)

    def on_test_end(self, logs=None):
        config.tf_rng.reset(self._rng_state)

    def on_epoch_end(self, epoch, logs=None):
        t, state = self.training, self.state
        value = float(logs[self.monitor])
        state["wait"] += 1
        state["lr_wait"] += 1
        if value < state["best"] * (1 - t.min_delta) or state["best_epoch"] is None:
            state.update(best=value, best_epoch=epoch, wait=0, lr_wait=0)
            self.best_weights = self.model.get_weights()
            self.backup_dir.mkdir(parents=True, exist_ok=True)
            np.savez(self._best_path(epoch), *self.best_weights)
        row = {"epoch": epoch + 1, "loss": float(logs["loss"]),
               "val_loss": float(logs.get("val_loss", math.nan)),
               "learning_rate": state["learning_rate"]}
        if t.lr_schedule == "plateau" and state["lr_wait"] >= t.lr_patience:
            state["learning_rate"] = max(state["learning_rate"] * t.lr_factor,
                                         t.min_learning_rate)
            state["lr_wait"] = 0
        if t.patience is not None and state["wait"] >= t.patience:
            state["stopped_early"] = True
            self.model.stop_training = True
        snapshot = {k: v for k, v in state.items() if k != "rows"}
        state["rows"].append({**row, "state": snapshot})
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self._state_path, json.dumps(state))
        if self.curve is not None:
            self.curve.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.curve.parent / f"{self.curve.name}.csv", self.curve_csv())

    def curve_csv(self):
        lines = [",".join(CURVE_COLUMNS)]
        lines += [",".join(f"{row[c]:.6g}" if c != "epoch" else str(row[c])
                           for c in CURVE_COLUMNS) for row in self.state["rows"]]
        return "\n".join(lines) + "\n"

    def on_train_end(self, logs=None):
        if not self._resumed:  # every epoch had run before an interruption
            self._resume(None)
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)

    def summary(self):
        """Why training stopped, for train.json and run.json (epochs counted from 1)."""
        state = self.state
        best = state["best_epoch"]
        return {"stopped": "early_stopping" if state["stopped_early"] else "max_epochs",
                "epochs_run": len(state["rows"]), "max_epochs": self.epochs,
                "best_epoch": None if best is None else best + 1, "monitor": self.monitor,
                "best_loss": None if best is None else state["best"],
                "final_learning_rate": state["rows"][-1]["learning_rate"] if state["rows"]
                else None, "lr_schedule": self.training.lr_schedule,
                "patience": self.training.patience}


def fit(model, x, y, *, directory, training, seed, epochs=None, curve=None, show_progress=True):
    """Train ``model`` (compiled) on numpy ``x``, ``y`` until it converges; resumes.

    Parameters
    ----------
    model : keras.Model
    x : numpy.ndarray
        Inputs, first axis samples.
    y : numpy.ndarray | dict of numpy.ndarray
        Targets (a dict keyed by output name for models with several outputs).
    directory : pathlib.Path
        The checkpoint directory of this training run (created).
    training : linksim.systems.options.Training
        Batch size, validation split, stopping and schedule keys.
    seed : int
        Seeds the per-epoch channel noise and the validation noise.
    epochs : int | None
        Maximum epochs (default ``training.epochs``; a second stage may have its own).
    curve : pathlib.Path | None
        Path stem of the training curve's ``.csv`` and ``.png``.
    show_progress : bool
        A progress bar per epoch and a line per epoch (see :class:`ProgressBar`).

    Returns
    -------
    dict
        Why training stopped (also written to ``directory/train.json``):
        ``stopped`` (``early_stopping`` | ``max_epochs``), ``epochs_run``,
        ``max_epochs``, ``best_epoch``, ``monitor``, ``best_loss``,
        ``final_learning_rate``, ``lr_schedule``, ``patience``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    epochs = epochs or training.epochs
    backup = directory / "backup"
    convergence = Convergence(training=training, epochs=epochs, seed=seed, curve=curve,
                              monitor="val_loss" if training.validation_split else "loss",
                              backup_dir=backup)
    callbacks = [
        convergence,  # before BackupAndRestore: its state is saved before the epoch counts
        keras.callbacks.BackupAndRestore(backup_dir=str(backup)),
        keras.callbacks.CSVLogger(str(directory / "history.csv"), append=True),
        keras.callbacks.TensorBoard(log_dir=str(directory / "tb"), write_graph=False),
    ]
    if show_progress:
        callbacks.append(ProgressBar())
    model.fit(x, y, epochs=epochs, batch_size=training.batch_size,
              validation_split=training.validation_split, shuffle=True, callbacks=callbacks,
              verbose=0)
    summary = convergence.summary()
    write_atomic(directory / "train.json", json.dumps(summary, indent=2))
    if curve is not None:
        plot_training_curve(curve.parent / f"{curve.name}.csv", title=curve.name, summary=summary)
    if show_progress and summary["best_epoch"] is not None:
        how = (f"early stop after epoch {summary['epochs_run']}" if summary["stopped"] ==
               "early_stopping" else f"max epochs ({summary['epochs_run']})")
        print(f"stopped: {how}; best epoch {summary['best_epoch']} ({summary['monitor']} "
              f"{summary['best_loss']:.4g}), weights of the best epoch kept", flush=True)
    return summary


def fit_tasks(model, data, *, loss, directory, training, seed, epochs=None, curve=None,
              show_progress=True, optimizers=None):
    """Train a multi-task model one task per step, each step a batch of one task; resumes.

    U-DeepSC's Algorithm 1 (and MFMSC's training): "choose one task and
    generate a batch of samples", update, repeat. An epoch visits every
    training sample of every task once: each task's samples are shuffled and
    cut into batches, and the batches of all tasks are shuffled together, so
    tasks come in random order in proportion to their data. Everything else
    is :func:`fit`'s: validation on each task's tail ``validation_split``
    (``val_loss``: the mean over tasks of their mean batch loss, with the same
    noise every epoch), early stopping and the learning-rate schedule
    (:class:`Convergence`), ``history.csv``, the curve, ``train.json``.

    Resume: after every epoch the weights, the optimizer's variables and the
    epoch go to ``directory/backup``; an interrupted run continues from the
    last finished epoch (the batch order of each epoch comes from (seed,
    epoch), so it is the same as in an uninterrupted run).

    Parameters
    ----------
    model : keras.Model
        Built, and compiled with its optimizer (Keras' ``compile(optimizer=...)``).
    data : dict of str to (dict of numpy.ndarray, object)
        Per task: its mapping of named inputs and its targets (anything
        ``loss`` reads; sliced like the inputs when it is an array or a dict of arrays).
    loss : callable
        ``loss(inputs, targets, task, training) -> (total, parts)``: the scalar
        loss of one batch of task ``task`` (a str) and a dict of named scalar
        parts for the log; traced once per task.
    directory, training, seed, epochs, curve, show_progress
        As for :func:`fit`.
    optimizers : dict of str to keras.optimizers.Optimizer, or None
        One optimizer per task (MFMSC's "a separate Adam optimizer for each
        task"): a step of task ``t`` updates with ``optimizers[t]``, whose
        learning rate follows the model optimizer's schedule. None: the
        model's optimizer for every task.

    Returns
    -------
    dict
        Why training stopped, as :func:`fit`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    epochs = epochs or training.epochs
    backup = directory / "backup"
    monitor = "val_loss" if training.validation_split else "loss"
    convergence = Convergence(training=training, epochs=epochs, seed=seed, curve=curve,
                              monitor=monitor, backup_dir=backup)
    convergence.set_model(model)
    sizes = {name: len(next(iter(inputs.values()))) for name, (inputs, _) in data.items()}
    held = {name: int(n * training.validation_split) for name, n in sizes.items()}
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    per_task = optimizers or {name: optimizer for name in data}
    for task_optimizer in {id(o): o for o in per_task.values()}.values():
        task_optimizer.build(model.trainable_variables)
    # Saved and restored in this order on resume.
    all_variables = [v for o in {id(o): o for o in (optimizer, *per_task.values())}.values()
                     for v in o.variables]

    def step_function(task):
        @tf.function(reduce_retracing=True)
        def step(inputs, targets):
            with tf.GradientTape() as tape:
                total, parts = loss(inputs, targets, task, True)
            variables = model.trainable_variables
            grads = tape.gradient(total, variables)
            # A task leaves the other modalities' modules without a gradient.
            per_task[task].apply_gradients([(g, v) for g, v in zip(grads, variables)
                                            if g is not None])
            return total, parts

        @tf.function(reduce_retracing=True)
        def evaluate(inputs, targets):
            return loss(inputs, targets, task, False)
        return step, evaluate

    functions = {name: step_function(name) for name in data}
    progress = backup / "progress.json"
    start = 0
    if progress.exists():
        start = json.loads(progress.read_text())["epoch"]
        model.load_weights(backup / "latest.weights.h5")
        with np.load(backup / "optimizer.npz") as saved:
            for i, variable in enumerate(all_variables):
                variable.assign(saved[f"arr_{i}"])
        if show_progress:
            print(f"resuming after epoch {start} from {backup}", flush=True)
    history = directory / "history.csv"
    if start == 0 and history.exists():
        history.unlink()
    for epoch in range(start, epochs):
        began = time.time()
        convergence.on_epoch_begin(epoch)
        for task_optimizer in per_task.values():
            task_optimizer.learning_rate = float(optimizer.learning_rate)
        rng = np.random.default_rng([seed, epoch])
        batches = []
        for name, n in sizes.items():
            order = rng.permutation(n - held[name])
            batches += [(name, order[i:i + training.batch_size])
                        for i in range(0, len(order), training.batch_size)]
        batches = [batches[i] for i in rng.permutation(len(batches))]
        sums = {}
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{epochs}", leave=False,
                   disable=None if show_progress else True, file=sys.stderr)
        for name, index in bar:
            inputs, targets = data[name]
            total, parts = functions[name][0](_take(inputs, index), _take(targets, index))
            for key, value in {"loss": total, **{f"{name}_{k}": v for k, v in parts.items()}}.items():
                sums.setdefault(key, []).append(float(value))
        logs = {key: float(np.mean(values)) for key, values in sums.items()}
        if any(held.values()):
            convergence.on_test_begin()
            task_means = []
            for name, n in sizes.items():
                if not held[name]:
                    continue
                inputs, targets = data[name]
                values = []
                for i in range(n - held[name], n, training.batch_size):
                    index = np.arange(i, min(i + training.batch_size, n))
                    values.append(float(functions[name][1](_take(inputs, index),
                                                           _take(targets, index))[0]))
                logs[f"val_{name}_loss"] = float(np.mean(values))
                task_means.append(logs[f"val_{name}_loss"])
            logs["val_loss"] = float(np.mean(task_means))
            convergence.on_test_end()
        convergence.on_epoch_end(epoch, logs)
        columns = sorted(logs)
        if not history.exists():
            history.write_text(",".join(["epoch", *columns]) + "\n")
        with history.open("a") as f:
            f.write(",".join([str(epoch), *(f"{logs[c]:.6g}" for c in columns)]) + "\n")
        model.save_weights(backup / "latest.weights.h5")
        np.savez(backup / "optimizer.npz", *[v.numpy() for v in all_variables])
        write_atomic(progress, json.dumps({"epoch": epoch + 1}))
        if show_progress:
            shown = "  ".join(f"{k}={logs[k]:.4g}" for k in ("loss", "val_loss") if k in logs)
            tqdm.write(f"epoch {epoch + 1}/{epochs}  {shown}  ({time.time() - began:.0f} s)")
        if model.stop_training:
            break
    convergence.on_train_end()
    summary = convergence.summary()
    write_atomic(directory / "train.json", json.dumps(summary, indent=2))
    shutil.rmtree(backup, ignore_errors=True)
    if curve is not None and summary["epochs_run"]:
        plot_training_curve(curve.parent / f"{curve.name}.csv", title=curve.name, summary=summary)
    if show_progress and summary["best_epoch"] is not None:
        print(f"stopped: {summary['stopped']} after epoch {summary['epochs_run']}; best epoch "
              f"{summary['best_epoch']} ({summary['monitor']} {summary['best_loss']:.4g}), "
              f"weights of the best epoch kept", flush=True)
    return summary


def _take(values, index):
    """Rows ``index`` of an array, or of every array of a dict (tensors, for ``tf.function``)."""
    if isinstance(values, dict):
        return {k: tf.constant(v[index]) for k, v in values.items()}
    return tf.constant(values[index])
