"""Helpers shared by the test modules."""
import warnings

import numpy as np

from sparserec import ConvergenceWarning


def random_array(rng, shape, dtype):
    """Standard normal entries of ``dtype`` (complex: independent real and imaginary parts)."""
    a = rng.standard_normal(shape)
    if np.issubdtype(dtype, np.complexfloating):
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def quiet(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with sparserec's ConvergenceWarning silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kwargs)
