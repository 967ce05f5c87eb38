"""Phase-transition figure of the README, and the sweep's speed against cvxpy.

    python benchmarks/phase_transition.py [--out docs/phase_transition.png] [--n 100]
        [--grid 12x12] [--trials 12] [--n-jobs -1]
    python benchmarks/phase_transition.py --time [--n 200] [--grid 20x20] [--trials 20]

Without ``--time`` it runs FISTA (l1), NIHT and OMP over the grid (resumable: the
results go to ``--store``) and writes the figure.  With ``--time`` it prints

* the wall time of the whole FISTA sweep (batched stacked solves, all cores);
* the time per trial of cvxpy (basis pursuit, Clarabel) on a subsample of the same
  trials (one per cell of a coarse sub-grid), the success rates of both on that
  subsample, and the projected ratio for the whole sweep;
* the trial throughput of the batched solves against one solve per trial.

Thread settings are printed with the figures; both sides run in the same process
layout (joblib, ``--n-jobs``).
"""
import argparse
import os
import tempfile
import time

from threadpoolctl import threadpool_limits

from sparserec._runtime import blas_summary
from sparserec.experiments import PhaseTransition, default_solvers


def cvxpy_basis_pursuit(A, y):
    """Basis pursuit ``min ||x||_1 s.t. A x = y`` with cvxpy (Clarabel): the reference."""
    import cvxpy as cp
    x = cp.Variable(A.shape[1])
    cp.Problem(cp.Minimize(cp.norm1(x)), [A @ x == y]).solve(solver=cp.CLARABEL)
    return x.value


def _grid(text):
    a, b = (int(v) for v in text.lower().split("x"))
    return a, b


def _pair(text):
    low, high = (float(v) for v in text.split(","))
    return low, high


def figure(args):
    solvers = default_solvers(["fista", "iht", "omp"])
    solvers = {"l1 (FISTA)": solvers["fista"], "NIHT": solvers["iht"], "OMP": solvers["omp"]}
    pt = PhaseTransition(solvers, n=args.n, grid=args.grid, trials=args.trials, store=args.store,
                         random_state=0, delta_range=args.delta_range, rho_range=args.rho_range)
    start = time.perf_counter()
    pt.run(n_jobs=args.n_jobs)
    print(f"{pt.describe()}: {time.perf_counter() - start:.1f} s; {blas_summary()}")
    print(pt.boundaries().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    pt.plot(args.out)
    print(f"figure written to {args.out} ({os.path.getsize(args.out) / 1024:.0f} KiB)")


def timing(args):
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        def sweep(solvers, grid, trials, batch=True, name="t"):
            pt = PhaseTransition(solvers, n=args.n, grid=grid, trials=trials, random_state=0,
                                 store=os.path.join(tmp, f"{name}.sqlite"), batch=batch,
                                 delta_range=args.delta_range, rho_range=args.rho_range)
            start = time.perf_counter()
            df = pt.run(n_jobs=args.n_jobs, progress=False)
            return time.perf_counter() - start, df

        print(f"{blas_summary()} (BLAS limited to 1 thread per worker); n_jobs={args.n_jobs}, "
              f"cores: {os.cpu_count()}")
        fista = default_solvers(["fista"])
        t_full, full = sweep(fista, args.grid, args.trials, name="full")
        n_trials = len(full)
        print(f"FISTA sweep n={args.n}, grid {args.grid[0]}x{args.grid[1]}, {args.trials} trials: "
              f"{t_full:.1f} s ({n_trials / t_full:.1f} trials/s)")
        # cvxpy on a subsample: the first trial of every cell of a coarse sub-grid
        sub_grid = (max(2, args.grid[0] // 4), max(2, args.grid[1] // 4))
        t_cvx, cvx = sweep({"cvxpy": cvxpy_basis_pursuit}, sub_grid, 1, name="cvx")
        t_fsub, fsub = sweep(fista, sub_grid, 1, name="fsub")
        per_cvx, per_fista = t_cvx / len(cvx), t_full / n_trials
        print(f"cvxpy basis pursuit on {len(cvx)} trials of a {sub_grid[0]}x{sub_grid[1]} "
              f"sub-grid: {per_cvx * 1e3:.1f} ms per trial; FISTA in the full sweep "
              f"{per_fista * 1e3:.2f} ms per trial -> FISTA {per_cvx / per_fista:.2f}x faster "
              f"(projected whole sweep with cvxpy: {per_cvx * n_trials:.0f} s)")
        agree = (cvx["success"].to_numpy() == fsub["success"].to_numpy()).mean()
        print(f"same trials: success rate cvxpy {cvx['success'].mean():.3f}, FISTA "
              f"{fsub['success'].mean():.3f}; outcome agrees on {100 * agree:.0f} % of trials")
        # batched stacked solves against one solve per trial, on a band of cells
        band = (max(2, args.grid[0] // 4), max(2, args.grid[1] // 2))
        t_b, df_b = sweep(fista, band, args.trials, batch=True, name="batched")
        t_1, df_1 = sweep(fista, band, args.trials, batch=False, name="single")
        print(f"throughput on a {band[0]}x{band[1]} grid x {args.trials} trials: batched "
              f"{len(df_b) / t_b:.1f} trials/s, one solve per trial {len(df_1) / t_1:.1f} "
              f"trials/s -> batched {t_1 / t_b:.2f}x; success rates "
              f"{df_b['success'].mean():.3f} vs {df_1['success'].mean():.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time", action="store_true", help="time the sweep against cvxpy")
    parser.add_argument("--n", type=int, default=None, help="n (default 100; 200 with --time)")
    parser.add_argument("--grid", type=_grid, default=None, help="DELTASxRHOS")
    parser.add_argument("--trials", type=int, default=None, help="trials per cell (default 12; 20 with --time)")
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--delta-range", type=_pair, default=(0.05, 0.95), help="LOW,HIGH")
    parser.add_argument("--rho-range", type=_pair, default=(0.05, 0.95), help="LOW,HIGH")
    parser.add_argument("--store", default="phase_transition.sqlite")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "docs",
                                                      "phase_transition.png"))
    args = parser.parse_args(argv)
    if args.time:
        args.grid, args.n = args.grid or (20, 20), args.n or 200
        args.trials = args.trials or 20
        timing(args)
    else:
        args.grid, args.n, args.trials = args.grid or (12, 12), args.n or 100, args.trials or 12
        figure(args)


if __name__ == "__main__":
    main()
