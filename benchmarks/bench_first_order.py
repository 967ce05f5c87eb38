"""FISTA against scikit-learn's Lasso, measured in one run: throughput, dispatch, first call.

(a) shared A 100x256, k=10, B problems, ``alpha/alpha_max`` in {1e-1, 1e-2, 1e-3}:
    sparserec ``FISTA`` (Numba path, 1 and all threads; array-API path) vs
    ``sklearn.linear_model.Lasso(fit_intercept=False)`` multi-target fit;
(b) distinct A per problem, 64x256, B problems, same sweep: ``FISTA`` on the stack vs
    a Python loop of ``Lasso`` fits;
(c) the dispatch thresholds of the Numba path: Numba vs array-API at the smallest
    batch that takes Numba, Gram vs in-cache mode around the Gram threshold;
(d) first call in a fresh process vs scikit-learn's first fit in a fresh process,
    with a cold Numba cache (compile included) and a warm one.

Both sides stop at the same criterion (duality gap <= tol * ||y||^2, Lasso's own
rule; scikit-learn gets a max_iter it does not reach) and the script prints both
sides' mean iterations and how close their objectives are.  BLAS is limited to one
thread for both sides (scikit-learn's coordinate descent is single-threaded); the
Numba kernels are timed with 1 and with all threads, and the thread settings are
printed with the figures.  Every call gets the same arrays (no copies charged).

Usage: ``python benchmarks/bench_first_order.py [--problems 2000] [--repeats 3] [--tol 1e-8]``.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numba
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso
from threadpoolctl import threadpool_limits

import sparserec.solvers.proximal as proximal
from sparserec import FISTA, simulate
from sparserec._runtime import blas_summary
from sparserec.solvers import _l1_numba

RATIOS = (1e-1, 1e-2, 1e-3)


def lasso_objective(A, Y, X, alpha):
    """Per-problem ``1/(2m)||y - Ax||^2 + alpha ||x||_1`` (stacks: A (B,m,n), X (B,n))."""
    m = A.shape[-2]
    R = Y - (np.einsum("bmn,bn->bm", A, X) if A.ndim == 3 else A @ X)
    axis = -1 if A.ndim == 3 else 0
    return (np.abs(R) ** 2).sum(axis) / (2 * m) + alpha * np.abs(X).sum(axis)


def alpha_max(A, Y):
    """The smallest alpha with the zero solution, per problem (the largest over the batch)."""
    m = A.shape[-2]
    C = np.einsum("bmn,bm->bn", A, Y) if A.ndim == 3 else A.T @ Y
    return float(np.max(np.abs(C))) / m


def median_time(fn, repeats):
    """Median wall time of ``repeats`` calls and the last result."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def sklearn_fit(A, y, alpha, tol):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)   # it must converge
        return Lasso(alpha=alpha, fit_intercept=False, tol=tol, max_iter=1_000_000).fit(A, y)


def timed_paths(fit, repeats):
    """sparserec timed on the Numba path (1 and all threads) and on the array-API path."""
    out = {}
    for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        numba.set_num_threads(threads)
        out[f"Numba, {threads} thread(s)"] = median_time(fit, repeats)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    proximal._USE_NUMBA = False
    try:
        out["array-API path"] = median_time(fit, repeats)
    finally:
        proximal._USE_NUMBA = True
    return out


def report(label, t_sk, it_sk, f_sk, ours, A, Y, alpha, n_problems, transpose):
    print(f"    {label}: sklearn {t_sk:.3f} s, mean iterations {it_sk:.1f}")
    for name, (t, est) in ours.items():
        coef = est.coef_.T if transpose else est.coef_
        f = lasso_objective(A, Y, coef, alpha)
        print(f"      sparserec {name:<20s} {t:.3f} s ({n_problems / t:,.0f} problems/s) "
              f"ratio {t_sk / t:5.2f}x  mean iterations {np.mean(est.n_iter_):.1f}  "
              f"objective max rel. diff {np.max(np.abs(f - f_sk) / f_sk):.1e}")
    numba1 = ours["Numba, 1 thread(s)"][0]
    print(f"      Numba (1 thread) vs array-API path: {ours['array-API path'][0] / numba1:.2f}x")


