"""``sparserec demo``: every solver on one seeded problem, a table and a plot."""
import time
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from . import metrics, simulate
from ._runtime import blas_summary
from .estimators import FISTA, IHT, ISTA, OMP, Lasso

__all__ = ["DemoRow", "demo_alpha", "demo_solvers", "run_demo", "format_table", "plot_convergence"]


def demo_alpha(prob):
    """The l1 weight of the demo: the universal threshold ``sigma sqrt(2 log n)``.

    Parameters
    ----------
    prob : sparserec.simulate.CSProblem

    Returns
    -------
    float
        In Lasso's ``1/(2m)`` scaling.
    """
    m, n = prob.A.shape
    return max(float(np.sqrt(np.mean(prob.noise_var))), 1e-6) * np.sqrt(2 * np.log(n)) / m


def demo_solvers(prob, k):
    """The estimators the demo runs, as ``(label, estimator)`` pairs.

    Every solver family adds its line here.

    Parameters
    ----------
    prob : sparserec.simulate.CSProblem
        The demo problem (its noise level sets the l1 weight).
    k : int
        True sparsity of the demo problem (given to the greedy solvers).

    Returns
    -------
    list of (str, estimator)
    """
    alpha = demo_alpha(prob)
    return [
        ("ISTA", ISTA(alpha=alpha, tol=1e-6)),
        ("FISTA", FISTA(alpha=alpha, tol=1e-6)),
        ("Lasso-WS", Lasso(alpha=alpha, tol=1e-6)),
        ("IHT", IHT(k, normalized=False, tol=1e-8)),
        ("NIHT", IHT(k, normalized=True, tol=1e-8)),
        ("OMP", OMP(k)),
    ]


@dataclass
class DemoRow:
    """One line of the demo table, with its convergence curve.

    Parameters
    ----------
    solver : str
    nmse_db, support_f1 : float
        Of the final estimate.
    n_iter : int
    seconds : float
        Wall time of the fit (without the curve's bookkeeping).
    curve : numpy.ndarray of shape ``(n_points, 3)``
        Iteration, seconds since the start of the fit (callback time
        excluded) and NMSE in dB of the iterate (for OMP: after ``t`` atoms).
    """

    solver: str
    nmse_db: float
    support_f1: float
    n_iter: int
    seconds: float
    curve: np.ndarray


def _curve(est, prob):
    """NMSE of every iterate of ``est`` on ``prob`` against the time to reach it."""
    if "max_iter" not in est.get_params():        # greedy: the t-atom solutions
        rows = [(0, 0.0, metrics.nmse_db(prob.x, np.zeros_like(prob.x)))]
        for t in range(1, int(est.n_nonzero_coefs) + 1):
            start = time.perf_counter()
            fit = clone(est).set_params(n_nonzero_coefs=t).fit(prob.A, prob.y)
            rows.append((t, time.perf_counter() - start, metrics.nmse_db(prob.x, fit.coef_)))
        return np.array(rows)
    rows, spent = [], [0.0]
    start = time.perf_counter()

    def record(progress):
        enter = time.perf_counter()
        x = np.asarray(progress.state["x"])[:, 0]
        rows.append((progress.iteration, enter - start - spent[0], metrics.nmse_db(prob.x, x)))
        spent[0] += time.perf_counter() - enter

    clone(est).fit(prob.A, prob.y, callback=record)
    return np.array(rows)


def run_demo(m=100, n=256, k=10, snr_db=30.0, random_state=0):
    """Solve one seeded compressed-sensing problem with every demo solver.

    Parameters
    ----------
    m, n, k : int
        Measurements, unknowns, non-zeros.
    snr_db : float
        Measurement SNR.
    random_state : int

    Returns
    -------
    rows : list of DemoRow
    alpha : float
        The l1 weight given to ISTA, FISTA and the working-set Lasso.
    """
    prob = simulate.gaussian_cs(m, n, k, snr_db=snr_db, random_state=random_state)
    rows = []
    for label, est in demo_solvers(prob, k):
        start = time.perf_counter()
        est.fit(prob.A, prob.y)
        seconds = time.perf_counter() - start
        rows.append(DemoRow(label, metrics.nmse_db(prob.x, est.coef_),
                            metrics.support_f1(prob.x, est.coef_), int(est.n_iter_), seconds,
                            _curve(est, prob)))
    return rows, demo_alpha(prob)


def format_table(rows):
    """The demo table as text (one line per solver).

    Parameters
    ----------
    rows : list of DemoRow

    Returns
    -------
    str
    """
    lines = [f"{'solver':<8} {'NMSE [dB]':>10} {'support F1':>11} {'iterations':>11} {'time [ms]':>10}"]
    for r in rows:
        lines.append(f"{r.solver:<8} {r.nmse_db:>10.2f} {r.support_f1:>11.3f} {r.n_iter:>11d} "
                     f"{1e3 * r.seconds:>10.2f}")
    return "\n".join(lines)


def plot_convergence(rows, path):
    """Plot every solver's NMSE against iterations and against time.

    The one quantity every solver shares, the error of its iterate, in two
    panels: per iteration (OMP: per atom) and per second of solve time.

    Parameters
    ----------
    rows : list of DemoRow
    path : str or path-like
        PNG file to write (the BLAS/Numba thread setting is printed on it).
    """
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone

    fig = Figure(figsize=(9.6, 4.2))
    by_iter, by_time = fig.subplots(1, 2, sharey=True)
    for r in rows:
        if len(r.curve) > 1:
            by_iter.plot(r.curve[:, 0], r.curve[:, 2], marker=".", ms=3, label=r.solver)
            by_time.plot(1e3 * r.curve[1:, 1], r.curve[1:, 2], marker=".", ms=3, label=r.solver)
    by_iter.set_xscale("symlog", linthresh=10)
    by_iter.set_xlabel("iteration (OMP: atoms selected)")
    by_iter.set_ylabel("NMSE of the iterate [dB]")
    by_time.set_xscale("log")
    by_time.set_xlabel("solve time [ms]")
    for ax in (by_iter, by_time):
        ax.grid(True, which="both", alpha=0.3)
    by_iter.legend()
    fig.suptitle("sparserec demo: error of the iterates")
    fig.text(0.01, 0.01, blas_summary(), fontsize=7, color="gray")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
