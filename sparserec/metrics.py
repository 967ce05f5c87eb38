"""Recovery metrics comparing an estimate ``x_est`` with the truth ``x_true``.

Every metric takes ``axis``: ``None`` reduces over the whole array and returns a
Python scalar; an int or a tuple of ints reduces over those axes only and
returns one value per problem, an array over the remaining axes (``x`` of shape
``(n, L)`` with ``axis=0`` gives ``L`` values). Inputs are real or complex NumPy
arrays of the same shape, finite and non-empty. :func:`channel_nmse` instead
compares stacks of matrices (channel estimates) and averages over the stack.
"""
import numpy as np

from ._validation import check_scalar

__all__ = ["nmse_db", "relative_error", "support_f1", "support_jaccard",
           "exact_support_recovery", "channel_nmse"]


def nmse_db(x_true, x_est, *, axis=None):
    """Normalised mean squared error in decibels.

    ``10 * log10(||x_est - x_true||^2 / ||x_true||^2)``.

    Parameters
    ----------
    x_true : array-like
        True signal(s), real or complex.
    x_est : array-like
        Estimate(s), same shape as ``x_true``.
    axis : None, int or tuple of int
        Axes to reduce over; ``None`` reduces over all axes.

    Returns
    -------
    float or ndarray
        ``-inf`` for an exact estimate (including ``x_true`` and ``x_est``
        both zero), ``+inf`` when ``x_true`` is zero but ``x_est`` is not.

    Raises
    ------
    ValueError
        Shapes differ, an input is empty or not finite, or ``axis`` is out of range.

    Examples
    --------
    >>> nmse_db([1.0, 0.0], [1.0, 0.1])
    -20.0
    """
    ratio = _squared_error_ratio(x_true, x_est, axis)
    with np.errstate(divide="ignore"):
        return _result(10 * np.log10(ratio), axis)


def relative_error(x_true, x_est, *, axis=None):
    """Relative l2 error ``||x_est - x_true|| / ||x_true||``.

    Parameters
    ----------
    x_true : array-like
        True signal(s), real or complex.
    x_est : array-like
        Estimate(s), same shape as ``x_true``.
    axis : None, int or tuple of int
        Axes to reduce over; ``None`` reduces over all axes.

    Returns
    -------
    float or ndarray
        ``0.0`` when ``x_true`` and ``x_est`` are both zero, ``inf`` when
        ``x_true`` is zero but ``x_est`` is not; always
        ``10 ** (nmse_db / 20)``.

    Raises
    ------
    ValueError
        Shapes differ, an input is empty or not finite, or ``axis`` is out of range.

    Examples
    --------
    >>> relative_error([3.0, 4.0], [3.0, 4.5])
    0.1
    """
    return _result(np.sqrt(_squared_error_ratio(x_true, x_est, axis)), axis)


