"""Helpers shared by the test modules."""
import numpy as np


def random_array(rng, shape, dtype):
    """Standard normal entries of ``dtype`` (complex: independent real and imaginary parts)."""
    a = rng.standard_normal(shape)
    if np.issubdtype(dtype, np.complexfloating):
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)
