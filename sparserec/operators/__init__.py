"""Measurement operators ``A``: explicit, stacked, Kronecker and matrix-free."""
import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from .base import Operator, dottest, power_iteration_norm
from .dense import Dense
from .kronecker import Kron
from .linear_operator import FromLinearOperator

__all__ = ["Operator", "Dense", "Kron", "FromLinearOperator", "as_operator", "dottest",
           "power_iteration_norm"]


def as_operator(A):
    """Turn ``A`` into an :class:`Operator`.

    Parameters
    ----------
    A : Operator, array, scipy sparse matrix or LinearOperator-like
        An :class:`Operator` is returned unchanged; 2-D/3-D arrays become
        :class:`Dense`; SciPy sparse matrices and objects with ``shape``,
        ``matvec`` and ``rmatvec`` (SciPy, PyLops) become
        :class:`FromLinearOperator`.

    Returns
    -------
    op : Operator
    """
    if isinstance(A, Operator):
        return A
    if scipy.sparse.issparse(A):
        return FromLinearOperator(scipy.sparse.linalg.aslinearoperator(A))
    if all(hasattr(A, a) for a in ("shape", "matvec", "rmatvec")) and not hasattr(A, "__array_namespace__") \
            and not isinstance(A, np.ndarray):
        return FromLinearOperator(A)
    return Dense(A)
