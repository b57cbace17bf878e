"""Keras training of a learned system, resumable and logged per epoch.

Layout of a system's checkpoint directory::

    model.keras     the trained model (written once training has finished)
    settings.json   what it was trained with (a hash guards against stale checkpoints)
    history.csv     per-epoch loss and metrics (train and validation)
    tb/             TensorBoard event files of the same
    backup/         Keras BackupAndRestore state while training is unfinished; an
                    interrupted run resumes from the last finished epoch
"""
import keras


def fit(model, x, y, *, directory, epochs, batch_size, validation_split, show_progress=True):
    """Train ``model`` (compiled) on numpy ``x``, ``y``; resumes from ``directory/backup``.

    Parameters
    ----------
    model : keras.Model
    x : numpy.ndarray
        Inputs, first axis samples.
    y : numpy.ndarray | tuple of numpy.ndarray
        Targets (a tuple for models with several outputs).
    directory : pathlib.Path
        The system's checkpoint directory (created).
    epochs, batch_size : int
    validation_split : float
        Fraction of the *training* data held out (its tail) for per-epoch validation.

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
    return model.fit(x, y, epochs=epochs, batch_size=batch_size,
                     validation_split=validation_split, shuffle=True, callbacks=callbacks,
                     verbose=2 if show_progress else 0)
