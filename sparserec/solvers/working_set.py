"""Lasso at scale: working sets, gap-safe screening, Anderson-accelerated coordinate descent.

``lasso`` minimises ``1/2 ||y - A x||^2 + lam ||x||_1`` (real or complex) for every
problem of a solve -- one ``y``, a shared-``A`` batch or a stack -- with a cost that
grows with the support instead of with ``n``:

1. **Outer loop (one engine iteration).**  From the correlations ``c = A^H (y - A x)``
   of the *full* problem it forms the dual point ``theta = s (y - A x)``,
   ``s = min(1, lam / ||c||_inf)``, and the duality gap; a problem stops when that gap
   is ``<= tol ||y||^2``, the certificate of :func:`sparserec.solvers.fista`.
2. **Gap-safe screening** (Fercoq, Gramfort & Salmon, ICML 2015): atom ``j`` with
   ``s |c_j| + ||a_j|| sqrt(2 gap) < lam`` is zero at every solution and never enters
   a working set again.
3. **Working set** (celer/skglm): the support plus the atoms closest to violating
   their optimality condition, ranked by ``(lam - s |c_j|) / ||a_j||``, of size
   ``max(P0, 2 |support|)``, never shrinking; every problem has its own set.
4. **Inner solve**: cyclic coordinate descent with guarded Anderson extrapolation on
   the restricted problem (:mod:`._cd_numba`), to a gap ``INNER_REDUCTION`` times the
   last full gap.  Coordinate descent rather than FISTA because each coordinate step
   is the exact minimiser (no step size) and on a restricted Gram block an epoch
   costs what one FISTA iteration costs; the extrapolation replaces the iterate only
   when it lowers the objective.

How the restricted problems and the correlations are computed depends on the operator:

* ``"gram"``: a shared explicit ``A`` whose Gram matrix pays for itself over the batch
  (:func:`use_full_gram`): ``G = A^H A`` once, blocks ``G[W, W]`` by indexing,
  correlations ``A^H y - G x`` in ``n |support|``;
* ``"structured"``: :class:`~sparserec.operators.Kron`: blocks of ``G`` from the factor
  Grams (``O(I w^2)``, the product is never formed), correlations by fast operator
  products;
* ``"columns"``: any other explicit ``A`` (fewer problems, stacks): the working-set
  columns ``A_W`` (restricted coordinate descent on the residual), one batched
  ``A^H R`` per outer iteration over the atoms not screened for every problem.

Matrix-free operators (no column access) and arrays of other libraries (CuPy,
``array_api_strict``) run plain FISTA, :func:`sparserec.solvers.fista`, on the same
stopping rule.
"""
import numpy as np

from .._array import is_numpy
from .._validation import check_problem, check_scalar
from ..operators import Dense, Kron
from ._engine import run, tol_floor
from .proximal import _L1ProximalGradient, _check_x0, _start

__all__ = ["lasso", "lasso_path", "use_full_gram"]

P0 = 10                      # first working-set size (celer's and skglm's p0)
INNER_REDUCTION = 1e-6       # inner gap target: this times the last full gap ...
INNER_FLOOR = 0.3            # ... but at least this fraction of the outer target
# full Gram mode for a shared explicit A when at least one problem per GRAM_PAYOFF atoms
# shares it (forming G, 2 m n^2, then costs less than the per-problem restricted Grams
# 2 m w^2 at every outer iteration) and G fits in GRAM_MAX_BYTES;
# benchmarks/bench_scaling.py times both modes on both sides of the rule
GRAM_PAYOFF = 64
GRAM_MAX_BYTES = 2 ** 31
_FLOATS = (np.float32, np.float64, np.complex64, np.complex128)


def use_full_gram(m, n, n_problems, itemsize):
    """Whether a shared explicit ``(m, n)`` matrix runs in full-Gram mode.

    Parameters
    ----------
    m, n : int
        Shape of ``A``.
    n_problems : int
        Problems sharing it.
    itemsize : int
        Bytes per entry.

    Returns
    -------
    bool
    """
    return n * n * itemsize <= GRAM_MAX_BYTES and n <= GRAM_PAYOFF * n_problems


