"""Compressed-sensing problems ``y = A x + noise`` with a sparse ``x``."""
from dataclasses import dataclass

import numpy as np
import scipy.fft

from .._validation import check_bool, check_scalar

__all__ = ["CSProblem", "gaussian_cs"]

_SENSING = ("gaussian", "dct")
_SUPPORT = ("fixed", "bernoulli")
_AMPLITUDE = ("gaussian", "rademacher")


@dataclass(frozen=True, eq=False)
class CSProblem:
    """One simulated problem, or a batch of them, in the model ``y = A @ x + noise``.

    Parameters
    ----------
    A : ndarray of shape ``(m, n)`` or ``(B, m, n)``
        Sensing matrix, shared by every problem, or one matrix per problem.
    x : ndarray of shape ``(n,)``, ``(n, L)``, ``(B, n)`` or ``(B, n, L)``
        Sparse signals; each column (of each stacked problem) is one problem.
    y : ndarray of shape ``(m,)``, ``(m, L)``, ``(B, m)`` or ``(B, m, L)``
        Noisy measurements.
    noise_var : float or ndarray of shape ``(L,)``, ``(B,)`` or ``(B, L)``
        Variance of the noise added to each problem (zero when noiseless);
        a float when there is a single problem.
    support : ndarray of bool, same shape as ``x``
        ``True`` where ``x`` was drawn nonzero.
    """

    A: np.ndarray
    x: np.ndarray
    y: np.ndarray
    noise_var: np.ndarray | float
    support: np.ndarray


def gaussian_cs(m, n, k=None, *, n_targets=None, batch=None, sensing="gaussian",
                support="fixed", p=None, amplitude="gaussian", complex=False, snr_db=None,
                normalize_columns=True, random_state=None):
    """Draw a random compressed-sensing problem ``y = A x + noise``.

    Parameters
    ----------
    m : int
        Number of measurements (rows of ``A``), at least 1.
    n : int
        Signal length (columns of ``A``), at least 1.
    k : int, optional
        Sparsity, ``1 <= k <= n``. Required for ``support="fixed"``; for
        ``support="bernoulli"`` it sets ``p = k / n``.
    n_targets : int, optional
        ``None`` gives one signal ``x`` of shape ``(n,)``; an int ``L`` gives
        ``L`` independent signals as the columns of ``x`` of shape ``(n, L)``,
        all measured by the same ``A``.
    batch : int, optional
        ``None`` gives one matrix ``A`` of shape ``(m, n)``; an int ``B`` gives
        ``B`` independent matrices, ``A`` of shape ``(B, m, n)``, and a leading
        ``B`` axis on ``x``, ``y``, ``support`` and ``noise_var``.
    sensing : {"gaussian", "dct"}
        ``"gaussian"``: i.i.d. entries N(0, 1/m), or CN(0, 1/m) when
        ``complex=True``. ``"dct"``: ``m`` distinct rows, drawn uniformly and
        kept in increasing order, of the orthonormal ``n x n`` DCT-II matrix
        (real even when ``complex=True``; needs ``m <= n``).
    support : {"fixed", "bernoulli"}
        ``"fixed"``: exactly ``k`` nonzeros per problem at uniformly random
        positions. ``"bernoulli"``: each entry is nonzero independently with
        probability ``p`` (so a problem may have no nonzeros at all).
    p : float, optional
        Probability of a nonzero entry, in ``(0, 1]``; only for
        ``support="bernoulli"``, where exactly one of ``k`` and ``p`` is given.
    amplitude : {"gaussian", "rademacher"}
        Values on the support: N(0, 1) (CN(0, 1) when complex), or ``+-1``
        (unit modulus with a uniform random phase when complex).
    complex : bool
        Draw complex signals, noise and (for ``sensing="gaussian"``) matrix.
    snr_db : float, optional
        ``None`` for noiseless measurements. Otherwise each problem gets noise
        of variance ``||A x||^2 / (m * 10**(snr_db / 10))``, real Gaussian or
        circular complex Gaussian.
    normalize_columns : bool
        Scale every column of ``A`` to unit l2 norm. Identically zero columns,
        possible only for ``sensing="dct"`` with very few rows, stay zero.
    random_state : None, int or numpy.random.Generator
        Seed or generator, passed to :func:`numpy.random.default_rng`; the
        same seed gives the same problem.

    Returns
    -------
    CSProblem
        ``A`` is float64 (complex128 for complex Gaussian sensing); ``x`` and
        ``y`` are float64, or complex128 when ``complex=True``.

    Raises
    ------
    ValueError
        An argument is out of range, an unknown option, or ``k``/``p`` are
        missing or both given where one is needed.
    TypeError
        An argument has the wrong type.

    Examples
    --------
    >>> from sparserec.simulate import gaussian_cs
    >>> prob = gaussian_cs(20, 50, 3, n_targets=4, snr_db=30, random_state=0)
    >>> prob.A.shape, prob.x.shape, prob.y.shape, prob.noise_var.shape
    ((20, 50), (50, 4), (20, 4), (4,))
    >>> int(prob.support.sum(axis=0).max())
    3
    """
    m = check_scalar(m, "m", kind="int", low=1)
    n = check_scalar(n, "n", kind="int", low=1)
    k = check_scalar(k, "k", kind="int", low=1, high=n, allow_none=True)
    n_targets = check_scalar(n_targets, "n_targets", kind="int", low=1, allow_none=True)
    batch = check_scalar(batch, "batch", kind="int", low=1, allow_none=True)
    _check_option(sensing, "sensing", _SENSING)
    _check_option(support, "support", _SUPPORT)
    _check_option(amplitude, "amplitude", _AMPLITUDE)
    p = _check_sparsity(support, k, p, n)
    snr_db = check_scalar(snr_db, "snr_db", allow_none=True)
    check_bool(complex, "complex")
    check_bool(normalize_columns, "normalize_columns")
    if sensing == "dct" and m > n:
        raise ValueError(f"sensing='dct' takes m <= n rows of the n x n DCT, got m={m}, n={n}")
    rng = _check_random_state(random_state)

    n_mat, n_col = batch or 1, n_targets or 1
    A = _sensing_matrix(rng, sensing, n_mat, m, n, complex)
    if normalize_columns:
        norms = np.linalg.norm(A, axis=-2, keepdims=True)
        A = A / np.where(norms > 0, norms, 1.0)
    mask = _support_mask(rng, support, (n_mat, n, n_col), k, p)
    x = np.where(mask, _amplitudes(rng, amplitude, mask.shape, complex), 0)
    y = A @ x
    noise_var = np.zeros((n_mat, n_col))
    if snr_db is not None:
        noise_var = np.sum(np.abs(y) ** 2, axis=-2) / (m * 10.0 ** (snr_db / 10))
        y = y + np.sqrt(noise_var)[:, None, :] * _standard_normal(rng, y.shape, complex)
    noise_var = _squeeze(noise_var, batch, n_targets)
    return CSProblem(A=A if batch is not None else A[0], x=_squeeze(x, batch, n_targets),
                     y=_squeeze(y, batch, n_targets),
                     noise_var=float(noise_var) if noise_var.ndim == 0 else noise_var,
                     support=_squeeze(mask, batch, n_targets))


