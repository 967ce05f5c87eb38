"""Studies: a grid of parameters times a trial function, run resumably in parallel.

A :class:`Study` is what every simulation study needs: trial keys, per-trial
seeds, a store, a parallel map, progress and metadata.  Its unit of work is a
*chunk*, a fixed block of trials of one grid point, computed in one call (so
batched solvers can solve them together) and stored in one transaction.  The
chunks are fixed by the definition, so a trial's result never depends on
scheduling, ``n_jobs``, the joblib backend or resumption.
"""
import hashlib
import itertools
import platform
import socket
import time
import warnings

import numpy as np

from .._validation import check_bool, check_scalar
from ._store import TrialStore, canonical

__all__ = ["Study"]


def _qualified_name(fn):
    """``module.qualname`` of a function or class, or of the class of a callable object."""
    target = fn if hasattr(fn, "__qualname__") else type(fn)
    return f"{target.__module__}.{target.__qualname__}"


def _run_chunk(trial, batch, point, trials, seeds):
    """Run the trials of one chunk; returns ``(point, trials, results)``."""
    rngs = [np.random.default_rng(s) for s in seeds]
    start = time.perf_counter()
    if batch:
        results = [dict(r) for r in trial(dict(point), rngs)]
        if len(results) != len(trials):
            raise ValueError(f"the batched trial function returned {len(results)} results for "
                             f"{len(trials)} trials")
        share = (time.perf_counter() - start) / len(trials)
        for r in results:
            r.setdefault("seconds", share)
    else:
        results = []
        for rng in rngs:
            t0 = time.perf_counter()
            r = dict(trial(dict(point), rng))
            r.setdefault("seconds", time.perf_counter() - t0)
            results.append(r)
    return point, trials, results


