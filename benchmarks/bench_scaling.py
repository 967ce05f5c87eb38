"""Lasso at scale: working-set ``lasso`` against scikit-learn and skglm, measured in one run.

(1) Shared-A batch, ``n`` in ``--sizes``, ``m = n / 2.5``, ``k = m / 10``, 30 dB SNR,
    ``B = --batch`` problems (``--batch-large`` from n = 16384, timed once per side
    there; median of ``--repeats`` calls below), ``alpha/alpha_max`` in
    ``--ratios``: time per problem of ``sparserec.solvers.lasso`` on the whole batch
    (and in its other mode, which checks the Gram/columns rule of
    :func:`~sparserec.solvers.working_set.use_full_gram`), of scikit-learn's
    multi-target ``Lasso`` and of a loop of skglm ``Lasso`` fits on the first
    ``--peer-problems`` problems; ratios, matched objectives, and the fitted exponent of
    time per problem against ``n`` for each solver.
(2) One large problem (m=2000, n=10000, k=100, one ``y``).
(3) The GEMM multiple at n = 4096: total solve time over the time of the one product
    ``A^H Y`` every solver must compute.

All sides stop at a duality gap ``<= --tol * ||y||^2`` (skglm, which stops on its own
optimality violation, gets a tolerance small enough to reach the same objective, which
the script checks); BLAS and Numba run on one thread, printed with the figures.
skglm is in the ``bench`` extra (``pip install -e ".[bench]"``).

Usage: ``python benchmarks/bench_scaling.py [--sizes 256,1024,4096,16384] [--batch 500]``.
"""
import argparse
import time
import warnings

import numba
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso as SkLasso
from threadpoolctl import threadpool_limits

from sparserec import simulate
from sparserec._runtime import blas_summary
from sparserec.solvers import lasso
from sparserec.solvers.working_set import use_full_gram


def objective(A, Y, X, alpha):
    m = A.shape[0]
    return np.sum((Y - A @ X) ** 2, axis=0) / (2 * m) + alpha * np.sum(np.abs(X), axis=0)


