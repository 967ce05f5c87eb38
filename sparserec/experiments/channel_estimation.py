"""IRS-MIMO channel estimation: NMSE against SNR of the KroSBL family and its baselines.

The experiment of He & Joseph (KroSBL, IEEE TSP 2024, IRS-MIMO section):
every trial draws one cascaded channel (:func:`sparserec.simulate.irs_mimo`,
pilots and IRS configurations fixed for the whole study, as the reference
draws them once) at one SNR, and every method estimates that same channel, so
the methods can be compared trial by trial.  The per-trial error is the
paper's per-configuration Frobenius NMSE (:func:`sparserec.metrics.channel_nmse`).

The SBL-type methods run with the reference settings of the authors' IRS code
(known noise variance, 150 EM iterations, tolerance ``1e-4``, ``gamma = 1``
start, the per-method pruning thresholds of krosbl.md §2.7); with them the
paper's numbers are reproduced (the library's scale-invariant ``"auto"`` start
is not used: the absolute pruning threshold ``1e-4`` belongs to the ``gamma = 1``
start).  PC-SBL stops on the relative change of ``gamma`` like the other SBL
methods, where the reference's PC-SBL stops on the change of ``mu`` (same
tolerance and cap).  The study runs on :class:`~sparserec.experiments.Study` (resumable,
parallel, stored); :func:`summary` makes the paper's table (mean of the linear
NMSE in dB, median, failure share, paired win rates, time) and :func:`plot`
the NMSE-against-SNR figure.
"""
import time
import warnings

import numpy as np

from .. import metrics, simulate
from .._validation import check_scalar
from ._store import canonical
from ._study import Study

__all__ = ["IRSChannelStudy", "METHODS", "DEFAULT_METHODS", "FAILURE_NMSE", "PAPER_NMSE_DB",
           "solve_irs", "summary", "format_summary", "plot"]

#: Display name of every method of the study, by key.
METHODS = {
    "svd": "SVD-KroSBL",
    "am": "AM-KroSBL",
    "pc-kro-0.8": "PC-KroSBL β=0.8",
    "pc-kro-0.5": "PC-KroSBL β=0.5",
    "pc-sbl": "PC-SBL",
    "sbl": "classic SBL",
    "omp": "OMP",
    "fista": "l1 (FISTA)",
    "oracle": "oracle LS",
}

#: The methods run by default: the paper's six, OMP and the l1 baseline.
DEFAULT_METHODS = ("svd", "am", "pc-kro-0.8", "pc-kro-0.5", "pc-sbl", "sbl", "omp", "fista")

#: A trial fails when its NMSE exceeds this (the reference's failure criterion).
FAILURE_NMSE = 0.1

#: The paper's 50-trial results (krosbl.md §4.1, from the authors' data): mean and median
#: channel NMSE in dB at each SNR in dB.
PAPER_NMSE_DB = {
    "svd": {4: (-2.15, -3.7), 8: (-5.16, -10.4), 12: (-7.12, -19.9), 16: (-9.11, -24.2),
            20: (-9.80, -28.9)},
    "am": {4: (-1.46, -0.2), 8: (-4.94, -8.1), 12: (-7.06, -16.4), 16: (-8.57, -22.9),
           20: (-11.55, -29.4)},
    "pc-kro-0.8": {4: (-5.06, -9.0), 8: (-8.80, -14.3), 12: (-13.08, -19.2),
                   16: (-20.50, -23.8), 20: (-25.32, -28.3)},
    "pc-kro-0.5": {4: (-4.90, -7.9), 8: (-8.48, -14.3), 12: (-12.17, -19.0),
                   16: (-19.49, -24.1), 20: (-22.25, -27.7)},
    "pc-sbl": {4: (0.00, 0.0), 8: (0.06, 0.0), 12: (-0.44, 0.0), 16: (-2.17, -4.2),
               20: (-4.26, -8.0)},
    "sbl": {4: (-0.21, -0.6), 8: (-1.40, -2.3), 12: (-3.34, -5.4), 16: (-6.42, -14.6),
            20: (-8.42, -20.8)},
}

_SBL_REFERENCE = {"max_iter": 150, "tol": 1e-4, "gamma_init": 1.0}
# KroSBL only: the absolute pruning threshold and the inner AM tolerance (thres_inner,
# relative) of the authors' IRS code
_KRON_REFERENCE = {"prune_abs": 1e-4, "inner_tol": 1e-4}


