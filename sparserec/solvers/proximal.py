"""Proximal-gradient solvers: ISTA, FISTA (with adaptive restart), IHT and NIHT.

All four are one gradient step on ``1/2 ||y - A x||^2`` followed by a
threshold from :mod:`sparserec.prox`; they differ in the threshold, the step
rule and the momentum, and all run on :func:`sparserec.solvers._engine.run`
(batches, stacks, per-problem steps and per-problem stopping for free).

Step rules: ISTA/FISTA adapt the step of every problem to the curvature of its
own moves (see :class:`_L1ProximalGradient`; no spectral norm needed); IHT uses
``1/||A||^2``; NIHT the line search of Blumensath & Davies (2010).
"""
import numpy as np

from .._array import abs2, real_dtype, same_namespace, sum_abs2
from .._validation import check_array, check_problem, check_scalar, check_sparsity
from ..operators import Dense
from ..prox import hard_threshold, l1_norm, soft_threshold, top_k
from ._engine import run
from ._l1_rule import CURVATURE_SLACK, GROW, MARGIN, MAX_BACKTRACK, SHRINK

__all__ = ["ista", "fista", "iht", "lasso_duality_gap"]


def _safe(xp, d):
    return xp.where(d > 0, d, xp.ones_like(d))


def _inverse_lipschitz(op, xp):
    """Step ``1 / ||A||^2`` per map (``0-d`` shared, ``(P, 1, 1)`` stacked)."""
    sigma = op.norm2()
    if op.is_stacked:
        sigma = xp.reshape(sigma, (-1, 1, 1))
    return 1.0 / _safe(xp, sigma * sigma)


def lasso_duality_gap(A, y, x, lam):
    """Duality gap of ``1/2 ||y - A x||^2 + lam ||x||_1`` for every problem.

    A certificate of suboptimality: the objective at ``x`` exceeds the optimum
    by at most the gap.  The dual point is the residual scaled into the dual
    feasible set ``||A^H theta||_inf <= lam``; moduli make it valid for complex
    data.

    Parameters
    ----------
    A : array ``(m, n)`` or ``(B, m, n)``, Operator or LinearOperator
    y : array ``(m,)``, ``(m, L)``, ``(B, m)`` or ``(B, m, L)``
        Measurements.
    x : array
        Estimate in the layout of the solvers' result (``(n,)``, ``(n, L)``,
        ``(B, n)`` or ``(B, n, L)``).
    lam : float
        Non-negative l1 weight (unscaled).

    Returns
    -------
    gap, primal : arrays of the problem axes' shape (``()``, ``(L,)``, ``(B,)``, ``(B, L)``)
        Duality gap and objective value at ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers import fista, lasso_duality_gap
    >>> rng = np.random.default_rng(0)
    >>> A, y = rng.standard_normal((20, 40)), rng.standard_normal(20)
    >>> x = fista(A, y, lam=1.0, tol=1e-12).x
    >>> gap, primal = lasso_duality_gap(A, y, x, 1.0)
    >>> bool(gap <= 1e-12 * np.sum(y ** 2))
    True
    """
    problem = check_problem(A, y)
    lam = check_scalar(lam, "lam", low=0)
    X = _check_x0(x, problem, name="x")
    gap, primal = _duality_gap(problem.op, problem.Y, problem.op.xp.astype(X, problem.Y.dtype), lam)
    squeeze = (lambda v: v[..., 0]) if problem.squeeze else (lambda v: v)
    return squeeze(gap[..., 0, :]), squeeze(primal[..., 0, :])


def _duality_gap(op, Y, X, lam, residual=None):
    """:func:`lasso_duality_gap` on ``(m, L)`` / ``(B, m, L)`` layouts; per-problem
    values keep a singleton axis ``-2``.  ``residual`` is ``Y - A X`` when known."""
    xp = op.xp
    R = Y - op._matmat(X) if residual is None else residual
    cmax = xp.max(xp.abs(op._rmatmat(R)), axis=-2, keepdims=True)
    scale = xp.where(cmax > lam, lam / _safe(xp, cmax), xp.ones_like(cmax))
    primal = 0.5 * sum_abs2(xp, R, -2) + lam * l1_norm(xp, X)
    dual = 0.5 * sum_abs2(xp, Y, -2) - 0.5 * sum_abs2(xp, Y - xp.astype(scale, R.dtype) * R, -2)
    return primal - dual, primal


