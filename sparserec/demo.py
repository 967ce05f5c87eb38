"""``sparserec demo``: every solver on one seeded problem, a table and a plot."""
import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from . import metrics, simulate
from ._runtime import blas_summary
from .estimators import FISTA, IHT, ISTA, OMP, SBL, KroneckerSBL, Lasso, UnfoldedISTA
from .exceptions import ConvergenceWarning
from .operators import Dense
from .solvers import fista
from .solvers.unfolded import initial_network, unfolded

__all__ = ["DemoRow", "demo_alpha", "demo_solvers", "run_demo", "run_kronecker_demo",
           "run_unfolding_demo", "format_table", "plot_convergence"]


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
        ("SBL", SBL()),
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
    problem : str, default=""
        Empty for the demo's Gaussian problem; otherwise the description of
        the extra problem the row belongs to (printed as the heading of its
        own table).
    """

    solver: str
    nmse_db: float
    support_f1: float
    n_iter: int
    seconds: float
    curve: np.ndarray
    problem: str = ""


def _curve(est, A, y, x_true):
    """NMSE of every iterate of ``est`` on ``(A, y)`` against the time to reach it."""
    if "max_iter" not in est.get_params():        # greedy: the t-atom solutions
        rows = [(0, 0.0, metrics.nmse_db(x_true, np.zeros_like(x_true)))]
        for t in range(1, int(est.n_nonzero_coefs) + 1):
            start = time.perf_counter()
            fit = clone(est).set_params(n_nonzero_coefs=t).fit(A, y)
            rows.append((t, time.perf_counter() - start, metrics.nmse_db(x_true, fit.coef_)))
        return np.array(rows)
    rows, spent = [], [0.0]
    start = time.perf_counter()

    def record(progress):
        enter = time.perf_counter()
        x = np.asarray(progress.state["x"])[:, 0]
        rows.append((progress.iteration, enter - start - spent[0], metrics.nmse_db(x_true, x)))
        spent[0] += time.perf_counter() - enter

    clone(est).fit(A, y, callback=record)
    return np.array(rows)


def run_demo(m=100, n=256, k=10, snr_db=30.0, random_state=0, kronecker=True, unfolding=True):
    """Solve one seeded compressed-sensing problem with every demo solver.

    Every fit runs with BLAS limited to one thread (on 2 cores, two threads gave
    small factorizations erratic times and no speed-up).

    Parameters
    ----------
    m, n, k : int
        Measurements, unknowns, non-zeros.
    snr_db : float
        Measurement SNR.
    random_state : int
    kronecker : bool, default=True
        Append the rows of :func:`run_kronecker_demo` (same SNR and seed).
    unfolding : bool, default=True
        Append the rows of :func:`run_unfolding_demo` (same seed).

    Returns
    -------
    rows : list of DemoRow
        One per solver of :func:`demo_solvers`, then the Kronecker and the unfolding
        rows.
    alpha : float
        The l1 weight given to ISTA, FISTA and the working-set Lasso.
    """
    prob = simulate.gaussian_cs(m, n, k, snr_db=snr_db, random_state=random_state)
    rows = []
    with threadpool_limits(1):      # per-call costs: 2 BLAS threads made small solves erratic
        for label, est in demo_solvers(prob, k):
            start = time.perf_counter()
            est.fit(prob.A, prob.y)
            seconds = time.perf_counter() - start
            rows.append(DemoRow(label, metrics.nmse_db(prob.x, est.coef_),
                                metrics.support_f1(prob.x, est.coef_), int(est.n_iter_), seconds,
                                _curve(est, prob.A, prob.y, prob.x)))
    if kronecker:
        rows += run_kronecker_demo(snr_db=snr_db, random_state=random_state)
    if unfolding:
        rows += run_unfolding_demo(random_state=random_state)
    return rows, demo_alpha(prob)


def _batch_curve(solve, X):
    """NMSE over all problems of every iterate of ``solve(callback)`` against time."""
    rows, spent = [(0, 0.0, 0.0)], [0.0]
    current = np.zeros_like(X)
    start = time.perf_counter()

    def record(progress):
        enter = time.perf_counter()
        current[:, progress.problems] = np.asarray(progress.state["x"])
        rows.append((progress.iteration, enter - start - spent[0], metrics.nmse_db(X, current)))
        spent[0] += time.perf_counter() - enter

    solve(callback=record)
    return np.array(rows)


def run_kronecker_demo(snr_db=30.0, random_state=0, repeats=3):
    """SBL with and without the Kronecker structure on one seeded Kronecker problem.

    A :func:`~sparserec.simulate.kronecker_cs` problem (``A = A1 kron A2 kron A3``
    of size 384 x 1000, two non-zeros per mode), solved by SVD-KroSBL on the
    factors and by classic SBL on the dense product (formed outside the
    timing), both with their defaults (noise learned).

    Parameters
    ----------
    snr_db : float
        Measurement SNR.
    random_state : int
    repeats : int, default=3
        Each time is the best of ``repeats`` fits, with BLAS limited to one
        thread (a per-call cost, free of thread start-up and oversubscription).

    Returns
    -------
    list of DemoRow
        ``"SVD-KroSBL"`` then ``"SBL-dense"``, their ``problem`` describing the
        problem.
    """
    repeats = max(int(repeats), 1)
    prob = simulate.kronecker_cs(m=(6, 8, 8), n=(10, 10, 10), k=2, snr_db=snr_db,
                                 random_state=random_state)
    dense = prob.op.todense()
    M, N = dense.shape
    sizes = ", ".join(f"{a.shape[0]}x{a.shape[1]}" for a in prob.factors)
    problem = (f"Kronecker-structured problem (simulate.kronecker_cs): A = A1 kron A2 kron A3 "
               f"({sizes}; {M}x{N}),\n2 non-zeros per mode ({int(prob.support.sum())} in all), "
               f"SNR={snr_db:g} dB, seed={random_state}; SVD-KroSBL on the factors, SBL on "
               f"the dense matrix;\ntime: best of {repeats} fits with 1 BLAS thread")
    rows = []
    for label, est, A in [("SVD-KroSBL", KroneckerSBL(method="svd"), prob.op),
                          ("SBL-dense", SBL(), dense)]:
        with threadpool_limits(1):
            seconds = np.inf
            for _ in range(repeats):
                start = time.perf_counter()
                est.fit(A, prob.y)
                seconds = min(seconds, time.perf_counter() - start)
            curve = _curve(est, A, prob.y, prob.x)
        rows.append(DemoRow(label, metrics.nmse_db(prob.x, est.coef_),
                            metrics.support_f1(prob.x, est.coef_), int(est.n_iter_), seconds,
                            curve, problem))
    return rows


def run_unfolding_demo(random_state=0, n_layers=10, max_steps=300):
    """A small unfolded ISTA trained in seconds, against plain ISTA and FISTA.

    The fixture of the unfolding notes (A ``75 x 150`` with N(0, 1) entries,
    Bernoulli-Gaussian signals with ``p = 0.08``, noise variance 0.008, ``lam = 10``):
    ``UnfoldedISTA`` is trained with the supervised (MSE) and with the unsupervised
    (objective, no ground truth) loss on 5000 samples, then compared on 1000 fresh ones with 10 iterations of plain ISTA
    (``1/||A||^2`` steps) and of FISTA (:func:`~sparserec.solvers.fista`), all at 1
    BLAS thread.

    Parameters
    ----------
    random_state : int
    n_layers : int, default=10
    max_steps : int, default=300
        Adam steps of the training.

    Returns
    -------
    list of DemoRow
        ``"DU-ISTA-sup"``, ``"DU-ISTA-unsup"``, ``"ISTA-10"``, ``"FISTA-10"``; the NMSE
        is over all test samples,
        the time is the inference (or solve) time for all of them, the curve is the
        NMSE of every layer (iteration).
    """
    rng = np.random.default_rng(random_state)
    lam, n_train, n_test = 10.0, 5000, 1000
    A = rng.normal(size=(75, 150))

    def draw(size):
        X = rng.normal(size=(size, 150)) * (rng.random((size, 150)) < 0.08)
        return X @ A.T + np.sqrt(0.008) * rng.normal(size=(size, 75)), X

    (Y_train, X_train), (Y, X) = draw(n_train), draw(n_test)
    with threadpool_limits(1):
        start = time.perf_counter()
        nets = {loss: UnfoldedISTA(A, n_layers, lam, loss, max_steps=max_steps,
                                   learning_rate=3e-2, random_state=random_state
                                   ).fit(Y_train, X_train).network_
                for loss in ("supervised", "unsupervised")}
        trained = (time.perf_counter() - start) / 2
        rows = []
        plain = initial_network(Dense(A), "ista", n_layers, lam)
        solves = [(label, lambda callback=None, net=network: unfolded(A, Y.T, net,
                                                                        callback=callback))
                  for label, network in [("DU-ISTA-sup", nets["supervised"]),
                                         ("DU-ISTA-unsup", nets["unsupervised"]),
                                         (f"ISTA-{n_layers}", plain)]]
        solves.append((f"FISTA-{n_layers}", lambda callback=None: fista(
            A, Y.T, lam=lam, max_iter=n_layers, tol=1e-14, check_every=n_layers,
            callback=callback)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)   # FISTA stops at 10
            for label, solve in solves:
                start = time.perf_counter()
                Z = solve().x.T
                seconds = time.perf_counter() - start
                rows.append((label, Z, n_layers, seconds, _batch_curve(solve, X.T)))
    problem = (f"Deep unfolding (unfolding.md fixture): A 75x150 N(0,1), Bernoulli-Gaussian "
               f"p=0.08, noise var 0.008, lam=10;\nDU-ISTA: {n_layers} layers, MSE (sup) or "
               f"objective (unsup) loss, {max_steps} Adam steps on {n_train} samples in "
               f"{trained:.1f} s each; NMSE on {n_test} test samples; time: inference for all")
    return [DemoRow(label, metrics.nmse_db(X, Z), metrics.support_f1(X.T, Z.T), n_iter, seconds,
                    curve, problem)
            for label, Z, n_iter, seconds, curve in rows]


def format_table(rows):
    """The demo table as text (one line per solver).

    Parameters
    ----------
    rows : list of DemoRow

    Returns
    -------
    str
        The rows of the main problem; then, for every extra problem, its
        description, its rows and each row's time relative to its first row.
    """
    groups = {}
    for r in rows:
        groups.setdefault(r.problem, []).append(r)
    lines = []
    for problem, group in groups.items():
        width = max([8] + [len(r.solver) for r in group])
        if problem:
            lines += ["", problem]
        lines.append(f"{'solver':<{width}} {'NMSE [dB]':>10} {'support F1':>11} "
                     f"{'iterations':>11} {'time [ms]':>10}")
        for r in group:
            lines.append(f"{r.solver:<{width}} {r.nmse_db:>10.2f} {r.support_f1:>11.3f} "
                         f"{r.n_iter:>11d} {1e3 * r.seconds:>10.2f}")
        if problem:
            first = group[0]
            for r in group[1:]:
                ratio = r.seconds / first.seconds
                lines.append(f"{first.solver} is {ratio:.1f}x faster than {r.solver}" if ratio >= 1
                             else f"{first.solver} is {1 / ratio:.1f}x slower than {r.solver}")
    return "\n".join(lines)


def plot_convergence(rows, path):
    """Plot every solver's NMSE against iterations and against time.

    The one quantity every solver shares, the error of its iterate, in two
    panels: per iteration (OMP: per atom) and per second of solve time.

    Parameters
    ----------
    rows : list of DemoRow
        Rows of extra problems (``problem`` set) are not drawn.
    path : str or path-like
        PNG file to write (the BLAS/Numba thread setting is printed on it).
    """
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone

    fig = Figure(figsize=(9.6, 4.2))
    by_iter, by_time = fig.subplots(1, 2, sharey=True)
    for r in rows:
        if len(r.curve) > 1 and not r.problem:
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