# -- the methods ----------------------------------------------------------------------------
def _dense(prob):
    """The explicit ``288 x 5832`` matrix of ``prob.op`` (formed from the factors)."""
    return prob.op.todense()


def _kronecker(prob, max_iter, **options):
    from ..solvers import kronecker_sbl
    kw = {**_SBL_REFERENCE, **_KRON_REFERENCE, "max_iter": max_iter}
    return kronecker_sbl(prob.op, prob.y, noise_var=prob.noise_var, **kw, **options)


def _solve_svd(prob, snr_db, max_iter):
    # the reference turns relative pruning off below 25 dB (krosbl.md §2.7)
    return _kronecker(prob, max_iter, method="svd", prune=0.0 if snr_db < 25 else 1e-3)


def _solve_am(prob, snr_db, max_iter):
    return _kronecker(prob, max_iter, method="am", prune=(1e-2, 1e-1, 1e-3))


def _pc_kronecker(beta):
    def solve(prob, snr_db, max_iter):
        return _kronecker(prob, max_iter, method="am", block=(0, 2), beta=beta,
                          prune=(1e-2, 1e-1, 1e-2))
    return solve


def _solve_pc_sbl(prob, snr_db, max_iter):
    from ..solvers import pattern_coupled_sbl
    return pattern_coupled_sbl(_dense(prob), prob.y, noise_var=prob.noise_var,
                               max_iter=max_iter)


def _solve_sbl(prob, snr_db, max_iter):
    from ..solvers import sbl
    return sbl(_dense(prob), prob.y, noise_var=prob.noise_var, prune=1e-4,
               **{**_SBL_REFERENCE, "max_iter": max_iter})


def _normalised(prob):
    """The dense matrix with unit-norm columns, and the column norms."""
    A = _dense(prob)
    norms = np.linalg.norm(A, axis=0)
    return A / norms, norms


def _solve_omp(prob, snr_db, max_iter):
    # the columns' norms spread over a factor 7: select on unit-norm columns; stop at the
    # noise level (discrepancy principle ||y - A x||^2 <= m sigma^2), no oracle sparsity
    from ..solvers import omp
    A, norms = _normalised(prob)
    res = omp(A, prob.y, tol=prob.noise_var * A.shape[0])
    res.x = res.x / norms
    return res


def _solve_fista(prob, snr_db, max_iter):
    # the Lasso on unit-norm columns with the complex universal threshold
    # lam = sigma sqrt(log n): max_j |a_j^H noise| for CN(0, sigma^2) noise (the
    # complex analogue of the demo's sigma sqrt(2 log n) in Lasso's 1/(2m) scaling)
    from ..solvers import fista
    A, norms = _normalised(prob)
    lam = np.sqrt(prob.noise_var * np.log(A.shape[1]))
    res = fista(A, prob.y, lam=lam, max_iter=5000, tol=1e-8)
    res.x = res.x / norms
    return res


def _solve_oracle(prob, snr_db, max_iter):
    # least squares on the true support: the error no support-recovering method can beat;
    # a channel that fails here fails for every method (the per-configuration NMSE is
    # dominated by a configuration whose channel nearly vanishes)
    from ..solvers import Result
    support = np.flatnonzero(prob.support)
    x = np.zeros(prob.op.shape[1], dtype=prob.y.dtype)
    x[support] = np.linalg.lstsq(prob.op.columns(support), prob.y, rcond=None)[0]
    return Result(x=x, n_iter=np.asarray(0), converged=np.asarray(True))


_SOLVE = {"svd": _solve_svd, "am": _solve_am, "pc-kro-0.8": _pc_kronecker(0.8),
          "pc-kro-0.5": _pc_kronecker(0.5), "pc-sbl": _solve_pc_sbl, "sbl": _solve_sbl,
          "omp": _solve_omp, "fista": _solve_fista, "oracle": _solve_oracle}


def solve_irs(method, prob, snr_db, max_iter=150):
    """Estimate one IRS problem with one method of the study, at its settings.

    Parameters
    ----------
    method : str
        A key of :data:`METHODS`.
    prob : sparserec.simulate.IRSProblem
    snr_db : float
        The SNR ``prob`` was drawn at (SVD-KroSBL's pruning depends on it).
    max_iter : int
        EM iterations of the SBL-type methods.

    Returns
    -------
    sparserec.solvers.Result
    """
    return _SOLVE[_check_methods([method])[0]](prob, snr_db, max_iter)