def _real_inner(xp, a, b, weights=None):
    """Per-problem ``Re(a^H W b)`` summed over axis ``-2`` (complex-aware; ``W`` diagonal)."""
    prod = xp.conj(a) * b if xp.isdtype(a.dtype, "complex floating") else a * b
    prod = xp.real(prod) if xp.isdtype(prod.dtype, "complex floating") else prod
    return xp.sum(prod if weights is None else weights * prod, axis=-2, keepdims=True)


def _flatten_stack_columns(xp, X):
    """``(B, n, L)`` to the engine's stacked layout ``(B*L, n, 1)``."""
    B, n, L = X.shape
    return xp.reshape(xp.permute_dims(X, (0, 2, 1)), (B * L, n, 1))


def _squared_column_norms(op):
    """``||a_j||^2`` per column (1 for zero columns), ``(n,)`` or ``(B, n)``, or None."""
    norms = op.column_norms()
    if norms is None:
        return None
    xp = op.xp
    if not bool(xp.all(norms < float(xp.finfo(norms.dtype).max) ** 0.5)):
        raise ValueError(f"A has columns of norm up to {float(xp.max(norms)):.3g}, whose squares "
                         f"overflow {norms.dtype}: rescale A (and y)")
    c2 = norms * norms
    return xp.where(c2 > 0, c2, xp.ones_like(c2))