def support_f1(x_true, x_est, *, tol=0.0, axis=None):
    """F1 score of the estimated support against the true support.

    The support of an array is the set of entries with ``|x| > tol``; with
    true support ``S`` and estimated support ``T`` the score is
    ``2 |S & T| / (|S| + |T|)``.

    Parameters
    ----------
    x_true : array-like
        True signal(s), real or complex.
    x_est : array-like
        Estimate(s), same shape as ``x_true``.
    tol : float
        Non-negative threshold applied to the moduli of both arrays.
    axis : None, int or tuple of int
        Axes to reduce over; ``None`` reduces over all axes.

    Returns
    -------
    float or ndarray
        Score in ``[0, 1]``; ``1.0`` when both supports are empty.

    Raises
    ------
    ValueError
        Shapes differ, an input is empty or not finite, ``tol`` is negative, or
        ``axis`` is out of range.

    Examples
    --------
    >>> support_f1([1.0, 2.0, 0.0, 0.0], [1.0, 0.0, 3.0, 0.0])
    0.5
    """
    x_true, x_est = _check_pair(x_true, x_est)
    tol = check_scalar(tol, "tol", low=0)
    s_true = _problems_last(np.abs(x_true) > tol, axis)
    s_est = _problems_last(np.abs(x_est) > tol, axis)
    hits = np.sum(s_true & s_est, axis=-1)
    sizes = np.sum(s_true, axis=-1) + np.sum(s_est, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _result(np.where(sizes > 0, 2 * hits / sizes, 1.0), axis)


def support_jaccard(x_true, x_est, *, rel_tol=1e-3, axis=None):
    """Jaccard index of the estimated support against the true support.

    ``|S & T| / |S | T|`` with the true support ``S = {j : x_true[j] != 0}``
    and the estimated support ``T = {j : |x_est[j]| > rel_tol * max |x_est|}``,
    the maximum taken per problem (the support recovery rate of KroSBL).

    Parameters
    ----------
    x_true : array-like
        True signal(s), real or complex.
    x_est : array-like
        Estimate(s), same shape as ``x_true``.
    rel_tol : float
        Non-negative threshold relative to the largest modulus of each
        estimate; ``0`` keeps every nonzero entry.
    axis : None, int or tuple of int
        Axes to reduce over; ``None`` reduces over all axes.

    Returns
    -------
    float or ndarray
        Index in ``[0, 1]``; ``1.0`` when both supports are empty (an
        all-zero estimate has an empty support).

    Raises
    ------
    ValueError
        Shapes differ, an input is empty or not finite, ``rel_tol`` is
        negative, or ``axis`` is out of range.

    Examples
    --------
    >>> support_jaccard([1.0, 2.0, 3.0, 0.0], [1.0, 2.0, 1e-4, 0.5])  # {0,1} of {0,1,2,3}
    0.5
    """
    x_true, x_est = _check_pair(x_true, x_est)
    rel_tol = check_scalar(rel_tol, "rel_tol", low=0)
    s_true = _problems_last(x_true != 0, axis)
    mod_est = _problems_last(np.abs(x_est), axis)
    s_est = mod_est > rel_tol * np.max(mod_est, axis=-1, keepdims=True)
    union = np.sum(s_true | s_est, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _result(np.where(union > 0, np.sum(s_true & s_est, axis=-1) / union, 1.0), axis)


def exact_support_recovery(x_true, x_est, *, k=None, axis=None):
    """Whether the estimate has exactly the true support.

    The true support is the set of nonzero entries of ``x_true``.

    Parameters
    ----------
    x_true : array-like
        True signal(s), real or complex.
    x_est : array-like
        Estimate(s), same shape as ``x_true``.
    k : int, optional
        ``None`` takes the nonzero entries of ``x_est`` as its support; an int
        takes its ``k`` largest-modulus entries per problem (ties broken by
        position, lower index first), which suits estimates with many tiny
        nonzeros.
    axis : None, int or tuple of int
        Axes to reduce over; ``None`` reduces over all axes.

    Returns
    -------
    bool or ndarray of bool

    Raises
    ------
    ValueError
        Shapes differ, an input is empty or not finite, ``k`` is not in
        ``[1, problem size]``, or ``axis`` is out of range.

    Examples
    --------
    >>> exact_support_recovery([0.0, 2.0, -1.0], [0.01, 1.9, -0.8], k=2)
    True
    """
    x_true, x_est = _check_pair(x_true, x_est)
    s_true = _problems_last(x_true != 0, axis)
    mod_est = _problems_last(np.abs(x_est), axis)
    if k is None:
        s_est = mod_est > 0
    else:
        k = check_scalar(k, "k", kind="int", low=1, high=mod_est.shape[-1])
        order = np.argsort(-mod_est, axis=-1, kind="stable")
        s_est = order.argsort(axis=-1, kind="stable") < k
    return _result(np.all(s_true == s_est, axis=-1), axis)


def channel_nmse(H_true, H_est):
    """Per-matrix normalised squared error averaged over a stack of matrices.

    ``(1/K) sum_k ||H_est[k] - H_true[k]||_F^2 / ||H_true[k]||_F^2`` over the
    third-last axis (the ``K`` IRS configurations of
    :func:`sparserec.simulate.irs_mimo`); linear, not in decibels.

    Parameters
    ----------
    H_true : array-like of shape ``(..., K, a, b)``
        True matrices; leading axes (e.g. trials) are kept.
    H_est : array-like
        Estimates, same shape as ``H_true``.

    Returns
    -------
    float or ndarray of shape ``H_true.shape[:-3]``
        A Python float for 3-D input. A zero true matrix contributes ``0``
        when its estimate is zero too and ``inf`` otherwise.

    Raises
    ------
    ValueError
        Shapes differ, an input has fewer than 3 dimensions, is empty or not
        finite.

    Examples
    --------
    >>> import numpy as np
    >>> H = np.ones((2, 2, 2))
    >>> channel_nmse(H, H * [[[1.5]], [[2.0]]])  # errors 0.25 and 1
    0.625
    """
    H_true, H_est = _check_pair(H_true, H_est, names=("H_true", "H_est"))
    if H_true.ndim < 3:
        raise ValueError(f"H_true must have shape (..., K, a, b) with at least 3 dimensions, "
                         f"got shape {H_true.shape}")
    err = np.sum(np.abs(H_est - H_true) ** 2, axis=(-2, -1))
    ref = np.sum(np.abs(H_true) ** 2, axis=(-2, -1))
    mean = np.mean(_ratio(err, ref), axis=-1)
    return mean.item() if mean.ndim == 0 else mean


def _check_array(a, name):
    arr = np.asarray(a)
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN; every entry must be finite")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains infinity; every entry must be finite")
    return arr


def _check_pair(x_true, x_est, names=("x_true", "x_est")):
    true_name, est_name = names
    x_true, x_est = _check_array(x_true, true_name), _check_array(x_est, est_name)
    if x_true.shape != x_est.shape:
        raise ValueError(f"{est_name} has shape {x_est.shape} but {true_name} has shape "
                         f"{x_true.shape}; they must be equal")
    return x_true, x_est


def _problems_last(a, axis):
    """Move the axes reduced over to the end of ``a`` and merge them into one."""
    if axis is None:
        return a.reshape(-1)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    moved = np.moveaxis(a, axes, range(-len(axes), 0))
    return moved.reshape(moved.shape[:a.ndim - len(axes)] + (-1,))


def _squared_error_ratio(x_true, x_est, axis):
    """``||x_est - x_true||^2 / ||x_true||^2`` per problem, 0/0 -> 0 and c/0 -> inf."""
    x_true, x_est = _check_pair(x_true, x_est)
    err = np.sum(_problems_last(np.abs(x_est - x_true) ** 2, axis), axis=-1)
    ref = np.sum(_problems_last(np.abs(x_true) ** 2, axis), axis=-1)
    return _ratio(err, ref)


def _ratio(err, ref):
    """``err / ref`` with 0/0 -> 0 and c/0 -> inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ref > 0, err / ref, np.where(err > 0, np.inf, 0.0))


def _result(values, axis):
    """A Python scalar for ``axis=None``, the per-problem array otherwise."""
    return values.item() if axis is None else values