class _IRSTrial:
    """The trial function of the study (picklable): one channel, one method."""

    def __init__(self, setup_state, max_iter, threads):
        self.setup_state, self.max_iter, self.threads = setup_state, max_iter, threads

    def __call__(self, point, rng):
        from threadpoolctl import threadpool_limits
        snr_db, method = point["snr_db"], point["method"]
        prob = simulate.irs_mimo(snr_db, setup_state=self.setup_state, random_state=rng)
        with threadpool_limits(self.threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")   # non-convergence is recorded per trial
            start = time.perf_counter()
            res = _SOLVE[method](prob, snr_db, self.max_iter)
            seconds = time.perf_counter() - start
        nmse = metrics.channel_nmse(prob.channels, prob.channels_from(np.asarray(res.x)))
        return {"nmse": float(nmse), "nmse_db": float(10 * np.log10(nmse)),
                "seconds": seconds, "n_iter": int(np.max(res.n_iter)),
                "converged": bool(np.all(res.converged))}


# -- validation -----------------------------------------------------------------------------
def _check_snrs(snr_db):
    values = [snr_db] if np.ndim(snr_db) == 0 else list(np.ravel(snr_db))
    if not values:
        raise ValueError("snr_db must hold at least one SNR (dB)")
    out = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)) \
                or not np.isfinite(v):
            raise ValueError(f"snr_db must hold finite numbers (dB), got {v!r}")
        out.append(round(float(v), 6))
    if len(set(out)) != len(out):
        raise ValueError(f"snr_db must not repeat a value, got {out}")
    return out


def _check_methods(methods):
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    methods = list(methods)
    if not methods:
        raise ValueError(f"methods must name at least one of {', '.join(METHODS)}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"methods: unknown method(s) {', '.join(map(repr, unknown))}; "
                         f"choose from {', '.join(METHODS)}")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods must not repeat a method, got {methods}")
    return methods


# -- the study ------------------------------------------------------------------------------
class IRSChannelStudy:
    """The IRS-MIMO channel-estimation study: NMSE of every method against SNR.

    One trial is one channel draw at one SNR, shared by every method (the
    Study's ``method`` axis is left out of the seed), so wins and losses pair
    up trial by trial.

    Parameters
    ----------
    snr_db : sequence of float
        SNRs in dB (the paper's 4, 8, 12, 16, 20).
    methods : sequence of str or str
        Keys of :data:`METHODS` (a comma-separated string is accepted):
        ``svd``, ``am`` (AM-KroSBL), ``pc-kro-0.8``, ``pc-kro-0.5`` (PC-KroSBL,
        coupling on the IRS and BS modes), ``pc-sbl`` (Fang et al., on the
        flattened signal), ``sbl`` (classic SBL), ``omp`` (unit-norm columns,
        stopped at ``||r||^2 <= m sigma^2``), ``fista`` (the Lasso on unit-norm
        columns, ``lam = sigma sqrt(log n)``), ``oracle`` (least squares on the
        true support: the floor of every method, not run by default).
    trials : int
        Channels per SNR (the paper's 50).
    store : str, path-like or None
        SQLite file of the results (resumed when it exists).
    random_state : int
        Master seed of the channels and the noise.
    setup_state : int
        Seed of the pilots and the IRS configurations, fixed for all trials.
    max_iter : int
        EM iterations of the SBL-type methods (the reference's 150).
    threads : int or None
        BLAS threads inside a trial (1: the timings of ``n_jobs`` parallel
        workers do not compete for cores); None leaves the setting alone.
    chunk_size : int, optional
        Trials per unit of work and of storage (default ``min(trials, 16)``).

    Examples
    --------
    >>> from sparserec.experiments import IRSChannelStudy
    >>> study = IRSChannelStudy(snr_db=[20], methods=["svd", "omp"], trials=2)
    >>> df = study.run(progress=False)
    >>> len(df), sorted(set(df["method"]))
    (4, ['omp', 'svd'])
    """

    def __init__(self, snr_db=(4, 8, 12, 16, 20), methods=DEFAULT_METHODS, trials=50, *,
                 store=None, random_state=0, setup_state=0, max_iter=150, threads=1,
                 chunk_size=None):
        self.snr_db = _check_snrs(snr_db)
        self.methods = _check_methods(methods)
        self.setup_state = check_scalar(setup_state, "setup_state", kind="int", low=0)
        self.max_iter = check_scalar(max_iter, "max_iter", kind="int", low=1)
        self.threads = check_scalar(threads, "threads", kind="int", low=1, allow_none=True)
        trials = check_scalar(trials, "trials", kind="int", low=1)
        definition = {"setup_state": self.setup_state, "max_iter": self.max_iter,
                      "methods": {m: METHODS[m] for m in self.methods},
                      "reference_settings": canonical({**_SBL_REFERENCE, **_KRON_REFERENCE}),
                      "failure_nmse": FAILURE_NMSE}
        trial = _IRSTrial(self.setup_state, self.max_iter, self.threads)
        self.study = Study("irs-channel-estimation",
                           {"snr_db": self.snr_db, "method": self.methods}, trial,
                           trials=trials, store=store, random_state=random_state,
                           seed_by=("snr_db",), chunk_size=chunk_size, definition=definition)

    @property
    def trials(self):
        """Trials (channels) per SNR."""
        return self.study.trials

    def run(self, n_jobs=1, *, progress=True):
        """Run (or resume) the study.

        Parameters
        ----------
        n_jobs : int
            joblib's ``n_jobs`` (``-1``: all cores); any joblib backend.
        progress : bool
            Show a progress bar.

        Returns
        -------
        pandas.DataFrame
            One row per SNR, method and trial (see :meth:`results`).
        """
        return self.study.run(n_jobs, progress=progress)

    def results(self):
        """The stored trials: ``snr_db, method, trial, nmse, nmse_db, seconds, n_iter,
        converged, run``.

        Returns
        -------
        pandas.DataFrame
        """
        return self.study.results()

    def summary(self, reference="auto"):
        """The table of the stored trials; see :func:`summary`.

        Parameters
        ----------
        reference : str or None
            Method whose paired win rate against every other is reported
            (``"auto"``: PC-KroSBL beta=0.8 when it ran).

        Returns
        -------
        pandas.DataFrame
        """
        return summary(self.results(), reference=reference)

    def describe(self):
        """One line stating the setup: sizes, trials, settings, threads.

        Returns
        -------
        str
        """
        threads = "unchanged" if self.threads is None else f"{self.threads} per trial"
        return (f"IRS-MIMO (N_M=6, N_B=16, N_R=256, grid 18, T=3 pilots, K=6 configurations; "
                f"y: 288, x: 5832 with 9 nonzeros), {self.trials} channels per SNR, known "
                f"noise, SBL: {self.max_iter} EM iterations, tol 1e-4, gamma start 1; "
                f"BLAS threads {threads}")

    def plot(self, path):
        """The NMSE-against-SNR figure of the stored trials, to a PNG; see :func:`plot`.

        Parameters
        ----------
        path : str or path-like
        """
        plot(self.results(), path, description=self.describe())

    def close(self):
        """Close the store."""
        self.study.close()