class _L1ProximalGradient:
    """ISTA (``momentum=False``) or FISTA on the l1 problem, adaptive step, diagonal metric.

    Every step is a proximal-gradient step in the metric ``diag(||a_j||^2)``
    (FISTA on ``u_j = ||a_j|| x_j``, written in ``x``: coordinate ``j`` moves by
    ``g_j / (lip ||a_j||^2)`` and is thresholded at ``lam / (lip ||a_j||^2)``),
    which minimises the same objective and makes the iterates invariant to the
    scaling of the columns of ``A`` (operators without column norms run in the
    plain metric).

    The state carries the iterate ``x``, the extrapolated point ``z``, their
    images ``sx = A x - y`` and ``sz = A z - y`` (updated with the move's image
    ``A d``, ``d = x_new - z``, and recomputed exactly at each check), the
    gradient ``g = A^H sz``, and per problem the l1 weight ``lam``, the ``lip`` to
    try next, the ``lip`` of the last accepted step and the momentum ``t``.  A
    trial is *rejected* when the move's curvature ``||A d||^2 / ||d||_W^2`` exceeds
    ``lip`` (``lip`` then grows to at least ``MARGIN`` times that curvature and the
    next iteration retries from the same point), otherwise accepted (and the next
    iteration tries ``SHRINK * lip``): every accepted step is a valid majorisation
    step, and no iteration waits for the host (no backtracking loop).  The
    momentum uses the ratio of successive accepted ``lip`` (Scheinberg, Goldfarb &
    Bai, FoCM 2014); the gradient restart of O'Donoghue & Candes resets it when
    it points uphill.  The first trial's ``lip`` is the curvature along the
    first preconditioned gradient.

    :func:`fast_path` runs the same iteration in Numba (:mod:`._l1_numba`) for
    batches of explicit NumPy matrices.
    """

    def __init__(self, lam, momentum, restart, x0):
        self.lam, self.momentum, self.restart, self.x0 = lam, momentum, restart, x0

    def init(self, op, Y):
        xp = op.xp
        rdtype = real_dtype(xp, Y.dtype)
        X = _start(op, Y, self.x0)
        SX = op._matmat(X) - Y
        c2 = _squared_column_norms(op)
        if c2 is None:
            c2 = xp.ones((op.shape[1], 1), dtype=rdtype)
        c2 = xp.astype(xp.reshape(c2, (-1, op.shape[1], 1)) if op.is_stacked
                       else xp.reshape(c2, (-1, 1)), rdtype)
        self.state_axes = {} if op.is_stacked else {"c2": None}
        C = op._rmatmat(Y)
        D0 = C / xp.astype(c2, C.dtype)
        dd = xp.sum(c2 * abs2(xp, D0), axis=-2, keepdims=True)
        lip = xp.where(dd > 0, sum_abs2(xp, op._matmat(D0), -2) / _safe(xp, dd),
                       xp.ones_like(dd))
        lip = xp.where(lip > 0, lip, xp.ones_like(lip))
        G = -C if self.x0 is None else op._rmatmat(SX)
        return {"x": X, "sx": SX, "z": X, "sz": SX, "g": G, "lip": lip,
                "lip_acc": lip / SHRINK, "t": xp.ones_like(lip), "nback": xp.zeros_like(lip),
                "lam": xp.full_like(lip, self.lam), "c2": c2}

    def step(self, op, Y, st, it):
        xp = op.xp
        X, SX, Z, SZ, G = st["x"], st["sx"], st["z"], st["sz"], st["g"]
        lip, c2, lam = st["lip"], st["c2"], st["lam"]
        scale = lip * c2
        Xn = soft_threshold(Z - G / xp.astype(scale, G.dtype), lam / scale)
        D = Xn - Z
        AD = op._matmat(D)
        dd = xp.sum(c2 * abs2(xp, D), axis=-2, keepdims=True)
        curv = sum_abs2(xp, AD, -2)
        accept = ~((curv > lip * dd * (1.0 + CURVATURE_SLACK)) & (dd > 0)
                   & (st["nback"] < MAX_BACKTRACK))
        SN = SZ + AD
        t = st["t"]
        if self.momentum:
            if self.restart:
                uphill = _real_inner(xp, Z - Xn, Xn - X, c2) > 0
                t = xp.where(uphill, xp.ones_like(t), t)
            t_next = 0.5 * (1.0 + xp.sqrt(1.0 + 4.0 * t * t * lip / st["lip_acc"]))
            beta = xp.astype((t - 1.0) / t_next, Xn.dtype)
            Zn, SZn = Xn + beta * (Xn - X), SN + beta * (SN - SX)
        else:
            t_next, Zn, SZn = t, Xn, SN
        Gn = op._rmatmat(SZn)

        def keep(new, old):
            return xp.where(accept, new, old)

        return {"x": keep(Xn, X), "sx": keep(SN, SX), "z": keep(Zn, Z), "sz": keep(SZn, SZ),
                "g": keep(Gn, G),
                "lip": keep(lip * SHRINK, xp.maximum(MARGIN * curv / _safe(xp, dd), lip * GROW)),
                "lip_acc": keep(lip, st["lip_acc"]), "t": keep(t_next, st["t"]),
                "nback": keep(xp.zeros_like(lip), st["nback"] + 1.0), "lam": lam, "c2": c2}

    def refresh(self, op, Y, st):
        """Recompute the images exactly (they are updated incrementally between checks)."""
        st = dict(st)
        st["sx"] = op._matmat(st["x"]) - Y
        st["sz"] = op._matmat(st["z"]) - Y if self.momentum else st["sx"]
        return st

    def criterion(self, op, Y, st):
        xp = op.xp
        gap, _ = _duality_gap(op, Y, st["x"], st["lam"], residual=-st["sx"])
        return gap / _safe(xp, sum_abs2(xp, Y, -2))

    def fast_path(self, problem, *, max_iter, tol, check_every):
        """The Numba execution of this iteration, for batches of explicit NumPy matrices.

        A single problem stays on the array-API path: it needs no compiled
        code, so a first call in a fresh process costs what scikit-learn's does.
        """
        op, Y = problem.op, problem.Y
        n_problems = Y.shape[-1] * (op.batch_shape[0] if op.is_stacked else 1)
        if not (_USE_NUMBA and n_problems >= _NUMBA_MIN_PROBLEMS and isinstance(op, Dense)
                and isinstance(op.A, np.ndarray) and isinstance(Y, np.ndarray)
                and Y.dtype.type in (np.float32, np.float64, np.complex64, np.complex128)
                and _numba_pays(op, Y)):
            return None
        from ._l1_numba import solve_l1_numba
        return solve_l1_numba(op, Y, _squared_column_norms(op), lam=self.lam,
                              momentum=self.momentum, restart=self.restart, max_iter=max_iter,
                              tol=tol, check_every=check_every, x0=self.x0)