def _kernels():
    """The compiled kernels, loaded on first use (``import sparserec.solvers`` and the
    FISTA fallback never load Numba)."""
    from . import _cd_numba
    return _cd_numba


def _supports(op, Y):
    """Whether the working-set method applies (NumPy arrays with column access)."""
    return (is_numpy(op.xp) and isinstance(Y, np.ndarray) and Y.dtype.type in _FLOATS
            and (isinstance(op, Kron) or (isinstance(op, Dense) and isinstance(op.A, np.ndarray))))


def _problems_first(array, stacked):
    """``(P, k)`` copy of a layout array (``(k, P)`` shared, ``(P, k, 1)`` stacked)."""
    return np.ascontiguousarray(array[:, :, 0] if stacked else array.T)


def _layout(rows, stacked):
    """The engine's layout of a problems-first ``(P, k)`` array, as a view."""
    return rows[:, :, None] if stacked else rows.T


class _WorkingSetLasso:
    """Engine algorithm: one outer working-set iteration per step (module docstring).

    Gaps from Gram identities (``||r||^2 = ||y||^2 - 2 Re(b^H x) + x^H G x``) lose a
    few machine epsilons of ``||y||^2`` to cancellation, hence ``tol_floor_eps = 64``.

    Per-problem arrays live problems-first, ``(P, n)`` and ``(P, m)`` rows (so each
    problem's data are contiguous), with problem axis 0 for the engine; ``x`` is
    exposed in the engine's layout as a view of ``xt``.
    """

    tol_floor_eps = 64

    def __init__(self, lam, x0, screening, max_epochs, target, gram):
        self.lam, self.x0, self.screening = lam, x0, screening
        self.max_epochs, self.target, self.gram = max_epochs, target, gram

    def init(self, op, Y):
        stacked = op.is_stacked
        m, n = op.shape
        P = Y.shape[0] if stacked else Y.shape[1]
        if isinstance(op, Kron):
            self.mode = "structured"
        elif not stacked and (use_full_gram(m, n, P, Y.dtype.itemsize) if self.gram == "auto"
                              else self.gram):
            self.mode = "gram"
        else:
            self.mode = "columns"
        self.dtype = Y.dtype
        Yt = _problems_first(Y, stacked)
        st = {"xt": _problems_first(_start(op, Y, self.x0), stacked),
              "yy": np.einsum("pm,pm->p", Yt.conj(), Yt).real.copy(),
              "lam": np.full(P, float(self.lam)), "wsize": np.zeros(P, dtype=np.int64),
              "norms": np.asarray(op.column_norms(), dtype=np.float64),  # (n,) / (P, n)
              "screened": np.zeros((P, n), dtype=bool), "c": np.zeros((P, n), dtype=Y.dtype),
              "gap": np.full(P, np.inf), "pid": np.arange(P)}
        self.state_axes = dict.fromkeys(("xt", "yy", "lam", "wsize", "screened", "c", "gap",
                                         "c0", "r", "pid"), 0)
        self.state_axes["norms"] = 0 if stacked else None
        if self.mode != "columns":
            st["c0"] = _problems_first(op._rmatmat(Y), stacked)
        if self.mode == "gram":
            self._G = np.ascontiguousarray(op.gram(), dtype=Y.dtype)
        elif self.x0 is None:
            st["r"] = Yt.copy()
        else:
            st["r"] = Yt - _problems_first(op._matmat(_layout(st["xt"], stacked)), stacked)
        self._keep = self._AH_keep = None
        self._systems = {}       # problem id -> restricted system (columns mode)
        self._system_bytes = 0
        return self._certify(op, Y, st)

    # -- outer iteration ---------------------------------------------------------------
    def step(self, op, Y, st, it):
        st = dict(st)
        stacked = op.is_stacked
        Xt, Yt = st["xt"], _problems_first(Y, stacked) if self.mode == "columns" else None
        yy, lam, gap = st["yy"], st["lam"], st["gap"]
        if self.mode == "gram":     # the whole iteration in one compiled call
            _kernels().gram_outer_step(self._G, st["c0"], Xt, st["c"], st["screened"],
                                       st["norms"], lam, yy, gap, st["wsize"], self.target,
                                       INNER_REDUCTION, INNER_FLOOR, P0, self.max_epochs)
            return self._certify(op, Y, st)
        for p in np.flatnonzero(gap > self.target * yy):
            W = self._working_set(st, p)
            if self.mode == "columns":
                W, AW, M, b = self._restricted_system(op, st, p, W, Yt[p])
            else:
                M = np.ascontiguousarray(op.gram_block(W), dtype=self.dtype)
                b = st["c0"][p, W]
            xw = Xt[p, W]
            tol_in = max(INNER_REDUCTION * gap[p], INNER_FLOOR * self.target * yy[p])
            _kernels().cd_restricted(M, b, xw, M @ xw, yy[p], lam[p], tol_in,
                                     self.max_epochs)
            Xt[p] = 0
            Xt[p, W] = xw
            if self.mode == "columns":
                st["r"][p] = Yt[p] - AW @ xw
        if self.mode == "structured":
            st["r"] = _problems_first(Y - op._matmat(_layout(Xt, stacked)), stacked)
        return self._certify(op, Y, st)

    def _restricted_system(self, op, st, p, W, y):
        """Columns ``A_W``, ``M = A_W^H A_W`` and ``b = A_W^H y`` of problem ``p``.

        ``M`` and ``b`` of the previous outer iteration are kept (while all kept systems
        fit in ``GRAM_MAX_BYTES``; the columns themselves are gathered again, which costs
        a copy, not a product) and only the products with atoms new to the working set
        are computed, ``2 m w_new w`` instead of ``2 m w^2``.  Returns the atoms in the
        order of the system (kept ones first)."""
        pid = int(st["pid"][p])
        entry = p if op.is_stacked else None
        old = self._systems.pop(pid, None)
        if old is None:
            AW = np.asarray(op.columns(W, entry=entry), dtype=self.dtype)
            AWH = AW.conj().T
            M, b = AWH @ AW, AWH @ y
        else:
            W_old, M_old, b_old = old
            self._system_bytes -= M_old.nbytes
            kept = np.flatnonzero(np.isin(W_old, W))
            new = np.setdiff1d(W, W_old, assume_unique=True)
            W = np.concatenate((W_old[kept], new))
            AW = np.asarray(op.columns(W, entry=entry), dtype=self.dtype)
            k = kept.size
            ANH = AW[:, k:].conj().T
            M = np.empty((W.size, W.size), dtype=self.dtype)
            M[:k, :k] = M_old[np.ix_(kept, kept)]
            M[k:] = ANH @ AW
            M[:k, k:] = M[k:, :k].conj().T
            b = np.concatenate((b_old[kept], ANH @ y))
        if self._system_bytes + M.nbytes <= GRAM_MAX_BYTES:
            self._systems[pid] = (W, M, b)
            self._system_bytes += M.nbytes
        return W, AW, M, b

    def _working_set(self, st, p):
        """Support of problem ``p`` plus its atoms closest to violating optimality."""
        norms = st["norms"][p] if st["norms"].ndim == 2 else st["norms"]
        W = _kernels().select_working_set(st["xt"][p], st["c"][p], st["screened"][p], norms,
                                          float(st["lam"][p]), int(st["wsize"][p]), P0)
        st["wsize"][p] = W.size
        return W

    # -- full-problem correlations, gap and screening -------------------------------------
    def _correlations(self, op, Y, st, problems, full=False):
        """``A^H (y - A x)`` of ``problems`` (a bool mask) over every atom, or over the
        atoms not yet screened for all problems (``full=False``, shared ``A``)."""
        stacked = op.is_stacked
        if self.mode == "gram":
            _kernels().gram_correlations(self._G, st["c0"], st["xt"], problems, st["c"])
            return
        idx = np.flatnonzero(problems)
        R = st["r"][idx]
        if stacked:
            sub = op if idx.size == R.shape[0] == st["r"].shape[0] else op.take(idx)
            C = sub._rmatmat(R[:, :, None])[:, :, 0]
        elif self.mode == "structured":
            C = op._rmatmat(R.T).T
        elif full or not self.screening:
            C = op._rmatmat(R.T).T
        else:
            keep, AH_keep = self._kept_columns(op, st)
            C = st["c"][idx]
            C[:, keep] = (AH_keep @ R.T).T
        st["c"][idx] = C

    def _kept_columns(self, op, st):
        """A superset of the atoms not screened for every problem and ``A^H`` restricted
        to them, gathered again once half of them have been screened."""
        keep = np.flatnonzero(~st["screened"].all(axis=0))
        if self._keep is None:
            self._keep, self._AH_keep = np.arange(op.shape[1]), op._adjoint_matrix
        if keep.size * 2 <= self._keep.size:
            self._keep = keep
            self._AH_keep = np.ascontiguousarray(op._adjoint_matrix[keep])
        return self._keep, self._AH_keep

    def _gaps(self, st, Yt):
        Xt, yy, lam = st["xt"], st["yy"], st["lam"]
        if self.mode == "gram":
            # ||r||^2 = ||y||^2 - 2 Re(c0^H x) + Re(x^H G x), with G x = c0 - c
            cx = np.einsum("pn,pn->p", st["c0"].conj(), Xt).real
            xgx = np.einsum("pn,pn->p", Xt.conj(), st["c0"] - st["c"]).real
            rr = np.maximum(yy - 2.0 * cx + xgx, 0.0)
            ry = yy - cx
        else:
            R = st["r"]
            rr = np.einsum("pm,pm->p", R.conj(), R).real
            ry = np.einsum("pm,pm->p", R.conj(), Yt).real
        cmax = np.max(np.abs(st["c"]), axis=1)
        scale = np.where(cmax > lam, lam / np.where(cmax > 0, cmax, 1.0), 1.0)
        primal = 0.5 * rr + lam * np.abs(Xt).sum(axis=1)
        return np.maximum(primal - (scale * ry - 0.5 * scale * scale * rr), 0.0), scale

    def _certify(self, op, Y, st):
        st = dict(st)
        Yt = None if self.mode == "gram" else _problems_first(Y, op.is_stacked)
        running = st["gap"] > self.target * st["yy"]
        self._correlations(op, Y, st, running)
        gap, scale = self._gaps(st, Yt)
        if self.mode == "columns" and self.screening and not op.is_stacked:
            # correlations of screened atoms were not recomputed: certify the finishing
            # problems on every atom
            finishing = running & (gap <= self.target * st["yy"])
            if finishing.any():
                self._correlations(op, Y, st, finishing, full=True)
                gap, scale = self._gaps(st, Yt)
        st["gap"] = gap = np.where(running, gap, st["gap"])
        if self.screening:
            norms = st["norms"] if st["norms"].ndim == 2 else st["norms"][None, :]
            st["screened"] |= (scale[:, None] * np.abs(st["c"])
                               + norms * np.sqrt(2.0 * gap)[:, None] < st["lam"][:, None])
        st["x"] = _layout(st["xt"], op.is_stacked)
        return st

    def criterion(self, op, Y, st):
        ratio = st["gap"] / np.where(st["yy"] > 0, st["yy"], 1.0)
        return ratio.reshape(-1, 1, 1) if op.is_stacked else ratio.reshape(1, -1)


