"""The one iteration driver every iterative solver runs on.

A solve holds ``P`` independent problems in one of two layouts:

* shared operator: unknowns ``X`` of shape ``(n, P)``, problems along the last axis;
* stacked operator: ``X`` of shape ``(P, n, 1)``, problems along the first axis
  (a stack ``(B, m, n)`` with ``L`` right-hand sides becomes ``P = B * L``).

An *algorithm* is an object with

``init(op, Y) -> state``
    A dict of arrays.  Every entry carries the problem axis of the layout
    (``-1`` shared, ``0`` stacked) unless the algorithm's ``state_axes`` (an
    attribute, which ``init`` may set) maps its name to another axis, or to ``None`` for data shared by all problems;
    0-d entries are shared too.  Per-problem hyper-parameters (weights, noise
    levels, grids) live here, not on the algorithm object, so they are
    retired and compacted with the iterate under key ``"x"``.
``step(op, Y, state, it) -> state``
    Iteration ``it`` (0-based; per-layer parameters and schedules use it).
    No host synchronisation: a GPU runs the steps between two checks
    back to back.
``criterion(op, Y, state)``
    Per-problem stopping value (shape ``(1, P)`` or ``(P, 1, 1)``), compared
    with ``tol`` before the first step and every ``check_every`` steps; the
    only host synchronisation of the loop.

and optionally ``refresh(op, Y, state) -> state`` (run before each check, to
recompute what the steps update incrementally), ``finalize(op, Y, state) ->
dict`` (per-problem outputs beyond ``x``, each of shape ``(P, ...)``, problems
first; they reach :attr:`Result.extras`) and ``fast_path(problem, max_iter,
tol, check_every)`` (a compiled execution of the same iteration; returns
``None`` when it does not apply, else a :class:`FastRun`), and the attribute
``tol_floor_eps`` (how many machine epsilons its criterion resolves, 16 by
default: a smaller ``tol`` is clamped with a warning).

Problems that meet the criterion are retired (iterate, outputs and iteration
count recorded) and the arrays are compacted once retired problems make up
half of them, so finished problems stop costing without a copy at every check.
A problem's trajectory never depends on the other problems of the batch.
Non-finite iterates raise ``ValueError`` at the next check.
"""
from dataclasses import dataclass, field

import numpy as np

from .._array import real_dtype, to_numpy
from ..exceptions import ConvergenceWarning, warn

__all__ = ["Result", "Batch", "FastRun", "Progress", "run", "make_result", "tol_floor"]

# a relative criterion cannot be resolved below this many machine epsilons (an algorithm
# may declare its own number as ``tol_floor_eps``)
_TOL_FLOOR_EPS = 16


@dataclass
class Result:
    """Outcome of a solver call.

    Parameters
    ----------
    x : array
        Estimate, in the layout of the measurements (``(n,)``, ``(n, L)``,
        ``(B, n)`` or ``(B, n, L)``).
    n_iter : numpy.ndarray of int
        Iterations each problem ran, shape of the problem axes of ``x``.
    converged : numpy.ndarray of bool
        Whether each problem met the stopping criterion.
    history : numpy.ndarray of shape ``(n_checks, 2)``
        One row per criterion evaluation: the iteration and the largest
        criterion over the problems still running.
    extras : dict of arrays
        Per-problem outputs beyond ``x`` (hyper-parameter estimates,
        posterior variances, ...), problems first: ``(*feature)`` for one
        problem, ``(L, *feature)`` for a batch, ``(B, *feature)`` or
        ``(B, L, *feature)`` for a stack.
    """

    x: object
    n_iter: np.ndarray
    converged: np.ndarray
    history: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    extras: dict = field(default_factory=dict)


@dataclass
class FastRun:
    """What an algorithm's compiled fast path returns (solver layout of the problem).

    Parameters
    ----------
    X : array ``(n, L)`` or ``(B, n, L)``
    n_iter, converged : numpy arrays of the problem axes ``(L,)`` or ``(B, L)``
    history : numpy array ``(n_checks, 2)``
    finite : numpy array of bool, problem axes
        False where the iterates became non-finite.
    """

    X: object
    n_iter: np.ndarray
    converged: np.ndarray
    history: np.ndarray
    finite: np.ndarray


@dataclass
class Progress:
    """What a per-iteration callback receives.

    Parameters
    ----------
    iteration : int
        Iterations done so far.
    state : dict
        The algorithm's state over the problems still running (solver layout).
    problems : numpy.ndarray of int
        Flat index (over the problems of the solve) of each running problem.
    """

    iteration: int
    state: dict
    problems: np.ndarray