def timed(fn, repeats=1):
    """``(result, median seconds)`` over ``repeats`` calls (this machine's timings vary
    by up to 2x from call to call, so every side gets the same number of repeats)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, float(np.median(times))


def skglm_loop(A, Y, alpha):
    from skglm import Lasso as GLMLasso
    X = np.zeros((A.shape[1], Y.shape[1]))
    for j in range(Y.shape[1]):
        X[:, j] = GLMLasso(alpha=alpha, fit_intercept=False, tol=1e-12,
                           max_iter=1000).fit(A, Y[:, j]).coef_
    return X


def compare(A, Y, alpha, tol, peer_problems, repeats, other_mode=True):
    """Per-problem seconds of every solver on one problem set, and objective checks."""
    m, n = A.shape
    P = Y.shape[1]
    lam = alpha * m
    ours, t_ours = timed(lambda: lasso(A, Y, lam=lam, tol=tol, max_iter=1000), repeats)
    gram = use_full_gram(m, n, P, A.itemsize)
    row = {"ours": t_ours / P, "mode": "gram" if gram else "columns"}
    if other_mode:
        _, t_other = timed(lambda: lasso(A, Y, lam=lam, tol=tol, max_iter=1000, gram=not gram),
                           repeats)
        row["other"] = t_other / P
    Q = min(P, peer_problems)
    Yq = Y[:, :Q]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk, t_sk = timed(lambda: SkLasso(alpha=alpha, fit_intercept=False, tol=tol,
                                         max_iter=1_000_000).fit(A, Yq), repeats)
    glm, t_glm = timed(lambda: skglm_loop(A, Yq, alpha), repeats)
    row["sklearn"], row["skglm"] = t_sk / Q, t_glm / Q
    ref = objective(A, Yq, ours.x[:, :Q], alpha)
    row["obj_sklearn"] = float(np.max((ref - objective(A, Yq, sk.coef_.T.reshape(n, Q), alpha))
                                      / ref))
    row["obj_skglm"] = float(np.max((ref - objective(A, Yq, glm, alpha)) / ref))
    return row, ours, t_ours


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,1024,4096,16384")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--batch-large", type=int, default=40,
                        help="problems per batch from n = 16384 on")
    parser.add_argument("--peer-problems", type=int, default=20,
                        help="problems of each batch timed with scikit-learn and skglm")
    parser.add_argument("--ratios", default="0.1,0.01")
    parser.add_argument("--tol", type=float, default=1e-9)
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed calls per solver and setting (the median is printed)")
    parser.add_argument("--skip-large", action="store_true", help="skip part (2)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    ratios = [float(r) for r in args.ratios.split(",")]
    numba.set_num_threads(1)
    with threadpool_limits(1):
        print(f"threads: {blas_summary()}, numba {numba.get_num_threads()}")
        warm = simulate.gaussian_cs(40, 100, 4, n_targets=2, random_state=0)
        lasso(warm.A, warm.y, lam=1.0)                      # compile outside the timings
        lasso(warm.A, warm.y, lam=1.0, gram=True)
        skglm_loop(warm.A, warm.y, 0.01)
        print("\n(1) shared-A batch, time per problem [ms]; ratio = peer time / ours")
        print(f"{'n':>6} {'B':>4} {'a/amax':>6} {'mode':>7} {'ours':>8} {'other':>8} "
              f"{'sklearn':>8} {'skglm':>8} {'x sk':>6} {'x glm':>6} {'obj sk':>9} "
              f"{'obj glm':>9}")
        times = {r: {"ours": [], "sklearn": [], "skglm": []} for r in ratios}
        gemm_line = None
        for n in sizes:
            m, B = int(n / 2.5), args.batch if n < 16384 else args.batch_large
            prob = simulate.gaussian_cs(m, n, max(1, m // 10), n_targets=B, snr_db=30,
                                        random_state=n)
            A, Y = prob.A, prob.y
            alpha_max = float(np.max(np.abs(A.T @ Y))) / m
            for r in ratios:
                row, _, t_ours = compare(A, Y, r * alpha_max, args.tol, args.peer_problems,
                                         args.repeats if n < 16384 else 1,
                                         other_mode=n <= 4096)
                for key in times[r]:
                    times[r][key].append(row[key])
                other = f"{1e3 * row['other']:8.2f}" if "other" in row else f"{'-':>8}"
                print(f"{n:6d} {B:4d} {r:6.2f} {row['mode']:>7} {1e3 * row['ours']:8.2f} "
                      f"{other} {1e3 * row['sklearn']:8.2f} {1e3 * row['skglm']:8.2f} "
                      f"{row['sklearn'] / row['ours']:6.2f} {row['skglm'] / row['ours']:6.2f} "
                      f"{row['obj_sklearn']:9.1e} {row['obj_skglm']:9.1e}", flush=True)
                if n == 4096:
                    _, t_gemm = timed(lambda: A.T @ Y, args.repeats)
                    gemm_line = (gemm_line or "") + (
                        f"  alpha/alpha_max={r}: solve {t_ours:.2f} s, A^H Y {t_gemm:.3f} s: "
                        f"{t_ours / t_gemm:.1f}x the GEMM\n")
        print("\nfitted exponent of time per problem vs n (log-log slope)"
              if len(sizes) > 1 else "\n(one size: no exponent)")
        for r in ratios if len(sizes) > 1 else ():
            parts = [f"{k} {np.polyfit(np.log(sizes), np.log(v), 1)[0]:.2f}"
                     for k, v in times[r].items()]
            print(f"  alpha/alpha_max={r}: " + ", ".join(parts))
        if gemm_line:
            print("\n(3) close to the limit, n=4096\n" + gemm_line, end="")
        if not args.skip_large:
            print("\n(2) one problem m=2000, n=10000, k=100 [s]")
            prob = simulate.gaussian_cs(2000, 10000, 100, snr_db=30, random_state=1)
            A, Y = prob.A, prob.y[:, None]
            alpha_max = float(np.max(np.abs(A.T @ Y))) / 2000
            for r in ratios:
                row, _, _ = compare(A, Y, r * alpha_max, args.tol, 1, args.repeats,
                                    other_mode=False)
                print(f"  alpha/alpha_max={r}: ours {row['ours']:.3f}, sklearn "
                      f"{row['sklearn']:.3f} ({row['sklearn'] / row['ours']:.2f}x), skglm "
                      f"{row['skglm']:.3f} ({row['skglm'] / row['ours']:.2f}x); objective "
                      f"vs sklearn {row['obj_sklearn']:.1e}, vs skglm {row['obj_skglm']:.1e}")


if __name__ == "__main__":
    main()
