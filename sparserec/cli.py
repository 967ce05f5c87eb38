"""The ``sparserec`` command line."""
import argparse
import os
import sys

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
    print(blas_summary())
    plot_convergence(rows, args.output)
    print(f"convergence plot written to {args.output}")
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
