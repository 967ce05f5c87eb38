"""The ``sparserec`` command line."""
import argparse
import os
import sys
import time

__all__ = ["main"]


def _demo(args):
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise ValueError(f"--output {args.output}: the folder {folder} does not exist")
    from .demo import format_table, plot_convergence, run_demo
    from ._runtime import blas_summary
    rows, alpha = run_demo(m=args.m, n=args.n, k=args.k, snr_db=args.snr_db,
                           random_state=args.seed)
    print(f"sparserec demo: Gaussian compressed sensing, m={args.m}, n={args.n}, k={args.k}, "
          f"SNR={args.snr_db:g} dB, seed={args.seed}; ISTA/FISTA alpha={alpha:.4g} "
          "(universal threshold)")
    print(format_table(rows))
    print(f"{blas_summary()}; every fit timed with BLAS limited to 1 thread")
    plot_convergence(rows, args.output)
    print(f"convergence plot written to {args.output}")
    return 0


def _grid(text):
    try:
        a, b = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--grid takes DELTASxRHOS, e.g. 20x20, got {text!r}")
    return a, b


def _phase_transition(args):
    from .experiments import PhaseTransition, default_solvers
    sweep = args.solvers is not None
    if not sweep and not (args.plot or args.export):
        raise ValueError("give --solvers to run an experiment, or --plot/--export to read "
                         "the store")
    for out in (args.plot, args.export):
        if out and not os.path.isdir(os.path.dirname(os.path.abspath(out))):
            raise ValueError(f"{out}: the folder {os.path.dirname(os.path.abspath(out))} does "
                             "not exist")
    if sweep:
        pt = PhaseTransition(default_solvers([s.strip() for s in args.solvers.split(",")]),
                             args.n, args.grid, args.trials, store=args.store,
                             random_state=args.seed, ensemble=args.ensemble,
                             amplitudes=args.amplitudes, complex=args.complex,
                             success_tol=args.success_tol)
        print(f"sparserec phase-transition: {pt.describe()}; store {args.store}")
        pt.run(n_jobs=args.n_jobs, progress=not args.quiet)
    else:
        pt = PhaseTransition.from_store(args.store)
    table = pt.boundaries()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.export:
        pt.study.export_csv(args.export)
        print(f"trial table written to {args.export}")
    if args.plot:
        pt.plot(args.plot)
        print(f"figure written to {args.plot}")
    return 0


def _floats(text):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise argparse.ArgumentTypeError(f"--snr takes comma-separated dB values, e.g. "
                                         f"12,20, got {text!r}")
    return values


def _channel_estimation(args):
    from .experiments import IRSChannelStudy
    from .experiments.channel_estimation import format_summary
    from ._runtime import blas_summary
    if args.plot and not os.path.isdir(os.path.dirname(os.path.abspath(args.plot))):
        raise ValueError(f"--plot {args.plot}: the folder "
                         f"{os.path.dirname(os.path.abspath(args.plot))} does not exist")
    trials = args.trials if args.trials is not None else (3 if args.quick else 50)
    study = IRSChannelStudy(snr_db=args.snr, methods=args.methods, trials=trials,
                            store=args.store, random_state=args.seed)
    print(f"sparserec channel-estimation irs: {study.describe()}; store "
          f"{args.store or 'in memory'}")
    print(f"main process: {blas_summary()}; n_jobs={args.n_jobs}, cores: {os.cpu_count()}")
    try:
        start = time.perf_counter()
        df = study.run(n_jobs=args.n_jobs, progress=not args.quiet)
        wall = time.perf_counter() - start
        print(format_summary(study.summary()))
        print(f"{len(df)} trials in the table (solve time summed over them "
              f"{df['seconds'].sum():.1f} s); wall time of this run {wall:.1f} s")
        if args.plot:
            study.plot(args.plot)
            print(f"figure written to {args.plot}")
    finally:
        study.close()
    return 0


def build_parser():
    """The argument parser (one sub-command per job)."""
    parser = argparse.ArgumentParser(prog="sparserec", description="Sparse signal recovery.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run every solver on one seeded problem")
    demo.add_argument("--m", type=int, default=100, help="measurements (default 100)")
    demo.add_argument("--n", type=int, default=256, help="unknowns (default 256)")
    demo.add_argument("--k", type=int, default=10, help="non-zeros (default 10)")
    demo.add_argument("--snr-db", type=float, default=30.0, help="SNR in dB (default 30)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--output", default="sparserec-demo.png",
                      help="convergence plot path (default sparserec-demo.png)")
    demo.set_defaults(func=_demo)

    pt = sub.add_parser("phase-transition",
                        help="resumable phase-transition sweep (or redraw one from its store)")
    pt.add_argument("--solvers", help="comma-separated: fista, ista, iht, omp, sbl (omit to read "
                                      "--store only)")
    pt.add_argument("--n", type=int, default=400, help="signal length (default 400)")
    pt.add_argument("--grid", type=_grid, default=(20, 20), help="DELTASxRHOS (default 20x20)")
    pt.add_argument("--trials", type=int, default=50, help="trials per cell (default 50)")
    pt.add_argument("--ensemble", choices=("gaussian", "dct"), default="gaussian")
    pt.add_argument("--amplitudes", choices=("gaussian", "rademacher"), default="gaussian")
    pt.add_argument("--complex", action="store_true", help="complex signals and matrices")
    pt.add_argument("--success-tol", type=float, default=1e-3,
                    help="success: relative error below this (default 1e-3)")
    pt.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    pt.add_argument("--store", required=True, help="SQLite file of the results (resumed)")
    pt.add_argument("--plot", help="PNG figure to write")
    pt.add_argument("--export", help="CSV file of the trial table to write")
    pt.add_argument("--n-jobs", type=int, default=1, help="joblib n_jobs (-1: all cores)")
    pt.add_argument("--quiet", action="store_true", help="no progress bar")
    pt.set_defaults(func=_phase_transition)

    from .experiments.channel_estimation import DEFAULT_METHODS, METHODS
    ce = sub.add_parser("channel-estimation", help="channel-estimation studies")
    ce_sub = ce.add_subparsers(dest="study", required=True)
    irs = ce_sub.add_parser("irs", help="IRS-MIMO: NMSE against SNR of the KroSBL family "
                                        "and baselines (resumable)")
    irs.add_argument("--quick", action="store_true",
                     help="3 trials per SNR unless --trials says otherwise (a minute or two)")
    irs.add_argument("--trials", type=int, default=None,
                     help="channels per SNR (default 50; 3 with --quick)")
    irs.add_argument("--snr", type=_floats, default=[4, 8, 12, 16, 20],
                     help="comma-separated SNRs in dB (default 4,8,12,16,20)")
    irs.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                     help=f"comma-separated, of {', '.join(METHODS)} "
                          f"(default {','.join(DEFAULT_METHODS)})")
    irs.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    irs.add_argument("--store", default=None, help="SQLite file of the results (resumed)")
    irs.add_argument("--plot", help="PNG figure to write")
    irs.add_argument("--n-jobs", type=int, default=1, help="joblib n_jobs (-1: all cores)")
    irs.add_argument("--quiet", action="store_true", help="no progress bar")
    irs.set_defaults(func=_channel_estimation)
    return parser


def main(argv=None):
    """Entry point of the ``sparserec`` console script.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 for invalid arguments.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as err:
        print(f"sparserec: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
