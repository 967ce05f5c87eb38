"""Phase-transition diagrams: success of sparse recovery over ``(delta, rho)``.

``delta = m / n`` (undersampling) and ``rho = k / m`` (sparsity) span a grid;
every cell runs ``trials`` random problems (sensing ensemble, amplitude law,
real or complex) through every solver, and records success (relative error below
``success_tol``), exact support recovery, iterations and time.  The study runs
on :class:`~sparserec.experiments.Study` (resumable, parallel, stored); the
empirical 50 % boundary per ``delta`` is a logistic fit in ``rho`` and the
figure overlays the Donoho–Tanner curve.
"""
import warnings

import numpy as np

from .. import metrics, simulate
from .._validation import check_bool, check_scalar
from ._store import TrialStore
from ._study import Study, _qualified_name
from .theory import logistic_boundary, weak_threshold

__all__ = ["PhaseTransition", "default_solvers"]

_ENSEMBLES = ("gaussian", "dct")
_AMPLITUDES = ("gaussian", "rademacher")


def default_solvers(names=("fista", "iht", "omp")):
    """Solvers configured for noiseless phase transitions, by name.

    ``fista``/``ista``: the Lasso with ``alpha = 1e-8`` and ``tol = 1e-14``, which
    is basis pursuit to within the default success tolerance (the Lasso's bias
    grows like ``alpha``: at ``alpha = 1e-6`` it alone exceeds a relative error
    of ``1e-3`` near the l1 edge at ``delta = 0.75``); ``iht`` (normalized) and
    ``omp`` receive the true ``k`` of each trial; ``sbl`` is EM-SBL with learned
    noise, ``tol = 1e-8`` and pruning only below ``1e-6 max gamma`` (the default
    ``1e-3`` prunes the smallest true Gaussian amplitudes, whose loss alone
    exceeds the success tolerance).

    Parameters
    ----------
    names : sequence of str
        Any of ``"fista"``, ``"ista"``, ``"iht"``, ``"omp"``, ``"sbl"``.

    Returns
    -------
    dict of str to estimator
    """
    from .. import FISTA, IHT, ISTA, OMP, SBL
    table = {"fista": lambda: FISTA(alpha=1e-8, tol=1e-14, max_iter=100_000),
             "ista": lambda: ISTA(alpha=1e-8, tol=1e-14, max_iter=200_000),
             "iht": lambda: IHT(tol=1e-10, max_iter=5_000),
             "omp": lambda: OMP(),
             "sbl": lambda: SBL(prune=1e-6, tol=1e-8, max_iter=500)}
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown solver(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(table)}")
    return {n: table[n]() for n in names}


def _describe(solver):
    """What identifies a solver in the definition: its repr (estimators) or name."""
    if hasattr(solver, "get_params"):
        return repr(solver)
    return _qualified_name(solver)


def _grid_axis(count, low, high, name):
    count = check_scalar(count, f"grid ({name})", kind="int", low=1)
    return [round(float(v), 6) for v in np.linspace(low, high, count)]


