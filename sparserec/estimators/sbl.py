"""Sparse Bayesian learning estimators (scikit-learn API over :mod:`sparserec.solvers.sbl`
and :mod:`sparserec.solvers.kronecker_sbl`)."""
from sklearn.base import BaseEstimator, RegressorMixin

from ..solvers.kronecker_sbl import kronecker_sbl
from ..solvers.sbl import pattern_coupled_sbl, sbl
from ._base import SparseRecoveryMixin

__all__ = ["SBL", "KroneckerSBL"]


class SBL(SparseRecoveryMixin, RegressorMixin, BaseEstimator):
    """Sparse Bayesian learning by EM (real or complex, batched), or PC-SBL.

    Type-II maximum likelihood for ``y = A x + n`` with ``x ~ N(0, diag(gamma))``:
    ``coef_`` is the posterior mean.  Every column of ``y`` (and every problem of
    a stack ``(B, m, n)``) is solved independently in one batch, unless
    ``joint=True`` (M-SBL: the columns share ``gamma``, hence a support).

    Parameters
    ----------
    noise_var : float or None, default=None
        Known noise variance, or None to learn it.
    prune : float, default=1e-3
        Relative threshold below which hyper-parameters are pruned for good.
    joint : bool, default=False
        Shared support across the columns of ``y`` (multiple measurement vectors).
    beta : float or None, default=None
        Pattern coupling of neighbouring coefficients (PC-SBL of Fang et al. for
        block-sparse signals, in ``[0, 1]``); None is classic SBL.
    max_iter : int, default=300
    tol : float, default=1e-4
        Relative change of ``gamma`` that stops a problem.
    gamma_init : "auto" or float, default="auto"
        Start of every ``gamma_j`` (classic SBL only; PC-SBL starts at 1, as its
        reference): ``"auto"`` is ``||y||^2 / ||A||_F^2``, scale-invariant; give
        ``1.0`` to reproduce reference code whose absolute thresholds assume it.
    update : {"em", "mackay"}, default="em"
        Hyper-parameter update of classic SBL: EM (monotone cost) or Tipping's
        fixed point (fewer iterations, as scikit-learn's ``ARDRegression``).

    Attributes
    ----------
    coef_ : array of shape ``(n,)`` or ``(L, n)`` (``(B, n)``/``(B, L, n)`` for stacks)
    gamma_ : array, same shape as ``coef_``
        Learned prior variances (zero where pruned).
    noise_var_ : float or array
        Noise variance used at the end (learned or given).
    posterior_var_ : array, same shape as ``coef_``
        Posterior variances ``diag Sigma``.
    cost_curve_ : array of shape ``(n_iter + 1,)`` (or one row per problem)
        ``log det Sigma_y + y^H Sigma_y^{-1} y`` at each iteration.
    n_iter_ : int or ndarray
    converged_ : bool or ndarray
    history_ : ndarray of shape ``(n_checks, 2)``
    intercept_ : float
        Always 0.0.
    n_features_in_ : int

    See Also
    --------
    sklearn.linear_model.ARDRegression : The same prior for real data, one target.
    KroneckerSBL : SBL for Kronecker-structured dictionaries.

    Examples
    --------
    >>> from sparserec import SBL, simulate
    >>> prob = simulate.gaussian_cs(m=50, n=128, k=5, snr_db=30, random_state=0)
    >>> est = SBL().fit(prob.A, prob.y)
    >>> bool(set(est.coef_.nonzero()[0]) >= set(prob.support.nonzero()[0]))
    True
    """

    def __init__(self, noise_var=None, *, prune=1e-3, joint=False, beta=None, max_iter=300,
                 tol=1e-4, gamma_init="auto", update="em"):
        self.noise_var = noise_var
        self.prune = prune
        self.joint = joint
        self.beta = beta
        self.max_iter = max_iter
        self.tol = tol
        self.gamma_init = gamma_init
        self.update = update

    def _solve(self, problem, callback):
        if self.update not in ("em", "mackay"):
            raise ValueError(f"update must be 'em' or 'mackay', got {self.update!r}")
        if self.beta is not None:
            # PC-SBL has its own update, no pruning threshold, start or joint support
            for name, default in (("joint", False), ("update", "em"), ("prune", 1e-3),
                                  ("gamma_init", "auto")):
                if getattr(self, name) != default:
                    raise ValueError(f"{name}={getattr(self, name)!r} does not apply to PC-SBL "
                                     f"(beta={self.beta!r}); leave it at {default!r}")
        if self.beta is None:
            return sbl(problem, None, noise_var=self.noise_var, prune=self.prune, joint=self.joint,
                       max_iter=self.max_iter, tol=self.tol, gamma_init=self.gamma_init,
                       update=self.update, callback=callback)
        return pattern_coupled_sbl(problem, None, beta=self.beta, noise_var=self.noise_var,
                                   max_iter=self.max_iter, tol=self.tol, callback=callback)


