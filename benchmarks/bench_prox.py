"""Time sparserec's thresholds against the plain NumPy expressions, in one run.

    python benchmarks/bench_prox.py [--quick]

Prints the BLAS/threadpool and Numba thread settings, the first-call cost of the
Numba kernel in a fresh process (compile or on-disk cache load), then for each
case the median time of repeated calls (after warm-up) and the ratio
``numpy / sparserec`` measured in this run: a ratio > 1 means sparserec is faster.

Cases
-----
* ``soft_threshold``: the Numba kernel (``sparserec._kernels.soft_threshold_numba``,
  what ``prox.soft_threshold`` runs for NumPy arrays with at least
  ``prox._NUMBA_MIN_SIZE`` entries) against ``sign(v) * max(|v| - t, 0)`` (real)
  and ``v * max(1 - t / |v|, 0)`` (complex), real and complex, a scalar threshold
  and one threshold per problem, at the switch-over size and at ``(256, 2000)``.
  Both sides allocate their result (and NumPy its temporaries), so the ratio
  depends on whether large blocks come back from the heap or as fresh pages:
  glibc's dynamic mmap threshold makes that depend on what the process freed
  earlier (the same NumPy expression took 3.0 ms or 1.3 ms in one run).  The
  soft-threshold cases are therefore timed under two fixed allocator regimes
  (set with ``mallopt``): ``fresh pages`` (every large block is a new mmap and
  page-faults, as in a process that only ever handles arrays of this size) and
  ``heap reuse`` (freed blocks are recycled, the steady state of a solver loop).
* ``top_k``: the NumPy path of ``prox.top_k`` against a bare ``np.argpartition``
  top-k (no tie rule) and against the array-API path (double stable argsort)
  that non-NumPy namespaces use.
"""
import argparse
import ctypes
import ctypes.util
import os
import statistics
import subprocess
import sys
import time

import numba
import numpy as np
from threadpoolctl import threadpool_info

from sparserec import prox
from sparserec._kernels import soft_threshold_numba


