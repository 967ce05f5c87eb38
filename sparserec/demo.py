"""``sparserec demo``: every solver on one seeded problem, a table and a plot."""
import time
from dataclasses import dataclass

import numpy as np

from . import metrics, simulate
from ._runtime import blas_summary
from .estimators import FISTA, IHT, ISTA, OMP

__all__ = ["DemoRow", "demo_solvers", "run_demo", "format_table", "plot_convergence"]


def demo_solvers(prob, k):
    """The estimators the demo runs, as ``(label, estimator)`` pairs.

    Every solver family adds its line here.

    Parameters
    ----------
    prob : sparserec.simulate.CSProblem
        The demo problem (its noise level sets the l1 weight).
    k : int
        True sparsity of the demo problem (given to the greedy solvers).
    """
    m, n = prob.A.shape
    # universal threshold sigma * sqrt(2 log n), in Lasso's 1/(2m) scaling
    alpha = max(float(np.sqrt(np.mean(prob.noise_var))), 1e-6) * np.sqrt(2 * np.log(n)) / m
    return [
        ("ISTA", ISTA(alpha=alpha, tol=1e-6)),
        ("FISTA", FISTA(alpha=alpha, tol=1e-6)),
        ("IHT", IHT(k, normalized=False, tol=1e-8)),
        ("NIHT", IHT(k, normalized=True, tol=1e-8)),
        ("OMP", OMP(k)),
    ]


@dataclass
class DemoRow:
    """One line of the demo table."""

    solver: str
    nmse_db: float
    support_f1: float
    n_iter: int
    seconds: float
    history: np.ndarray


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
    """
    prob = simulate.gaussian_cs(m, n, k, snr_db=snr_db, random_state=random_state)
    rows = []
    for label, est in demo_solvers(prob, k):
        start = time.perf_counter()
        est.fit(prob.A, prob.y)
        seconds = time.perf_counter() - start
        rows.append(DemoRow(label, metrics.nmse_db(prob.x, est.coef_),
                            metrics.support_f1(prob.x, est.coef_), int(est.n_iter_), seconds,
                            getattr(est, "history_", np.zeros((0, 2)))))
    return rows


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
    """Plot every solver's stopping criterion against iterations.

    Parameters
    ----------
    rows : list of DemoRow
    path : str or path-like
        PNG file to write (the BLAS/Numba thread setting is printed on it).
    """
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone

    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    for r in rows:
        if len(r.history) > 1:
            ax.semilogy(r.history[:, 0], np.maximum(r.history[:, 1], 1e-17), marker=".",
                        label=r.solver)
    ax.set_xlabel("iteration")
    ax.set_ylabel("stopping criterion (l1: duality gap / ||y||²,\nIHT: relative change, OMP: residual norm)")
    ax.set_title("sparserec demo: convergence")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.text(0.01, 0.01, blas_summary(), fontsize=7, color="gray")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
