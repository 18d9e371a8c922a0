import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest

from ipvae.golden_model.formats import Formats
from ipvae.golden_model.golden import fold
from ipvae.golden_model.random_model import random_float_model


def pytest_addoption(parser):
    parser.addoption("--cluster", default=None, metavar="local|tcp://HOST:8786",
                     help="run the slow co-simulation regressions' cases as shards on this Dask cluster "
                          "(docs/cluster.md); default: in the test's own process")


@pytest.fixture(scope="session")
def small_fixed():
    """A random fixed-point model at odd sizes (N=12, K=20)."""
    tensors, _ = random_float_model(12, 20, seed=3)
    return fold(tensors, Formats())


@pytest.fixture(scope="session")
def default_bundle():
    from ipvae.golden_model import bundle
    return bundle.load()