def _check_option(value, name, options):
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")


def _check_sparsity(support, k, p, n):
    """Return the Bernoulli rate ``p`` (None for fixed supports) after checking k and p."""
    if support == "fixed":
        if k is None:
            raise ValueError("k is required when support='fixed'")
        if p is not None:
            raise ValueError("p is only used with support='bernoulli'; give k alone")
        return None
    if (k is None) == (p is None):
        raise ValueError("support='bernoulli' needs exactly one of k and p, "
                         f"got k={k!r}, p={p!r}")
    if p is None:
        return k / n
    return check_scalar(p, "p", low=0, low_inclusive=False, high=1)


def _check_random_state(random_state):
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError) as err:
        raise type(err)("random_state must be None, a non-negative int or a "
                        f"numpy.random.Generator, got {random_state!r}") from err


def _standard_normal(rng, shape, is_complex):
    """N(0, 1) or circular CN(0, 1) samples."""
    if is_complex:
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)
    return rng.standard_normal(shape)


def _sensing_matrix(rng, sensing, n_mat, m, n, is_complex):
    """``n_mat`` matrices of shape ``(m, n)``, before column normalisation."""
    if sensing == "gaussian":
        return _standard_normal(rng, (n_mat, m, n), is_complex) / np.sqrt(m)
    dct = scipy.fft.dct(np.eye(n), norm="ortho", axis=0)
    rows = np.sort(rng.random((n_mat, n)).argsort(axis=-1)[:, :m], axis=-1)
    return dct[rows]


def _support_mask(rng, support, shape, k, p):
    """Boolean mask of shape ``(B, n, L)``; "fixed" puts exactly k per column."""
    if support == "bernoulli":
        return rng.random(shape) < p
    ranks = rng.random(shape).argsort(axis=1).argsort(axis=1)
    return ranks < k


def _amplitudes(rng, amplitude, shape, is_complex):
    if amplitude == "gaussian":
        return _standard_normal(rng, shape, is_complex)
    if is_complex:
        return np.exp(2j * np.pi * rng.random(shape))
    return rng.choice([-1.0, 1.0], size=shape)


def _squeeze(arr, batch, n_targets):
    """Drop the trailing L axis and the leading B axis the caller did not ask for."""
    if n_targets is None:
        arr = arr[..., 0]
    return arr if batch is not None else arr[0]
