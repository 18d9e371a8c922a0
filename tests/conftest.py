import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pytest

from golden_model.formats import Formats
from golden_model.golden import fold


def random_float_model(n, k, seed=0, u0_range=(-3.0, 1.0)):
    """Float folded tensors of a plausible model (not trained): unit-ish dictionary, eta 0.15."""
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(n, k)) / np.sqrt(n)
    sigma2 = rng.uniform(0.4, 0.8, size=n)
    eta = 0.15
    f = eta * phi.T / sigma2
    return dict(F=f, W=f @ phi, c=eta * rng.uniform(0.02, 0.1, size=k), u0=rng.uniform(*u0_range, size=k)), phi


@pytest.fixture(scope="session")
def small_fixed():
    """A random fixed-point model at odd sizes (N=12, K=20)."""
    tensors, _ = random_float_model(12, 20, seed=3)
    return fold(tensors, Formats())


@pytest.fixture(scope="session")
def default_bundle():
    from golden_model import bundle
    return bundle.load()
