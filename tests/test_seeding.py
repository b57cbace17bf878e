"""Seeds derived from named parts; seeded() restores every generator it touches."""
import hashlib
import random

import numpy as np
import pytest
from sionna.phy import config

from linksim.seeding import derive_seed, seeded
from linksim.sim.runner import batch_seed


def _old_recipe(text):
    # The recipe results were computed with: derived seeds must not change.
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def test_derived_seeds_keep_the_recipe_results_were_made_with():
    assert batch_seed(1, 1.5, 3) == _old_recipe("1:1.500000:3")
    assert derive_seed(7, f"{0.0316227766:.9g}", "calibration") == \
        _old_recipe("7:0.0316227766:calibration")
    assert derive_seed("classifier", "a") != derive_seed("classifier", "b")
    with pytest.raises(TypeError):
        derive_seed(1, 0.5)


def _draws():
    return (config.np_rng.normal(), float(config.tf_rng.normal([])), config.py_rng.random(),
            random.random(), np.random.random())


def test_seeded_restores_the_generators_even_after_an_error():
    config.seed = 5
    random.seed(1)
    np.random.seed(1)
    expected = _draws()
    config.seed = 5
    random.seed(1)
    np.random.seed(1)
    with pytest.raises(RuntimeError):
        with seeded(9, keras=True) as seed:
            assert seed == 9 and config.seed == 9
            _draws()
            raise RuntimeError("inside")
    assert config.seed == 5
    assert _draws() == expected


def test_seeded_blocks_draw_the_same_values():
    with seeded(3):
        first = config.np_rng.normal(size=4)
    with seeded(3):
        assert np.array_equal(config.np_rng.normal(size=4), first)