class Batch:
    """The problems of one solve in solver layout (see module docstring).

    Parameters
    ----------
    problem : sparserec._validation.Problem
    """

    def __init__(self, problem):
        op, Y = problem.op, problem.Y
        xp = op.xp
        self.xp = xp
        self.stacked = op.is_stacked
        self.n = op.shape[1]
        if self.stacked:
            B, m, L = Y.shape
            self.batch_shape = (B, L)
            if L > 1:
                op = op.take(xp.repeat(xp.arange(B), L))
                Y = xp.reshape(xp.permute_dims(Y, (0, 2, 1)), (B * L, m, 1))
            self.axis = 0
        else:
            self.batch_shape = (Y.shape[1],)
            self.axis = -1
        self.op, self.Y = op, Y
        self.size = Y.shape[self.axis]

    def flat(self, values):
        """``(P,)`` view of a per-problem array of shape ``(1, P)`` or ``(P, 1, 1)``."""
        return self.xp.reshape(values, (-1,))

    def take(self, array, idx, axis=None):
        """Problems ``idx`` of a state array along ``axis`` (the layout's by default)."""
        if array.ndim == 0:
            return array
        return self.xp.take(array, idx, axis=self.axis if axis is None else axis)

    def take_state(self, state, idx, axes):
        """Problems ``idx`` of every per-problem entry of ``state``."""
        out = {}
        for key, value in state.items():
            axis = axes.get(key, self.axis)
            out[key] = value if axis is None or value.ndim == 0 else self.take(value, idx, axis)
        return out

    def restore(self, X):
        """Solver-layout ``X`` back to ``(n, L)`` or ``(B, n, L)``."""
        if not self.stacked:
            return X
        B, L = self.batch_shape
        xp = self.xp
        return xp.permute_dims(xp.reshape(X, (B, L, self.n)), (0, 2, 1))

    def restore_flags(self, values):
        """A ``(P,)`` NumPy array back to the problem axes ``(L,)`` or ``(B, L)``."""
        return values.reshape(self.batch_shape)

    def restore_extra(self, value):
        """A problems-first ``(P, *feature)`` output to ``(L, *feature)`` / ``(B, L, *feature)``."""
        return self.xp.reshape(value, self.batch_shape + tuple(value.shape[1:]))


def tol_floor(dtype, xp, n_eps=_TOL_FLOOR_EPS):
    """Smallest relative tolerance a criterion computed in ``dtype`` can resolve.

    Parameters
    ----------
    dtype : dtype
        Dtype of the problem (real or complex).
    xp : module
        Its array namespace.
    n_eps : float
        How many machine epsilons the criterion's rounding error spans.

    Returns
    -------
    float
    """
    return n_eps * float(xp.finfo(real_dtype(xp, dtype)).eps)


def _checked_tol(tol, dtype, xp, name, n_eps):
    floor = tol_floor(dtype, xp, n_eps)
    if tol < floor:
        warn(f"{name}: tol={tol:g} is below what {dtype} arithmetic resolves; using "
             f"tol={floor:.3g} ({n_eps:g} machine epsilons) instead", UserWarning)
        return floor
    return tol


def _finite_per_problem(xp, X, axis):
    """Per-problem ``all(isfinite(X))`` as a ``(P,)`` array."""
    ok = xp.isfinite(X)
    if axis == 0:
        return xp.all(xp.reshape(ok, (ok.shape[0], -1)), axis=1)
    return xp.all(xp.reshape(ok, (-1, ok.shape[-1])), axis=0)


def run(algorithm, problem, *, max_iter, tol, check_every=1, name="solver", callback=None):
    """Iterate ``algorithm`` on every problem until its criterion is ``<= tol``.

    Parameters
    ----------
    algorithm : object
        The protocol of the module docstring.
    problem : sparserec._validation.Problem
    max_iter : int
    tol : float
        Clamped (with a warning) to :func:`tol_floor` of the problem's dtype
        (``algorithm.tol_floor_eps`` machine epsilons, 16 by default).
    check_every : int
        Iterations between criterion evaluations (each one syncs with the host).
    name : str
        Solver name for warnings and errors.
    callback : callable, optional
        Called as ``callback(Progress)`` after every iteration; costs nothing
        when None.  Its presence disables the fast path (which cannot report
        its inner iterations).

    Returns
    -------
    Result

    Raises
    ------
    ValueError
        When the iterates of some problem become non-finite (NaN or infinity).
    """
    tol = _checked_tol(tol, problem.Y.dtype, problem.op.xp, name,
                       getattr(algorithm, "tol_floor_eps", _TOL_FLOOR_EPS))
    fast_path = getattr(algorithm, "fast_path", None)
    if callback is None and fast_path is not None:
        fast = fast_path(problem, max_iter=max_iter, tol=tol, check_every=check_every)
        if fast is not None:
            if not fast.finite.all():
                _raise_non_finite(name, int((~fast.finite).sum()), fast.finite.size)
            return make_result(problem, fast.X, fast.n_iter, fast.converged, fast.history,
                               name=name, max_iter=max_iter, tol=tol)
    return _Loop(algorithm, problem, name, callback).run(max_iter, tol, check_every)


def _raise_non_finite(name, count, total):
    raise ValueError(f"{name}: the iterates of {count} of {total} problems became non-finite "
                     "(NaN or infinity): the operator A returned non-finite values, or the "
                     "data are so badly scaled that they overflow; rescale A and y")


