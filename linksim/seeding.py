"""Seeds: one recipe to derive them from named parts, one context manager to scope them.

Every seed linksim sets comes from :func:`derive_seed`, so two places that need
"the seed of X" agree by naming the same parts: the runner's per-batch seed is
``derive_seed(scenario_seed, f"{snr_db:.6f}", batch_index)``, the MCS
calibration's ``derive_seed(scenario_seed, f"{no:.9g}", "calibration")``. Floats
are formatted by the caller, because the formatting is part of the recipe.

:func:`seeded` sets Sionna's generators (and, on request, Keras', i.e. Python's,
NumPy's and TensorFlow's global seeds) for a block and puts the previous state
back in ``finally``, so code after the block draws exactly what it would have
drawn without it.
"""
import contextlib
import hashlib
import random

import numpy as np

#: Derived seeds are 31-bit: every generator linksim seeds (NumPy, TensorFlow,
#: Python, Keras) accepts them.
SEED_BITS = 31


def derive_seed(*parts):
    """A 31-bit seed from named ``parts`` (ints or strings, joined by ``:``), via SHA-256.

    Parameters
    ----------
    *parts : int | str
        What the seed is for, e.g. ``(1, "0.500000", 3)`` or ``("classifier",
        "fashion_mnist", 20000)``. Floats must be formatted by the caller.

    Returns
    -------
    int
        In ``[0, 2**31)``; the same parts give the same seed on every machine.
    """
    for part in parts:
        if isinstance(part, float):
            raise TypeError(f"format float seed parts yourself (the format is part of the "
                            f"seed), got {part!r}")
    blob = ":".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "little") & (2 ** SEED_BITS - 1)


@contextlib.contextmanager
def seeded(seed, *, keras=False):
    """Seed Sionna's generators (and with ``keras`` Keras' global seeds) inside the block.

    On exit, also after an exception, Sionna's ``config.seed`` and the state of
    its NumPy, TensorFlow and Python generators are restored, as are Python's and
    NumPy's global generators; with ``keras``, Keras' global seed and seed
    generator and TensorFlow's global seed are set back too.

    Parameters
    ----------
    seed : int
        Seed for the block (e.g. from :func:`derive_seed`).
    keras : bool
        Also call ``keras.utils.set_random_seed(seed)`` (weight initialization,
        dropout, shuffling); imports Keras.
    """
    from sionna.phy import config

    previous_seed = config.seed
    tf_state = config.tf_rng.state.numpy()
    py_state = config.py_rng.getstate()
    np_state = config.np_rng.bit_generator.state
    global_py, global_np = random.getstate(), np.random.get_state()
    keras_state = _keras_state() if keras else None
    try:
        config.seed = seed
        if keras:
            import keras as keras_lib
            keras_lib.utils.set_random_seed(seed)
        yield seed
    finally:
        if keras_state is not None:
            _restore_keras(keras_state)
        # The seed setter replaces the NumPy generator and resets the others in place
        # (graphs hold the TensorFlow one); the saved states then rewind all three.
        if previous_seed is not None:
            config.seed = previous_seed
        config.tf_rng.reset(tf_state)
        config.py_rng.setstate(py_state)
        config.np_rng.bit_generator.state = np_state
        random.setstate(global_py)
        np.random.set_state(global_np)


def _keras_state():
    """Keras' global seed and seed generator, TensorFlow's global (eager) seed."""
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils
    from tensorflow.python.eager import context
    return (global_state.get_global_attribute(rng_utils.GLOBAL_RANDOM_SEED),
            global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR),
            context.global_seed())


def _restore_keras(state):
    import tensorflow as tf
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils
    seed, generator, tf_seed = state
    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    # The generator object carries its own state: putting it back resumes its stream.
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, generator)
    tf.random.set_seed(tf_seed)
