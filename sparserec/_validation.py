"""Input checks shared by every public entry point.

Every problem passes through :func:`check_problem`, every hyper-parameter
through :func:`check_scalar`; both raise ``ValueError``/``TypeError`` naming
the offending argument.
"""
import numbers
from dataclasses import dataclass

import array_api_compat
import numpy as np
import scipy.sparse

from ._array import same_namespace
from .operators import Dense, Kron, Operator, as_operator

__all__ = ["Problem", "check_array", "check_bool", "check_operator", "check_problem",
           "check_scalar", "check_sparsity"]


def check_array(a, name, *, ndims=(1, 2, 3), allow_bool=True):
    """Validate one numeric array and return it as a floating array.

    NumPy-like input (lists, memmaps, object arrays of numbers) becomes a NumPy
    array; array-API arrays (CuPy, array_api_strict) stay in their namespace.
    Integers (and booleans, where allowed) are converted to float64, float16 to
    float32; float32/complex64 are kept; extended precision is refused.

    Parameters
    ----------
    a : array-like
    name : str
        Argument name used in error messages.
    ndims : tuple of int
        Allowed numbers of dimensions.
    allow_bool : bool
        Accept a boolean array (as 0/1).  Sensing matrices refuse it: a
        boolean ``A`` is almost always a support mask passed by mistake.

    Returns
    -------
    array
        Real or complex floating array with finite entries.
    """
    if a is None:
        raise ValueError(f"requires {name} to be passed, but the target {name} is None")
    if not allow_bool and _is_bool(a):
        raise TypeError(f"{name} is a boolean array; pass a numeric matrix (e.g. "
                        f"{name}.astype(float) if 0/1 entries are meant)")
    if array_api_compat.is_array_api_obj(a) and not isinstance(a, np.ndarray):
        arr = _check_namespace_array(a, name)
    else:
        arr = _check_numpy_array(a, name)
    if arr.ndim not in ndims:
        hint = "; Reshape your data (e.g. a.reshape(-1, 1) for a single column)" \
            if arr.ndim < min(ndims) else ""
        raise ValueError(f"{name} must have {' or '.join(map(str, ndims))} dimensions, "
                         f"got shape {tuple(arr.shape)}{hint}")
    if arr.ndim >= 1 and arr.shape[-1] == 0 and arr.ndim >= 2:
        raise ValueError(f"{name} has 0 feature(s) (shape={tuple(arr.shape)}) while a minimum "
                         "of 1 is required.")
    if any(s == 0 for s in arr.shape):
        raise ValueError(f"{name} has 0 sample(s) (shape={tuple(arr.shape)}) while a minimum "
                         "of 1 is required.")
    xp = array_api_compat.array_namespace(arr)
    finite = xp.isfinite(arr)
    if not bool(xp.all(finite)):
        kind = "NaN" if bool(xp.any(xp.isnan(arr))) else "infinity"
        raise ValueError(f"{name} contains {kind}; every entry must be finite")
    return arr


def _is_bool(a):
    dtype = getattr(a, "dtype", None)
    if dtype is None:
        return False
    try:
        return np.dtype(dtype) == np.bool_
    except TypeError:
        return array_api_compat.array_namespace(a).isdtype(dtype, "bool")


def _check_numpy_array(a, name):
    try:
        arr = np.asarray(a)
    except ValueError as err:   # ragged nested sequences
        raise ValueError(f"{name} must be a rectangular array; its rows have different "
                         f"lengths ({err})") from err
    kind = arr.dtype.kind
    if kind in "fc":
        if arr.dtype.itemsize > (8 if kind == "f" else 16):
            raise TypeError(f"{name} has extended precision dtype {arr.dtype}; convert it to "
                            "float64 or complex128")
        if arr.dtype == np.float16:
            return arr.astype(np.float32)
        return arr
    if kind in "iub":
        return arr.astype(np.float64)
    if kind == "O":
        try:
            return arr.astype(np.float64)
        except TypeError as err:
            try:
                return arr.astype(np.complex128)
            except (TypeError, ValueError):
                raise TypeError(f"{name} must contain numbers: {err}") from err
        except ValueError as err:
            raise TypeError(f"{name} must contain numbers: {err}") from err
    raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")


def _check_namespace_array(a, name):
    xp = array_api_compat.array_namespace(a)
    if xp.isdtype(a.dtype, ("real floating", "complex floating")):
        return a
    if xp.isdtype(a.dtype, ("integral", "bool")):
        return xp.astype(a, xp.float64)
    raise TypeError(f"{name} must be a numeric array, got dtype {a.dtype}")


@dataclass(frozen=True)
class Problem:
    """A validated problem: the operator and the measurements in solver layout.

    Attributes
    ----------
    op : Operator
    Y : array
        ``(m, L)`` for a shared operator, ``(B, m, L)`` for a stack.
    squeeze : bool
        True when the user passed no ``L`` axis (``y`` of shape ``(m,)`` or ``(B, m)``).
    """

    op: Operator
    Y: object
    squeeze: bool

    def restore(self, X):
        """Give solver output ``(*batch, n, L)`` the layout of the user's ``y``."""
        return X[..., 0] if self.squeeze else X