# -- table and figure -----------------------------------------------------------------------
_COLUMNS = ("snr_db", "method", "trial", "nmse", "seconds")


def _check_table(df):
    missing = [c for c in _COLUMNS if c not in getattr(df, "columns", ())]
    if missing:
        raise ValueError(f"df must be a trial table with the columns {', '.join(_COLUMNS)}; "
                         f"missing {', '.join(missing)}")
    if len(df) == 0:
        raise ValueError("df holds no trials")


def _db(value):
    with np.errstate(divide="ignore"):
        return 10 * np.log10(value)


def summary(df, reference="auto"):
    """Per SNR and method: mean and median NMSE in dB, failure share, paired wins, time.

    Parameters
    ----------
    df : pandas.DataFrame
        Trial table of :meth:`IRSChannelStudy.results` (``snr_db, method, trial,
        nmse, seconds``).
    reference : str or None
        Method whose paired win rate against each other method is given:
        ``"auto"`` is ``"pc-kro-0.8"`` when the table holds it, else None (no
        win rates).

    Returns
    -------
    pandas.DataFrame
        One row per SNR and method, in table order, with

        * ``trials``: trials of the row;
        * ``mean_db``: ``10 log10`` of the *linear* mean NMSE over trials, the
          paper's figure (dominated by failed trials);
        * ``median_db``: ``10 log10`` of the median NMSE;
        * ``failure``: share of trials with NMSE above :data:`FAILURE_NMSE`;
        * ``ref_wins``: share of the trials both ran (same channel) where
          ``reference`` has the lower NMSE (ties count half); NaN on the
          reference's own rows;
        * ``seconds``: mean solve time per trial.

        ``attrs["reference"]`` names the reference.

    Raises
    ------
    ValueError
        ``df`` misses a column or is empty, or ``reference`` is not one of
        its methods.
    """
    import pandas as pd
    _check_table(df)
    methods = list(dict.fromkeys(df["method"]))
    if isinstance(reference, str) and reference == "auto":
        reference = "pc-kro-0.8" if "pc-kro-0.8" in methods else None
    if reference is not None and reference not in methods:
        raise ValueError(f"reference must be one of the table's methods "
                         f"({', '.join(methods)}), got {reference!r}")
    rows = []
    for snr in dict.fromkeys(df["snr_db"]):
        at = df[df["snr_db"] == snr]
        paired = at.pivot_table(index="trial", columns="method", values="nmse")
        for method in methods:
            nmse = at.loc[at["method"] == method, "nmse"].to_numpy(dtype=float)
            if nmse.size == 0:
                continue
            wins = np.nan
            if reference is not None and method != reference and reference in paired:
                both = paired[[reference, method]].dropna()
                if len(both):
                    ref, other = both[reference].to_numpy(), both[method].to_numpy()
                    wins = float(np.mean((ref < other) + 0.5 * (ref == other)))
            rows.append({"snr_db": snr, "method": method, "trials": int(nmse.size),
                         "mean_db": float(_db(np.mean(nmse))),
                         "median_db": float(_db(np.median(nmse))),
                         "failure": float(np.mean(nmse > FAILURE_NMSE)), "ref_wins": wins,
                         "seconds": float(at.loc[at["method"] == method, "seconds"].mean())})
    table = pd.DataFrame(rows, columns=["snr_db", "method", "trials", "mean_db", "median_db",
                                        "failure", "ref_wins", "seconds"])
    table.attrs["reference"] = reference
    return table