def shared_batch(n_problems, repeats, tol):
    prob = simulate.gaussian_cs(100, 256, 10, n_targets=n_problems, snr_db=30, random_state=0)
    A, Y = prob.A, prob.y
    print(f"(a) shared A 100x256, k=10, B={n_problems}, tol={tol:g}")
    FISTA(alpha=1e-3, tol=tol).fit(A, Y[:, :32])  # compile / load the kernels
    amax = alpha_max(A, Y)
    with threadpool_limits(1):
        for ratio in RATIOS:
            alpha = ratio * amax
            t_sk, sk = median_time(lambda: sklearn_fit(A, Y, alpha, tol), repeats)
            ours = timed_paths(lambda: FISTA(alpha=alpha, tol=tol, max_iter=1_000_000).fit(A, Y),
                               repeats)
            report(f"alpha/alpha_max={ratio:g}", t_sk, np.mean(sk.n_iter_),
                   lasso_objective(A, Y, sk.coef_.T, alpha), ours, A, Y, alpha, n_problems, True)


def distinct_stack(n_problems, repeats, tol):
    prob = simulate.gaussian_cs(64, 256, 10, batch=n_problems, snr_db=30, random_state=1)
    A, Y = prob.A, prob.y
    print(f"(b) distinct A 64x256 per problem, B={n_problems}, tol={tol:g}")
    FISTA(alpha=1e-3, tol=tol).fit(A[:16], Y[:16])
    amax = alpha_max(A, Y)
    with threadpool_limits(1):
        for ratio in RATIOS:
            alpha = ratio * amax

            def sklearn_loop():
                fits = [sklearn_fit(A[b], Y[b], alpha, tol) for b in range(n_problems)]
                return np.stack([f.coef_ for f in fits]), np.mean([f.n_iter_ for f in fits])

            t_sk, (coef_sk, it_sk) = median_time(sklearn_loop, repeats)
            ours = timed_paths(lambda: FISTA(alpha=alpha, tol=tol, max_iter=1_000_000).fit(A, Y),
                               repeats)
            report(f"alpha/alpha_max={ratio:g}", t_sk, it_sk, lasso_objective(A, Y, coef_sk, alpha),
                   ours, A, Y, alpha, n_problems, False)


