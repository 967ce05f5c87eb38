"""Sparse Bayesian learning (EM-SBL) and its pattern-coupled variant (PC-SBL).

Model: ``y = A x + n`` with ``n ~ N(0, s I)`` (``CN`` for complex data) and the
hierarchical prior ``x | gamma ~ N(0, diag(gamma))``.  One EM iteration is

* **E-step**: the Gaussian posterior of ``x`` given ``gamma`` and ``s``: mean
  ``mu = gamma * A^H Sigma_y^{-1} y`` and diagonal covariance
  ``diag Sigma = gamma - gamma^2 * diag(A^H Sigma_y^{-1} A)``,
  ``Sigma_y = s I + A diag(gamma) A^H`` (Woodbury form, an ``m x m`` solve, when
  ``m <= n``; the ``n x n`` form ``gamma^{1/2} (I + gamma^{1/2} A^H A gamma^{1/2} / s)^{-1}
  gamma^{1/2}`` otherwise);
* **M-step**: ``gamma = |mu|^2 + diag Sigma`` (classic SBL; averaged over the
  snapshots of an MMV problem), or the PC-SBL precision update of Fang et al.
  (IEEE TSP 2015) for block-sparse signals.  ``update="mackay"`` replaces the EM
  update by Tipping's (MacKay's) fixed point ``gamma = |mu|^2 / (1 - Sigma_jj / gamma_j)``
  (the update of scikit-learn's ``ARDRegression``): the same fixed points, reached
  in fewer iterations with faster pruning, but without EM's monotone cost;
* optionally the noise update ``s = (||y - A mu||^2 + s * sum_j (1 - Sigma_jj / gamma_j)) / m``;
* **pruning**: hyper-parameters below ``prune * max(gamma)`` are set to zero for
  good (the column leaves the model).

Independent problems (columns of ``y``, entries of a stack) are one batch: the
state holds a ``gamma`` per problem and the E-step is a batched solve, written
against the array API (NumPy, CuPy, ``array_api_strict``).  Pruned columns are
removed from the working dictionary at the criterion checks (when fewer than 80%
of the columns are still used by any running problem), so an iteration costs
``O(P (m^2 w + m^3))`` for ``w`` surviving columns.  The cost
``L = log det Sigma_y + y^H Sigma_y^{-1} y`` (summed over snapshots) is recorded
at every iteration.
"""
import math

import numpy as np

from .._array import abs2, conj, get_namespace, is_complex, real_dtype, to_numpy
from .._validation import check_bool, check_problem, check_scalar
from ..operators import Dense
from ._engine import run

__all__ = ["sbl", "pattern_coupled_sbl"]

# PC-SBL hyper-priors of the reference code (Fang et al.; the KroSBL authors' PCSBL.m)
_PC_A, _PC_B = 0.5, 1e-4
_PC_PRUNE_RATIO, _PC_PRUNED_PRECISION = 1e3, 1e10
# the working dictionary shrinks at a check once at most this share of its columns is used
_COMPACT_SHARE = 0.8


def _safe_div(xp, a, b):
    return a / xp.where(b > 0, b, xp.ones_like(b))


def _relative_change(xp, new, old, axis=-1):
    """``||new - old|| / ||old||`` along ``axis`` (0 when both vanish, inf when only
    ``old`` does): the SBL stopping value."""
    diff = xp.sqrt(xp.sum((new - old) ** 2, axis=axis))
    ref = xp.sqrt(xp.sum(old ** 2, axis=axis))
    inf = xp.full_like(diff, math.inf)
    return xp.where(ref > 0, _safe_div(xp, diff, ref), xp.where(diff > 0, inf, xp.zeros_like(diff)))


def _prune_relative(xp, gamma, ratio, floor=0.0, axis=-1):
    """Zero the entries of ``gamma`` below ``ratio * max(gamma)`` (along ``axis``) or below
    ``floor``."""
    top = xp.max(gamma, axis=axis, keepdims=True)
    keep = (gamma >= ratio * top) & (gamma >= floor) & (gamma > 0)
    return xp.where(keep, gamma, xp.zeros_like(gamma))