class KroneckerSBL(SparseRecoveryMixin, RegressorMixin, BaseEstimator):
    """Kronecker-structured SBL: SVD-KroSBL, AM-KroSBL and block-sparse PC-KroSBL.

    For ``A = Kron(A_1, ..., A_I)`` and a prior variance ``gamma_1 ⊗ ... ⊗ gamma_I``
    (He & Joseph, IEEE TSP 2024).  The E-step works on the factors only (see
    :func:`sparserec.solvers.kronecker_sbl` for the cost per iteration).

    Parameters
    ----------
    method : {"svd", "am"}, default="svd"
        M-step: sequential-SVD Kronecker projection, or alternating minimisation.
    block : bool or tuple of int, default=False
        PC-KroSBL: couple neighbouring variances on every mode (True) or on the
        listed modes (the IRS study couples modes 0 and 2).
    beta : float, default=0.8
        Coupling strength in ``[0, 1]`` (used with ``block``).
    noise_var : float or None, default=None
        Known noise variance, or None to learn it.
    prune : float, tuple of float or None, default=None
        Relative pruning threshold per mode; None takes the reference default
        of the method (1e-3 for SVD, 1e-2 for AM).
    prune_abs : float, default=0.0
        Absolute pruning threshold on the rescaled factors.
    max_iter : int, default=150
    tol : float, default=1e-4
    inner_tol : float, default=1e-5
        Relative change that ends the AM inner sweeps.
    max_inner : int, default=100
        Cap on AM sweeps per EM iteration.
    gamma_init : "auto" or float, default="auto"
        Start of every entry of ``⊗gamma_i``: ``"auto"`` is ``||y||^2 / ||A||_F^2``
        (scale-invariant); ``1.0`` is the authors' start, which their absolute
        thresholds (``prune_abs``) assume, e.g. in the IRS study.

    Attributes
    ----------
    coef_ : array of shape ``(N,)`` or ``(L, N)``
    gamma_ : array, same shape as ``coef_``
        ``gamma_1 ⊗ ... ⊗ gamma_I``.
    gamma_factors_ : tuple of arrays
        The factors ``gamma_i`` (``(N_i,)``, or ``(L, N_i)``).
    noise_var_ : float or array
    posterior_var_ : array, same shape as ``coef_``
    cost_curve_ : array
        ``log det Sigma_y + y^H Sigma_y^{-1} y`` at each iteration.
    n_iter_ : int or ndarray
    converged_ : bool or ndarray
    history_ : ndarray of shape ``(n_checks, 2)``
    intercept_ : float
        Always 0.0.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec import KroneckerSBL
    >>> from sparserec.operators import Kron
    >>> rng = np.random.default_rng(0)
    >>> A1, A2 = rng.standard_normal((8, 12)), rng.standard_normal((8, 12))
    >>> x = np.kron(np.eye(12)[2], np.eye(12)[7] + np.eye(12)[9])
    >>> est = KroneckerSBL(noise_var=1e-6).fit(Kron(A1, A2), np.kron(A1, A2) @ x)
    >>> np.flatnonzero(np.abs(est.coef_) > 0.1).tolist()
    [31, 33]
    """

    def __init__(self, method="svd", *, block=False, beta=0.8, noise_var=None, prune=None,
                 prune_abs=0.0, max_iter=150, tol=1e-4, inner_tol=1e-5, max_inner=100,
                 gamma_init="auto"):
        self.method = method
        self.block = block
        self.beta = beta
        self.noise_var = noise_var
        self.prune = prune
        self.prune_abs = prune_abs
        self.max_iter = max_iter
        self.tol = tol
        self.inner_tol = inner_tol
        self.max_inner = max_inner
        self.gamma_init = gamma_init

    def _solve(self, problem, callback):
        result = kronecker_sbl(problem, None, method=self.method, noise_var=self.noise_var,
                               prune=self.prune, prune_abs=self.prune_abs, block=self.block,
                               beta=self.beta, max_iter=self.max_iter, tol=self.tol,
                               inner_tol=self.inner_tol, max_inner=self.max_inner,
                               gamma_init=self.gamma_init, callback=callback)
        n_modes = len(problem.op.factors)
        self.gamma_factors_ = tuple(result.extras.pop(f"gamma_factor{i}") for i in range(n_modes))
        return result