def dispatch(repeats, tol):
    """The thresholds of the Numba path, timed on both sides of each."""
    print("(c) dispatch thresholds, alpha/alpha_max=1e-2, 1 thread")
    with threadpool_limits(1):
        numba.set_num_threads(1)
        B = proximal._NUMBA_MIN_PROBLEMS
        prob = simulate.gaussian_cs(100, 256, 10, n_targets=B, snr_db=30, random_state=2)
        alpha = 1e-2 * alpha_max(prob.A, prob.y)
        FISTA(alpha=alpha, tol=tol).fit(prob.A, prob.y)      # load the kernels
        ours = timed_paths(lambda: FISTA(alpha=alpha, tol=tol).fit(prob.A, prob.y), repeats)
        print(f"    shared A 100x256, B={B} (_NUMBA_MIN_PROBLEMS): array-API "
              f"{1e3 * ours['array-API path'][0]:.1f} ms, Numba "
              f"{1e3 * ours['Numba, 1 thread(s)'][0]:.1f} ms -> Numba "
              f"{ours['array-API path'][0] / ours['Numba, 1 thread(s)'][0]:.2f}x")
        for n in (256, 1024, 4096):
            m = int(n / 2.5)
            B = max(_l1_numba._GRAM_MIN_PROBLEMS, n // _l1_numba._GRAM_COLUMNS_PER_PROBLEM)
            prob = simulate.gaussian_cs(m, n, m // 10, n_targets=B, snr_db=30, random_state=3)
            alpha = 1e-2 * alpha_max(prob.A, prob.y)
            fit = lambda: FISTA(alpha=alpha, tol=tol).fit(prob.A, prob.y)  # noqa: E731
            times = {}
            saved = _l1_numba._use_gram
            for mode in (True, False):
                _l1_numba._use_gram = lambda *args, mode=mode: mode
                try:
                    times[mode], _ = median_time(fit, repeats)
                finally:
                    _l1_numba._use_gram = saved
            print(f"    shared A {m}x{n}, B={B} (the Gram threshold): in-cache A "
                  f"{1e3 * times[False]:.1f} ms, Gram {1e3 * times[True]:.1f} ms -> Gram "
                  f"{times[False] / times[True]:.2f}x")
        shared_size_rule(repeats, tol)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def shared_size_rule(repeats, tol, n_problems=200):
    """Both paths on shared matrices on either side of ``_NUMBA_MAX_SHARED_BYTES``."""
    limit = proximal._NUMBA_MAX_SHARED_BYTES
    print(f"    shared-matrix size rule (Numba up to {limit / 2**20:.0f} MiB), B={n_problems}:")
    for n in (512, 1024, 2048, 4096):
        m = int(n / 2.5)
        prob = simulate.gaussian_cs(m, n, m // 10, n_targets=n_problems, snr_db=30,
                                    random_state=4)
        alpha = 1e-2 * alpha_max(prob.A, prob.y)
        fit = lambda: FISTA(alpha=alpha, tol=tol).fit(prob.A, prob.y)  # noqa: E731
        proximal._NUMBA_MAX_SHARED_BYTES = float("inf")
        try:
            t_numba, _ = median_time(fit, repeats)
        finally:
            proximal._NUMBA_MAX_SHARED_BYTES = limit
        proximal._USE_NUMBA = False
        try:
            t_array, _ = median_time(fit, repeats)
        finally:
            proximal._USE_NUMBA = True
        picks = "Numba" if m * n * prob.A.itemsize <= limit else "array-API"
        faster = "Numba" if t_numba < t_array else "array-API"
        print(f"      {m}x{n} ({m * n * prob.A.itemsize / 2**20:.1f} MiB): Numba "
              f"{1e3 * t_numba / n_problems:.2f} ms/problem, array-API "
              f"{1e3 * t_array / n_problems:.2f} ms/problem; the rule picks {picks}, "
              f"faster: {faster}")


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


def first_call(tol):
    print("(d) first call in a fresh process (import and first fit timed separately; "
          "OPENBLAS_NUM_THREADS=1, Numba on all threads)")
    alpha = 1e-3
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, OPENBLAS_NUM_THREADS="1")
        for n_problems in (1, 2000):
            sk = _fresh_process("from sklearn.linear_model import Lasso",
                                f"Lasso(alpha={alpha}, fit_intercept=False, tol={tol}).fit(A, Y)",
                                n_problems, env)
            for label in ("cold Numba cache", "warm Numba cache"):
                ours = _fresh_process("from sparserec import FISTA",
                                      f"FISTA(alpha={alpha}, tol={tol}).fit(A, Y)", n_problems, env)
                total_ratio = (ours["import"] + ours["fit"]) / (sk["import"] + sk["fit"])
                print(f"    {n_problems:>4} problem(s), {label}: sparserec import {ours['import']:.2f} s"
                      f" + fit {ours['fit']:.3f} s vs sklearn import {sk['import']:.2f} s + fit "
                      f"{sk['fit']:.3f} s -> first-fit ratio {ours['fit'] / sk['fit']:.2f}x, "
                      f"import+fit ratio {total_ratio:.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=2000, help="B (default 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (default 3)")
    parser.add_argument("--tol", type=float, default=1e-8, help="tolerance (default 1e-8)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip (a,b,c,d)")
    args = parser.parse_args(argv)
    print(blas_summary(), f"(timed with BLAS limited to 1 thread); cores: {os.cpu_count()}")
    parts = {"a": shared_batch, "b": distinct_stack}
    for key, fn in parts.items():
        if key not in args.skip:
            fn(args.problems, args.repeats, args.tol)
    if "c" not in args.skip:
        dispatch(args.repeats, args.tol)
    if "d" not in args.skip:
        first_call(1e-6)


if __name__ == "__main__":
    main()