def _learned_noise(xp, noise, residual_energy, explained, m, energy):
    """The EM noise update ``(||y - A mu||^2 + s * sum_j gamma_j q_j) / m``, floored at
    ``sqrt(eps) * ||y||^2 / m`` (-78 dB in float64, -35 dB in float32) so that the Cholesky factors of
    ``Sigma_y`` exist when the model fits exactly with fewer live atoms than
    measurements (at ``eps`` they broke down in noiseless phase transitions); an
    all-zero ``y`` keeps its noise."""
    new = (residual_energy + noise * explained) / m
    floor = math.sqrt(float(xp.finfo(noise.dtype).eps)) * energy / m
    return xp.where(energy > 0, xp.where(new >= floor, new, floor), noise)


def _initial_noise(xp, Y, m):
    """``0.1 * var(y)`` per problem (the reference's start), 1 for an all-zero ``y``."""
    mean = xp.sum(Y, axis=-2, keepdims=True) / m
    var = xp.sum(abs2(xp, Y - mean), axis=(-2, -1)) / (m * Y.shape[-1])
    return xp.where(var > 0, 0.1 * var, xp.ones_like(var))


def _initial_gamma(xp, gamma_init, power, norms2):
    """The starting variance per problem, ``(G,)``; 0 for an all-zero ``y``.

    ``"auto"`` is ``||y||^2 / ||A||_F^2`` (``||y||^2`` averaged over snapshots), the
    level at which equal variances explain the energy of ``y``: invariant to the
    scales of ``A`` and ``y``.  Measured on the IRS channels of krosbl.md §4.1 it
    prunes far sooner than a start at the best single atom's variance
    (``max_j |a_j^H y|^2 / ||a_j||^4``: 45 s and -13 dB per classic-SBL trial
    against 14 s and -19 dB).  ``power`` ``(G,)`` is the mean energy of ``y`` per
    snapshot, ``norms2`` ``(n,)`` or ``(G, n)`` the squared column norms.
    """
    if gamma_init == "auto":
        start = power / xp.sum(norms2, axis=-1)
    else:
        start = xp.full_like(power, gamma_init)
    return xp.where(power > 0, start, xp.zeros_like(start))


def _check_gamma_init(gamma_init):
    if isinstance(gamma_init, str):
        if gamma_init != "auto":
            raise ValueError(f"gamma_init must be 'auto' or a positive number, got {gamma_init!r}")
        return gamma_init
    return check_scalar(gamma_init, "gamma_init", low=0, low_inclusive=False)


def _check_noise_var(noise_var):
    """``None`` (learned) or a positive finite float (known)."""
    if noise_var is None:
        return None
    return check_scalar(noise_var, "noise_var", low=0, low_inclusive=False)


def _check_prune(prune, name="prune"):
    """A relative pruning threshold in ``[0, 1)``."""
    return check_scalar(prune, name, low=0, high=1)


