import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402
import sionna.phy  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    # Sionna's generator is created lazily; a fixed seed keeps every test reproducible.
    sionna.phy.config.seed = 1234
