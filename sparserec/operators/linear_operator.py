"""Adapter for matrix-free operators of SciPy, PyLops and friends (NumPy only)."""
import array_api_compat.numpy
import numpy as np

from .base import Operator

__all__ = ["FromLinearOperator"]


class FromLinearOperator(Operator):
    """Wrap anything with ``shape``, ``matvec`` and ``rmatvec`` (SciPy/PyLops).

    Parameters
    ----------
    op : scipy.sparse.linalg.LinearOperator or compatible
        Uses ``matmat``/``rmatmat`` when present, column-by-column
        ``matvec``/``rmatvec`` otherwise.  Computes with NumPy arrays.
    """

    def __init__(self, op):
        if len(op.shape) != 2:
            raise ValueError(f"the linear operator must be 2-D, got shape {op.shape}")
        m, n = op.shape
        dtype = getattr(op, "dtype", None)
        if dtype is None:  # infer it as SciPy does: apply the operator to zeros
            dtype = np.asarray(op.matvec(np.zeros(n))).dtype
        dtype = np.dtype(dtype)
        if dtype.kind not in "fc":
            dtype = np.dtype(np.float64)
        try:
            adjoint = np.asarray(op.rmatvec(np.zeros(m, dtype=dtype)))
        except (NotImplementedError, TypeError, AttributeError) as err:
            raise ValueError("A: the linear operator has no adjoint (rmatvec); the solvers "
                             f"need A^H ({err})") from err
        except ValueError as err:   # e.g. SciPy reshaping an output of the wrong size
            raise ValueError(f"A: rmatvec (the adjoint) of the linear operator of shape "
                             f"{op.shape} failed on {m} values: {err}") from err
        try:
            image = np.asarray(op.matvec(np.zeros(n, dtype=dtype)))
        except ValueError as err:
            raise ValueError(f"A: matvec of the linear operator of shape {op.shape} failed on "
                             f"{n} values: {err}") from err
        for what, out, size in (("matvec", image, m), ("rmatvec (the adjoint)", adjoint, n)):
            if out.size != size:
                raise ValueError(f"A: the linear operator of shape {op.shape} returned "
                                 f"{out.size} values from {what}; expected {size}")
        super().__init__(op.shape, dtype, array_api_compat.numpy)
        self.op = op

    def _columns(self, fn_mat, fn_vec, X):
        if fn_mat is not None:
            return np.asarray(fn_mat(X)).reshape(-1, X.shape[1])
        return np.stack([np.asarray(fn_vec(X[:, j])).ravel() for j in range(X.shape[1])], axis=1)

    def _matmat(self, X):
        return self._columns(getattr(self.op, "matmat", None), self.op.matvec, X)

    def _rmatmat(self, Y):
        return self._columns(getattr(self.op, "rmatmat", None), self.op.rmatvec, Y)
