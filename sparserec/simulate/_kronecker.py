"""Kronecker-structured problems ``y = (A_1 ⊗ ... ⊗ A_I) x + noise`` with a
Kronecker-supported ``x`` (the synthetic setup of KroSBL)."""
import math
from dataclasses import dataclass

import numpy as np

from .._validation import check_bool, check_scalar
from ..operators import Kron
from ._compressed_sensing import _check_option, _check_random_state, _standard_normal

__all__ = ["KroneckerCSProblem", "kronecker_cs"]

_VALUES = ("rank1", "iid")


@dataclass(frozen=True, eq=False)
class KroneckerCSProblem:
    """One simulated problem ``y = (A_1 ⊗ ... ⊗ A_I) @ x + noise``.

    Vectors are C-order flattenings of tensors: ``x`` of an ``(n_1, ..., n_I)``
    tensor (mode 1 slowest), ``y`` of an ``(m_1, ..., m_I)`` tensor, matching
    ``np.kron(A_1, np.kron(A_2, ...))``.

    Parameters
    ----------
    op : sparserec.operators.Kron
        The sensing operator, ``Kron(*factors)``.
    factors : tuple of ndarray
        The factors ``A_i`` of shape ``(m_i, n_i)``.
    x : ndarray of shape ``(prod(n),)``
        Sparse signal.
    y : ndarray of shape ``(prod(m),)``
        Measurements.
    noise_var : float
        Variance of the noise added to ``y`` (zero when noiseless).
    support : ndarray of bool, shape ``(prod(n),)``
        ``True`` on the Kronecker support ``S_1 x ... x S_I``.
    factor_supports : tuple of ndarray of int
        The sorted indices ``S_i`` of each mode.
    """

    op: Kron
    factors: tuple
    x: np.ndarray
    y: np.ndarray
    noise_var: float
    support: np.ndarray
    factor_supports: tuple


def kronecker_cs(m=(6, 8, 8), n=(10, 10, 10), k=2, *, snr_db=None, values="rank1",
                 complex=False, random_state=None):
    """Draw a Kronecker-structured problem with a Kronecker-supported signal.

    The setup of the KroSBL synthetic experiments: unnormalised factors with
    i.i.d. N(0, 1) entries, ``k_i`` nonzero indices per mode drawn uniformly
    without replacement, so that the support of ``x`` is their Cartesian
    product (``prod(k)`` nonzeros).

    Parameters
    ----------
    m : sequence of int
        Rows ``m_i >= 1`` of each factor; ``M = prod(m)`` measurements.
    n : sequence of int
        Columns ``n_i >= 1`` of each factor, as many as in ``m`` (any number
        of modes ``I >= 1``); ``N = prod(n)`` unknowns.
    k : int or sequence of int
        Nonzeros per mode, ``1 <= k_i <= n_i``; one int applies to every mode.
    snr_db : float, optional
        ``None`` for noiseless measurements. Otherwise noise of variance
        ``||A x||^2 / (M * 10**(snr_db / 10))``, real Gaussian or circular
        complex Gaussian.
    values : {"rank1", "iid"}
        ``"rank1"``: ``x = x_1 ⊗ ... ⊗ x_I`` with N(0, 1) nonzeros in each
        ``x_i``. ``"iid"``: i.i.d. N(0, 1) values on the Kronecker support.
        CN(0, 1) instead of N(0, 1) when ``complex=True``.
    complex : bool
        Draw complex factors (CN(0, 1) entries), signal and noise.
    random_state : None, int or numpy.random.Generator
        Seed or generator, passed to :func:`numpy.random.default_rng`. The
        draws are, in order: the factors, the support (and for ``"rank1"``
        the values) of each mode, the ``"iid"`` values, the noise.

    Returns
    -------
    KroneckerCSProblem
        Arrays are float64, or complex128 when ``complex=True``.

    Raises
    ------
    ValueError
        An argument is out of range, ``m``, ``n`` and ``k`` disagree in
        length, or ``values`` is unknown.
    TypeError
        An argument has the wrong type.

    Examples
    --------
    >>> from sparserec.simulate import kronecker_cs
    >>> prob = kronecker_cs((3, 4), (5, 6), k=(2, 3), snr_db=20, random_state=0)
    >>> prob.op.shape, int(prob.support.sum())
    ((12, 30), 6)
    >>> [s.tolist() for s in prob.factor_supports]
    [[1, 2], [2, 4, 5]]
    """
    m = _check_sizes(m, "m")
    n = _check_sizes(n, "n")
    if len(m) != len(n):
        raise ValueError(f"m and n must have the same length, got {len(m)} and {len(n)}")
    k = _check_per_mode_k(k, n)
    snr_db = check_scalar(snr_db, "snr_db", allow_none=True)
    _check_option(values, "values", _VALUES)
    check_bool(complex, "complex")
    rng = _check_random_state(random_state)

    factors = tuple(_standard_normal(rng, (mi, ni), complex) for mi, ni in zip(m, n))
    supports, block = _kronecker_block(rng, n, k, values, complex)
    x = np.zeros(n, dtype=block.dtype)
    x[np.ix_(*supports)] = block
    support = np.zeros(n, dtype=bool)
    support[np.ix_(*supports)] = True
    op = Kron(*factors)
    x = x.reshape(-1)
    y = op @ x
    noise_var = 0.0
    if snr_db is not None:
        noise_var = float(np.sum(np.abs(y) ** 2) / (y.size * 10.0 ** (snr_db / 10)))
        y = y + np.sqrt(noise_var) * _standard_normal(rng, y.shape, complex)
    return KroneckerCSProblem(op=op, factors=factors, x=x, y=y, noise_var=noise_var,
                              support=support.reshape(-1), factor_supports=supports)


def _check_sizes(sizes, name):
    """A non-empty tuple of ints >= 1."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"{name} must be a sequence of ints (one per mode), got {sizes!r}")
    if len(sizes) == 0:
        raise ValueError(f"{name} must have at least one mode, got {sizes!r}")
    return tuple(check_scalar(s, f"{name}[{i}]", kind="int", low=1)
                 for i, s in enumerate(sizes))


def _check_per_mode_k(k, n):
    """``k`` as one int per mode, ``1 <= k_i <= n_i``."""
    if isinstance(k, (str, bytes)) or not hasattr(k, "__len__"):
        k = (k,) * len(n)
    elif len(k) != len(n):
        raise ValueError(f"k must be an int or have one entry per mode ({len(n)}), "
                         f"got {len(k)} entries")
    return tuple(check_scalar(ki, f"k[{i}]", kind="int", low=1, high=ni)
                 for i, (ki, ni) in enumerate(zip(k, n)))


def _kronecker_block(rng, n, k, values, is_complex):
    """The sorted support of each mode and the ``k_1 x ... x k_I`` block of nonzeros."""
    supports, parts = [], []
    for ni, ki in zip(n, k):
        supports.append(np.sort(rng.choice(ni, size=ki, replace=False)))
        if values == "rank1":
            parts.append(_standard_normal(rng, ki, is_complex))
    if values == "rank1":
        return tuple(supports), math.prod(np.ix_(*parts))
    return tuple(supports), _standard_normal(rng, k, is_complex)
