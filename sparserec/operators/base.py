"""The measurement-model interface every solver talks to."""
import numpy as np

from .._array import conj, real_dtype, sum_abs2

__all__ = ["Operator", "dottest", "power_iteration_norm"]

_POWER_SEED = 20240917


class Operator:
    """A linear map ``A`` of shape ``(m, n)``, or a stack of ``B`` such maps.

    Subclasses implement :meth:`_matmat` and :meth:`_rmatmat` on arrays of shape
    ``(*batch_shape, n, L)`` and ``(*batch_shape, m, L)``; everything else
    (vector inputs, adjoints, spectral norms) comes from this class.

    Parameters
    ----------
    shape : tuple of int
        ``(m, n)``: measurements by unknowns.
    dtype : dtype
        Dtype of the operator's entries (results promote with the input).
    xp : module
        Array namespace the operator computes in.
    batch_shape : tuple of int, optional
        ``()`` for one map shared by every problem, ``(B,)`` for a stack of
        ``B`` distinct maps (problem ``b`` uses map ``b``).
    """

    def __init__(self, shape, dtype, xp, batch_shape=()):
        m, n = (int(s) for s in shape)
        self.shape = (m, n)
        self.dtype = dtype
        self.xp = xp
        self.batch_shape = tuple(int(b) for b in batch_shape)
        self._norm2 = None

    # -- to be provided by subclasses -------------------------------------------
    def _matmat(self, X):
        raise NotImplementedError

    def _rmatmat(self, Y):
        raise NotImplementedError

    # -- public interface ------------------------------------------------------------
    @property
    def is_stacked(self):
        """True for a stack of distinct maps (``batch_shape == (B,)``)."""
        return bool(self.batch_shape)

    @property
    def is_complex(self):
        """True when the operator's entries are complex."""
        return self.xp.isdtype(self.dtype, "complex floating")

    def matvec(self, x):
        """Apply ``A`` to ``x`` of shape ``(*batch, n)`` or ``(*batch, n, L)``."""
        return self._apply(x, self.shape[1], self._matmat, "x")

    def rmatvec(self, y):
        """Apply ``A^H`` to ``y`` of shape ``(*batch, m)`` or ``(*batch, m, L)``."""
        return self._apply(y, self.shape[0], self._rmatmat, "y")

    def __matmul__(self, x):
        return self.matvec(x)

    @property
    def H(self):
        """The adjoint (conjugate transpose) operator."""
        return _Adjoint(self)

    def norm2(self):
        """Largest singular value of each map, shape ``batch_shape`` (cached).

        Returns
        -------
        sigma : array
            Spectral norm, one per map of the stack (a 0-d array when shared).
        """
        if self._norm2 is None:
            self._norm2 = self._compute_norm2()
        return self._norm2

    def take(self, indices):
        """The sub-stack of maps ``indices`` (stacked operators only).

        Parameters
        ----------
        indices : array of int
            Positions in the stack, in the operator's namespace.
        """
        raise ValueError(f"{type(self).__name__} is not a stack of operators; "
                         "take() needs batch_shape == (B,)")

    def column_norms(self):
        """Euclidean norm of every column, shape ``(*batch, n)``, or None.

        Solvers use it for diagonal preconditioning; operators that cannot
        give it cheaply (matrix-free ones) return None, and the solvers then
        run unpreconditioned.
        """
        return None

    def columns(self, indices, entry=None):
        """The explicit columns ``A[:, indices]``, shape ``(m, len(indices))``, or None.

        Working-set solvers use it to touch only a few atoms; matrix-free
        operators return None (they could only apply themselves to unit
        vectors) and those solvers fall back to methods that use ``A`` whole.

        Parameters
        ----------
        indices : numpy.ndarray of int
            Column positions.
        entry : int, optional
            Position in the stack (stacked operators only).
        """
        return None

    def gram_block(self, indices):
        """``(A^H A)[indices][:, indices]`` computed from structure, or None.

        Structured operators (``Kron``) give the block without the columns;
        the rest return None and solvers multiply the columns themselves.

        Parameters
        ----------
        indices : numpy.ndarray of int
        """
        return None

    def gram(self):
        """The Gram matrix ``A^H A`` explicitly, shape ``(*batch, n, n)``.

        This generic form applies ``A^H`` to the explicit matrix; structured
        operators override it (``Kron``: the Kronecker product of the factor
        Grams, never the product of the factors).
        """
        return self._rmatmat(self.todense())

    def todense(self):
        """The explicit matrix, shape ``(*batch, m, n)`` (for tests and small problems)."""
        xp = self.xp
        eye = xp.eye(self.shape[1], dtype=self.dtype)
        if self.batch_shape:
            eye = xp.broadcast_to(eye, self.batch_shape + eye.shape)
        return self._matmat(eye)

    def __repr__(self):
        stack = f", batch_shape={self.batch_shape}" if self.batch_shape else ""
        return f"{type(self).__name__}(shape={self.shape}{stack}, dtype={self.dtype})"

    # -- helpers ----------------------------------------------------------------------
    def _apply(self, x, size, fn, name):
        nb = len(self.batch_shape)
        if x.ndim not in (nb + 1, nb + 2):
            raise ValueError(f"{name} must have {nb + 1} or {nb + 2} dimensions for "
                             f"{self!r}, got shape {tuple(x.shape)}")
        if tuple(x.shape[:nb]) != self.batch_shape or x.shape[nb] != size:
            raise ValueError(f"{name} of shape {tuple(x.shape)} does not match {self!r}")
        if x.ndim == nb + 1:
            return fn(x[..., None])[..., 0]
        return fn(x)

    def _compute_norm2(self):
        return power_iteration_norm(self)


