"""Lasso estimators on the working-set solver: ``Lasso`` and ``LassoCV``."""
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import check_cv

from .._validation import Problem, check_bool, check_scalar
from ..operators import Dense
from ..solvers._engine import Result
from ..solvers.working_set import lasso, lasso_path
from ._base import SparseRecoveryMixin, l1_weight

__all__ = ["Lasso", "LassoCV"]


class Lasso(SparseRecoveryMixin, RegressorMixin, BaseEstimator):
    """Lasso by working sets, gap-safe screening and Anderson-accelerated coordinate descent.

    Minimises ``1/(2m) ||y - A x||^2 + alpha ||x||_1`` for every measurement vector
    (the objective of :class:`sklearn.linear_model.Lasso` with
    ``fit_intercept=False``; moduli for complex data), certified by the duality gap
    of the full problem like :class:`FISTA`, at a cost that grows with the support
    (:func:`sparserec.solvers.lasso`).  ``A`` may be an array, a stack, a
    :class:`~sparserec.operators.Kron` or a matrix-free operator (FISTA then).

    Parameters
    ----------
    alpha : float, default=1.0
        Non-negative l1 weight, scaled as in scikit-learn's Lasso.
    max_iter : int, default=100
        Outer (working-set) iterations.
    tol : float, default=1e-4
        Stop once the duality gap is ``<= tol * ||y||^2``.
    screening : bool, default=True
        Gap-safe screening (never changes the solution).
    warm_start : bool, default=False
        Start from the previous ``coef_`` when its shape fits.

    Attributes
    ----------
    coef_, n_iter_, converged_, history_, intercept_, n_features_in_ :
        As in :class:`ISTA`; ``n_iter_`` counts outer iterations.

    Examples
    --------
    >>> from sparserec import Lasso, simulate
    >>> prob = simulate.gaussian_cs(m=100, n=400, k=10, snr_db=30, random_state=0)
    >>> Lasso(alpha=1e-3).fit(prob.A, prob.y).coef_.shape
    (400,)
    """

    def __init__(self, alpha=1.0, *, max_iter=100, tol=1e-4, screening=True, warm_start=False):
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.screening = screening
        self.warm_start = warm_start

    def _solve(self, problem, callback):
        return lasso(problem, None, lam=l1_weight(self.alpha, problem.op.shape[0]), tol=self.tol,
                     max_iter=self.max_iter, screening=check_bool(self.screening, "screening"),
                     x0=self._warm_start_x0(problem), callback=callback)


class LassoCV(SparseRecoveryMixin, RegressorMixin, BaseEstimator):
    """Lasso with ``alpha`` chosen by K-fold cross-validation over the measurements.

    The measurements (rows of ``A`` and ``y``) are split as
    :class:`sklearn.linear_model.LassoCV` splits samples; on every training fold the
    whole grid is solved as one warm-started path (:func:`sparserec.solvers.lasso_path`)
    for all columns of ``y`` at once, the held-out mean squared error (squared modulus
    for complex data) is recorded, and each column of ``y`` gets the ``alpha`` of its
    lowest mean error, then is refitted on all measurements.  With one real ``y`` and
    the same folds and grid this is scikit-learn's choice.

    Parameters
    ----------
    eps : float, default=1e-3
        ``alpha_min / alpha_max`` of the default grid.
    n_alphas : int, default=100
        Size of the default grid.
    alphas : array-like, optional
        The grid (sorted decreasing); default: ``n_alphas`` values geometrically spaced
        from ``alpha_max = max |A^H y| / m`` (the largest over the columns of ``y``)
        down to ``eps * alpha_max``.
    cv : int, cross-validation generator or iterable, default=5
        As in scikit-learn (an int gives unshuffled ``KFold``).
    max_iter : int, default=100
    tol : float, default=1e-4
    screening : bool, default=True

    Attributes
    ----------
    alpha_ : float or ndarray of shape ``(L,)``
        The chosen weight (per column of ``y``).
    alphas_ : ndarray of shape ``(n_alphas,)``
    mse_path_ : ndarray of shape ``(n_alphas, n_folds)`` or ``(n_alphas, n_folds, L)``
    coef_, n_iter_, converged_, history_, intercept_, n_features_in_ :
        Of the refit, as in :class:`Lasso`.
    """

    def __init__(self, *, eps=1e-3, n_alphas=100, alphas=None, cv=5, max_iter=100, tol=1e-4,
                 screening=True):
        self.eps = eps
        self.n_alphas = n_alphas
        self.alphas = alphas
        self.cv = cv
        self.max_iter = max_iter
        self.tol = tol
        self.screening = screening

    def _grid(self, A, Y):
        if self.alphas is not None:
            alphas = np.asarray(self.alphas, dtype=float)
            if alphas.ndim != 1 or alphas.size == 0 or not np.all(np.isfinite(alphas)) \
                    or np.any(alphas < 0):
                raise ValueError("alphas must be a non-empty 1-D array of non-negative finite "
                                 "weights")
            return np.sort(alphas)[::-1]
        eps = check_scalar(self.eps, "eps", low=0, high=1, low_inclusive=False)
        n_alphas = check_scalar(self.n_alphas, "n_alphas", kind="int", low=1)
        alpha_max = float(np.max(np.abs(A.conj().T @ Y))) / A.shape[0]
        return np.geomspace(alpha_max, alpha_max * eps, num=n_alphas)

    def _solve(self, problem, callback):
        op, Y = problem.op, problem.Y
        if not isinstance(op, Dense) or op.is_stacked or not isinstance(op.A, np.ndarray):
            raise ValueError("LassoCV splits the rows of A: A must be one explicit dense "
                             "NumPy matrix (m, n); sparse input, stacks and operators are "
                             "not supported")
        A = op.A
        m = A.shape[0]
        alphas = self._grid(A, Y)
        folds = list(check_cv(self.cv).split(np.zeros((m, 1))))
        kwargs = dict(tol=self.tol, max_iter=self.max_iter,
                      screening=check_bool(self.screening, "screening"))
        mse = np.empty((alphas.size, len(folds), Y.shape[1]))
        for f, (train, test) in enumerate(folds):
            path = lasso_path(A[train], Y[train], alphas * train.size, **kwargs)
            for i, res in enumerate(path):
                err = Y[test] - A[test] @ res.x
                mse[i, f] = np.mean(np.abs(err) ** 2, axis=0)
        best = np.argmin(mse.mean(axis=1), axis=0)            # per column of y
        X = np.zeros((A.shape[1], Y.shape[1]), dtype=Y.dtype)
        n_iter = np.zeros(Y.shape[1], dtype=np.int64)
        converged = np.zeros(Y.shape[1], dtype=bool)
        history = []
        for i in np.unique(best):
            cols = np.flatnonzero(best == i)
            res = lasso(Problem(op=op, Y=Y[:, cols], squeeze=False), None,
                        lam=l1_weight(alphas[i], m), callback=callback, **kwargs)
            X[:, cols], n_iter[cols], converged[cols] = res.x, res.n_iter, res.converged
            history.append(res.history)
        single = problem.squeeze or Y.shape[1] == 1
        self.alphas_ = alphas
        self.alpha_ = float(alphas[best[0]]) if single else alphas[best]
        self.mse_path_ = mse[..., 0] if single else mse
        return Result(x=problem.restore(X), n_iter=n_iter[0] if problem.squeeze else n_iter,
                      converged=converged[0] if problem.squeeze else converged,
                      history=np.concatenate(history))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