def _start(op, Y, x0):
    """The starting point in solver layout (``x0`` is in the problem's ``(n, L)`` /
    ``(B, n, L)`` layout; a stack's columns are flattened as the engine does)."""
    xp = op.xp
    shape = Y.shape[:-2] + (op.shape[1], Y.shape[-1])
    if x0 is None:
        return xp.zeros(shape, dtype=Y.dtype)
    x0 = xp.astype(x0, Y.dtype)
    if op.is_stacked and x0.shape[0] != Y.shape[0]:
        x0 = _flatten_stack_columns(xp, x0)
    return x0


def _solve_l1(A, y, lam, momentum, restart, max_iter, tol, check_every, x0, callback, name):
    problem = check_problem(A, y)
    lam = check_scalar(lam, "lam", low=0)
    max_iter = check_scalar(max_iter, "max_iter", kind="int", low=0)
    tol = check_scalar(tol, "tol", low=0)
    check_every = check_scalar(check_every, "check_every", kind="int", low=1)
    algo = _L1ProximalGradient(lam, momentum, restart, _check_x0(x0, problem))
    return run(algo, problem, max_iter=max_iter, tol=tol, check_every=check_every, name=name,
               callback=callback)


def _numba_pays(op, Y):
    """The cost model of the dispatch: the per-problem kernels win for stacks (each
    problem's matrix stays in cache) and for a shared matrix of at most
    ``_NUMBA_MAX_SHARED_BYTES``; beyond that the batched GEMMs of the array-API path,
    which read ``A`` once per iteration for all problems, are faster
    (``benchmarks/bench_scaling.py`` part (4) times both sides of the threshold)."""
    return op.is_stacked or op.shape[0] * op.shape[1] * Y.dtype.itemsize <= _NUMBA_MAX_SHARED_BYTES


_USE_NUMBA = True  # tests switch it off to compare with the array-API path
_NUMBA_MAX_SHARED_BYTES = 8 << 20
# the smallest batch that takes the Numba path (benchmarks/bench_first_order.py measures
# both paths on batches of this size)
_NUMBA_MIN_PROBLEMS = 8


def _check_x0(x0, problem, name="x0"):
    """Bring an estimate from the user's layout into the problem's layout
    (``(n, L)`` / ``(B, n, L)``)."""
    if x0 is None:
        return None
    x0 = check_array(x0, name)
    op = problem.op
    xp = op.xp
    if not same_namespace(xp, x0):
        raise TypeError(f"{name} must come from the same array library as A and y")
    if xp.isdtype(x0.dtype, "complex floating") and not xp.isdtype(problem.Y.dtype,
                                                                     "complex floating"):
        raise ValueError(f"{name} is complex but the problem (A and y) is real")
    want = op.batch_shape + (op.shape[1],) + (() if problem.squeeze else (problem.Y.shape[-1],))
    if tuple(x0.shape) != want:
        raise ValueError(f"{name} must have shape {want}, got {tuple(x0.shape)}")
    return x0[..., None] if problem.squeeze else x0


def ista(A, y, *, lam, max_iter=1000, tol=1e-6, check_every=10, x0=None, callback=None):
    """Iterative shrinkage-thresholding for ``min 1/2||y - Ax||^2 + lam ||x||_1``.

    Parameters
    ----------
    A : array ``(m, n)`` or ``(B, m, n)``, Operator or LinearOperator
        Sensing matrix, stack or operator (or a validated
        :class:`~sparserec._validation.Problem`, then ``y=None``).
    y : array ``(m,)``, ``(m, L)``, ``(B, m)`` or ``(B, m, L)``
        Real or complex measurements; every column (and stack entry) is an
        independent problem with its own step size and stopping.
    lam : float
        Non-negative l1 weight (unscaled: ``lam = alpha * m`` for Lasso's alpha).
    max_iter : int
    tol : float
        Stop a problem once its duality gap is ``<= tol * ||y||^2``
        (scikit-learn's Lasso criterion).
    check_every : int
        Iterations between gap evaluations (each recomputes the images of the
        iterates exactly: two ``A`` and one ``A^H``).
    x0 : array, optional
        Warm start in the layout of the result.
    callback : callable, optional
        Called after every iteration with a
        :class:`~sparserec.solvers.Progress` (iteration, state of the running
        problems); for diagnostics such as objective curves.  It runs the
        array-API path.

    Returns
    -------
    Result
    """
    return _solve_l1(A, y, lam, False, False, max_iter, tol, check_every, x0, callback, "ista")


