"""Array-namespace helpers shared by operators and solvers.

Everything below a solver's entry point uses only functions of the array API
standard through the namespace returned by :func:`get_namespace`, so the same
code runs on NumPy, CuPy and ``array_api_strict`` arrays.
"""
import array_api_compat
import numpy as np

__all__ = ["get_namespace", "same_namespace", "is_numpy", "is_complex", "real_dtype", "abs2", "conj",
           "real_part", "make_complex", "sum_abs2", "to_numpy"]


def get_namespace(*arrays):
    """Return the array namespace shared by ``arrays`` (``None`` entries ignored).

    Parameters
    ----------
    *arrays : array-like or None
        Arrays of one library (NumPy, CuPy, array_api_strict, ...).

    Returns
    -------
    xp : module
        The array-API compatible namespace.
    """
    return array_api_compat.array_namespace(*[a for a in arrays if a is not None])


def same_namespace(xp, x):
    """True when array ``x`` belongs to namespace ``xp`` (NumPy flavours count as one)."""
    other = get_namespace(x)
    return other is xp or (is_numpy(xp) and is_numpy(other))


def is_numpy(xp):
    """True when ``xp`` is NumPy (the namespace with a Numba fast path)."""
    return array_api_compat.is_numpy_namespace(xp)


def is_complex(xp, x):
    """True when array ``x`` has a complex floating dtype."""
    return xp.isdtype(x.dtype, "complex floating")


def real_dtype(xp, dtype):
    """The real floating dtype matching ``dtype`` (complex128 -> float64)."""
    if dtype == xp.complex64:
        return xp.float32
    if dtype == xp.complex128:
        return xp.float64
    return dtype


def conj(xp, x):
    """Complex conjugate that is a no-op for real arrays."""
    return xp.conj(x) if is_complex(xp, x) else x


def real_part(xp, x):
    """Real part that is a no-op for real arrays."""
    return xp.real(x) if is_complex(xp, x) else x


def make_complex(xp, re, im, dtype):
    """The complex array ``re + i im`` of complex ``dtype`` from two real arrays."""
    unit = xp.asarray(1j, dtype=dtype)
    return xp.astype(re, dtype) + xp.astype(im, dtype) * unit


def abs2(xp, x):
    """Squared modulus ``|x|**2`` as a real array."""
    if is_complex(xp, x):
        return xp.real(x) ** 2 + xp.imag(x) ** 2
    return x * x


def sum_abs2(xp, x, axis):
    """Sum of squared moduli along ``axis`` keeping dimensions."""
    return xp.sum(abs2(xp, x), axis=axis, keepdims=True)


def to_numpy(x):
    """Copy any array-API array to a NumPy array on the host."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get"):  # CuPy
        return x.get()
    return np.asarray(x)
