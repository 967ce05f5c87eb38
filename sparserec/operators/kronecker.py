"""Kronecker products ``A_1 ⊗ A_2 ⊗ ... ⊗ A_I`` applied without forming them."""
import math

from .._array import conj, get_namespace
from .base import Operator

__all__ = ["Kron"]


class Kron(Operator):
    """The Kronecker product of any number of matrix factors.

    ``Kron(A1, A2) @ x`` equals ``np.kron(A1, A2) @ x`` where ``x`` is the
    row-major (C-order) vectorisation of an ``(n1, n2)`` array, computed as
    mode products (``A1 X A2^T``) in ``O(sum_i m_i * prod n)`` operations.

    Parameters
    ----------
    *factors : arrays of shape ``(m_i, n_i)``
        Real or complex matrices of one array library.

    Attributes
    ----------
    factors : tuple of arrays
        The factors, exposed for structure-aware solvers (KroSBL).
    """

    def __init__(self, *factors):
        if not factors:
            raise ValueError("Kron needs at least one factor")
        xp = get_namespace(*factors)
        for i, f in enumerate(factors):
            if f.ndim != 2:
                raise ValueError(f"Kron factor {i} must be 2-D, got shape {tuple(f.shape)}")
        dtype = xp.result_type(*factors)
        shape = (math.prod(f.shape[0] for f in factors), math.prod(f.shape[1] for f in factors))
        super().__init__(shape, dtype, xp)
        self.factors = tuple(factors)
        self._factor_grams = None

    def _mode_products(self, X, mats, in_sizes):
        """Apply ``mats[i]`` along axis ``i`` of ``X`` reshaped to ``in_sizes``."""
        xp = self.xp
        L = X.shape[-1]
        T = xp.reshape(X, tuple(in_sizes) + (L,))
        for M in mats:
            # contract the leading mode; the new mode goes last, so after all
            # factors the axes are (L, out_1, ..., out_I)
            T = xp.tensordot(T, M, axes=([0], [1]))
        T = xp.permute_dims(T, tuple(range(1, len(mats) + 1)) + (0,))
        return xp.reshape(T, (-1, L))

    def _matmat(self, X):
        return self._mode_products(X, self.factors, [f.shape[1] for f in self.factors])

    def _rmatmat(self, Y):
        xp = self.xp
        adj = [conj(xp, xp.matrix_transpose(f)) for f in self.factors]
        return self._mode_products(Y, adj, [f.shape[0] for f in self.factors])

    def column_norms(self):
        """Column norms: the Kronecker product of the factors' column norms."""
        from .dense import Dense
        return _kron_vectors(self.xp, [Dense(f).column_norms() for f in self.factors])

    def gram(self):
        """``A^H A`` as the Kronecker product of the factor Grams ``A_i^H A_i``.

        Costs ``O(sum_i m_i n_i^2 + n^2)``; the ``(m, n)`` product of the
        factors is never formed.
        """
        from .dense import Dense
        xp = self.xp
        G = None
        for f in self.factors:
            Gi = Dense(f).gram()
            if G is None:
                G = Gi
                continue
            a, b = G.shape[0], Gi.shape[0]
            G = xp.reshape(G[:, None, :, None] * Gi[None, :, None, :], (a * b, a * b))
        return G

    def todense(self):
        """The explicit product, shape ``(m, n)``, from the factors (``O(m n)``: no
        ``n x n`` identity pushed through the operator)."""
        xp = self.xp
        out = self.factors[0]
        for f in self.factors[1:]:
            a, b = out.shape
            c, d = f.shape
            out = xp.reshape(out[:, None, :, None] * f[None, :, None, :], (a * c, b * d))
        return out

    def _factor_indices(self, indices):
        import numpy as np
        return np.unravel_index(np.asarray(indices), tuple(f.shape[1] for f in self.factors))

    def columns(self, indices, entry=None):
        """Columns of the product from the factors' columns, shape ``(m, w)``: each is
        the Kronecker product of one column per factor (``O(m w)``)."""
        xp = self.xp
        out = None
        for f, idx in zip(self.factors, self._factor_indices(indices)):
            c = xp.take(f, xp.asarray(idx), axis=1)
            out = c if out is None else xp.reshape(out[:, None, :] * c[None, :, :],
                                                   (-1, c.shape[1]))
        return out

    def gram_block(self, indices):
        """``G[indices][:, indices]`` as the entrywise product of factor-Gram blocks
        (``O(I w^2)``; the factor Grams are formed once and kept)."""
        from .dense import Dense
        if self._factor_grams is None:
            self._factor_grams = [Dense(f).gram() for f in self.factors]
        xp = self.xp
        out = None
        for G, idx in zip(self._factor_grams, self._factor_indices(indices)):
            idx = xp.asarray(idx)
            block = xp.take(xp.take(G, idx, axis=0), idx, axis=1)
            out = block if out is None else out * block
        return out

    def _compute_norm2(self):
        from .dense import Dense
        norm = 1.0
        for f in self.factors:
            norm = norm * Dense(f).norm2()
        return norm


def _kron_vectors(xp, vectors):
    """``v_1 ⊗ v_2 ⊗ ...`` of 1-D arrays (C order, matching :class:`Kron`)."""
    out = vectors[0]
    for v in vectors[1:]:
        out = xp.reshape(out[:, None] * v[None, :], (-1,))
    return out