def fista(A, y, *, lam, max_iter=1000, tol=1e-6, restart=True, check_every=10, x0=None,
          callback=None):
    """Fast ISTA (Beck & Teboulle) with optional adaptive restart.

    Minimises ``1/2||y - Ax||^2 + lam ||x||_1`` for every problem, each with
    its own adaptive step (see the module docstring).

    Parameters
    ----------
    A : array ``(m, n)`` or ``(B, m, n)``, Operator or LinearOperator
        Sensing matrix, stack or operator (or a validated Problem, then ``y=None``).
    y : array ``(m,)``, ``(m, L)``, ``(B, m)`` or ``(B, m, L)``
        Real or complex measurements, one independent problem per column and
        stack entry.
    lam : float
        Non-negative l1 weight (unscaled: ``lam = alpha * m`` for Lasso's alpha).
    max_iter : int
    tol : float
        Stop a problem once its duality gap is ``<= tol * ||y||^2``.
    restart : bool
        Reset the momentum of a problem when it points uphill
        (O'Donoghue & Candes gradient scheme); recovers linear convergence
        once the support is identified.
    check_every : int
        Iterations between gap evaluations.
    x0 : array, optional
        Warm start in the layout of the result.
    callback : callable, optional
        Called after every iteration with a
        :class:`~sparserec.solvers.Progress` (iteration, state of the running
        problems); for diagnostics such as objective curves.  It runs the
        array-API path.

    Returns
    -------
    Result
    """
    return _solve_l1(A, y, lam, True, restart, max_iter, tol, check_every, x0, callback,
                     "fista")


