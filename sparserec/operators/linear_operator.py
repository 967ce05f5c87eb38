"""Adapter for matrix-free operators of SciPy, PyLops and friends (NumPy only)."""
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
        dtype = np.dtype(getattr(op, "dtype", None) or np.float64)
        if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.complexfloating)):
            dtype = np.dtype(np.float64)
        super().__init__(op.shape, dtype, np)
        self.op = op

    def _columns(self, fn_mat, fn_vec, X):
        if fn_mat is not None:
            return np.asarray(fn_mat(X)).reshape(-1, X.shape[1])
        return np.stack([np.asarray(fn_vec(X[:, j])).ravel() for j in range(X.shape[1])], axis=1)

    def _matmat(self, X):
        return self._columns(getattr(self.op, "matmat", None), self.op.matvec, X)

    def _rmatmat(self, Y):
        return self._columns(getattr(self.op, "rmatmat", None), self.op.rmatvec, Y)
