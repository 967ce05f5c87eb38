"""Sparse Bayesian learning timed in one run: KroSBL vs classic SBL vs scikit-learn's ARD.

(a) CI-size synthetic study (krosbl.md §6.2): I = 3, N_i = 10, M = 6*8*8, K = 2
    non-zeros per mode, unnormalised N(0, 1) factors, ``x = x1 ⊗ x2 ⊗ x3``, known noise
    at 20 dB, 150 EM iterations; SVD-KroSBL on ``Kron(A1, A2, A3)`` against classic
    SBL on the dense product (formed once per trial, outside the timing).  Median time
    per trial of each, the ratio, median squared NMSE (dB) of each.
(b) classic SBL (its defaults: noise learned, ``prune=1e-3``, ``tol=1e-4``,
    ``max_iter=300``) against ``sklearn.linear_model.ARDRegression(fit_intercept=False)``
    with its defaults, on the same data: n = 100 samples, p = 1000 Gaussian features,
    10 N(0, 1) non-zeros, 20 dB noise.
(c) time per IRS-MIMO trial (krosbl.md §4.1, 20 dB, ``sparserec.simulate.irs_mimo``)
    of SVD-, AM- and PC-KroSBL (beta 0.8, coupled modes 0 and 2) and classic SBL on the
    dense product, with the IRS pruning settings of krosbl.md §2.7, beside the
    authors' MATLAB per-trial run times (reference constants, labelled as such).
(d) one E-step vs N: the per-factor E-step (``kronecker_sbl.factor_estep``) against
    the dense Woodbury E-step (``sbl._posterior``) on I = 3 cubes, N_i in
    6..80 with M_i = ceil(0.6 N_i) (dense only up to N = 3375), and the fitted
    log-log growth exponents of both.

Every method runs with BLAS limited to one thread (threadpoolctl; the settings are
printed), after a warm-up call; times are medians (``time.perf_counter``).  The
solvers' ConvergenceWarnings (expected at the 150-iteration caps) are silenced while
timing; the number of runs that stopped at their cap is counted and printed.

Usage: ``python benchmarks/bench_sbl.py [--quick] [--part a|b|c|d|all]
[--trials-a 20] [--trials-b 10] [--trials-c 5] [--repeats 3]``.
"""
import argparse
import functools
import importlib
import math
import os
import statistics
import time
import warnings

import numpy as np
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.linear_model import ARDRegression
from threadpoolctl import threadpool_info, threadpool_limits

from sparserec import metrics, simulate
from sparserec._runtime import blas_summary
from sparserec.exceptions import ConvergenceWarning
from sparserec.solvers import kronecker_sbl, sbl

# the modules (sparserec.solvers.sbl is the function; the module holds _posterior)
_sbl_module = importlib.import_module("sparserec.solvers.sbl")
_kron_module = importlib.import_module("sparserec.solvers.kronecker_sbl")

SNR_DB = 20.0
EM_ITER = 150
# the authors' MATLAB mean run time per IRS trial at 20 dB (krosbl.md §4.1 table)
AUTHORS_MATLAB_IRS_20DB = {"svd": 5.7, "am": 11.9, "pc-kro-0.8": 7.4, "sbl": 9.0}