class _Loop:
    """One run of the engine: state, retirement and compaction bookkeeping."""

    def __init__(self, algorithm, problem, name, callback):
        self.algorithm, self.problem, self.name, self.callback = algorithm, problem, name, callback
        self.batch = Batch(problem)
        self.axes = {}
        self.done = []                       # (problem ids, x, extras, iteration)

    def run(self, max_iter, tol, check_every):
        batch, algo, xp = self.batch, self.algorithm, self.batch.xp
        op, Y = batch.op, batch.Y
        state = algo.init(op, Y)
        self.axes = dict(getattr(algo, "state_axes", {}))   # init may set it
        index = np.arange(batch.size)
        retired = np.zeros(batch.size, dtype=bool)       # over the current arrays
        converged = np.zeros(batch.size, dtype=bool)
        history = []
        it = 0
        while True:
            if it % check_every == 0 or it == max_iter:
                with np.errstate(all="ignore"):   # non-finite iterates are reported below
                    if hasattr(algo, "refresh"):
                        state = algo.refresh(op, Y, state)
                    crit = batch.flat(algo.criterion(op, Y, state))
                    finite = _finite_per_problem(xp, state["x"], batch.axis)
                    crit = to_numpy(xp.where(finite, crit, xp.full_like(crit, xp.nan)))
                live = ~retired
                if np.isnan(crit[live]).any():
                    _raise_non_finite(self.name, int(np.isnan(crit[live]).sum()), batch.size)
                history.append((it, float(np.max(crit[live]))))
                new = live & (crit <= tol)
                if new.any():
                    converged[index[new]] = True
                    self._retire(op, Y, state, index, new, it)
                    retired = retired | new
            if retired.all() or it == max_iter:
                break
            if retired.sum() * 2 >= retired.size:           # compact
                keep_host = np.flatnonzero(~retired)
                keep = xp.asarray(keep_host)
                index = index[keep_host]
                Y = batch.take(Y, keep)
                if batch.stacked:
                    op = op.take(keep)
                state = batch.take_state(state, keep, self.axes)
                retired = np.zeros(keep_host.size, dtype=bool)
            state = algo.step(op, Y, state, it)
            it += 1
            if self.callback is not None:
                live = np.flatnonzero(~retired)
                sub = state if live.size == retired.size else \
                    batch.take_state(state, xp.asarray(live), self.axes)
                self.callback(Progress(iteration=it, state=sub, problems=index[live]))

        if not retired.all():
            self._retire(op, Y, state, index, ~retired, it)
        return self._assemble(converged, history, max_iter, tol)

    def _retire(self, op, Y, state, index, mask, it):
        batch = self.batch
        sel_host = np.flatnonzero(mask)
        sel = batch.xp.asarray(sel_host)
        extras = {}
        if hasattr(self.algorithm, "finalize"):
            sub_op = op.take(sel) if batch.stacked else op
            extras = self.algorithm.finalize(sub_op, batch.take(Y, sel),
                                             batch.take_state(state, sel, self.axes))
        self.done.append((index[sel_host], batch.take(state["x"], sel), extras, it))

    def _assemble(self, converged, history, max_iter, tol):
        batch, xp = self.batch, self.batch.xp
        ids = np.concatenate([d[0] for d in self.done])
        order = xp.asarray(np.argsort(ids))
        X = batch.take(xp.concat([d[1] for d in self.done], axis=batch.axis), order)
        n_iter = np.concatenate([np.full(d[0].size, d[3], dtype=np.int64) for d in self.done])
        n_iter = n_iter[np.argsort(ids)]
        extras = {}
        for key in self.done[0][2]:
            value = xp.take(xp.concat([d[2][key] for d in self.done], axis=0), order, axis=0)
            value = batch.restore_extra(value)
            extras[key] = value[:, 0, ...] if (self.problem.squeeze and batch.stacked) else \
                value[0, ...] if self.problem.squeeze else value
        result = make_result(self.problem, batch.restore(X), batch.restore_flags(n_iter),
                             batch.restore_flags(converged), history, name=self.name,
                             max_iter=max_iter, tol=tol)
        result.extras = extras
        return result


def make_result(problem, X, n_iter, converged, history, *, name, max_iter, tol):
    """Assemble a :class:`Result` in the user's layout; warn about unconverged problems.

    Parameters
    ----------
    problem : sparserec._validation.Problem
    X : array ``(n, L)`` or ``(B, n, L)``
    n_iter, converged : numpy arrays ``(L,)`` or ``(B, L)``
    history : sequence of ``(iteration, criterion)`` pairs
    name : str
    max_iter : int
    tol : float
    """
    if not converged.all():
        warn(f"{name} did not converge for {int((~converged).sum())} of {converged.size} "
             f"problems in max_iter={max_iter} iterations (tol={tol:g}); increase max_iter "
             "or loosen tol", ConvergenceWarning)
    squeeze = problem.squeeze
    return Result(x=problem.restore(X),
                  n_iter=n_iter[..., 0] if squeeze else n_iter,
                  converged=converged[..., 0] if squeeze else converged,
                  history=np.asarray(history, dtype=float).reshape(-1, 2))
