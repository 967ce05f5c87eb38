"""Plumbing shared by the linear-model style estimators (no algorithm here)."""
import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._array import get_namespace, same_namespace, to_numpy
from .._validation import check_array, check_bool, check_operator, check_problem, check_scalar
from ..exceptions import warn

__all__ = ["SparseRecoveryMixin", "l1_weight"]


def l1_weight(alpha, m):
    """The unscaled l1 weight ``lam = alpha * m`` of Lasso's ``alpha`` (validated; a
    warning for ``alpha = 0``, which the duality gap cannot certify in general)."""
    alpha = check_scalar(alpha, "alpha", low=0)
    if alpha == 0:
        warn("alpha=0 leaves plain least squares, which the duality gap certifies only when y "
             "lies in the range of A; use a least-squares solver instead", UserWarning)
    return alpha * m


class SparseRecoveryMixin:
    """``fit(A, y)`` / ``predict(A)`` conventions of :class:`sklearn.linear_model.Lasso`.

    ``A`` (``(m, n)``, a stack ``(B, m, n)`` or an operator) plays the role of
    ``X``; ``coef_`` is ``(n,)`` for 1-D ``y``, ``(L, n)`` for ``y`` of shape
    ``(m, L)``, ``(B, n)`` / ``(B, L, n)`` for stacks, and ``predict(A)``
    returns ``A @ coef_.T`` in the layout of ``y``.  Complex data is accepted.
    Subclasses implement ``_solve(problem, callback) -> Result``; every entry
    ``key`` of the result's ``extras`` becomes the fitted attribute ``key_``.
    """

    def fit(self, A, y, callback=None):
        """Recover the sparse coefficients of every measurement vector in ``y``.

        Parameters
        ----------
        A : array-like of shape ``(m, n)`` or ``(B, m, n)``, Operator or LinearOperator
            Sensing matrix (the design matrix ``X`` of scikit-learn).
        y : array-like of shape ``(m,)``, ``(m, L)``, ``(B, m)`` or ``(B, m, L)``
            Measurements, real or complex.
        callback : callable, optional
            Iterative solvers call it after every iteration with a
            :class:`sparserec.solvers.Progress` (iteration number, state of the
            problems still running); for convergence curves.  Greedy solvers
            (OMP) take none.

        Returns
        -------
        self
        """
        problem = check_problem(A, y)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        result = self._solve(problem, callback)
        x, n_iter, converged = result.x, result.n_iter, result.converged
        # y of shape (m, 1) fits like y of shape (m,), as in scikit-learn
        single = problem.squeeze or (not problem.op.is_stacked and problem.Y.shape[-1] == 1)
        if single and not problem.squeeze:
            x, n_iter, converged = x[..., 0], n_iter[..., 0], converged[..., 0]
        self.coef_ = x if single else _swap_last(x)
        for key, value in result.extras.items():      # gamma_, noise_var_, ...
            setattr(self, f"{key}_", value[0] if single and not problem.squeeze else value)
        self.n_iter_ = int(n_iter) if n_iter.ndim == 0 else n_iter
        self.converged_ = bool(converged) if converged.ndim == 0 else converged
        self.history_ = result.history
        self.intercept_ = 0.0
        self.n_features_in_ = problem.op.shape[1]
        self._squeeze = single
        return self

    def _warm_start_x0(self, problem):
        """The previous ``coef_`` in the solvers' layout when ``warm_start`` is set and it
        fits the new problem (shape, array library, real vs complex), else None."""
        if not check_bool(self.warm_start, "warm_start") or not hasattr(self, "coef_"):
            return None
        x = self.coef_ if self._squeeze else _swap_last(self.coef_)
        op = problem.op
        want = op.batch_shape + (op.shape[1],) + (() if problem.squeeze else (problem.Y.shape[-1],))
        xp = op.xp
        if tuple(x.shape) == want[:-1] and not problem.squeeze and want[-1] == 1:
            x = x[..., None]          # coef_ of a y (m, 1) fit
        fits = (same_namespace(xp, x) and tuple(x.shape) == want
                and (xp.isdtype(problem.Y.dtype, "complex floating")
                     or not xp.isdtype(x.dtype, "complex floating")))
        return x if fits else None

    def predict(self, A):
        """Measurements predicted by the fitted coefficients, ``A @ coef_.T``.

        Parameters
        ----------
        A : array-like of shape ``(m, n)`` or ``(B, m, n)``, Operator or LinearOperator

        Returns
        -------
        y_pred : array of shape ``(m,)``, ``(m, L)``, ``(B, m)`` or ``(B, m, L)``
        """
        check_is_fitted(self)
        op = check_operator(A, "A")
        if op.shape[1] != self.n_features_in_:
            raise ValueError(f"A has {op.shape[1]} columns but the model was fitted with "
                             f"{self.n_features_in_} (X has {op.shape[1]} features, but "
                             f"{type(self).__name__} is expecting {self.n_features_in_} features "
                             "as input)")
        x = self.coef_ if self._squeeze else _swap_last(self.coef_)
        if op.is_stacked != (x.ndim == (2 if self._squeeze else 3)):
            raise ValueError("A must be stacked (B, m, n) exactly when the model was fitted on "
                             "a stack")
        xp = op.xp
        return op.matvec(xp.astype(xp.asarray(x), xp.result_type(op.dtype, x.dtype)))

    def score(self, A, y, sample_weight=None):
        """Coefficient of determination R^2 of the prediction (complex-aware).

        Equals :func:`sklearn.metrics.r2_score` with uniform averaging over
        targets for real data; moduli replace squares for complex data, and for
        stacks the R^2 of every problem enters the average.

        Parameters
        ----------
        A : array-like of shape ``(m, n)`` or ``(B, m, n)``, Operator or LinearOperator
        y : array-like of shape ``(m,)``, ``(m, L)``, ``(B, m)`` or ``(B, m, L)``
        sample_weight : array-like of shape ``(m,)``, optional
            Weights of the measurements (rows of ``A``).

        Returns
        -------
        score : float
        """
        y_true = to_numpy(check_array(y, "y"))
        y_pred = to_numpy(self.predict(A))
        if self._squeeze and y_true.shape == y_pred.shape + (1,):
            y_true = y_true[..., 0]      # y (m, 1), fitted and predicted as (m,)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"y of shape {y_true.shape} does not match the prediction of "
                             f"shape {y_pred.shape}")
        if self._squeeze:  # measurements on axis -2, targets on axis -1
            y_true, y_pred = y_true[..., None], y_pred[..., None]
        m = y_true.shape[-2]
        w = np.ones(m) if sample_weight is None \
            else to_numpy(check_array(sample_weight, "sample_weight", ndims=(1,)))
        if w.shape != (m,):
            raise ValueError(f"sample_weight must have shape ({m},), one weight per "
                             f"measurement, got {w.shape}")
        w = w[:, None]
        mean = (w * y_true).sum(-2, keepdims=True) / w.sum()
        ss_res = (w * np.abs(y_true - y_pred) ** 2).sum(-2)
        ss_tot = (w * np.abs(y_true - mean) ** 2).sum(-2)
        safe = np.where(ss_tot > 0, ss_tot, 1.0)
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / safe, np.where(ss_res > 0, 0.0, 1.0))
        return float(np.mean(r2))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.input_tags.sparse = True
        return tags


def _swap_last(x):
    xp = get_namespace(x)
    return xp.matrix_transpose(x)
