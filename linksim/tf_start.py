"""Starting TensorFlow quietly: one home for the first ``import tensorflow`` of a process."""
import os
import sys

_started = False


def import_tensorflow(*, threads=None):
    """Import TensorFlow (and start XLA) once, without the C++ start-up noise on stderr.

    The full ``tensorflow`` wheel logs "Unable to register cuDNN factory" and the
    like, and the first XLA compilation its service start, through absl before
    ``TF_CPP_MIN_LOG_LEVEL`` applies; file descriptor 2 points at /dev/null while
    that happens and is restored afterwards, so later errors and progress bars show.

    Parameters
    ----------
    threads : int | None
        Intra- and inter-op threads of this process (a Dask worker's share of the
        cores); None keeps TensorFlow's default. Only effective before the first op
        runs, so it is set here, between the import and the first compilation.
    """
    global _started
    if _started:
        return
    _started = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf
        if threads is not None:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            except RuntimeError:
                pass  # an op already ran in this process: its thread pools are fixed
        tf.function(lambda x: x + 1, jit_compile=True)(tf.constant(0.0))
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