def _run_info(n_jobs):
    from importlib.metadata import PackageNotFoundError, version

    import joblib

    from .._runtime import blas_summary
    versions = {}
    for pkg in ("sparserec", "numpy", "scipy", "numba", "scikit-learn", "joblib"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    backend, _ = joblib.parallel.get_active_backend()
    return {"versions": versions, "python": platform.python_version(), "threads": blas_summary(),
            "host": socket.gethostname(), "n_jobs": n_jobs, "backend": type(backend).__name__}


class Study:
    """A grid of parameters times a trial function, with resumable, parallel runs.

    Every trial is keyed by its grid point and its index; its random generator
    comes from ``numpy.random.SeedSequence(random_state, spawn_key=...)`` with a
    spawn key hashed from the study name, the grid values named in ``seed_by``
    and the trial index, so results never depend on scheduling or resumption
    (and two grid points that differ only outside ``seed_by``, e.g. two
    solvers, see the same random instances).

    Parameters
    ----------
    name : str
        Name of the study (part of every seed).
    grid : dict of str to list
        The swept parameters and their values (JSON-serialisable scalars); the
        grid points are their Cartesian product, in the given order.
    trial : callable
        ``trial(point, rng) -> dict`` of results (numbers, booleans, strings),
        or with ``batch=True`` ``trial(point, rngs) -> list of dicts`` for all
        trials of a chunk at once.  Must be picklable for process backends.
    trials : int
        Trials per grid point.
    store : str, path-like or None
        SQLite file that keeps the finished trials (resumed on the next run);
        None keeps them in memory.
    random_state : int
        Master seed.
    seed_by : sequence of str, optional
        Grid parameters that define the random instance (default: all).
    chunk_size : int, optional
        Trials per chunk (the unit of work and of storage); default
        ``min(trials, 16)``.
    batch : bool
        Whether ``trial`` takes a whole chunk (see ``trial``).
    definition : dict, optional
        Everything else that defines the experiment (kept in the store and
        checked when it is reopened).

    Examples
    --------
    >>> from sparserec.experiments import Study
    >>> def coin(point, rng):
    ...     return {"heads": bool(rng.random() < point["p"])}
    >>> study = Study("coins", {"p": [0.1, 0.9]}, coin, trials=200, random_state=0)
    >>> table = study.run(progress=False)
    >>> table.groupby("p")["heads"].mean().round(1).tolist()
    [0.1, 0.9]
    """

    def __init__(self, name, grid, trial, *, trials, store=None, random_state=0, seed_by=None,
                 chunk_size=None, batch=False, definition=None):
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        if not isinstance(grid, dict) or not grid:
            raise TypeError(f"grid must be a non-empty dict of parameter lists, got {grid!r}")
        self.grid = {}
        for key, values in grid.items():
            values = list(values) if not isinstance(values, str) else None
            if not values:
                raise ValueError(f"grid[{key!r}] must be a non-empty list of values")
            try:
                canonical(values)
            except TypeError as err:
                raise TypeError(f"grid[{key!r}] must hold JSON-serialisable values ({err})") from err
            self.grid[str(key)] = values
        if not callable(trial):
            raise TypeError(f"trial must be callable, got {trial!r}")
        self.name, self.trial = name, trial
        self.trials = check_scalar(trials, "trials", kind="int", low=1)
        self.random_state = check_scalar(random_state, "random_state", kind="int", low=0)
        self.seed_by = tuple(self.grid) if seed_by is None else tuple(seed_by)
        unknown = set(self.seed_by) - set(self.grid)
        if unknown:
            raise ValueError(f"seed_by names {sorted(unknown)}, which are not grid parameters")
        self.chunk_size = check_scalar(min(self.trials, 16) if chunk_size is None else chunk_size,
                                       "chunk_size", kind="int", low=1)
        self.batch = check_bool(batch, "batch")
        self.extra = {} if definition is None else dict(definition)
        self.store_path = store
        self._store = None

    # -- definition, points, seeds ------------------------------------------------------
    @property
    def definition(self):
        """Everything that defines the results: checked against the store on reopen."""
        return {"name": self.name, "grid": self.grid, "trials": self.trials,
                "random_state": self.random_state, "seed_by": list(self.seed_by),
                "chunk_size": self.chunk_size, "batch": self.batch,
                "trial": _qualified_name(self.trial), "extra": self.extra}

    def points(self):
        """The grid points, in grid order.

        Returns
        -------
        list of dict
        """
        keys = list(self.grid)
        return [dict(zip(keys, values)) for values in itertools.product(*self.grid.values())]

    def seed(self, point, trial):
        """The seed of one trial.

        Parameters
        ----------
        point : dict
        trial : int

        Returns
        -------
        numpy.random.SeedSequence
        """
        key = canonical([self.name, {k: point[k] for k in self.seed_by}, int(trial)])
        digest = hashlib.sha256(key.encode()).digest()
        words = tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))
        return np.random.SeedSequence(self.random_state, spawn_key=words)

    def _chunks(self):
        for point in self.points():
            for start in range(0, self.trials, self.chunk_size):
                yield point, list(range(start, min(start + self.chunk_size, self.trials)))

    # -- store --------------------------------------------------------------------------
    @property
    def store(self):
        """The open :class:`TrialStore` (opened, and checked, on first use)."""
        if self._store is None:
            self._store = TrialStore(self.store_path, self.definition)
        return self._store

    def close(self):
        """Close the store (a later run or read reopens it)."""
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- running ------------------------------------------------------------------------
    def run(self, n_jobs=1, *, progress=True):
        """Run every trial not yet in the store; return the whole table.

        Parameters
        ----------
        n_jobs : int
            joblib's ``n_jobs`` (``-1``: all cores); any joblib backend, e.g.
            ``with joblib.parallel_config(backend="dask"): study.run(-1)``.
        progress : bool
            Show a tqdm bar over trials (stored trials count as done).

        Returns
        -------
        pandas.DataFrame
            As :meth:`results`.
        """
        from joblib import Parallel, delayed
        from tqdm.auto import tqdm

        n_jobs = check_scalar(n_jobs, "n_jobs", kind="int")
        check_bool(progress, "progress")
        store = self.store
        done = store.done()
        todo = [(p, t) for p, t in self._chunks() if (canonical(p), t[0]) not in done]
        total = len(self.points()) * self.trials
        bar = tqdm(total=total, initial=total - sum(len(t) for _, t in todo), unit="trial",
                   desc=self.name, disable=not progress, smoothing=0.1)
        run_id = store.start_run(_run_info(n_jobs))
        try:
            if todo:
                tasks = (delayed(_run_chunk)(self.trial, self.batch, p, t,
                                             [self.seed(p, i) for i in t]) for p, t in todo)
                with Parallel(n_jobs=n_jobs, return_as="generator_unordered") as parallel:
                    for point, trials, results in parallel(tasks):
                        store.add([(point, i, r) for i, r in zip(trials, results)], run_id)
                        bar.update(len(trials))
        finally:
            bar.close()
            try:
                store.end_run(run_id)
            except OSError:
                warnings.warn(f"{self.name}: could not record the end of the run", RuntimeWarning)
        return self.results()

    def results(self):
        """The stored trials as a tidy table, one row per trial, in grid order.

        Returns
        -------
        pandas.DataFrame
            The grid parameters, ``trial``, every result field and ``run``
            (the id of the run that computed the trial).
        """
        import pandas as pd
        order = {canonical(p): i for i, p in enumerate(self.points())}
        rows = sorted(self.store.rows(), key=lambda r: (order.get(canonical(r[0]), -1), r[1]))
        records = [{**point, "trial": trial, **result, "run": run} for point, trial, run, result in rows]
        columns = list(self.grid) + ["trial"]
        for record in records[:1]:
            columns += [c for c in record if c not in columns]
        return pd.DataFrame.from_records(records, columns=columns)

    def export_csv(self, path):
        """Write :meth:`results` to a CSV file.

        Parameters
        ----------
        path : str or path-like
        """
        self.results().to_csv(path, index=False)