class _Adjoint(Operator):
    """``A^H`` of an operator, sharing its storage."""

    def __init__(self, op):
        super().__init__(op.shape[::-1], op.dtype, op.xp, op.batch_shape)
        self._op = op

    def _matmat(self, X):
        return self._op._rmatmat(X)

    def _rmatmat(self, Y):
        return self._op._matmat(Y)

    @property
    def H(self):
        return self._op

    def norm2(self):
        return self._op.norm2()

    def take(self, indices):
        return _Adjoint(self._op.take(indices))


def _start_vector(op, n):
    """A fixed pseudo-random start vector, identical for every map of a stack.

    Using the same vector for every problem makes the step size of problem ``b``
    in a stack equal to the one it gets when solved alone.
    """
    xp = op.xp
    rng = np.random.default_rng(_POWER_SEED)
    v = rng.standard_normal(n)
    if op.is_complex:
        v = v + 1j * rng.standard_normal(n)
    v = xp.asarray(v / np.linalg.norm(v), dtype=op.dtype)
    v = xp.reshape(v, (n, 1))
    if op.batch_shape:
        v = xp.broadcast_to(v, op.batch_shape + (n, 1))
    return v


def power_iteration_norm(op, *, max_iter=500, rtol=1e-10):
    """Spectral norm of each map of ``op`` by power iteration on ``A^H A``.

    Every map of a stack iterates until its own estimate settles (finished maps
    are frozen), so a map's norm does not depend on the rest of the stack.

    Parameters
    ----------
    op : Operator
    max_iter : int
        Iteration cap.
    rtol : float
        Relative change of the eigenvalue estimate that ends the iteration.

    Returns
    -------
    sigma : array of shape ``op.batch_shape``
    """
    xp = op.xp
    v = _start_vector(op, op.shape[1])
    lam = xp.zeros(op.batch_shape + (1, 1), dtype=real_dtype(xp, op.dtype))
    for _ in range(max_iter):
        w = op._rmatmat(op._matmat(v))
        new = xp.sqrt(sum_abs2(xp, w, axis=-2))
        done = xp.abs(new - lam) <= rtol * new
        safe = xp.where(new > 0, new, xp.ones_like(new))
        v = xp.where(done, v, w / xp.astype(safe, w.dtype))
        lam = xp.where(done, lam, new)
        if bool(xp.all(done)):
            break
    return xp.sqrt(lam[..., 0, 0])


def dottest(op, *, n_columns=3, rtol=1e-10, random_state=0):
    """Check ``<A x, y> == <x, A^H y>`` on random (complex) vectors.

    Parameters
    ----------
    op : Operator
    n_columns : int
        Number of right-hand sides tested at once.
    rtol : float
        Allowed relative mismatch.
    random_state : int or numpy.random.Generator

    Returns
    -------
    error : float
        The largest relative mismatch found.

    Raises
    ------
    AssertionError
        When the mismatch exceeds ``rtol``.
    """
    xp = op.xp
    rng = np.random.default_rng(random_state)
    m, n = op.shape

    def draw(size):
        a = rng.standard_normal(op.batch_shape + (size, n_columns))
        if op.is_complex:
            a = a + 1j * rng.standard_normal(a.shape)
        return xp.asarray(a, dtype=op.dtype)

    x, y = draw(n), draw(m)
    Ax, AHy = op.matvec(x), op.rmatvec(y)
    lhs = xp.sum(conj(xp, y) * Ax, axis=-2)
    rhs = xp.sum(conj(xp, AHy) * x, axis=-2)
    scale = xp.sqrt(xp.sum(xp.abs(Ax) ** 2, axis=-2) * xp.sum(xp.abs(y) ** 2, axis=-2))
    err = float(xp.max(xp.abs(lhs - rhs) / scale))
    if not err <= rtol:
        raise AssertionError(f"dot test failed for {op!r}: relative mismatch {err:.3e}")
    return err