class _HardThresholding:
    """IHT with fixed sparsity ``k`` or l0 weight ``lam``; NIHT when ``normalized``.

    NIHT (Blumensath & Davies 2010) takes the exact line-search step on the
    current support; when the new support differs and the step is too long
    (``mu > omega``) the trial is rejected and the next iteration retries from
    the same point with ``mu / (KAPPA (1 - SHRINK))``, so no iteration waits for
    the host.  ``MAX_BACKTRACK`` consecutive rejections accept the step anyway.
    """

    SHRINK, KAPPA, MAX_BACKTRACK = 0.01, 2.0, 30
    # the relative change is exactly 0 at a fixed point: only its resolution matters
    tol_floor_eps = 4

    def __init__(self, k, lam, normalized, x0):
        self.k, self.lam, self.normalized, self.x0 = k, lam, normalized, x0

    def _threshold(self, V, step):
        if self.k is not None:
            return top_k(V, self.k)
        return hard_threshold(V, (2.0 * step * self.lam) ** 0.5)

    def init(self, op, Y):
        xp = op.xp
        X = _start(op, Y, self.x0)
        G = op._rmatmat(Y - op._matmat(X))
        change = sum_abs2(xp, G, -2)
        state = {"x": X, "change": change}
        if self.normalized:
            state.update(g=G, mu=xp.zeros_like(change), nback=xp.zeros_like(change))
        else:
            state["step"] = _inverse_lipschitz(op, xp) + xp.zeros_like(change)
        return state

    def step(self, op, Y, st, it):
        if self.normalized:
            return self._normalized_step(op, Y, st)
        xp = op.xp
        X = st["x"]
        G = op._rmatmat(Y - op._matmat(X))
        Xn = self._threshold(X + xp.astype(st["step"], G.dtype) * G, st["step"])
        return {"x": Xn, "step": st["step"], "change": sum_abs2(xp, Xn - X, -2)}

    def _normalized_step(self, op, Y, st):
        xp = op.xp
        X, G, nback = st["x"], st["g"], st["nback"]
        on = X != 0
        first = xp.sum(xp.astype(on, xp.int32), axis=-2, keepdims=True) == 0
        S = xp.where(first, top_k(G, self.k) != 0, on)
        gS = xp.where(S, G, xp.zeros_like(G))
        line = sum_abs2(xp, gS, -2) / _safe(xp, sum_abs2(xp, op._matmat(gS), -2))
        mu = xp.where(nback > 0, st["mu"], line)
        Xn = top_k(X + xp.astype(mu, G.dtype) * G, self.k)
        changed = xp.any((Xn != 0) != S, axis=-2, keepdims=True)
        D = Xn - X
        AD = op._matmat(D)
        dd = sum_abs2(xp, D, -2)
        omega = (1 - self.SHRINK) * dd / _safe(xp, sum_abs2(xp, AD, -2))
        accept = ~(changed & (mu > omega) & (nback < self.MAX_BACKTRACK))
        Gn = op._rmatmat(Y - op._matmat(Xn))
        return {"x": xp.where(accept, Xn, X), "g": xp.where(accept, Gn, G),
                "change": xp.where(accept, dd, st["change"]),
                "mu": mu / (self.KAPPA * (1 - self.SHRINK)),
                "nback": xp.where(accept, xp.zeros_like(nback), nback + 1.0)}

    def criterion(self, op, Y, st):
        xp = op.xp
        change, size = st["change"], sum_abs2(xp, st["x"], -2)
        ratio = xp.sqrt(change / _safe(xp, size))
        # an iterate that fell to zero after moving: a relative change of "infinity",
        # capped at 1 (100 %) so that a finite criterion means finite iterates
        return xp.where(size > 0, ratio, xp.where(change > 0, xp.ones_like(change),
                                                  xp.zeros_like(change)))


def iht(A, y, *, k=None, lam=None, normalized=False, max_iter=1000, tol=1e-6,
        check_every=1, x0=None, callback=None):
    """Iterative hard thresholding (Blumensath & Davies), optionally normalized (NIHT).

    Exactly one of ``k`` (keep the ``k`` largest entries: ``min ||y - Ax||``
    s.t. ``||x||_0 <= k``) and ``lam`` (``min 1/2||y - Ax||^2 + lam ||x||_0``)
    is given.

    Parameters
    ----------
    A, y : array, Operator or LinearOperator; array
        As in :func:`ista`.
    k : int, optional
        Sparsity level, ``1 <= k <= n``.
    lam : float, optional
        Non-negative l0 weight (unscaled).
    normalized : bool
        Normalized IHT: adaptive step with backtracking (needs ``k``); stable
        without rescaling ``A``.
    max_iter : int
    tol : float
        Stop a problem once ``||x_{t+1} - x_t|| <= tol * ||x_{t+1}||``.
    check_every : int
    x0 : array, optional
        Warm start in the layout of the result.
    callback : callable, optional
        Called after every iteration with a
        :class:`~sparserec.solvers.Progress` (iteration, state of the running
        problems); for diagnostics such as objective curves.  It runs the
        array-API path.

    Returns
    -------
    Result
    """
    problem = check_problem(A, y)
    n = problem.op.shape[1]
    if (k is None) == (lam is None):
        raise ValueError("give exactly one of k (sparsity) and lam (l0 weight)")
    k = None if k is None else check_sparsity(k, n, "k")
    lam = check_scalar(lam, "lam", low=0, allow_none=True)
    if normalized and k is None:
        raise ValueError("normalized IHT needs k (a sparsity level), not lam")
    max_iter = check_scalar(max_iter, "max_iter", kind="int", low=0)
    tol = check_scalar(tol, "tol", low=0)
    check_every = check_scalar(check_every, "check_every", kind="int", low=1)
    algo = _HardThresholding(k, lam, normalized, _check_x0(x0, problem))
    return run(algo, problem, max_iter=max_iter, tol=tol, check_every=check_every,
               name="niht" if normalized else "iht", callback=callback)