class _PhaseTrial:
    """The batched trial function of a phase transition (picklable)."""

    def __init__(self, solvers, n, ensemble, amplitudes, complex_, success_tol, batch):
        self.solvers, self.n = solvers, n
        self.ensemble, self.amplitudes, self.complex = ensemble, amplitudes, complex_
        self.success_tol, self.batch = success_tol, batch

    def sizes(self, point):
        m = max(1, int(round(point["delta"] * self.n)))
        return m, min(max(1, int(round(point["rho"] * m))), m)

    def __call__(self, point, rngs):
        m, k = self.sizes(point)
        probs = [simulate.gaussian_cs(m, self.n, k, sensing=self.ensemble,
                                      amplitude=self.amplitudes, complex=self.complex,
                                      random_state=rng) for rng in rngs]
        X, iters, ok = self._solve(self.solvers[point["solver"]], probs, k)
        out = []
        for prob, x, it, conv in zip(probs, X, iters, ok):
            err = metrics.relative_error(prob.x, x)
            out.append({"m": m, "k": k, "relative_error": float(err),
                        "success": bool(err < self.success_tol),
                        "exact_support": bool(metrics.exact_support_recovery(prob.x, x, k=k)),
                        "n_iter": it, "converged": conv})
        return out

    def _solve(self, solver, probs, k):
        from sklearn.base import clone
        if not hasattr(solver, "fit"):       # a callable (A, y) -> x
            X = [np.asarray(solver(p.A, p.y)) for p in probs]
            return X, [-1] * len(probs), [True] * len(probs)
        est = clone(solver)
        if "n_nonzero_coefs" in est.get_params():
            est.set_params(n_nonzero_coefs=k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # non-convergence is recorded per trial
            if self.batch and type(est).__module__.startswith("sparserec."):
                est.fit(np.stack([p.A for p in probs]), np.stack([p.y for p in probs]))
                return (list(est.coef_), np.broadcast_to(est.n_iter_, len(probs)).tolist(),
                        np.broadcast_to(getattr(est, "converged_", True), len(probs)).tolist())
            X, iters, ok = [], [], []
            for p in probs:
                est.fit(p.A, p.y)
                X.append(np.asarray(est.coef_))
                iters.append(int(np.max(getattr(est, "n_iter_", -1))))
                ok.append(bool(np.all(getattr(est, "converged_", True))))
            return X, iters, ok


class PhaseTransition:
    """A phase-transition experiment over ``delta = m/n`` and ``rho = k/m``.

    Parameters
    ----------
    solvers : dict of str to estimator or callable
        Any estimator of the package (or with ``fit``/``coef_``; a parameter
        ``n_nonzero_coefs`` is set to each trial's ``k``), or any callable
        ``(A, y) -> x``.
    n : int
        Signal length.
    grid : (int, int)
        Numbers of ``delta`` and ``rho`` values, evenly spaced over
        ``delta_range`` and ``rho_range``.
    trials : int
        Trials per cell (every solver sees the same random problems).
    store : str, path-like or None
        SQLite file of the results (resumed when it exists).
    random_state : int
        Master seed.
    ensemble : {"gaussian", "dct"}
        Sensing matrices (unit-norm columns): i.i.d. Gaussian or partial DCT.
    amplitudes : {"gaussian", "rademacher"}
        Law of the nonzero entries.
    complex : bool
        Complex signals (and Gaussian matrices).
    success_tol : float
        A trial succeeds when ``||x_hat - x|| / ||x|| < success_tol``.
    delta_range, rho_range : (float, float)
        Ranges of the grid, inside ``(0, 1]``.
    batch : bool
        Solve the trials of a chunk as one stacked solve (sparserec estimators
        only; results are per-trial identical for a fixed definition).
    chunk_size : int, optional
        Trials per unit of work and of storage (default ``min(trials, 16)``).

    Examples
    --------
    >>> from sparserec import OMP
    >>> from sparserec.experiments import PhaseTransition
    >>> pt = PhaseTransition({"omp": OMP()}, n=40, grid=(2, 2), trials=4, random_state=0)
    >>> df = pt.run(progress=False)
    >>> len(df), sorted(df.columns[:4])
    (16, ['delta', 'rho', 'solver', 'trial'])
    """

    def __init__(self, solvers, n, grid=(20, 20), trials=50, *, store=None, random_state=0,
                 ensemble="gaussian", amplitudes="gaussian", complex=False, success_tol=1e-3,
                 delta_range=(0.05, 0.95), rho_range=(0.05, 0.95), batch=True, chunk_size=None):
        if not isinstance(solvers, dict) or not solvers:
            raise TypeError("solvers must be a non-empty dict of name -> estimator or callable")
        for name, solver in solvers.items():
            if not (hasattr(solver, "fit") or callable(solver)):
                raise TypeError(f"solvers[{name!r}] must be an estimator or a callable (A, y) -> x")
        self.n = check_scalar(n, "n", kind="int", low=2)
        if ensemble not in _ENSEMBLES:
            raise ValueError(f"ensemble must be one of {_ENSEMBLES}, got {ensemble!r}")
        if amplitudes not in _AMPLITUDES:
            raise ValueError(f"amplitudes must be one of {_AMPLITUDES}, got {amplitudes!r}")
        self.success_tol = check_scalar(success_tol, "success_tol", low=0, low_inclusive=False)
        if np.ndim(grid) != 1 or len(grid) != 2:
            raise ValueError(f"grid must be (number of deltas, number of rhos), got {grid!r}")
        for name, (lo, hi) in (("delta_range", delta_range), ("rho_range", rho_range)):
            if not 0 < lo <= hi <= 1:
                raise ValueError(f"{name} must satisfy 0 < low <= high <= 1, got {(lo, hi)}")
        self.solvers = dict(solvers)
        self.ensemble, self.amplitudes = ensemble, amplitudes
        self.complex = check_bool(complex, "complex")
        deltas = _grid_axis(grid[0], *delta_range, "delta")
        rhos = _grid_axis(grid[1], *rho_range, "rho")
        self.batch = check_bool(batch, "batch")
        trial = _PhaseTrial(self.solvers, self.n, ensemble, amplitudes, self.complex,
                            self.success_tol, self.batch)
        definition = {"n": self.n, "ensemble": ensemble, "amplitudes": amplitudes,
                      "complex": self.complex, "success_tol": self.success_tol,
                      "batched_solves": self.batch,
                      "solvers": {k: _describe(v) for k, v in self.solvers.items()}}
        self.study = Study("phase-transition", {"solver": list(self.solvers), "delta": deltas,
                                                "rho": rhos},
                           trial, trials=trials, store=store, random_state=random_state,
                           seed_by=("delta", "rho"), chunk_size=chunk_size, batch=True,
                           definition=definition)

    @classmethod
    def from_store(cls, path):
        """Reopen a stored experiment with the default solver of each stored name.

        The solver descriptions are checked against the store, so this works
        for experiments run with :func:`default_solvers` (as the CLI does).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        PhaseTransition
        """
        d = TrialStore.stored_definition(path)
        extra, grid = d["extra"], d["grid"]
        deltas, rhos = grid["delta"], grid["rho"]
        return cls(default_solvers(grid["solver"]), extra["n"], (len(deltas), len(rhos)),
                   d["trials"], store=path, random_state=d["random_state"],
                   ensemble=extra["ensemble"], amplitudes=extra["amplitudes"],
                   complex=extra["complex"], success_tol=extra["success_tol"],
                   delta_range=(deltas[0], deltas[-1]), rho_range=(rhos[0], rhos[-1]),
                   batch=extra["batched_solves"], chunk_size=d["chunk_size"])

    def run(self, n_jobs=1, *, progress=True):
        """Run (or resume) the experiment.

        Parameters
        ----------
        n_jobs : int
            joblib's ``n_jobs``; any joblib backend (Dask included).
        progress : bool
            Show a progress bar.

        Returns
        -------
        pandas.DataFrame
            One row per trial (see :meth:`results`).
        """
        return self.study.run(n_jobs, progress=progress)

    def results(self):
        """The stored trials: ``solver, delta, rho, trial, m, k, relative_error, success,
        exact_support, n_iter, converged, seconds, run``.

        Returns
        -------
        pandas.DataFrame
        """
        return self.study.results()

    def boundaries(self, *, n_boot=200):
        """Empirical 50 % boundary per solver and ``delta`` (logistic fit, bootstrap CI).

        Parameters
        ----------
        n_boot : int
            Bootstrap resamples for the interval.

        Returns
        -------
        pandas.DataFrame
            ``solver, delta, rho50, low, high, theory`` (theory: the signed
            Donoho–Tanner curve, NaN for complex data).
        """
        import pandas as pd
        df = self.results()
        rows = []
        for (solver, delta), cell in df.groupby(["solver", "delta"], sort=False):
            rho50, low, high = logistic_boundary(cell["rho"].to_numpy(),
                                                 cell["success"].to_numpy(), n_boot=n_boot)
            theory = np.nan if self.complex else weak_threshold(delta)
            rows.append({"solver": solver, "delta": delta, "rho50": rho50, "low": low,
                         "high": high, "theory": theory})
        return pd.DataFrame(rows)

    def describe(self):
        """One line stating what every figure must: n, trials, amplitudes, criterion.

        Returns
        -------
        str
        """
        kind = "complex" if self.complex else "real"
        return (f"n={self.n}, {self.study.trials} trials per cell, {self.ensemble} sensing "
                f"(unit-norm columns), {kind} {self.amplitudes} amplitudes, success: "
                f"||x̂ - x|| / ||x|| < {self.success_tol:g}")

    def plot(self, path):
        """Heat maps of the success rate per solver, boundaries and theory, to a PNG.

        Parameters
        ----------
        path : str or path-like
        """
        from ._plot import plot_phase_transition
        plot_phase_transition(self.results(), self.boundaries(), self.describe(),
                              show_theory=not self.complex, path=path)
