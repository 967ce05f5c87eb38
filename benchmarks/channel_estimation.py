"""IRS-MIMO channel estimation: NMSE against SNR of KroSBL and its baselines (paper Fig.).

    python benchmarks/channel_estimation.py [--quick] [--trials 50] [--snr 4,8,12,16,20]
        [--methods svd,am,...] [--n-jobs -1] [--store irs.sqlite] [--plot irs.png]

Runs :class:`sparserec.experiments.IRSChannelStudy` (resumable with ``--store``),
prints the per-SNR table (mean of the linear NMSE in dB as the paper plots it,
median, share of trials with NMSE > 0.1, the share of paired trials PC-KroSBL
beta=0.8 wins, mean solve time) next to the paper's 50-trial numbers
(mean (median) dB, from the authors' data), the thread settings and the wall
time, and writes the figure with ``--plot``.

``--quick``: all five SNRs with 3 trials (about two minutes on two cores).
The trials limit BLAS to one thread each; ``--n-jobs`` workers run in parallel.
"""
import argparse
import os
import time

from sparserec._runtime import blas_summary
from sparserec.experiments import IRSChannelStudy
from sparserec.experiments.channel_estimation import DEFAULT_METHODS, format_summary

# the paper's 50-trial results (krosbl.md §4.1): mean (median) NMSE in dB at 4/8/12/16/20 dB
PAPER = {
    "svd": ((-2.15, -3.7), (-5.16, -10.4), (-7.12, -19.9), (-9.11, -24.2), (-9.80, -28.9)),
    "am": ((-1.46, -0.2), (-4.94, -8.1), (-7.06, -16.4), (-8.57, -22.9), (-11.55, -29.4)),
    "pc-kro-0.8": ((-5.06, -9.0), (-8.80, -14.3), (-13.08, -19.2), (-20.50, -23.8),
                   (-25.32, -28.3)),
    "pc-kro-0.5": ((-4.90, -7.9), (-8.48, -14.3), (-12.17, -19.0), (-19.49, -24.1),
                   (-22.25, -27.7)),
    "pc-sbl": ((0.00, 0.0), (0.06, 0.0), (-0.44, 0.0), (-2.17, -4.2), (-4.26, -8.0)),
    "sbl": ((-0.21, -0.6), (-1.40, -2.3), (-3.34, -5.4), (-6.42, -14.6), (-8.42, -20.8)),
}
_PAPER_SNRS = (4.0, 8.0, 12.0, 16.0, 20.0)


def paper_column(table):
    """The paper's ``mean (median)`` for every row of the summary, or ``-``."""
    out = []
    for snr, method in zip(table["snr_db"], table["method"]):
        if method in PAPER and float(snr) in _PAPER_SNRS:
            mean, median = PAPER[method][_PAPER_SNRS.index(float(snr))]
            out.append(f"{mean:.1f} ({median:.1f})")
        else:
            out.append("-")
    return out


def _floats(text):
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="all SNRs, 3 trials (default trials 50)")
    parser.add_argument("--trials", type=int, default=None, help="channels per SNR")
    parser.add_argument("--snr", type=_floats, default=[4, 8, 12, 16, 20],
                        help="comma-separated SNRs in dB (default 4,8,12,16,20)")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help=f"comma-separated (default {','.join(DEFAULT_METHODS)}; also fista)")
    parser.add_argument("--n-jobs", type=int, default=-1, help="joblib n_jobs (default -1)")
    parser.add_argument("--store", default=None, help="SQLite file of the trials (resumed)")
    parser.add_argument("--plot", default=None, help="PNG figure to write")
    parser.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    trials = args.trials or (3 if args.quick else 50)
    study = IRSChannelStudy(snr_db=args.snr, methods=args.methods, trials=trials,
                            store=args.store, random_state=args.seed)
    print(study.describe())
    print(f"main process: {blas_summary()}; n_jobs={args.n_jobs}, cores: {os.cpu_count()}; "
          f"store: {args.store or 'in memory'}")
    start = time.perf_counter()
    df = study.run(n_jobs=args.n_jobs, progress=not args.quiet)
    wall = time.perf_counter() - start
    table = study.summary()
    table["paper mean (median)"] = paper_column(table)
    print(format_summary(table))
    print(f"{len(df)} trials in the table (solve time summed over them "
          f"{df['seconds'].sum():.1f} s); wall time of this run {wall:.1f} s")
    if args.plot:
        study.plot(args.plot)
        print(f"figure written to {args.plot} ({os.path.getsize(args.plot) / 1024:.0f} KiB)")
    study.close()


if __name__ == "__main__":
    main()