class _EMSBL:
    """EM-SBL (``coupling=None``) or PC-SBL (``coupling=eta``) on the engine.

    Internal arrays are problems first: ``A`` ``(m, w)`` shared or ``(G, m, w)``
    stacked (the ``w`` surviving columns ``cols``), ``gamma``/``d`` ``(G, w)``,
    grouped measurements ``Yg`` ``(G, m, Lg)`` (``Lg`` snapshots share a ``gamma``
    when ``joint``), noise ``(G, 1, 1)``.
    """

    def __init__(self, *, noise_var, prune, joint, coupling, max_iter, gamma_init, update="em"):
        self.noise_var, self.prune, self.joint = noise_var, prune, joint
        self.coupling, self.max_iter, self.gamma_init = coupling, max_iter, gamma_init
        self.update = update

    # -- engine protocol ------------------------------------------------------------
    def init(self, op, Y):
        xp = op.xp
        A = op.A if isinstance(op, Dense) else op.todense()
        # a real A with complex y: every product must be complex (check_problem promotes Y)
        if is_complex(xp, Y) and not is_complex(xp, A):
            A = xp.astype(A, Y.dtype)
        m, n = op.shape
        if op.is_stacked:
            Yg, self.axes_of_group = Y, 0
        elif self.joint:
            Yg, self.axes_of_group = Y[None, ...], None
        else:
            Yg, self.axes_of_group = xp.permute_dims(Y, (1, 0))[..., None], 0
        G = Yg.shape[0]
        rdt = real_dtype(xp, Y.dtype)
        energy = xp.sum(abs2(xp, Yg), axis=(-2, -1))
        start = _initial_gamma(xp, self.gamma_init, energy / Yg.shape[-1],
                               xp.sum(abs2(xp, A), axis=-2))
        gamma = xp.broadcast_to(start[:, None], (G, n)) * xp.ones((G, n), dtype=rdt)
        if self.noise_var is None:
            noise = _initial_noise(xp, Yg, m)
        else:
            noise = xp.full((G,), self.noise_var, dtype=rdt)
        state = {"A": A, "cols": xp.arange(n), "inv": xp.arange(n), "Yg": Yg,
                 "energy": energy, "gamma": gamma, "noise": noise,
                 "change": xp.full((G,), math.inf, dtype=rdt),
                 "costs": xp.full((G, self.max_iter + 1), math.nan, dtype=rdt)}
        group = self.axes_of_group
        self.state_axes = {"A": 0 if op.is_stacked else None, "cols": None, "inv": None,
                           "x": 0 if op.is_stacked else -1}
        for key in ("Yg", "energy", "gamma", "noise", "change", "costs", "d",
                    "explained", "residual", "post_var", "mu"):
            self.state_axes[key] = group
        self._n = n
        return self._estep(state, 0)

    def step(self, op, Y, st, it):
        xp = op.xp
        st = dict(st)
        old = st["gamma"]
        if self.noise_var is None:
            m = st["Yg"].shape[-2]
            st["noise"] = _learned_noise(xp, st["noise"], st["residual"], st["explained"], m,
                                        st["energy"] / st["Yg"].shape[-1])
        if self.coupling is None:
            target = (st["d"] if self.update == "em"
                      else self._mackay(xp, st["d"], st["post_var"], old))
            gamma = _prune_relative(xp, target, self.prune)
        else:
            gamma = self._pc_update(xp, st["d"])
        st["gamma"] = gamma
        st["change"] = _relative_change(xp, gamma, old)
        return self._estep(st, it + 1)

    def criterion(self, op, Y, st):
        change = st["change"]
        if self.joint:
            return _broadcast(op.xp, change, Y.shape[-1])
        return _layout(op, change)

    def refresh(self, op, Y, st):
        """Drop the columns no running problem uses any more (a host sync, at checks only)."""
        if self.coupling is not None:
            return st                           # PC-SBL couples neighbours: keep every column
        xp = op.xp
        used = to_numpy(xp.any(st["gamma"] > 0, axis=0))
        width = used.size
        if used.sum() > _COMPACT_SHARE * width or not used.any():
            return st
        keep_host = np.flatnonzero(used)
        keep = xp.asarray(keep_host)
        st = dict(st)
        st["A"] = xp.take(st["A"], keep, axis=-1)
        for key in ("gamma", "d", "post_var"):
            st[key] = xp.take(st[key], keep, axis=1)
        st["mu"] = xp.take(st["mu"], keep, axis=1)
        cols = to_numpy(st["cols"])[keep_host]
        inv = np.full(self._n, cols.size, dtype=np.int64)
        inv[cols] = np.arange(cols.size)
        st["cols"], st["inv"] = xp.asarray(cols), xp.asarray(inv)
        return st

    def finalize(self, op, Y, st):
        xp = op.xp
        G = st["gamma"].shape[0]
        gamma = self._full(xp, st["gamma"][..., None], st["inv"])[..., 0]
        post_var = self._full(xp, st["post_var"][..., None], st["inv"])[..., 0]
        out = {"gamma": gamma, "noise_var": st["noise"], "posterior_var": post_var,
               "cost_curve": st["costs"]}
        if self.joint:
            L = Y.shape[-1]
            out = {k: xp.broadcast_to(v, (L,) + tuple(v.shape[1:])) if G == 1 else v
                   for k, v in out.items()}
        return out

    # -- the EM pieces ----------------------------------------------------------------
    def _estep(self, st, it):
        """Posterior of ``x`` for the current ``gamma``, noise statistics and cost."""
        A, gamma, noise, Yg = st["A"], st["gamma"], st["noise"], st["Yg"]
        xp = get_namespace(A)
        mu, post_var, explained, logdet, quad = _posterior(xp, A, gamma, noise, Yg)
        Lg = Yg.shape[-1]
        st["mu"], st["post_var"] = mu, post_var
        st["d"] = xp.sum(abs2(xp, mu), axis=-1) / Lg + post_var
        st["explained"] = explained
        if self.noise_var is None:          # the residual only feeds the noise update
            st["residual"] = xp.sum(abs2(xp, Yg - A @ mu), axis=(-2, -1)) / Lg
        cost = Lg * logdet + quad
        iota = xp.arange(self.max_iter + 1)[None, :]
        st["costs"] = xp.where(iota == it, cost[:, None], st["costs"])
        full = self._full(xp, mu, st["inv"])
        st["x"] = full if self.state_axes["x"] == 0 else \
            xp.reshape(xp.permute_dims(full, (1, 0, 2)), (self._n, -1))
        return st

    @staticmethod
    def _full(xp, V, inv):
        """Zero-filled ``(G, n, Lg)`` from the surviving columns ``(G, w, Lg)``."""
        pad = xp.concat([V, xp.zeros_like(V[:, :1, :])], axis=1)
        return xp.take(pad, inv, axis=1)

    @staticmethod
    def _mackay(xp, d, post_var, gamma):
        """``|mu|^2 / (1 - Sigma_jj / gamma_j)``; 0 where the data leave ``x_j``
        undetermined (``Sigma_jj = gamma_j``) or the column is pruned."""
        q = 1.0 - _safe_div(xp, post_var, gamma)
        ok = (q > 0) & (gamma > 0)
        return xp.where(ok, _safe_div(xp, d - post_var, xp.where(ok, q, xp.ones_like(q))),
                        xp.zeros_like(q))

    def _pc_update(self, xp, d):
        """The PC-SBL precision update on the coupled second moments."""
        eta = self.coupling
        E = d + eta * _neighbour_sum(xp, d)
        alpha = (_PC_A + 0.5) / (0.5 * E + _PC_B)
        low = xp.min(alpha, axis=-1, keepdims=True)
        alpha = xp.where(alpha > _PC_PRUNE_RATIO * low, xp.full_like(alpha, _PC_PRUNED_PRECISION),
                         alpha)
        return 1.0 / (alpha + eta * _neighbour_sum(xp, alpha))