def lasso(A, y, *, lam, tol=1e-6, max_iter=100, max_epochs=100000, screening=True,
          gram="auto", x0=None, callback=None):
    """Lasso ``min 1/2||y - Ax||^2 + lam ||x||_1`` by working sets and screening.

    Every column (and stack entry) of ``y`` is an independent problem with its own
    working set, screening and stopping; see the module docstring for the method.

    Parameters
    ----------
    A : array ``(m, n)`` or ``(B, m, n)``, Operator or LinearOperator
        Sensing matrix, stack or operator (or a validated Problem, then ``y=None``).
        Matrix-free operators and non-NumPy arrays run :func:`fista` instead.
    y : array ``(m,)``, ``(m, L)``, ``(B, m)`` or ``(B, m, L)``
        Real or complex measurements.
    lam : float
        Non-negative l1 weight (unscaled: ``lam = alpha * m`` for Lasso's alpha).
    tol : float
        Stop a problem once the duality gap of the full problem is ``<= tol * ||y||^2``.
    max_iter : int
        Outer (working-set) iterations; the FISTA fallback gets ``100 * max_iter``
        iterations.
    max_epochs : int
        Coordinate-descent epochs per inner solve.
    screening : bool
        Gap-safe screening (it never changes the solution; off only to measure it).
    gram : {"auto", True, False}
        Full-Gram mode for a shared explicit ``A`` (:func:`use_full_gram` decides
        under ``"auto"``).
    x0 : array, optional
        Warm start in the layout of the result.
    callback : callable, optional
        Called after every outer iteration with a :class:`~sparserec.solvers.Progress`.

    Returns
    -------
    Result
        ``n_iter`` counts outer iterations.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers import lasso, lasso_duality_gap
    >>> rng = np.random.default_rng(0)
    >>> A, y = rng.standard_normal((50, 200)), rng.standard_normal(50)
    >>> res = lasso(A, y, lam=5.0, tol=1e-10)
    >>> bool(lasso_duality_gap(A, y, res.x, 5.0)[0] <= 1e-10 * np.sum(y ** 2))
    True
    """
    problem = check_problem(A, y)
    lam = check_scalar(lam, "lam", low=0)
    tol = check_scalar(tol, "tol", low=0)
    max_iter = check_scalar(max_iter, "max_iter", kind="int", low=0)
    max_epochs = check_scalar(max_epochs, "max_epochs", kind="int", low=1)
    if gram not in ("auto", True, False):
        raise ValueError(f"gram must be 'auto', True or False, got {gram!r}")
    x0 = _check_x0(x0, problem)
    if not _supports(problem.op, problem.Y) or (gram is True and (
            problem.op.is_stacked or not isinstance(problem.op, Dense))):
        if gram is True and _supports(problem.op, problem.Y):
            raise ValueError("gram=True needs one shared explicit matrix A")
        algo = _L1ProximalGradient(lam, True, True, x0)
        return run(algo, problem, max_iter=100 * max_iter, tol=tol, check_every=10,
                   name="lasso (fista fallback)", callback=callback)
    target = max(tol, tol_floor(problem.Y.dtype, problem.op.xp, _WorkingSetLasso.tol_floor_eps))
    algo = _WorkingSetLasso(lam, x0, bool(screening), max_epochs, target, gram)
    return run(algo, problem, max_iter=max_iter, tol=tol, check_every=1, name="lasso",
               callback=callback)


def lasso_path(A, y, lams, *, tol=1e-6, max_iter=100, **kwargs):
    """Solutions along a decreasing sequence of l1 weights, each warm-started.

    Parameters
    ----------
    A : array ``(m, n)`` or ``(B, m, n)``, Operator or LinearOperator
        As in :func:`lasso`.
    y : array ``(m,)``, ``(m, L)``, ``(B, m)`` or ``(B, m, L)``
    lams : sequence of float
        l1 weights (unscaled), solved in the order given (decreasing is fastest).
    tol : float
    max_iter : int
    **kwargs
        Further arguments of :func:`lasso`.

    Returns
    -------
    list of Result
        One per weight.
    """
    problem = check_problem(A, y)
    lams = np.asarray(lams, dtype=float)
    if lams.ndim != 1 or lams.size == 0 or not np.all(np.isfinite(lams)) or np.any(lams < 0):
        raise ValueError("lams must be a non-empty 1-D sequence of non-negative finite "
                         "weights")
    results, x0 = [], None
    for lam in lams:
        res = lasso(problem, None, lam=float(lam), tol=tol, max_iter=max_iter, x0=x0, **kwargs)
        results.append(res)
        x0 = res.x
    return results
