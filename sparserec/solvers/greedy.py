"""Greedy solvers: orthogonal matching pursuit (OMP), batched over problems.

Every column of ``Y`` (and every map of a stack ``(B, m, n)``) is an
independent OMP problem; all of them advance together, one atom per iteration
each, with their own supports.  The least-squares update is the Cholesky form
of "Batch-OMP" (Rubinstein, Zibulevsky & Elad 2008) written so that the
residual ``r`` is never formed:

* ``c = A^H r`` (the correlations) is updated in ``O(n k)`` per problem from
  the Gram column ``g = A^H a_j`` of the selected atom;
* ``H = A^H Q`` keeps the correlations of the orthonormal basis ``Q`` of the
  selected atoms, so the new Cholesky row is a gather, ``w = conj(H[j, :])``,
  ``d = sqrt(G_jj - ||w||^2)``, and ``h_new = (g - H w) / d``;
* ``z_t = c_j / d`` is the coefficient of ``y`` on the new basis vector, so
  ``||r||^2 = ||y||^2 - sum |z_t|^2`` costs nothing and the coefficients come
  from one triangular solve ``L^H x_S = z`` at the end.

The Gram column is the only thing that depends on the operator: a column of a
precomputed ``G = A^H A`` (many problems per map, the SPAMS / scikit-learn
``precompute=True`` route) or ``A^H (A e_j)`` computed on demand (any
:class:`~sparserec.operators.Operator`; a gather of ``A``'s columns for
:class:`~sparserec.operators.Dense`).  Everything runs in the operator's array
namespace; only small per-problem flags visit the host.  An iteration is a
handful of passes over ``(problems, n)`` arrays plus one batched matmul, so
with NumPy the problems are solved in cache-sized blocks (same results).
"""
import math

import numpy as np

from .._array import abs2, conj, is_complex, is_numpy, real_dtype, to_numpy
from .._validation import check_problem, check_scalar, check_sparsity
from ..operators import Dense
from ..exceptions import warn
from ._engine import Result

__all__ = ["omp"]

# |a_j^H r| <= _ZERO_RTOL * ||a_j|| ||y||: the residual is zero to working precision
_ZERO_RTOL = 256.0
# d^2 <= _DEP_RTOL * ||a_j||^2: the atom is linearly dependent on the selected ones
_DEP_RTOL = 256.0
# largest precomputed Gram matrix (bytes) that precompute="auto" accepts
_GRAM_MAX_BYTES = 1 << 28
# NumPy: solve the problems in blocks whose (problems x n) arrays have about this many
# entries; every step is a handful of passes over such arrays, which stay in cache
# (benchmarks/bench_omp.py times this against one block of all problems)
_BLOCK_ENTRIES = 1 << 17

_PREMATURE = ("Orthogonal matching pursuit ended prematurely for {count} of {total} problems: "
              "the selected atom is linearly dependent on the atoms already chosen "
              "(duplicate or collinear columns of A); the requested sparsity or tolerance "
              "might not have been met")


def resolve_sparsity(k, tol, m, n, *, k_name="k", tol_name="tol", allow_both=False):
    """Validate the stopping rule of OMP and apply scikit-learn's default.

    Parameters
    ----------
    k : int or None
        Number of atoms, ``1 <= k <= min(m, n)``.
    tol : float or None
        Largest squared residual norm, ``>= 0``.
    m, n : int
        Shape of ``A``.
    k_name, tol_name : str
        Argument names used in error messages.
    allow_both : bool
        Let ``tol`` override ``k`` when both are given (scikit-learn's
        estimator); otherwise giving both is an error.

    Returns
    -------
    k, tol : int or None, float or None
        Exactly one of them is not None.  Without either, ``k`` is
        ``max(1, int(0.1 * n))`` (scikit-learn's default), capped at ``m``.
    """
    tol = check_scalar(tol, tol_name, low=0, allow_none=True)
    k = check_scalar(k, k_name, kind="int", low=1, allow_none=True)
    if k is not None and tol is not None and not allow_both:
        raise ValueError(f"give at most one of {k_name} (number of non-zeros) and {tol_name} "
                         f"(largest squared residual norm), got {k_name}={k!r} and "
                         f"{tol_name}={tol!r}")
    if tol is not None:
        return None, tol
    if k is None:
        return min(check_sparsity(None, n), m), None
    k = check_sparsity(k, n, k_name)
    if k > m:
        raise ValueError(f"{k_name}={k} exceeds the number of measurements (rows of A) m={m}: "
                         f"more than {m} atoms are linearly dependent, so at most {m} can be "
                         "selected")
    return k, None


