"""Figures of phase-transition experiments (matplotlib, no pyplot)."""
import numpy as np

from .._runtime import blas_summary
from .theory import weak_threshold

__all__ = ["plot_phase_transition"]


def _edges(values):
    v = np.asarray(sorted(set(values)), dtype=float)
    if v.size == 1:
        return np.array([v[0] - 0.025, v[0] + 0.025])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[2 * v[0] - mid[0]], mid, [2 * v[-1] - mid[-1]]])


def plot_phase_transition(df, bounds, description, *, show_theory, path):
    """Success-rate heat map per solver with its empirical boundary, plus all boundaries.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per trial (``solver, delta, rho, success``).
    bounds : pandas.DataFrame
        ``solver, delta, rho50, low, high`` (see ``PhaseTransition.boundaries``).
    description : str
        What the figure shows (n, trials, amplitudes, criterion), printed on it.
    show_theory : bool
        Overlay the Donoho–Tanner l1 weak threshold (real signed data).
    path : str or path-like
        PNG file to write.
    """
    from matplotlib.figure import Figure

    solvers = list(dict.fromkeys(df["solver"]))
    n_panels = len(solvers) + 1
    fig = Figure(figsize=(3.6 * n_panels, 3.9))
    axes = fig.subplots(1, n_panels, sharey=True)
    delta_line = np.linspace(0.02, 0.98, 200)
    theory = weak_threshold(delta_line) if show_theory else None
    for ax, solver in zip(axes, solvers):
        cell = df[df["solver"] == solver].groupby(["rho", "delta"])["success"].mean().unstack()
        mesh = ax.pcolormesh(_edges(cell.columns), _edges(cell.index), cell.to_numpy(),
                             vmin=0, vmax=1, cmap="viridis", shading="flat")
        b = bounds[bounds["solver"] == solver]
        ax.errorbar(b["delta"], b["rho50"], yerr=[b["rho50"] - b["low"], b["high"] - b["rho50"]],
                    fmt="o", color="white", ms=3, lw=1, capsize=2, label="empirical 50 %")
        if theory is not None:
            ax.plot(delta_line, theory, "r-", lw=1.5, label="Donoho–Tanner l1")
        ax.set_title(solver)
        ax.set_xlabel("δ = m / n")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("ρ = k / m")
    axes[0].legend(loc="upper left", fontsize=7)
    fig.colorbar(mesh, ax=axes[len(solvers) - 1], label="success rate")
    last = axes[-1]
    for solver in solvers:
        b = bounds[bounds["solver"] == solver]
        last.plot(b["delta"], b["rho50"], "o-", ms=3, label=solver)
    if theory is not None:
        last.plot(delta_line, theory, "k--", lw=1, label="Donoho–Tanner l1")
    last.set_title("50 % boundaries")
    last.set_xlabel("δ = m / n")
    last.set_xlim(0, 1)
    last.grid(True, alpha=0.3)
    last.legend(fontsize=7)
    fig.suptitle(description, fontsize=8)
    fig.text(0.01, 0.005, blas_summary(), fontsize=6, color="gray")
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    fig.savefig(path, dpi=100)
