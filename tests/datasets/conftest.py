"""A small synthetic dataset shared by the dataset tests (3 days x 7 samples, a few seconds)."""

import shutil

import pytest

from retrieval.data.synth import make_dataset

DAYS, MINUTES = 3, 0.75  # 7 samples of 6.4 s per day


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic") / "ds"
    return make_dataset(out, days=DAYS, minutes_per_day=MINUTES, seed=1, progress=False)


@pytest.fixture
def synthetic_copy(synthetic, tmp_path):
    """A copy a test may change (without the recordings, which the cache does not read)."""
    return shutil.copytree(synthetic, tmp_path / "ds", ignore=shutil.ignore_patterns("recordings", ".cache"))
