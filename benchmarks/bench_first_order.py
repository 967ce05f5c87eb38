"""FISTA throughput and first-call cost against scikit-learn's Lasso, measured in one run.

(a) shared A 100x256, k=10, B problems: sparserec ``FISTA`` vs
    ``sklearn.linear_model.Lasso(fit_intercept=False)`` multi-target fit;
(b) distinct A per problem, 64x256, B problems: ``FISTA`` on the stack vs a Python
    loop of ``Lasso`` fits;
(c) first call in a fresh process vs scikit-learn's first fit in a fresh process,
    with a cold Numba cache (compile included) and a warm one.

Both sides stop at the same criterion (duality gap <= tol * ||y||^2, Lasso's own
rule) and the script prints how close their objectives are.  BLAS is limited to one
thread for both sides (scikit-learn's coordinate descent is single-threaded); the
Numba kernels are timed with 1 and with all threads, and the thread settings are
printed with the figures.

Usage: ``python benchmarks/bench_first_order.py [--problems 2000] [--repeats 3]``.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np
from sklearn.linear_model import Lasso
from threadpoolctl import threadpool_limits

from sparserec import FISTA, simulate
from sparserec._runtime import blas_summary

ALPHA = 1e-3
TOL = 1e-6


def lasso_objective(A, Y, X, alpha):
    """Per-problem ``1/(2m)||y - Ax||^2 + alpha ||x||_1`` (stacks: A (B,m,n), X (B,n))."""
    m = A.shape[-2]
    R = Y - (np.einsum("bmn,bn->bm", A, X) if A.ndim == 3 else A @ X)
    axis = -1 if A.ndim == 3 else 0
    return (np.abs(R) ** 2).sum(axis) / (2 * m) + alpha * np.abs(X).sum(axis)


def best_of(fn, repeats):
    """Median wall time of ``repeats`` calls and the last result."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def shared_batch(n_problems, repeats):
    prob = simulate.gaussian_cs(100, 256, 10, n_targets=n_problems, snr_db=30, random_state=0)
    A, Y = prob.A, prob.y
    FISTA(alpha=ALPHA, tol=TOL).fit(A, Y[:, :32])  # compile / load the kernels
    with threadpool_limits(1):
        t_sk, sk = best_of(lambda: Lasso(alpha=ALPHA, fit_intercept=False, tol=TOL).fit(A, Y),
                           repeats)
        rows = {}
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            rows[threads] = best_of(lambda: FISTA(alpha=ALPHA, tol=TOL).fit(A, Y), repeats)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    ours = rows[1][1]
    f_ours = lasso_objective(A, Y, ours.coef_.T, ALPHA)
    f_sk = lasso_objective(A, Y, sk.coef_.T, ALPHA)
    print(f"(a) shared A 100x256, k=10, B={n_problems}, alpha={ALPHA:g}, tol={TOL:g}")
    print(f"    sklearn Lasso multi-target: {t_sk:.3f} s ({n_problems / t_sk:,.0f} problems/s)")
    for threads, (t, _) in rows.items():
        print(f"    sparserec FISTA, {threads} Numba thread(s): {t:.3f} s "
              f"({n_problems / t:,.0f} problems/s)  throughput ratio {t_sk / t:.2f}x")
    print(f"    objective: max relative difference {np.max(np.abs(f_ours - f_sk) / f_sk):.2e}, "
          f"mean iterations FISTA {np.mean(ours.n_iter_):.1f}")
    return {threads: t_sk / t for threads, (t, _) in rows.items()}


def distinct_stack(n_problems, repeats):
    prob = simulate.gaussian_cs(64, 256, 10, batch=n_problems, snr_db=30, random_state=1)
    A, Y = prob.A, prob.y
    FISTA(alpha=ALPHA, tol=TOL).fit(A[:16], Y[:16])

    def sklearn_loop():
        return np.stack([Lasso(alpha=ALPHA, fit_intercept=False, tol=TOL).fit(A[b], Y[b]).coef_
                         for b in range(n_problems)])

    with threadpool_limits(1):
        t_sk, sk = best_of(sklearn_loop, repeats)
        rows = {}
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            # a fresh array each call: the spectral norms are part of the cost
            rows[threads] = best_of(lambda: FISTA(alpha=ALPHA, tol=TOL).fit(A.copy(), Y), repeats)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    ours = rows[1][1]
    f_ours = lasso_objective(A, Y, ours.coef_, ALPHA)
    f_sk = lasso_objective(A, Y, sk, ALPHA)
    print(f"(b) distinct A 64x256 per problem, B={n_problems}")
    print(f"    Python loop of sklearn Lasso: {t_sk:.3f} s ({n_problems / t_sk:,.0f} problems/s)")
    for threads, (t, _) in rows.items():
        print(f"    sparserec FISTA on the stack, {threads} Numba thread(s): {t:.3f} s  "
              f"throughput ratio {t_sk / t:.2f}x")
    print(f"    objective: max relative difference {np.max(np.abs(f_ours - f_sk) / f_sk):.2e}")
    return {threads: t_sk / t for threads, (t, _) in rows.items()}


_FIRST_CALL = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
{imports}
t1 = time.perf_counter()
rng = np.random.default_rng(0)
A = rng.standard_normal((100, 256)) / 10.0
X = np.zeros((256, {L}))
X[:10] = rng.standard_normal((10, {L}))
Y = (A @ X + 0.01 * rng.standard_normal((100, {L}))){squeeze}
t2 = time.perf_counter()
{fit}
t3 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "fit": t3 - t2}}))
"""


def _fresh_process(imports, fit, n_problems, env):
    code = _FIRST_CALL.format(imports=imports, fit=fit, L=n_problems,
                              squeeze="[:, 0]" if n_problems == 1 else "")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_call():
    print("(c) first call in a fresh process (import and first fit timed separately)")
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, OPENBLAS_NUM_THREADS="1")
        for n_problems in (1, 2000):
            sk = _fresh_process("from sklearn.linear_model import Lasso",
                                f"Lasso(alpha={ALPHA}, fit_intercept=False, tol={TOL}).fit(A, Y)",
                                n_problems, env)
            for label in ("cold Numba cache", "warm Numba cache"):
                ours = _fresh_process("from sparserec import FISTA",
                                      f"FISTA(alpha={ALPHA}, tol={TOL}).fit(A, Y)", n_problems, env)
                total_ratio = (ours["import"] + ours["fit"]) / (sk["import"] + sk["fit"])
                print(f"    {n_problems:>4} problem(s), {label}: sparserec import {ours['import']:.2f} s"
                      f" + fit {ours['fit']:.3f} s vs sklearn import {sk['import']:.2f} s + fit "
                      f"{sk['fit']:.3f} s -> first-fit ratio {ours['fit'] / sk['fit']:.2f}x, "
                      f"import+fit ratio {total_ratio:.2f}x")
                results[(n_problems, label)] = (ours["fit"] / sk["fit"], total_ratio)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=2000, help="B (default 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (default 3)")
    args = parser.parse_args(argv)
    print(blas_summary(), f"(timed with BLAS limited to 1 thread); cores: {os.cpu_count()}")
    shared_batch(args.problems, args.repeats)
    distinct_stack(args.problems, args.repeats)
    first_call()


if __name__ == "__main__":
    main()
