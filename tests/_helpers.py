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


def forbid_host_sync(monkeypatch, array_type):
    """Make every implicit device-to-host conversion of ``array_type`` raise.

    For ``array_api_strict`` arrays inside an iteration: ``bool()``, ``float()``,
    ``np.asarray()``... would wait for the device.  Undo with ``monkeypatch.undo()``.
    """
    def host_sync(*args, **kwargs):
        raise AssertionError("an iteration synchronised with the host")
    for name in ("__bool__", "__float__", "__int__", "__index__", "__array__", "__complex__"):
        monkeypatch.setattr(array_type, name, host_sync)
