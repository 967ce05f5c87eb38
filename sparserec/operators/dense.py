"""Explicit matrices: one shared ``(m, n)`` matrix or a stack ``(B, m, n)``."""
import numpy as np

from .._array import conj, get_namespace, is_numpy, sum_abs2
from .base import Operator

__all__ = ["Dense"]


class Dense(Operator):
    """An explicit matrix ``A`` (``(m, n)``) or a stack of them (``(B, m, n)``).

    Parameters
    ----------
    A : array of shape ``(m, n)`` or ``(B, m, n)``
        Real or complex floating array of any array-API library; it is stored
        as given (no copy) and the operator computes in its namespace.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.operators import Dense
    >>> op = Dense(np.ones((3, 4)))
    >>> op.matvec(np.ones(4))
    array([4., 4., 4.])
    """

    def __init__(self, A):
        xp = get_namespace(A)
        if A.ndim not in (2, 3):
            raise ValueError(f"A must be 2-D (m, n) or 3-D (B, m, n), got shape {tuple(A.shape)}")
        super().__init__(A.shape[-2:], A.dtype, xp, A.shape[:-2])
        self.A = A
        self._AH = None
        self._AT_rows = None

    @property
    def _adjoint_matrix(self):
        if self._AH is None:
            self._AH = conj(self.xp, self.xp.matrix_transpose(self.A))
        return self._AH

    def _matmat(self, X):
        return self.A @ X

    def _rmatmat(self, Y):
        return self._adjoint_matrix @ Y

    def _compute_norm2(self):
        """Exact spectral norms from the eigenvalues of the smaller Gram matrix
        (power iteration when both sides exceed 2048)."""
        xp = self.xp
        m, n = self.shape
        if min(m, n) > 2048:
            return super()._compute_norm2()
        gram = self.A @ self._adjoint_matrix if m <= n else self._adjoint_matrix @ self.A
        top = xp.linalg.eigvalsh(gram)[..., -1]
        return xp.sqrt(xp.clip(top, min=0.0))

    def column_norms(self):
        """Euclidean norm of every column, shape ``(*batch, n)`` (no overflow for huge
        entries: columns whose plain sum of squares over- or underflows are rescaled)."""
        xp = self.xp
        with np.errstate(over="ignore", under="ignore"):    # such columns are redone below
            if isinstance(self.A, np.ndarray):     # no temporary of the size of A
                sq = np.einsum("...mn,...mn->...n", self.A.conj(), self.A).real[..., None, :]
            else:
                sq = sum_abs2(xp, self.A, -2)
        tiny = float(xp.finfo(sq.dtype).smallest_normal) ** 0.5
        bad = ~xp.isfinite(sq) | (sq < tiny)
        if bool(xp.any(bad)):
            big = xp.max(xp.abs(self.A), axis=-2, keepdims=True)
            big = xp.where(big > 0, big, xp.ones_like(big))
            safe = big * xp.sqrt(sum_abs2(xp, self.A / xp.astype(big, self.A.dtype), -2))
            return xp.where(bad, safe, xp.sqrt(sq))[..., 0, :]
        return xp.sqrt(sq)[..., 0, :]

    def gram(self):
        """``A^H A``, shape ``(*batch, n, n)``."""
        return self._adjoint_matrix @ self.A

    def columns(self, indices, entry=None):
        """``A[:, indices]`` (of stack entry ``entry`` for a stack), shape ``(m, w)``.

        For one shared NumPy matrix that is not column-major, the first call keeps a
        row-major copy of ``A^T`` (one more ``m n`` array), so that every later gather
        copies contiguous rows instead of striding through ``A``; the result is then a
        column-major view of that gather."""
        A = self.A if entry is None else self.A[entry]
        if entry is None and is_numpy(self.xp) and not A.flags.f_contiguous:
            if self._AT_rows is None:
                self._AT_rows = np.ascontiguousarray(A.T)
            return self._AT_rows[np.asarray(indices)].T
        return self.xp.take(A, self.xp.asarray(indices), axis=-1)

    def take(self, indices):
        """The sub-stack of matrices ``indices`` (stacked operators only)."""
        if not self.is_stacked:
            return super().take(indices)
        return Dense(self.xp.take(self.A, indices, axis=0))

    def todense(self):
        """The matrix itself."""
        return self.A