def median_time(fn, *, repeats, warmup=2, min_time=2e-3):
    """Median seconds per call over ``repeats`` samples (each of >= ``min_time``)."""
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(min_time / one))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def set_allocator(regime):
    """Fix glibc's malloc thresholds; returns False where that is unavailable."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    if regime == "fresh pages":
        mmap, trim = 128 * 1024, 128 * 1024
    else:
        mmap, trim = 256 << 20, 512 << 20
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap)) and bool(mallopt(_M_TRIM_THRESHOLD, trim))


def numpy_soft(v, t):
    """The plain NumPy soft threshold (the reference we must beat)."""
    if np.iscomplexobj(v):
        mod = np.abs(v)
        return v * np.maximum(1.0 - t / np.where(mod > 0, mod, 1.0), 0.0)
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def argpartition_top_k(v, k):
    """Bare argpartition top-k along axis -2 (ties broken arbitrarily)."""
    mag = np.abs(v) if np.iscomplexobj(v) else v * v
    idx = np.argpartition(-mag, k - 1, axis=-2)[..., :k, :]
    keep = np.zeros(v.shape, dtype=bool)
    np.put_along_axis(keep, idx, True, axis=-2)
    return np.where(keep, v, 0)


def argsort_top_k(v, k):
    """The array-API path of ``top_k`` (double stable argsort), run on NumPy."""
    mag = v.real ** 2 + v.imag ** 2 if np.iscomplexobj(v) else v * v
    order = np.argsort(-mag, axis=-2, kind="stable")
    rank = np.argsort(order, axis=-2, kind="stable")
    return np.where(rank < k, v, 0)


def first_call_seconds():
    """Import + first kernel call in a fresh interpreter (compile or cache load)."""
    code = ("import time; t0 = time.perf_counter(); import numpy as np; "
            "from sparserec._kernels import soft_threshold_numba as f; "
            "f(np.ones((2, 3)), 0.5); f(np.ones((2, 3), complex), 0.5); "
            "print(time.perf_counter() - t0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=os.environ.copy())
    return float(out.stdout.strip())


def header():
    print(f"numpy {np.__version__}, numba {numba.__version__}, python {sys.version.split()[0]}")
    print(f"cpu count: {os.cpu_count()}, numba threads: {numba.get_num_threads()} "
          f"(NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}, "
          f"threading layer {numba.config.THREADING_LAYER!r}; the kernel is serial)")
    info = threadpool_info()
    if not info:
        print("threadpoolctl: no BLAS/OpenMP pools loaded")
    for pool in info:
        print(f"threadpoolctl: {pool.get('user_api')}/{pool.get('internal_api')} "
              f"num_threads={pool.get('num_threads')} "
              f"version={pool.get('version')} ({os.path.basename(pool.get('filepath', ''))})")


def row(label, t_ours, t_ref, ref_name):
    ratio = t_ref / t_ours
    verdict = "sparserec faster" if ratio > 1.05 else ("slower" if ratio < 0.95 else "tie")
    print(f"  {label:<44s} sparserec {t_ours * 1e3:8.3f} ms   {ref_name} {t_ref * 1e3:8.3f} ms"
          f"   ratio {ratio:5.2f}  {verdict}")
    return ratio


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    repeats = 5 if args.quick else 15
    rng = np.random.default_rng(0)

    header()
    print(f"first call of the Numba kernel in a fresh process (import + real + complex): "
          f"{first_call_seconds():.2f} s")
    print(f"prox._NUMBA_MIN_SIZE = {prox._NUMBA_MIN_SIZE} entries, "
          f"prox._NUMBA_MIN_COLUMNS = {prox._NUMBA_MIN_COLUMNS} problems")
    print("ratio = numpy time / sparserec time (> 1: sparserec faster); "
          f"median of {repeats} samples after warm-up\n")

    side = int(round(prox._NUMBA_MIN_SIZE ** 0.5))
    # the switch-over size, a batch, and the single-problem layout the dispatch leaves
    # to NumPy (prox._NUMBA_MIN_COLUMNS = 2)
    shapes = [(side, prox._NUMBA_MIN_SIZE // side), (256, 2000), (prox._NUMBA_MIN_SIZE * 4, 1)]
    soft_ratios = {}
    for regime in ("fresh pages", "heap reuse"):
        ok = set_allocator(regime)
        print(f"soft_threshold: Numba kernel vs plain NumPy expression  [allocator: {regime}"
              f"{'' if ok else ' (mallopt unavailable: default allocator)'}]")
        for kind in ("real", "complex"):
            for shape in shapes:
                v = rng.standard_normal(shape)
                if kind == "complex":
                    v = v + 1j * rng.standard_normal(shape)
                for t_name, t in (("t scalar", 0.7), ("t per problem (1,P)",
                                                     rng.uniform(0.3, 1.2, (1, shape[1]))),
                                  ("t per coordinate x problem", rng.uniform(0.3, 1.2, (shape[0], 1))
                                   * rng.uniform(0.3, 1.2, (1, shape[1])))):
                    ours = soft_threshold_numba(v, t)
                    assert np.allclose(ours, numpy_soft(v, t), rtol=1e-12, atol=1e-12)
                    t_ours = median_time(lambda: soft_threshold_numba(v, t), repeats=repeats)
                    t_ref = median_time(lambda: numpy_soft(v, t), repeats=repeats)
                    soft_ratios[(regime, kind, shape, t_name)] = row(
                        f"{kind:7s} {str(shape):12s} {t_name}", t_ours, t_ref, "numpy")
        # what users get through the public function (dispatch included)
        v = rng.standard_normal((256, 2000))
        t_pub = median_time(lambda: prox.soft_threshold(v, 0.7), repeats=repeats)
        t_ref = median_time(lambda: numpy_soft(v, 0.7), repeats=repeats)
        row("prox.soft_threshold real (256, 2000) public", t_pub, t_ref, "numpy")
        print()

    print("top_k (NumPy path of prox.top_k, exact tie rule)  [allocator: heap reuse]")
    for kind in ("real", "complex"):
        shape = (2000, 256)
        v = rng.standard_normal(shape)
        if kind == "complex":
            v = v + 1j * rng.standard_normal(shape)
        for k in (20, 200):
            ours = prox.top_k(v, k)
            assert np.array_equal(ours != 0, argpartition_top_k(v, k) != 0)
            t_ours = median_time(lambda: prox.top_k(v, k), repeats=max(3, repeats // 3))
            t_part = median_time(lambda: argpartition_top_k(v, k), repeats=max(3, repeats // 3))
            t_sort = median_time(lambda: argsort_top_k(v, k), repeats=max(3, repeats // 3))
            row(f"{kind:7s} {str(shape):12s} k={k}", t_ours, t_part, "argpartition")
            row(f"{kind:7s} {str(shape):12s} k={k}", t_ours, t_sort, "2x argsort  ")

    print("\nsummary: Numba soft threshold vs NumPy (ratios > 1: Numba faster)")
    for regime in ("fresh pages", "heap reuse"):
        for kind in ("real", "complex"):
            for shape in shapes:
                rs = [r for (g, kk, s, _), r in soft_ratios.items()
                      if g == regime and kk == kind and s == shape]
                verdict = ("BEATS NumPy" if min(rs) > 1.05 else
                           "does NOT beat NumPy" if max(rs) < 1.0 else "no clear win")
                print(f"  {regime:11s} {kind:7s} {str(shape):12s} ratios "
                      f"{', '.join(f'{r:.2f}' for r in rs)}  -> {verdict}")

if __name__ == "__main__":
    main()
