"""Keras training of a learned system: resumable, logged per epoch, with progress.

Layout of a system's checkpoint directory::

    model.keras     the trained model (written once training has finished)
    settings.json   what it was trained with (a hash guards against stale checkpoints)
    history.csv     per-epoch loss and metrics (train and validation)
    tb/             TensorBoard event files of the same
    backup/         Keras BackupAndRestore state while training is unfinished; an
                    interrupted run resumes from the last finished epoch

Column names are Keras's: ``loss`` (the total that is minimized), and for a
model with named (dict) outputs ``<output>_loss`` and ``<output>_<metric>``,
e.g. ``rx2_accuracy`` or ``reconstruction_psnr``; ``val_`` prefixes the
validation columns.
"""
import sys
import time

import keras
from keras import ops
from tqdm.auto import tqdm

from ..metrics import PSNR_CAP_DB


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


def fit(model, x, y, *, directory, epochs, batch_size, validation_split, show_progress=True):
    """Train ``model`` (compiled) on numpy ``x``, ``y``; resumes from ``directory/backup``.

    Parameters
    ----------
    model : keras.Model
    x : numpy.ndarray
        Inputs, first axis samples.
    y : numpy.ndarray | dict of numpy.ndarray
        Targets (a dict keyed by output name for models with several outputs).
    directory : pathlib.Path
        The system's checkpoint directory (created).
    epochs, batch_size : int
    validation_split : float
        Fraction of the *training* data held out (its tail) for per-epoch validation.
    show_progress : bool
        A progress bar per epoch and a line per epoch (see :class:`ProgressBar`).

    Returns
    -------
    keras.callbacks.History
    """
    directory.mkdir(parents=True, exist_ok=True)
    callbacks = [
        keras.callbacks.BackupAndRestore(backup_dir=str(directory / "backup")),
        keras.callbacks.CSVLogger(str(directory / "history.csv"), append=True),
        keras.callbacks.TensorBoard(log_dir=str(directory / "tb"), write_graph=False),
    ]
    if show_progress:
        callbacks.append(ProgressBar())
    return model.fit(x, y, epochs=epochs, batch_size=batch_size,
                     validation_split=validation_split, shuffle=True, callbacks=callbacks,
                     verbose=0)
