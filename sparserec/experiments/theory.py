"""Theory curves and empirical boundaries of phase transitions.

The l1 weak threshold ``rho_W(delta)`` of Donoho & Tanner for the Gaussian
ensemble, computed from the minimax formula of Donoho, Maleki & Montanari
(PNAS 106(45), 2009), which coincides with the polytope curve::

    M(z)   = (1 + z^2) Phi(-z) - z phi(z)
    rho(d) = max_{z >= 0} [1 - kappa M(z) / d] / [1 + z^2 - kappa M(z)]

with ``kappa = 2`` for signed signals (cross-polytope) and ``kappa = 1`` for
non-negative ones (simplex).  ``delta = m / n`` (undersampling), ``rho = k / m``
(sparsity).
"""
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit
from scipy.stats import norm

from .._validation import check_scalar

__all__ = ["weak_threshold", "logistic_boundary"]


def _minimax_risk(z):
    return (1.0 + z * z) * norm.cdf(-z) - z * norm.pdf(z)


def weak_threshold(delta, *, signed=True):
    """Donoho–Tanner l1 weak threshold ``rho_W(delta)`` (Gaussian ensemble, n -> inf).

    Parameters
    ----------
    delta : float or array-like
        Undersampling ratios ``m / n`` in ``(0, 1)``.
    signed : bool
        Signed signals (``kappa = 2``); False for non-negative signals
        recovered with the constraint ``x >= 0`` (``kappa = 1``).

    Returns
    -------
    rho : float or numpy.ndarray
        Largest ``k / m`` below which l1 recovers ``x`` with overwhelming
        probability, one per ``delta``.

    Examples
    --------
    >>> from sparserec.experiments import weak_threshold
    >>> round(float(weak_threshold(0.5)), 4), round(float(weak_threshold(0.5, signed=False)), 4)
    (0.3857, 0.5582)
    """
    kappa = 2.0 if signed else 1.0
    deltas = np.asarray(delta, dtype=float)
    if not np.all((deltas > 0) & (deltas < 1)):
        raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
    out = np.empty(deltas.shape)
    for idx, d in np.ndenumerate(deltas):
        def negative(z, d=d):
            m = kappa * _minimax_risk(z)
            return -(1.0 - m / d) / (1.0 + z * z - m)
        best = minimize_scalar(negative, bounds=(0.0, 12.0), method="bounded",
                               options={"xatol": 1e-12})
        out[idx] = -best.fun
    return float(out) if out.ndim == 0 else out


def _fit_logistic(rho, success):
    """Maximum-likelihood ``P(success) = expit(a + b rho)``; returns (a, b)."""
    from scipy.optimize import minimize

    def nll(theta):
        z = theta[0] + theta[1] * rho
        # log(1 + exp(z)) - s z, computed stably
        return np.sum(np.logaddexp(0.0, z) - success * z) + 1e-8 * theta[1] ** 2

    def grad(theta):
        p = expit(theta[0] + theta[1] * rho)
        return np.array([np.sum(p - success), np.sum((p - success) * rho) + 2e-8 * theta[1]])

    start = np.array([3.0, -6.0])
    res = minimize(nll, start, jac=grad, method="BFGS")
    return res.x


def logistic_boundary(rho, success, *, n_boot=200, level=0.9, random_state=0):
    """The 50 % success point in ``rho`` of one ``delta``, with a bootstrap interval.

    Fits ``P(success | rho) = 1 / (1 + exp(-(a + b rho)))`` by maximum likelihood
    to the individual trials and returns ``rho_50 = -a / b``; the interval comes
    from refitting on trials resampled with replacement.

    Parameters
    ----------
    rho : array-like of shape ``(n_trials,)``
        Sparsity ``k / m`` of every trial.
    success : array-like of shape ``(n_trials,)``
        Whether each trial succeeded (bool or 0/1).
    n_boot : int
        Bootstrap resamples (0 for no interval).
    level : float
        Coverage of the interval.
    random_state : int
        Seed of the resampling.

    Returns
    -------
    rho50 : float
        NaN when every trial succeeded or every trial failed (no transition).
    low, high : float
        Bootstrap interval (NaN without resamples).
    """
    rho = np.asarray(rho, dtype=float)
    success = np.asarray(success, dtype=float)
    if rho.shape != success.shape or rho.ndim != 1 or rho.size == 0:
        raise ValueError("rho and success must be 1-D arrays of one length (one entry per "
                         f"trial), got shapes {rho.shape} and {success.shape}")
    n_boot = check_scalar(n_boot, "n_boot", kind="int", low=0)
    level = check_scalar(level, "level", low=0, high=1, low_inclusive=False)

    def point(r, s):
        if s.min() == s.max():
            return np.nan
        a, b = _fit_logistic(r, s)
        return -a / b if b < 0 else np.nan

    rho50 = point(rho, success)
    if n_boot == 0 or np.isnan(rho50):
        return rho50, np.nan, np.nan
    rng = np.random.default_rng(random_state)
    boots = []
    for _ in range(n_boot):
        pick = rng.integers(0, rho.size, rho.size)
        boots.append(point(rho[pick], success[pick]))
    boots = np.asarray(boots)
    boots = boots[np.isfinite(boots)]
    if boots.size == 0:
        return rho50, np.nan, np.nan
    tail = 50 * (1 - level)
    low, high = np.percentile(boots, [tail, 100 - tail])
    return rho50, float(low), float(high)