def omp(A, y, *, k=None, tol=None, precompute="auto"):
    """Orthogonal matching pursuit, batched over columns and stacked problems.

    Greedily selects, for every measurement vector, the atom (column of ``A``)
    with the largest correlation modulus ``|a_j^H r|`` with the residual, then
    refits all selected atoms by least squares.  Same results as
    :func:`sklearn.linear_model.orthogonal_mp` (which assumes, like this
    function, columns of comparable norm), for real and complex data.

    Parameters
    ----------
    A : array ``(m, n)`` or ``(B, m, n)``, Operator or LinearOperator
        Dictionary / sensing matrix, shared or one per problem.
    y : array ``(m,)``, ``(m, L)``, ``(B, m)`` or ``(B, m, L)``
        Measurements; every column (of every stacked problem) is an
        independent problem with its own support.
    k : int, optional
        Number of atoms to select (``n_nonzero_coefs``), ``1 <= k <= min(m, n)``.
    tol : float, optional
        Largest squared residual norm ``||y - A x||^2``: a problem stops as
        soon as it is met (before the first atom when ``||y||^2 <= tol``,
        so ``x = 0`` then).  Mutually exclusive with ``k``.  With neither,
        ``k = max(1, int(0.1 * n))`` as in scikit-learn (at most ``m``).
    precompute : {"auto", True, False}
        Precompute the Gram matrix ``A^H A`` (per map of a stack) so that an
        iteration costs ``O(n k)`` per problem instead of one ``A^H a_j``;
        ``"auto"`` does so when the problems per map outnumber ``n / k`` and
        the matrix takes at most 256 MiB.

    Returns
    -------
    Result
        ``x`` in the layout of ``y`` (``(n,)``, ``(n, L)``, ``(B, n)`` or
        ``(B, n, L)``); ``n_iter`` the number of atoms selected per problem;
        ``converged`` False where the atoms became linearly dependent before
        the stopping rule was met (a ``RuntimeWarning`` says so), or where
        ``tol`` could not be met with ``min(m, n)`` atoms; ``history`` one
        row ``(t, largest ||y - A x||)`` per step ``t``, over the problems
        still running before it.

    Notes
    -----
    A problem also stops early, without a warning, once its residual is zero
    to working precision (``y`` lies in the span of the selected atoms); its
    ``n_iter`` is then below ``k``.  Already selected atoms are never
    selected again.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.solvers import omp
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((20, 40))
    >>> x = np.zeros(40); x[[3, 17]] = [1.0, -2.0]
    >>> res = omp(A, A @ x, k=2)
    >>> np.flatnonzero(res.x).tolist(), int(res.n_iter)
    ([3, 17], 2)
    """
    problem = check_problem(A, y)
    m, n = problem.op.shape
    k, tol = resolve_sparsity(k, tol, m, n)
    if precompute not in ("auto", True, False):
        raise ValueError(f"precompute must be 'auto', True or False, got {precompute!r}")
    return _BatchOMP(problem, k, tol, precompute).run()