def _layout(op, values):
    """A ``(P,)`` per-problem value in the engine's layout (``(1, P)`` or ``(P, 1, 1)``)."""
    xp = op.xp
    return xp.reshape(values, (-1, 1, 1)) if op.is_stacked else xp.reshape(values, (1, -1))


def _broadcast(xp, value, L):
    """One group's value for each of its ``L`` columns, ``(1, L)``."""
    return xp.broadcast_to(xp.reshape(value, (1, 1)), (1, L))


def _neighbour_sum(xp, v):
    """``v[n-1] + v[n+1]`` along the last axis (zero beyond the ends)."""
    zero = xp.zeros_like(v[..., :1])
    return xp.concat([zero, v[..., :-1]], axis=-1) + xp.concat([v[..., 1:], zero], axis=-1)


def _posterior(xp, A, gamma, noise, Yg):
    """E-step of SBL for every group (batched, array API).

    Parameters
    ----------
    xp : module
    A : array ``(m, w)`` or ``(G, m, w)``
    gamma : array ``(G, w)``
        Prior variances (zero: column switched off).
    noise : array ``(G,)``
    Yg : array ``(G, m, Lg)``
        Measurements; the ``Lg`` snapshots of a group share ``gamma``.

    Returns
    -------
    mu : ``(G, w, Lg)`` posterior means
    post_var : ``(G, w)`` posterior variances ``diag Sigma``
    explained : ``(G,)`` ``sum_j gamma_j (A^H Sigma_y^{-1} A)_jj = sum_j (1 - Sigma_jj/gamma_j)``
    logdet : ``(G,)`` ``log det Sigma_y``
    quad : ``(G,)`` ``sum over snapshots of y^H Sigma_y^{-1} y``
    """
    m, w = A.shape[-2:]
    AH = conj(xp, xp.matrix_transpose(A))
    s = noise[:, None, None]
    cplx = is_complex(xp, A) or is_complex(xp, Yg)
    re = (lambda v: xp.real(v)) if cplx else (lambda v: v)
    if m <= w:                                               # Woodbury: m x m systems
        Sy = (A * xp.astype(gamma[:, None, :], A.dtype)) @ AH
        Sy = Sy + xp.astype(s, Sy.dtype) * xp.eye(m, dtype=Sy.dtype)
        chol = xp.linalg.cholesky(Sy)
        # Sigma_y^-1 = L^-H L^-1: one product with A (m^2 w) gives the diagonal
        # terms, where a solve with A as right-hand side would take two
        Linv = xp.linalg.inv(chol)
        LinvH = conj(xp, xp.matrix_transpose(Linv))
        Z = LinvH @ (Linv @ xp.astype(Yg, Sy.dtype))
        mu = xp.astype(gamma[..., None], Z.dtype) * (AH @ Z)
        gq = gamma * xp.sum(abs2(xp, Linv @ A), axis=-2)
        post_var = gamma - gamma * gq
        logdet = 2.0 * xp.sum(xp.log(re(xp.linalg.diagonal(chol))), axis=-1)
        quad = xp.sum(re(conj(xp, Yg) * Z), axis=(-2, -1))
    else:                                                    # n x n form
        root = xp.sqrt(gamma)
        rootc = xp.astype(root, A.dtype)
        K = rootc[:, :, None] * (AH @ A) * rootc[:, None, :] / xp.astype(s, A.dtype)
        K = K + xp.eye(w, dtype=K.dtype)
        chol = xp.linalg.cholesky(K)
        Kinv = xp.linalg.inv(K)
        AHy = AH @ xp.astype(Yg, A.dtype)
        mu = rootc[..., None] * (Kinv @ (rootc[..., None] * AHy)) / xp.astype(s, A.dtype)
        kdiag = re(xp.linalg.diagonal(Kinv))
        post_var = gamma * kdiag
        gq = 1.0 - kdiag                                     # = 1 - Sigma_jj / gamma_j
        logdet = m * xp.log(noise) + 2.0 * xp.sum(xp.log(re(xp.linalg.diagonal(chol))), axis=-1)
        quad = (xp.sum(abs2(xp, Yg), axis=(-2, -1))
                - xp.sum(re(conj(xp, AHy) * mu), axis=(-2, -1))) / noise
    post_var = xp.where(post_var > 0, post_var, xp.zeros_like(post_var))
    return mu, post_var, xp.sum(gq, axis=-1), logdet, quad


