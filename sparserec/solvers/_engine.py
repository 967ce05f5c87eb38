"""The one iteration driver every iterative solver runs on.

A solve holds ``P`` independent problems in one of two layouts:

* shared operator: unknowns ``X`` of shape ``(n, P)``, problems along the last axis;
* stacked operator: ``X`` of shape ``(P, n, 1)``, problems along the first axis
  (a stack ``(B, m, n)`` with ``L`` right-hand sides becomes ``P = B * L``).

Per-problem scalars (step sizes, momentum, criteria) have shape ``(1, P)`` or
``(P, 1, 1)`` so they broadcast against ``X``.  Every ``check_every``
iterations the algorithm's per-problem criterion is evaluated; problems that
meet it are retired (their iterate is recorded and their iteration count
frozen), and the arrays are compacted once the retired problems make up half
of them, so finished problems stop costing without copying at every check.
A problem's trajectory never depends on the other problems in the batch.
"""
from dataclasses import dataclass, field

import numpy as np

from .._array import to_numpy
from ..exceptions import ConvergenceWarning, warn

__all__ = ["Result", "Batch", "run", "make_result"]


@dataclass
class Result:
    """Outcome of a solver call.

    Attributes
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
    """

    x: object
    n_iter: np.ndarray
    converged: np.ndarray
    history: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))


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

    def take(self, array, idx):
        """Problems ``idx`` of a state array (or of a per-problem scalar array)."""
        if array.ndim == 0:
            return array
        return self.xp.take(array, idx, axis=self.axis)

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


def run(algorithm, problem, *, max_iter, tol, check_every=1, name="solver"):
    """Iterate ``algorithm`` on every problem until its criterion is ``<= tol``.

    Parameters
    ----------
    algorithm : object
        Provides ``init(op, Y) -> state`` (a dict of arrays, each with the
        problem axis of the layout, the iterate under key ``"x"``),
        ``step(op, Y, state) -> state`` and ``criterion(op, Y, state)``
        returning a per-problem array (it is also checked before the first
        step, so problems solved by the starting point cost nothing).
        An optional ``refresh(op, Y, state) -> state`` runs before each check
        (to recompute quantities the steps update incrementally).
    problem : sparserec._validation.Problem
    max_iter : int
    tol : float
    check_every : int
        Iterations between criterion evaluations (each one syncs with the host).
    name : str
        Solver name for the warning raised when problems do not converge.

    Returns
    -------
    Result
    """
    batch = Batch(problem)
    xp = batch.xp
    op, Y = batch.op, batch.Y
    state = algorithm.init(op, Y)
    index = xp.arange(batch.size)
    retired = np.zeros(batch.size, dtype=bool)       # over the current arrays
    done_x, done_idx, done_iter = [], [], []
    n_iter = np.zeros(batch.size, dtype=np.int64)
    converged = np.zeros(batch.size, dtype=bool)
    history = []

    def retire(mask, it):
        nonlocal retired
        sel = xp.asarray(np.flatnonzero(mask))
        done_x.append(batch.take(state["x"], sel))
        done_idx.append(to_numpy(xp.take(index, sel)))
        done_iter.append(np.full(int(mask.sum()), it))
        retired = retired | mask

    it = 0
    while True:
        if it % check_every == 0 or it == max_iter:
            if hasattr(algorithm, "refresh"):
                state = algorithm.refresh(op, Y, state)
            crit = to_numpy(batch.flat(algorithm.criterion(op, Y, state)))
            live = ~retired
            history.append((it, float(np.max(crit[live]))))
            new = live & (crit <= tol)
            if new.any():
                converged[to_numpy(index)[new]] = True
                retire(new, it)
        if retired.all() or it == max_iter:
            break
        if retired.sum() * 2 >= retired.size:           # compact
            keep = xp.asarray(np.flatnonzero(~retired))
            index = xp.take(index, keep)
            Y = batch.take(Y, keep)
            if batch.stacked:
                op = op.take(keep)
            state = {k: batch.take(v, keep) for k, v in state.items()}
            retired = np.zeros(int(keep.shape[0]), dtype=bool)
        state = algorithm.step(op, Y, state)
        it += 1

    if not retired.all():
        retire(~retired, it)
    order = np.argsort(np.concatenate(done_idx))
    X = xp.concat(done_x, axis=batch.axis)
    X = batch.take(X, xp.asarray(order))
    n_iter[:] = np.concatenate(done_iter)[order]
    return make_result(problem, batch.restore(X), batch.restore_flags(n_iter),
                       batch.restore_flags(converged), history, name=name, max_iter=max_iter,
                       tol=tol)


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
