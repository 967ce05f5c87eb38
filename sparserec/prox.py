"""Proximal operators and thresholds, real and complex, for any array namespace.

All functions take ``v`` of shape ``(..., n, L)`` (unknowns along axis ``-2``,
problems along the rest) and thresholds that broadcast against it.  NumPy
inputs use fused Numba kernels where :mod:`benchmarks.bench_prox` shows a win.
"""
from ._array import abs2, get_namespace, is_complex, is_numpy

__all__ = ["soft_threshold", "hard_threshold", "top_k", "l1_norm"]

# the Numba kernel runs for arrays of at least this many entries spread over at least
# _NUMBA_MIN_COLUMNS problems (last axis); benchmarks/bench_prox.py times both sides at
# these sizes and on the single-problem (n, 1) layout, where NumPy wins
_NUMBA_MIN_SIZE = 1 << 14
_NUMBA_MIN_COLUMNS = 2


def l1_norm(xp, x, axis=-2):
    """Sum of moduli along ``axis`` (keeping it): the l1 norm, complex-aware.

    Parameters
    ----------
    xp : module
        Array namespace of ``x``.
    x : array
    axis : int
        Axis of the unknowns (default ``-2``).

    Returns
    -------
    array
        Real, with ``axis`` kept as a singleton.
    """
    return xp.sum(xp.abs(x), axis=axis, keepdims=True)


def soft_threshold(v, t):
    """Proximal map of ``t * ||.||_1``: shrink every modulus by ``t``.

    Real entries become ``sign(v) * max(|v| - t, 0)``; complex entries keep
    their phase, ``v * max(1 - t / |v|, 0)``.

    Parameters
    ----------
    v : array
    t : float or array broadcasting against ``v``
        Non-negative threshold.

    Returns
    -------
    array of the dtype of ``v``
    """
    xp = get_namespace(v)
    if is_numpy(xp) and v.size >= _NUMBA_MIN_SIZE and v.ndim >= 2 \
            and v.shape[-1] >= _NUMBA_MIN_COLUMNS:
        from ._kernels import soft_threshold_numba
        return soft_threshold_numba(v, t)
    if not is_complex(xp, v):
        return xp.sign(v) * xp.maximum(xp.abs(v) - t, 0.0)
    mod = xp.abs(v)
    safe = xp.where(mod > 0, mod, xp.ones_like(mod))
    shrink = xp.clip(1.0 - t / safe, min=0.0)
    return v * xp.astype(shrink, v.dtype)


def hard_threshold(v, t):
    """Proximal map of ``t**2 / 2 * ||.||_0``: keep entries with ``|v| > t``.

    Parameters
    ----------
    v : array
    t : float or array broadcasting against ``v``
        Non-negative level; the proximal map of ``lam * ||.||_0`` with step
        ``s`` uses ``t = sqrt(2 * s * lam)``.

    Returns
    -------
    array of the dtype of ``v``
    """
    xp = get_namespace(v)
    keep = abs2(xp, v) > t * t
    return xp.where(keep, v, xp.zeros_like(v))


def top_k(v, k):
    """Keep the ``k`` largest-modulus entries along axis ``-2``, zero the rest.

    Ties are broken by position (the lower index wins) so the result always has
    exactly ``k`` non-zeros per problem where ``v`` has at least ``k``.

    Parameters
    ----------
    v : array of shape ``(..., n, L)``
    k : int
        ``1 <= k <= n``.

    Returns
    -------
    array of the dtype and shape of ``v``
    """
    xp = get_namespace(v)
    mag = abs2(xp, v)
    if is_numpy(xp):
        import numpy as np
        n = v.shape[-2]
        if k >= n:
            return v.copy()
        if k <= 0:
            return np.zeros_like(v)
        # O(n) selection of the k-th largest modulus; keep everything at or
        # above it and, where that is more than k (ties at the k-th value),
        # drop the highest-index ties (argpartition alone would break ties
        # arbitrarily, unlike the documented rule and the xp path below)
        kth = np.partition(mag, n - k, axis=-2)[..., n - k:n - k + 1, :]
        keep = mag >= kth
        extra = np.sum(keep, axis=-2, keepdims=True) - k
        if np.any(extra > 0):
            tie = mag == kth
            n_keep = np.sum(tie, axis=-2, keepdims=True) - extra
            keep &= ~tie | (np.cumsum(tie, axis=-2) <= n_keep)
        return np.where(keep, v, 0)
    order = xp.argsort(-mag, axis=-2, stable=True)
    rank = xp.argsort(order, axis=-2, stable=True)
    return xp.where(rank < k, v, xp.zeros_like(v))