def check_problem(A, y, *, A_name="A", y_name="y"):
    """Validate a measurement model ``y = A x`` and return a :class:`Problem`.

    Parameters
    ----------
    A : array of shape ``(m, n)`` or ``(B, m, n)``, Operator, or LinearOperator
        Sensing matrix, stack of matrices, or matrix-free operator.
    y : array of shape ``(m,)``, ``(m, L)``, ``(B, m)`` or ``(B, m, L)``
        Measurements; the leading ``B`` axis goes with a stacked ``A``.

    Returns
    -------
    Problem
        ``A`` itself when it already is a :class:`Problem` (then ``y`` must be None).
    """
    if isinstance(A, Problem):
        if y is not None:
            raise ValueError(f"{y_name} must be None when {A_name} is a validated Problem")
        return A
    op = check_operator(A, A_name)
    Y = check_array(y, y_name)
    nb = len(op.batch_shape)
    m = op.shape[0]
    if Y.ndim not in (nb + 1, nb + 2):
        want = "(m,) or (m, L)" if nb == 0 else "(B, m) or (B, m, L)"
        raise ValueError(f"{y_name} must have shape {want} for {A_name} of shape "
                         f"{op.batch_shape + op.shape}, got {tuple(Y.shape)}")
    if tuple(Y.shape[:nb]) != op.batch_shape or Y.shape[nb] != m:
        raise ValueError(f"{y_name} of shape {tuple(Y.shape)} does not match {A_name} of shape "
                         f"{op.batch_shape + op.shape}: {y_name} needs {m} measurements"
                         + (f" for each of the {op.batch_shape[0]} problems" if nb else ""))
    xp = op.xp
    if not same_namespace(xp, Y):
        raise TypeError(f"{y_name} and {A_name} must come from the same array library")
    dtype = xp.result_type(op.dtype, Y.dtype)
    if Y.dtype != dtype:
        Y = xp.astype(Y, dtype)
    squeeze = Y.ndim == nb + 1
    if squeeze:
        Y = Y[..., None]
    return Problem(op=op, Y=Y, squeeze=squeeze)


def check_operator(A, name="A"):
    """Validate a sensing matrix / operator and return an :class:`Operator`.

    Parameters
    ----------
    A : array-like, scipy sparse matrix, LinearOperator-like or Operator
        Explicit entries (of arrays, sparse matrices, ``Dense`` and ``Kron``
        operators) are checked for NaN and infinity; matrix-free operators
        cannot be.
    name : str
        Argument name used in error messages.

    Returns
    -------
    Operator
    """
    if isinstance(A, Operator):
        for part in _explicit_entries(A):
            xp = A.xp
            if not bool(xp.all(xp.isfinite(part))):
                raise ValueError(f"{name} contains NaN or infinity; every entry must be finite")
        return A
    if A is None:
        raise ValueError(f"{name} is required, got None")
    if scipy.sparse.issparse(A):
        A = A.tocsr()
        if A.nnz:
            check_array(A.data, name, ndims=(1,))
        A = A.astype(np.float64) if A.dtype.kind in "iub" else A
        if A.ndim != 2 or 0 in A.shape:
            raise ValueError(f"{name} must be a non-empty 2-D sparse matrix, got shape {A.shape}")
    if scipy.sparse.issparse(A) or (hasattr(A, "matvec") and hasattr(A, "rmatvec")
                                    and hasattr(A, "shape") and not isinstance(A, np.ndarray)):
        op = as_operator(A)
        if 0 in op.shape:
            raise ValueError(f"{name} is empty (shape {op.shape})")
        return op
    return Dense(check_array(A, name, ndims=(2, 3), allow_bool=False))


def _explicit_entries(op):
    if isinstance(op, Dense):
        return [op.A]
    if isinstance(op, Kron):
        return list(op.factors)
    return []


def check_bool(value, name):
    """Validate a flag: ``True`` or ``False`` (NumPy booleans too).

    Parameters
    ----------
    value : object
    name : str
        Argument name used in error messages.

    Returns
    -------
    bool
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_sparsity(k, n, name="k"):
    """Validate a sparsity level ``1 <= k <= n``.

    Parameters
    ----------
    k : int or None
        ``None`` gives ``max(1, int(0.1 * n))``, scikit-learn's default for
        :class:`~sklearn.linear_model.OrthogonalMatchingPursuit`.
    n : int
        Number of unknowns (columns of ``A``).
    name : str
        Argument name used in error messages.

    Returns
    -------
    int
    """
    k = check_scalar(k, name, kind="int", low=1, allow_none=True)
    if k is None:
        return max(1, int(0.1 * n))
    if k > n:
        raise ValueError(f"{name}={k} exceeds the number of unknowns (columns of A) n={n}")
    return k


def check_scalar(value, name, *, kind="real", low=None, high=None, low_inclusive=True,
                 allow_none=False):
    """Validate a hyper-parameter and return it as a Python number.

    Parameters
    ----------
    value : object
    name : str
        Parameter name used in error messages.
    kind : {"real", "int"}
        Real numbers accept ints; ints reject floats with a fractional part.
    low, high : number or None
        Bounds (``high`` inclusive).
    low_inclusive : bool
        Whether ``value == low`` is allowed.
    allow_none : bool
        Return ``None`` for ``None`` instead of raising.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if kind == "int":
        if not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an integer, got {value!r}"
                            + (f" (write {int(value)})" if float(value).is_integer() else ""))
        value = int(value)
    else:
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        sign = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {sign} {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")
    return value