def format_summary(table):
    """The summary as printable text (methods by display name).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`summary` (extra columns are printed too).

    Returns
    -------
    str
        ``ref_wins`` is headed ``<reference> wins`` (dropped without a reference);
        the last column is the paper's mean (median) where it reports one
        (:data:`PAPER_NMSE_DB`).
    """
    reference = table.attrs.get("reference")
    shown = table.copy()
    paper = [PAPER_NMSE_DB.get(m, {}).get(float(snr)) for m, snr in
             zip(shown["method"], shown["snr_db"])]
    shown["paper mean (median)"] = ["-" if v is None else f"{v[0]:.1f} ({v[1]:.1f})"
                                    for v in paper]
    shown["method"] = [METHODS.get(m, m) for m in shown["method"]]
    if reference is None:
        shown = shown.drop(columns="ref_wins")
    shown = shown.rename(columns={"ref_wins": f"{reference} wins"})
    return shown.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-")


def plot(df, path, *, description=None):
    """NMSE against SNR: median with interquartile band per method, mean dashed.

    Parameters
    ----------
    df : pandas.DataFrame
        Trial table of :meth:`IRSChannelStudy.results`.
    path : str or path-like
        PNG file to write (the BLAS/Numba thread setting is printed on it).
    description : str, optional
        What the figure shows, printed under it.

    Raises
    ------
    ValueError
        ``df`` misses a column or is empty.
    """
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone

    from .._runtime import blas_summary
    _check_table(df)
    fig = Figure(figsize=(7.6, 5.4))
    ax = fig.subplots()
    for i, method in enumerate(dict.fromkeys(df["method"])):
        rows = df[df["method"] == method]
        by_snr = rows.groupby("snr_db", sort=True)["nmse"]
        snr = np.asarray(list(by_snr.groups), dtype=float)
        color = f"C{i}"
        ax.fill_between(snr, _db(by_snr.quantile(0.25).to_numpy()),
                        _db(by_snr.quantile(0.75).to_numpy()), color=color, alpha=0.15, lw=0)
        ax.plot(snr, _db(by_snr.median().to_numpy()), color=color, marker="o", ms=4,
                label=f"{METHODS.get(method, method)}")
        ax.plot(snr, _db(by_snr.mean().to_numpy()), color=color, ls="--", lw=1)
    ax.plot([], [], color="gray", ls="--", lw=1, label="mean (linear, in dB)")
    ax.set_xlabel("SNR [dB]")
    ax.set_ylabel("channel NMSE [dB]  (median, interquartile band; dashed: mean)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    n = df.groupby(["snr_db", "method"]).size()
    fig.suptitle(f"IRS-MIMO channel estimation ({n.min()}–{n.max()} trials per point)"
                 if n.min() != n.max() else
                 f"IRS-MIMO channel estimation ({n.min()} trials per point)")
    footer = blas_summary() if description is None else f"{description}\n{blas_summary()}"
    fig.text(0.01, 0.01, footer, fontsize=6, color="gray", wrap=True)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=120)