class _BatchOMP:
    """The batched OMP loop.

    Internally every problem is a row: vectors over the atoms have shape
    ``(*lead, L, n)`` (C-contiguous, so the arg-max and the Gram gathers read
    contiguous memory), per-problem scalars ``(*lead, L, 1)`` and vectors over
    the selected atoms ``(*lead, L, t)``, with ``lead = ()`` for a shared
    operator and ``(B,)`` for a stack.  Axis 0 holds the units that are
    compacted away once finished: the problems (shared operator) or the maps
    (stack).  Only the operator calls see its own ``(*lead, n, L)`` layout.
    """

    def __init__(self, problem, k, tol, precompute):
        self.problem = problem
        op, Y = problem.op, problem.Y
        xp = op.xp
        self.xp = xp
        self.m, self.n = op.shape
        self.stacked = op.is_stacked
        self.dtype = Y.dtype
        self.complex = is_complex(xp, Y)
        rdtype = real_dtype(xp, Y.dtype)
        eps = float(xp.finfo(rdtype).eps)
        self.zero_rtol2 = (_ZERO_RTOL * eps) ** 2
        self.dep_rtol = _DEP_RTOL * eps
        # ||r||^2 = ||y||^2 - sum |z_t|^2 is known to about eps ||y||^2
        self.r2_rtol = _ZERO_RTOL * eps
        self.tol = tol
        self.kmax = k if tol is None else min(self.m, self.n)
        self.neg = xp.asarray(-1.0, dtype=rdtype)
        self.atoms = xp.reshape(xp.arange(self.n), (1, self.n))
        if precompute == "auto":
            iters = self.kmax if tol is None else 1
            itemsize = xp.finfo(rdtype).bits // 8 * (2 if self.complex else 1)
            nbytes = self.n * self.n * math.prod(op.batch_shape) * itemsize
            precompute = self.n <= iters * Y.shape[-1] and nbytes <= _GRAM_MAX_BYTES
        self.gram_t = None               # G^T = conj(G): its row j is the column G[:, j]
        if precompute:
            G = xp.astype(op.gram(), self.dtype)
            self.gram_t = conj(xp, G)

    # -- layout and gathers ----------------------------------------------------------
    def _rows(self, V):
        """Operator layout ``(*lead, n, L)`` to C-contiguous ``(*lead, L, n)``."""
        xp = self.xp
        Vt = xp.matrix_transpose(V)
        return xp.reshape(xp.reshape(Vt, (-1,)), Vt.shape)

    def _gather(self, V, j):
        """``V[..., l, j_l]``: entry ``j`` of every problem's row, ``(*lead, L, 1)``."""
        xp = self.xp
        base = xp.reshape(xp.arange(math.prod(j.shape)) * V.shape[-1], j.shape)
        return xp.reshape(xp.take(xp.reshape(V, (-1,)), xp.reshape(base + j, (-1,))), j.shape)

    def _gram_rows(self, ctx, j):
        """Gram columns ``A^H a_j`` of the selected atoms, as rows ``(*lead, L, n)``."""
        xp, n = self.xp, self.n
        op, Gt = ctx["op"], ctx["gram_t"]
        if Gt is not None and not self.stacked:
            return xp.take(Gt, j[:, 0], axis=0)
        if Gt is not None:
            B, L = j.shape[0], j.shape[1]
            idx = xp.reshape(xp.reshape(xp.arange(B), (B, 1)) * n + j[..., 0], (-1,))
            return xp.reshape(xp.take(xp.reshape(Gt, (B * n, n)), idx, axis=0), (B, L, n))
        jt = xp.matrix_transpose(j)                       # (*lead, 1, L)
        if isinstance(op, Dense):
            A = op.A
            if not self.stacked:
                a = xp.take(A, jt[0, :], axis=1)           # (m, L)
            else:
                B, m, _ = A.shape
                idx = (xp.reshape(xp.arange(B), (B, 1, 1)) * (m * n)
                       + xp.reshape(xp.arange(m), (1, m, 1)) * n + jt)
                a = xp.reshape(xp.take(xp.reshape(A, (-1,)), xp.reshape(idx, (-1,))),
                               idx.shape)
            if ctx.get("conj_A") is None:
                ctx["conj_A"] = conj(xp, A)
            # (A^H a_j)^T = a_j^T conj(A): the rows come out of one matmul, contiguous
            g = xp.matrix_transpose(xp.astype(a, self.dtype)) @ ctx["conj_A"]
            return g if g.dtype == self.dtype else xp.astype(g, self.dtype)
        onehot = xp.astype(xp.matrix_transpose(self.atoms) == jt, self.dtype)
        return xp.astype(self._rows(op._rmatmat(op._matmat(onehot))), self.dtype)

    # -- the loop ----------------------------------------------------------------------
    def run(self):
        """Solve every problem, block by block (one block unless NumPy); return a Result."""
        xp = self.xp
        op, Y = self.problem.op, self.problem.Y
        n_units = Y.shape[0] if self.stacked else Y.shape[-1]
        per_unit = self.n * (Y.shape[-1] if self.stacked else 1)
        block = max(1, _BLOCK_ENTRIES // per_unit) if is_numpy(xp) else n_units
        done, history = [], []
        for start in range(0, n_units, block):
            stop = min(start + block, n_units)
            ids = np.arange(start, stop)
            ctx = {"op": op, "gram_t": self.gram_t}
            if stop - start == n_units:
                Yb = Y
            elif not self.stacked:
                Yb = Y[:, start:stop]
            else:
                Yb = Y[start:stop, ...]
                sub = xp.arange(start, stop)
                ctx["op"] = op.take(sub)
                if self.gram_t is not None:
                    ctx["gram_t"] = self.gram_t[start:stop, ...]
            hist_b = self._run_block(ctx, Yb, ids, done)
            history = [max(a, b) for a, b in zip(history, hist_b)] + \
                history[len(hist_b):] + hist_b[len(history):]
        return self._assemble(done, history)

    def _run_block(self, ctx, Y, index, done):
        """The OMP iterations for the units of one block; appends to ``done``."""
        xp = self.xp
        # a fresh contiguous copy: c is updated in place
        c = xp.astype(self._rows(ctx["op"]._rmatmat(Y)), self.dtype)
        ynorm2 = xp.sum(abs2(xp, Y), axis=-2)
        ynorm2 = xp.reshape(ynorm2, ynorm2.shape + (1,))
        shape1 = ynorm2.shape
        # H = A^H Q, the correlations of the orthonormal basis of the selected atoms
        # with every atom, as rows (*lead, L, capacity, n); grown on demand in tol mode
        cap = self.kmax if self.tol is None else min(self.kmax, 8)
        st = {
            "c": c,
            "H": xp.zeros(c.shape[:-1] + (cap, self.n), dtype=self.dtype),
            "sel": xp.zeros(c.shape, dtype=xp.bool),
            "active": xp.ones(shape1, dtype=xp.bool),
            "dep": xp.zeros(shape1, dtype=xp.bool),
            "count": xp.zeros(shape1, dtype=xp.int64),
            "ynorm2": ynorm2,
            "r2": ynorm2,
        }
        hist = {"W": [], "Z": [], "D": [], "J": []}
        history = []
        for _ in range(self.kmax):
            if self.tol is not None:
                st["active"] = st["active"] & (st["r2"] > self.tol)
            live = to_numpy(st["active"])
            if not live.any():
                break
            history.append(math.sqrt(max(float(to_numpy(st["r2"])[live].max()), 0.0)))
            unit_live = live.any(axis=(1, 2)) if self.stacked else live[:, 0]
            if 2 * int((~unit_live).sum()) >= unit_live.size:
                # compact: finished units stop costing
                done.append(self._finish(st, hist, index[~unit_live], np.flatnonzero(~unit_live)))
                keep = xp.asarray(np.flatnonzero(unit_live))
                index = index[unit_live]
                st, hist = self._subset(st, hist, keep)
                if self.stacked:
                    ctx["op"] = ctx["op"].take(keep)
                    ctx["conj_A"] = None
                    if ctx["gram_t"] is not None:
                        ctx["gram_t"] = xp.take(ctx["gram_t"], keep, axis=0)
            self._step(st, hist, ctx)
        unmet = None
        if self.tol is not None:
            # out of atoms: met unless above tol by more than the resolution of r2
            slack = self.r2_rtol * st["ynorm2"]
            unmet = st["active"] & (st["r2"] > self.tol + slack)
        done.append(self._finish(st, hist, index, None, unmet))
        return history

    def _step(self, st, hist, ctx):
        """Select one atom per running problem and update its factorisation.

        Full ``(*lead, L, n)`` passes are the cost here (the flops are tiny), so
        the updates touch each array as few times as possible and reuse buffers
        in place (the state arrays are private to this solve).
        """
        xp = self.xp
        c, active, H = st["c"], st["active"], st["H"]
        t = len(hist["Z"])
        score = abs2(xp, c)
        score[st["sel"]] = self.neg          # never select an atom twice
        j = xp.argmax(score, axis=-1, keepdims=True)
        del score
        cj = self._gather(c, j)
        g = self._gram_rows(ctx, j)
        gjj = self._gather(g, j)
        gjj = xp.real(gjj) if self.complex else gjj
        # residual zero to working precision: nothing left to explain
        active = active & (abs2(xp, cj) > self.zero_rtol2 * st["ynorm2"] * gjj)
        if t:
            # new Cholesky row w = Q^H a_j = conj(H[:, j]), one gather for all problems
            n, cap = self.n, H.shape[-2]
            p = xp.reshape(xp.arange(math.prod(j.shape)) * (cap * n), j.shape)
            idx = p + xp.reshape(xp.arange(t) * n, (1,) * (j.ndim - 1) + (t,)) + j
            w = conj(xp, xp.reshape(xp.take(xp.reshape(H, (-1,)), xp.reshape(idx, (-1,))),
                                    idx.shape))                     # (*lead, L, t)
            d2 = gjj - xp.sum(abs2(xp, w), axis=-1, keepdims=True)
        else:
            w, d2 = None, gjj
        dependent = active & (d2 <= self.dep_rtol * gjj)
        active = active & ~dependent
        d = xp.astype(xp.sqrt(xp.where(active, d2, xp.ones_like(d2))), self.dtype)
        dinv = xp.where(active, 1.0 / d, xp.zeros_like(d))   # finished problems: h = z = 0
        z = cj * dinv
        if t:
            # h = (g - H w) / d: one batched matmul over the problems
            h = g - (w[..., None, :] @ H[..., :t, :])[..., 0, :]
            h *= dinv
        else:
            h = g * dinv
        c -= h * z
        if t == H.shape[-2]:
            grow = min(2 * t, self.kmax) - t
            H = xp.concat([H, xp.zeros(H.shape[:-2] + (grow, self.n), dtype=H.dtype)], axis=-2)
            st["H"] = H
        H[..., t, :] = h
        st["sel"] |= self.atoms == j     # (finished problems never select again)
        st["r2"] = st["r2"] - abs2(xp, z)
        st["count"] = st["count"] + xp.astype(active, xp.int64)
        st["dep"] = st["dep"] | dependent
        st["active"] = active
        hist["W"].append(w)
        hist["Z"].append(z)
        hist["D"].append(d)
        hist["J"].append(j)

    def _subset(self, st, hist, keep):
        """Units ``keep`` (axis 0) of every state array."""
        xp = self.xp
        st = {key: xp.take(v, keep, axis=0) for key, v in st.items()}
        hist = {key: [None if v is None else xp.take(v, keep, axis=0) for v in vals]
                for key, vals in hist.items()}
        return st, hist

    def _finish(self, st, hist, ids, positions, unmet=None):
        """Coefficients, atom counts and flags of the units at ``positions`` (all if None)."""
        if positions is not None:
            st, hist = self._subset(st, hist, self.xp.asarray(positions))
        X = self._coefficients(st["c"], hist)
        converged = ~st["dep"]
        if unmet is not None:
            converged = converged & ~unmet
        return ids, X, to_numpy(st["count"]), to_numpy(converged), to_numpy(st["dep"])

    def _coefficients(self, c, hist):
        """Solve ``L^H x_S = z`` by back substitution and scatter ``x_S`` into ``x``."""
        xp = self.xp
        Z, D, W, J = hist["Z"], hist["D"], hist["W"], hist["J"]
        X = xp.zeros(c.shape, dtype=self.dtype)
        if not Z:
            return X
        acc = xp.concat(Z, axis=-1)
        # last step first: a problem's idle steps (z = 0, d = 1) come after its active
        # ones, so their zero writes at J[s] are overwritten by the real coefficients
        for s in range(len(Z) - 1, -1, -1):
            gamma = acc[..., s:s + 1] / D[s]
            if s:
                acc = acc[..., :s] - W[s] * gamma
            X = xp.where(self.atoms == J[s], gamma, X)
        return X

    def _assemble(self, done, history):
        """Put the finished units back in their original order and layout."""
        xp = self.xp
        order = np.argsort(np.concatenate([d[0] for d in done]))
        X = xp.take(xp.concat([d[1] for d in done], axis=0), xp.asarray(order), axis=0)
        # host flags (L, 1) -> (L,) or (B, L, 1) -> (B, L)
        n_iter, converged, dependent = (
            np.take(np.concatenate([d[i] for d in done], axis=0), order, axis=0)[..., 0]
            for i in (2, 3, 4))
        if dependent.any():
            warn(_PREMATURE.format(count=int(dependent.sum()), total=dependent.size),
                 RuntimeWarning)
        if self.problem.squeeze:
            n_iter, converged = n_iter[..., 0], converged[..., 0]
        return Result(x=self.problem.restore(xp.matrix_transpose(X)),
                      n_iter=n_iter.astype(np.int64), converged=converged.astype(bool),
                      history=np.column_stack([np.arange(len(history)), history]).astype(float))
