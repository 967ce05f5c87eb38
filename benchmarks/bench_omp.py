"""Batched OMP (sparserec) against scikit-learn's Gram OMP on many problems, one dictionary.

Setting (peers.md §2.3/§2.4): shared A of 100 x 256 with unit-norm Gaussian
columns, k = 10 Gaussian non-zeros per problem, B = 2000 problems (columns of
Y), noiseless.  Both sides run with one BLAS thread (threadpoolctl) and solve
the same problems; the script prints the median of a few timed repeats after a
warm-up, the throughput ratio and the largest coefficient difference.

    python benchmarks/bench_omp.py [--problems 2000] [--repeats 5] [--threads 1]
"""
import argparse
import statistics
import time

import numpy as np
import sklearn
from sklearn.linear_model import OrthogonalMatchingPursuit
from threadpoolctl import threadpool_info, threadpool_limits

from sparserec.solvers import greedy
from sparserec.solvers.greedy import omp


def one_block(fn):
    """Run ``fn`` with cache blocking switched off (all problems in one block)."""
    def run():
        saved, greedy._BLOCK_ENTRIES = greedy._BLOCK_ENTRIES, 1 << 62
        try:
            return fn()
        finally:
            greedy._BLOCK_ENTRIES = saved
    return run


def make_problems(m=100, n=256, k=10, n_problems=2000, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    A /= np.linalg.norm(A, axis=0)
    X = np.zeros((n, n_problems))
    for p in range(n_problems):
        X[rng.choice(n, k, replace=False), p] = rng.standard_normal(k)
    return A, X, A @ X


def timed(fn, repeats):
    fn()                                        # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=2000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    A, X, Y = make_problems(k=args.k, n_problems=args.problems)
    m, n = A.shape
    B = Y.shape[1]
    sk = OrthogonalMatchingPursuit(n_nonzero_coefs=args.k, precompute=True, fit_intercept=False)
    runs = {
        "sklearn OrthogonalMatchingPursuit(precompute=True)": lambda: sk.fit(A, Y).coef_.T,
        "sparserec omp (precompute='auto' -> Gram)": lambda: omp(A, Y, k=args.k).x,
        "sparserec omp (precompute=False, A^H a_j per step)":
            lambda: omp(A, Y, k=args.k, precompute=False).x,
        "sparserec omp (Gram, one block: no cache blocking)":
            one_block(lambda: omp(A, Y, k=args.k).x),
    }
    print(f"A {m}x{n} (unit-norm Gaussian columns), k={args.k}, {B} problems, "
          f"median of {args.repeats} after a warm-up; scikit-learn {sklearn.__version__}, "
          f"numpy {np.__version__}, {args.threads} BLAS thread(s) for both")
    with threadpool_limits(args.threads):
        for info in threadpool_info():
            print(f"  threadpool: {info['internal_api']} {info.get('version')} "
                  f"num_threads={info['num_threads']} ({info['filepath'].split('/')[-1]})")
        results = {name: timed(fn, args.repeats) for name, fn in runs.items()}

    names = list(results)
    t_ref, x_ref = results[names[0]]
    for name in names:
        t, x = results[name]
        line = f"{name:55s} {t * 1e3:9.1f} ms  {B / t:10.0f} problems/s"
        if name != names[0]:
            line += f"  speed-up x{t_ref / t:5.1f}  max|coef - sklearn| {np.abs(x - x_ref).max():.1e}"
        exact = int(np.all((x != 0) == (X != 0), axis=0).sum())
        print(line + f"  exact supports {exact}/{B}")


if __name__ == "__main__":
    main()