def _solve(A, y, *, noise_var, prune, joint, coupling, max_iter, tol, gamma_init, callback,
           name, update="em"):
    problem = check_problem(A, y)
    noise_var = _check_noise_var(noise_var)
    prune = _check_prune(prune)
    joint = check_bool(joint, "joint")
    max_iter = check_scalar(max_iter, "max_iter", kind="int", low=0)
    tol = check_scalar(tol, "tol", low=0)
    gamma_init = _check_gamma_init(gamma_init)
    op = problem.op
    if joint and op.is_stacked:
        raise ValueError("joint=True (shared support over the columns of y) needs one shared "
                         "A, not a stack")
    algo = _EMSBL(noise_var=noise_var, prune=prune, joint=joint, coupling=coupling,
                  max_iter=max_iter, gamma_init=gamma_init, update=update)
    result = run(algo, problem, max_iter=max_iter, tol=tol, check_every=1, name=name,
                 callback=callback)
    _trim_costs(result)
    return result


def _trim_costs(result):
    """Keep the recorded cost iterations only: ``cost_curve`` ``(..., n_iter.max() + 1)``."""
    costs = result.extras.get("cost_curve")
    if costs is not None:
        result.extras["cost_curve"] = costs[..., :int(np.max(result.n_iter)) + 1]


