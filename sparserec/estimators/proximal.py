"""ISTA, FISTA and IHT estimators (scikit-learn API over :mod:`sparserec.solvers.proximal`)."""
from sklearn.base import BaseEstimator, RegressorMixin

from .._validation import check_bool, check_scalar, check_sparsity
from ..solvers.proximal import fista, iht, ista
from ._base import SparseRecoveryMixin, l1_weight

__all__ = ["ISTA", "FISTA", "IHT"]


class _Lasso(SparseRecoveryMixin, RegressorMixin, BaseEstimator):
    """Common parameter mapping of the l1 estimators."""

    def _solve_kwargs(self, problem, callback):
        return dict(lam=l1_weight(self.alpha, problem.op.shape[0]), max_iter=self.max_iter,
                    tol=self.tol,
                    check_every=self.check_every, x0=self._warm_start_x0(problem),
                    callback=callback)


class ISTA(_Lasso):
    """Lasso by iterative shrinkage-thresholding (real or complex, batched).

    Minimises ``1/(2m) ||y - A x||^2 + alpha ||x||_1`` for every measurement
    vector, exactly the objective of :class:`sklearn.linear_model.Lasso`
    (``fit_intercept=False``), with ``|x_i|`` the modulus for complex data.

    Parameters
    ----------
    alpha : float, default=1.0
        Non-negative l1 weight, scaled as in scikit-learn's Lasso.
    max_iter : int, default=5000
    tol : float, default=1e-4
        Stop once the duality gap is ``<= tol * ||y||^2`` (Lasso's criterion).
    check_every : int, default=10
        Iterations between duality-gap evaluations.
    warm_start : bool, default=False
        Start from the previous ``coef_`` when its shape fits (regularisation
        paths, tracking); otherwise from zero.

    Attributes
    ----------
    coef_ : array of shape ``(n,)`` or ``(L, n)`` (``(B, n)``/``(B, L, n)`` for stacks)
    n_iter_ : int or ndarray
        Iterations per problem.
    converged_ : bool or ndarray
    history_ : ndarray of shape ``(n_checks, 2)``
        Iteration and largest stopping criterion over the running problems at
        each check (the convergence trace).
    intercept_ : float
        Always 0.0 (no intercept is fitted).
    n_features_in_ : int

    Examples
    --------
    >>> from sparserec import ISTA, simulate
    >>> prob = simulate.gaussian_cs(m=60, n=128, k=5, snr_db=40, random_state=0)
    >>> ISTA(alpha=1e-3).fit(prob.A, prob.y).coef_.shape
    (128,)
    """

    def __init__(self, alpha=1.0, *, max_iter=5000, tol=1e-4, check_every=10, warm_start=False):
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.check_every = check_every
        self.warm_start = warm_start

    def _solve(self, problem, callback):
        return ista(problem, None, **self._solve_kwargs(problem, callback))


class FISTA(_Lasso):
    """Lasso by FISTA with adaptive restart (real or complex, batched).

    Same objective, ``alpha`` and ``tol`` as :class:`ISTA` and
    :class:`sklearn.linear_model.Lasso`; ``A`` may be an array, a stack
    ``(B, m, n)`` or any operator (e.g. :class:`sparserec.operators.Kron`).

    Parameters
    ----------
    alpha : float, default=1.0
    max_iter : int, default=1000
    tol : float, default=1e-4
    restart : bool, default=True
        Adaptive (gradient) restart of the momentum.
    check_every : int, default=10
    warm_start : bool, default=False
        As in :class:`ISTA`.

    Attributes
    ----------
    coef_, n_iter_, converged_, history_, intercept_, n_features_in_ :
        As in :class:`ISTA`.

    Examples
    --------
    >>> from sparserec import FISTA, simulate
    >>> prob = simulate.gaussian_cs(m=100, n=256, k=10, snr_db=30, random_state=0)
    >>> est = FISTA(alpha=1e-3).fit(prob.A, prob.y)
    >>> est.coef_.shape
    (256,)
    """

    def __init__(self, alpha=1.0, *, max_iter=1000, tol=1e-4, restart=True, check_every=10,
                 warm_start=False):
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.restart = restart
        self.check_every = check_every
        self.warm_start = warm_start

    def _solve(self, problem, callback):
        return fista(problem, None, restart=check_bool(self.restart, "restart"),
                     **self._solve_kwargs(problem, callback))


class IHT(SparseRecoveryMixin, RegressorMixin, BaseEstimator):
    """Iterative hard thresholding, fixed sparsity or l0 penalty; normalized IHT.

    With ``n_nonzero_coefs`` it solves ``min ||y - A x||`` s.t. at most that
    many non-zeros; with ``alpha`` it minimises
    ``1/(2m) ||y - A x||^2 + alpha ||x||_0`` (Lasso scaling).

    Parameters
    ----------
    n_nonzero_coefs : int, optional
        Sparsity level; defaults to ``max(1, n // 10)`` (as
        :class:`sklearn.linear_model.OrthogonalMatchingPursuit`) when ``alpha``
        is not given either.
    alpha : float, optional
        l0 weight; mutually exclusive with ``n_nonzero_coefs``.
    normalized : {"auto", True, False}, default="auto"
        Normalized IHT (Blumensath & Davies 2010: exact line search on the
        support, backtracking when it changes) needs no rescaling of ``A`` and
        recovers far more reliably than a fixed ``1/||A||^2`` step; ``"auto"``
        uses it with ``n_nonzero_coefs`` and the fixed step with ``alpha``.
    max_iter : int, default=1000
    tol : float, default=1e-6
        Stop once ``||x_{t+1} - x_t|| <= tol ||x_{t+1}||``.
    check_every : int, default=1
    warm_start : bool, default=False
        As in :class:`ISTA`.

    Attributes
    ----------
    coef_, n_iter_, converged_, history_, intercept_, n_features_in_ :
        As in :class:`ISTA`.
    """

    def __init__(self, n_nonzero_coefs=None, *, alpha=None, normalized="auto", max_iter=1000,
                 tol=1e-6, check_every=1, warm_start=False):
        self.n_nonzero_coefs = n_nonzero_coefs
        self.alpha = alpha
        self.normalized = normalized
        self.max_iter = max_iter
        self.tol = tol
        self.check_every = check_every
        self.warm_start = warm_start

    def _solve(self, problem, callback):
        m, n = problem.op.shape
        if self.n_nonzero_coefs is not None and self.alpha is not None:
            raise ValueError("give n_nonzero_coefs or alpha, not both")
        if self.alpha is not None:
            k, lam = None, check_scalar(self.alpha, "alpha", low=0) * m
        else:
            k, lam = check_sparsity(self.n_nonzero_coefs, n, "n_nonzero_coefs"), None
        if self.normalized not in ("auto", True, False):
            raise ValueError(f"normalized must be 'auto', True or False, got {self.normalized!r}")
        normalized = k is not None if self.normalized == "auto" else bool(self.normalized)
        return iht(problem, None, k=k, lam=lam, normalized=normalized,
                   max_iter=self.max_iter, tol=self.tol, check_every=self.check_every,
                   x0=self._warm_start_x0(problem), callback=callback)
