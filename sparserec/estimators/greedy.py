"""Orthogonal matching pursuit estimator (scikit-learn API over :mod:`sparserec.solvers.greedy`)."""
from sklearn.base import BaseEstimator, RegressorMixin

from ..solvers.greedy import omp, resolve_sparsity
from ._base import SparseRecoveryMixin

__all__ = ["OMP"]


class OMP(SparseRecoveryMixin, RegressorMixin, BaseEstimator):
    """Orthogonal matching pursuit, batched over targets, stacks and complex data.

    A drop-in for :class:`sklearn.linear_model.OrthogonalMatchingPursuit`
    with ``fit_intercept=False``: it solves
    ``min ||y - A x||^2`` subject to ``||x||_0 <= n_nonzero_coefs``, or
    ``min ||x||_0`` subject to ``||y - A x||^2 <= tol``, greedily, and gives
    the same coefficients.  All targets (columns of ``y``) and all problems of
    a stack ``A`` of shape ``(B, m, n)`` are solved together, each with its own
    support, on any array library (NumPy, CuPy, ...) and for complex data.

    Parameters
    ----------
    n_nonzero_coefs : int, default=None
        Number of non-zero coefficients (atoms) per target, at most the number
        of samples and of features.  Ignored when ``tol`` is set.  When both
        are None it is ``max(1, int(0.1 * n_features))`` (at most
        ``n_samples``), as in scikit-learn.
    tol : float, default=None
        Largest squared residual norm ``||y - A x||^2``; overrides
        ``n_nonzero_coefs``.  A target whose ``||y||^2 <= tol`` gets
        ``coef_ = 0`` (scikit-learn still selects one atom).

    Attributes
    ----------
    coef_ : ndarray of shape ``(n,)`` or ``(L, n)`` (``(B, n)``/``(B, L, n)`` for stacks)
        Coefficients, in the namespace of ``A``.
    n_iter_ : int or ndarray of int
        Number of atoms selected per target (below ``n_nonzero_coefs`` when
        the residual vanished earlier).
    n_nonzero_coefs_ : int or None
        The sparsity actually used, None when ``tol`` is set.
    converged_ : bool or ndarray of bool
        False where the selected atoms became linearly dependent before the
        stopping rule was met, or ``tol`` was out of reach.
    intercept_ : float
        Always 0.0 (no intercept is fitted).
    n_features_in_ : int
        Number of columns of ``A``.

    See Also
    --------
    sparserec.solvers.omp : The solver, with a ``precompute`` option.
    sklearn.linear_model.OrthogonalMatchingPursuit : The reference implementation.

    Notes
    -----
    The atom selected at each step maximises ``|a_j^H r|`` (columns are
    assumed to have comparable norms, as in scikit-learn); the least-squares
    refit is a Cholesky update, so a step costs ``O(n k)`` per target once
    ``A^H A`` is precomputed (done automatically for many targets).

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec import OMP
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((50, 100))
    >>> x = np.zeros(100)
    >>> x[[7, 42, 81]] = [1.5, -2.0, 0.5]
    >>> est = OMP(n_nonzero_coefs=3).fit(A, A @ x)
    >>> np.flatnonzero(est.coef_).tolist()
    [7, 42, 81]
    >>> bool(np.allclose(est.coef_, x))
    True
    """

    def __init__(self, n_nonzero_coefs=None, *, tol=None):
        self.n_nonzero_coefs = n_nonzero_coefs
        self.tol = tol

    def _solve(self, problem, callback):
        if callback is not None:
            raise ValueError("OMP takes no callback: its iterations are atoms, and "
                             "OMP(n_nonzero_coefs=t) gives the estimate after t of them")
        m, n = problem.op.shape
        k, tol = resolve_sparsity(self.n_nonzero_coefs, self.tol, m, n,
                                  k_name="n_nonzero_coefs", allow_both=True)
        self.n_nonzero_coefs_ = k
        return omp(problem, None, k=k, tol=tol)