def sbl(A, y, *, noise_var=None, prune=1e-3, joint=False, max_iter=300, tol=1e-4,
        gamma_init="auto", update="em", callback=None):
    """Sparse Bayesian learning by expectation-maximisation (Tipping; Wipf & Rao).

    Parameters
    ----------
    A : array ``(m, n)`` or ``(B, m, n)``, sparse matrix or any operator
        Sensing matrix or stack, real or complex.  Every iteration works on the
        explicit entries, so an operator other than a dense array is formed once
        (``op.todense()``: ``n`` products and ``m * n`` memory); use
        :func:`~sparserec.solvers.kronecker_sbl` to keep a
        :class:`~sparserec.operators.Kron` structure.
    y : array ``(m,)``, ``(m, L)``, ``(B, m)`` or ``(B, m, L)``
        Measurements.  Every column is an independent problem unless
        ``joint=True``.
    noise_var : float, optional
        Known noise variance ``s > 0``; None learns it by EM (started at
        ``0.1 var(y)``).
    prune : float
        Hyper-parameters below ``prune * max(gamma)`` are set to zero for good
        (the reference code's 1e-3; 0 keeps every column).
    joint : bool
        Multiple measurement vectors: the columns of ``y`` share one ``gamma``
        (a common support; M-SBL), for a shared ``A``.
    max_iter : int
        EM iterations.
    tol : float
        Stop a problem once ``||gamma_t - gamma_{t-1}|| <= tol ||gamma_{t-1}||``.
    gamma_init : "auto" or float
        Starting value of every ``gamma_j``: ``"auto"`` is
        ``||y||^2 / ||A||_F^2`` per problem (scale-invariant); the reference
        code uses 1 (with its absolute pruning thresholds, that start belongs
        to the scale of its data).
    update : {"em", "mackay"}
        The hyper-parameter update: EM (monotone cost) or Tipping's fixed point
        (faster, no monotonicity; the noise update stays EM's).
    callback : callable, optional
        Called with a :class:`~sparserec.solvers.Progress` after every iteration.

    Returns
    -------
    Result
        ``x`` is the posterior mean for the final ``gamma``; ``extras`` hold
        ``gamma`` ``(n,)``, ``noise_var``, ``posterior_var`` (``diag Sigma``) and
        ``cost_curve`` (``log det Sigma_y + y^H Sigma_y^{-1} y`` after
        each iteration, starting at the initial ``gamma``) per problem.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers import sbl
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((40, 100))
    >>> x = np.zeros(100)
    >>> x[[3, 30, 70]] = [1.0, -2.0, 1.5]
    >>> res = sbl(A, A @ x + 0.01 * rng.standard_normal(40), noise_var=1e-4)
    >>> np.flatnonzero(np.abs(res.x) > 0.1).tolist()
    [3, 30, 70]
    """
    if update not in ("em", "mackay"):
        raise ValueError(f"update must be 'em' or 'mackay', got {update!r}")
    return _solve(A, y, noise_var=noise_var, prune=prune, joint=joint, coupling=None,
                  max_iter=max_iter, tol=tol, gamma_init=gamma_init, callback=callback,
                  name="sbl", update=update)


def pattern_coupled_sbl(A, y, *, beta=0.9, noise_var=None, max_iter=150, tol=1e-4,
                        callback=None):
    """Pattern-coupled SBL for block-sparse signals (Fang, Shen, Li & Wang, IEEE TSP 2015).

    The prior precision of ``x_j`` is ``alpha_j + beta (alpha_{j-1} + alpha_{j+1})``:
    neighbours share their evidence, so clustered supports are favoured.  The
    precisions follow the reference update ``alpha_j = (a + 1/2) / (E_j / 2 + b)``
    with ``E_j`` the coupled second moments, ``a = 0.5``, ``b = 1e-4``; precisions
    above ``1e3`` times the smallest are set to ``1e10`` (pruned).

    Parameters
    ----------
    A : array ``(m, n)`` or ``(B, m, n)``, Dense or Kron operator
    y : array ``(m,)``, ``(m, L)``, ``(B, m)`` or ``(B, m, L)``
    beta : float
        Coupling, in ``[0, 1]`` (0: no coupling).
    noise_var : float, optional
        Known noise variance; None learns it.
    max_iter : int
    tol : float
        Relative change of ``gamma`` that stops a problem.
    callback : callable, optional

    Returns
    -------
    Result
        As for :func:`sbl`.
    """
    beta = check_scalar(beta, "beta", low=0, high=1)
    return _solve(A, y, noise_var=noise_var, prune=0.0, joint=False, coupling=beta,
                  max_iter=max_iter, tol=tol, gamma_init=1.0, callback=callback,
                  name="pattern_coupled_sbl")