# -- helpers ---------------------------------------------------------------------------
def quiet(fn):
    """``fn`` with the solvers' convergence warnings silenced (counted from the results)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", SklearnConvergenceWarning)
            return fn(*args, **kwargs)
    return run


@quiet
def median_time(fn, repeats, min_time=0.0):
    """Median wall time of ``repeats`` measurements of ``fn()`` and its last result; a
    measurement loops ``fn`` until it lasts ``min_time`` (for microsecond calls)."""
    times, out = [], None
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            out = fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        times.append(elapsed / calls)
    return statistics.median(times), out


def noise_for_snr(Ax, snr_db):
    """``sigma^2 = (||A x||^2 / M) / 10^(snr/10)``."""
    return float(np.sum(np.abs(Ax) ** 2) / Ax.size) / 10 ** (snr_db / 10)


def capped(result, max_iter):
    """Whether a sparserec run stopped at its iteration cap without converging."""
    return bool(np.any(~np.asarray(result.converged)) or np.any(np.asarray(result.n_iter) >= max_iter))


def table(header, rows):
    widths = [max(len(str(r[c])) for r in [header] + rows) for c in range(len(header))]
    line = "  ".join("{:<%d}" % w for w in widths)
    print("    " + line.format(*header))
    print("    " + "  ".join("-" * w for w in widths))
    for r in rows:
        print("    " + line.format(*[str(v) for v in r]))


def goal(met):
    return "met" if met else "NOT met"


# -- (a) CI-size synthetic study ---------------------------------------------------------
def part_a(n_trials, repeats):
    print(f"(a) CI-size synthetic study: I=3, N_i=10 (N=1000), M=6*8*8=384, K=2 per mode, "
          f"unnormalised N(0,1) A_i, known noise at {SNR_DB:g} dB, max_iter={EM_ITER}, "
          f"tol=1e-4, default pruning (SVD 1e-3, classic 1e-3); {n_trials} trials "
          f"(simulate.kronecker_cs, random_state 202..), median of {repeats} timed run(s) per trial after a warm-up; "
          f"classic SBL gets op.todense() (formed outside the timing)")
    trials = [simulate.kronecker_cs(m=(6, 8, 8), n=(10, 10, 10), k=2, snr_db=SNR_DB,
                                    random_state=202 + seed) for seed in range(n_trials)]
    methods = {
        "SVD-KroSBL (Kron)": lambda op, D, y, s2: kronecker_sbl(op, y, method="svd", noise_var=s2,
                                                                max_iter=EM_ITER),
        "classic SBL (dense A)": lambda op, D, y, s2: sbl(D, y, noise_var=s2, max_iter=EM_ITER),
    }
    stats = {name: {"t": [], "nmse": [], "cap": 0, "iters": []} for name in methods}
    for prob in trials:
        op, y, x, s2 = prob.op, prob.y, prob.x, prob.noise_var
        D = op.todense()
        for name, fn in methods.items():
            if not stats[name]["t"]:
                median_time(lambda: fn(op, D, y, s2), 1)           # warm-up
            t, res = median_time(lambda: fn(op, D, y, s2), repeats)
            st = stats[name]
            st["t"].append(t)
            st["nmse"].append(metrics.nmse_db(x, res.x))
            st["cap"] += capped(res, EM_ITER)
            st["iters"].append(int(res.n_iter))
    rows = []
    for name, st in stats.items():
        rows.append([name, f"{1e3 * statistics.median(st['t']):.1f} ms",
                     f"{statistics.median(st['nmse']):.1f} dB",
                     f"{statistics.median(st['iters']):g}",
                     f"{st['cap']}/{n_trials}"])
    table(["method", "median time/trial", "median NMSE", "median EM iters", "hit cap"], rows)
    svd, cls = stats["SVD-KroSBL (Kron)"], stats["classic SBL (dense A)"]
    ratio = statistics.median(cls["t"]) / statistics.median(svd["t"])
    paired = statistics.median(c / s for c, s in zip(cls["t"], svd["t"]))
    wins = sum(s < c for s, c in zip(svd["nmse"], cls["nmse"]))
    better = statistics.median(svd["nmse"]) < statistics.median(cls["nmse"])
    print(f"    classic SBL / SVD-KroSBL time: {ratio:.1f}x (ratio of medians; median of "
          f"per-trial ratios {paired:.1f}x); SVD-KroSBL NMSE lower in {wins}/{n_trials} "
          f"paired trials, median {statistics.median(svd['nmse']) - statistics.median(cls['nmse']):+.1f} dB")
    print(f"    goal (>= 20x faster at lower median NMSE): {goal(ratio >= 20 and better)}")


# -- (b) classic SBL vs scikit-learn ARD --------------------------------------------------
def ard_problem(seed, n=100, p=1000, k=10, snr_db=SNR_DB):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, p))
    x = np.zeros(p)
    x[rng.choice(p, k, replace=False)] = rng.standard_normal(k)
    Ax = A @ x
    y = Ax + math.sqrt(noise_for_snr(Ax, snr_db)) * rng.standard_normal(n)
    return A, y, x


def part_b(n_trials, repeats):
    ard = ARDRegression(fit_intercept=False)
    params = ard.get_params()
    print(f"(b) classic SBL vs sklearn ARDRegression(fit_intercept=False) (defaults: "
          f"max_iter={params['max_iter']}, tol={params['tol']:g}, "
          f"threshold_lambda={params['threshold_lambda']:g}), scikit-learn {sklearn.__version__}; "
          f"n=100 samples, p=1000 N(0,1) features, 10 N(0,1) non-zeros, {SNR_DB:g} dB noise "
          f"(learned by both), {n_trials} problems (seeds 0..{n_trials - 1}), the same data for "
          f"both, median of {repeats} timed run(s) per problem after a warm-up")
    methods = {
        "sklearn ARDRegression (defaults)":
            lambda A, y: ARDRegression(fit_intercept=False).fit(A, y),
        "sparserec sbl (defaults)": lambda A, y: sbl(A, y),
        "sparserec sbl, tol=1e-3 (ARD's tol value; other criterion)":
            lambda A, y: sbl(A, y, tol=1e-3),
        "sparserec sbl, update='mackay' (ARD's update)":
            lambda A, y: sbl(A, y, update="mackay"),
    }
    caps = {name: 300 for name in methods}
    caps["sklearn ARDRegression (defaults)"] = params["max_iter"]
    stats = {name: {"t": [], "nmse": [], "cap": 0, "iters": []} for name in methods}
    for seed in range(n_trials):
        A, y, x = ard_problem(seed)
        for name, fn in methods.items():
            if not stats[name]["t"]:
                median_time(lambda: fn(A, y), 1)                  # warm-up
            t, out = median_time(lambda: fn(A, y), repeats)
            st = stats[name]
            st["t"].append(t)
            if isinstance(out, ARDRegression):
                coef, iters = out.coef_, int(out.n_iter_)
                st["cap"] += iters >= caps[name]
            else:
                coef, iters = out.x, int(out.n_iter)
                st["cap"] += capped(out, caps[name])
            st["nmse"].append(metrics.nmse_db(x, coef))
            st["iters"].append(iters)
    ref = "sklearn ARDRegression (defaults)"
    t_ref = statistics.median(stats[ref]["t"])
    rows = []
    for name, st in stats.items():
        t = statistics.median(st["t"])
        rows.append([name, f"{1e3 * t:.1f} ms", "-" if name == ref else f"{t_ref / t:.2f}x",
                     f"{statistics.median(st['nmse']):.1f} dB", f"{statistics.median(st['iters']):g}",
                     f"{st['cap']}/{n_trials}"])
    table(["method", "median time", "speed-up vs ARD", "median NMSE", "median iters",
           "hit cap"], rows)
    for name in ("sparserec sbl (defaults)", "sparserec sbl, update='mackay' (ARD's update)"):
        ours = stats[name]
        ratio = t_ref / statistics.median(ours["t"])
        wins = sum(o <= r for o, r in zip(ours["nmse"], stats[ref]["nmse"]))
        ok = statistics.median(ours["nmse"]) <= statistics.median(stats[ref]["nmse"])
        print(f"    {name}: NMSE <= ARD's in {wins}/{n_trials} paired problems; goal (>= 5x "
              f"faster than ARD, equal or better median NMSE): {goal(ratio >= 5 and ok)} "
              f"(speed {ratio:.2f}x, NMSE {goal(ok)})")


# -- (c) IRS-MIMO trial ---------------------------------------------------------------------
def part_c(n_trials, repeats):
    print(f"(c) IRS-MIMO uplink channel estimation (krosbl.md §4.1) at {SNR_DB:g} dB, known noise, "
          f"max_iter={EM_ITER}, the authors' start gamma = 1 and IRS pruning (krosbl.md §2.7); "
          f"{n_trials} trial(s) (random_state 0..{n_trials - 1}), median of {repeats} timed "
          f"run(s) per trial after a warm-up")
    from sparserec.experiments.channel_estimation import METHODS as NAMES, solve_irs
    methods = {NAMES[key]: key for key in ("svd", "am", "pc-kro-0.8", "sbl")}
    stats = {name: {"t": [], "nmse": [], "cap": 0, "iters": []} for name in methods}
    for seed in range(n_trials):
        prob = simulate.irs_mimo(SNR_DB, random_state=seed)
        for name, key in methods.items():
            if not stats[name]["t"]:                   # warm-up: same code paths, 3 iterations
                median_time(lambda: solve_irs(key, prob, SNR_DB, max_iter=3), 1)
            t, res = median_time(lambda: solve_irs(key, prob, SNR_DB, max_iter=EM_ITER), repeats)
            st = stats[name]
            st["t"].append(t)
            x_hat = np.asarray(res.x)
            st["nmse"].append(float(metrics.channel_nmse(prob.channels, prob.channels_from(x_hat))))
            st["cap"] += capped(res, EM_ITER)
            st["iters"].append(int(res.n_iter))
    print(f"    A {prob.op.shape[0]}x{prob.op.shape[1]} complex (Kron of "
          f"{' x '.join(str(tuple(f.shape)) for f in prob.op.factors)}); settings of "
          f"sparserec.experiments.channel_estimation (classic SBL: its time includes forming "
          f"the dense matrix from the factors, ~10 ms); channel NMSE: metrics.channel_nmse")
    rows = []
    for name, st in stats.items():
        lin = np.asarray(st["nmse"])
        rows.append([name, f"{statistics.median(st['t']):.3f} s",
                     f"{AUTHORS_MATLAB_IRS_20DB[methods[name]]:g} s",
                     f"{10 * np.log10(np.median(lin)):.1f} dB",
                     f"{10 * np.log10(np.mean(lin)):.1f} dB",
                     f"{statistics.median(st['iters']):g}", f"{st['cap']}/{n_trials}"])
    table(["method", "median time/trial", "authors' MATLAB, from krosbl.md (mean s/trial)",
           "median NMSE", "mean NMSE", "median iters", "hit cap"], rows)
    classic = NAMES["sbl"]
    t_cls = statistics.median(stats[classic]["t"])
    for name in stats:
        if name != classic:
            ours = t_cls / statistics.median(stats[name]["t"])
            theirs = AUTHORS_MATLAB_IRS_20DB["sbl"] / AUTHORS_MATLAB_IRS_20DB[methods[name]]
            print(f"    classic SBL / {name}: ours {ours:.1f}x, authors' MATLAB {theirs:.2f}x")


# -- (d) one E-step vs N ----------------------------------------------------------------------
def estep_inputs(n_i, rng):
    m_i = math.ceil(0.6 * n_i)
    factors = [rng.standard_normal((m_i, n_i)) for _ in range(3)]
    gammas = [rng.uniform(0.5, 1.5, (1, n_i)) for _ in range(3)]
    noise = np.array([0.1])
    Yt = rng.standard_normal((1, m_i, m_i, m_i))
    return factors, gammas, noise, Yt


def part_d(sizes, dense_max, repeats):
    print(f"(d) one E-step (mu, diag Sigma, cost terms), I=3 cubes, M_i = ceil(0.6 N_i), one "
          f"problem: per-factor kronecker_sbl.factor_estep vs dense Woodbury sbl._posterior "
          f"(dense only up to N = {dense_max}); median of {repeats} timed measurement(s) "
          f"(each >= 0.2 s of calls) after a warm-up")
    rng = np.random.default_rng(7)
    rows, fac, den = [], [], []
    for n_i in sizes:
        factors, gammas, noise, Yt = estep_inputs(n_i, rng)
        N, M = n_i ** 3, Yt[0].size
        f_call = lambda: _kron_module.factor_estep(np, factors, gammas, noise, Yt)  # noqa: E731
        f_call()
        t_f, out_f = median_time(f_call, repeats, min_time=0.2)
        fac.append((N, t_f))
        row = [f"{n_i}^3 = {N}", f"{math.ceil(0.6 * n_i)}^3 = {M}", f"{1e3 * t_f:.3f} ms"]
        if N <= dense_max:
            A = functools.reduce(np.kron, factors)
            gamma = functools.reduce(np.kron, [g[0] for g in gammas])[None, :]
            Yg = Yt.reshape(1, -1, 1)
            d_call = lambda: _sbl_module._posterior(np, A, gamma, noise, Yg)  # noqa: E731
            d_call()
            t_d, out_d = median_time(d_call, repeats, min_time=0.2)
            den.append((N, t_d))
            mu_f, mu_d = out_f[0].reshape(-1), out_d[0].reshape(-1)
            diff = np.linalg.norm(mu_f - mu_d) / np.linalg.norm(mu_d)
            row += [f"{1e3 * t_d:.2f} ms", f"{t_d / t_f:.0f}x", f"{diff:.1e}"]
        else:
            row += ["-", "-", "-"]
        rows.append(row)
    table(["N", "M", "per-factor", "dense", "dense / per-factor", "mu rel. diff"], rows)

    def exponent(points):
        n, t = np.log([p[0] for p in points]), np.log([p[1] for p in points])
        return float(np.polyfit(n, t, 1)[0])

    common = [p for p in fac if p[0] <= dense_max]
    if len(den) >= 2:
        print(f"    log-log growth exponent vs N over N = {den[0][0]}..{den[-1][0]}: dense "
              f"{exponent(den):.2f}, per-factor {exponent(common):.2f}")
    if len(fac) > len(common) and len(fac) >= 2:
        print(f"    per-factor over N = {fac[0][0]}..{fac[-1][0]}: {exponent(fac):.2f}; over "
              f"its largest three sizes (N = {fac[-3][0]}..{fac[-1][0]}): {exponent(fac[-3:]):.2f}")
    if len(den) >= 2:
        print(f"    goal (per-factor grows far slower than N^3): "
              f"{goal(exponent(common) < 2 and exponent(fac) < 2)}")


# -- main -----------------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer trials and sizes (under 2 minutes)")
    parser.add_argument("--part", default="all", choices=["a", "b", "c", "d", "all"])
    parser.add_argument("--trials-a", type=int, default=None, help="(a) trials (20; quick 5)")
    parser.add_argument("--trials-b", type=int, default=None, help="(b) problems (10; quick 3)")
    parser.add_argument("--trials-c", type=int, default=None, help="(c) IRS trials (5; quick 1)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs per trial (3; quick 1)")
    args = parser.parse_args(argv)
    q = args.quick
    repeats = args.repeats or (1 if q else 3)
    trials_a = args.trials_a or (5 if q else 20)
    trials_b = args.trials_b or (3 if q else 10)
    trials_c = args.trials_c or (1 if q else 5)
    sizes = (6, 8, 10, 12) if q else (6, 8, 10, 12, 15, 20, 30, 40, 60, 80)
    dense_max = 12 ** 3 if q else 15 ** 3

    print(blas_summary(), f"(timed with BLAS limited to 1 thread); cores: {os.cpu_count()}; "
          f"numpy {np.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}"
          f"{'; --quick' if q else ''}")
    with threadpool_limits(1):
        for info in threadpool_info():
            print(f"  threadpool while timing: {info['user_api']} {info['internal_api']} "
                  f"{info.get('version')} num_threads={info['num_threads']}")
        parts = {"a": lambda: part_a(trials_a, repeats), "b": lambda: part_b(trials_b, repeats),
                 "c": lambda: part_c(trials_c, repeats),
                 "d": lambda: part_d(sizes, dense_max, repeats)}
        for key, fn in parts.items():
            if args.part in (key, "all"):
                start = time.perf_counter()
                fn()
                print(f"    (part {key}: {time.perf_counter() - start:.0f} s wall)")


if __name__ == "__main__":
    main()
