"""IRS-MIMO channel estimation: NMSE against SNR of KroSBL and its baselines (the paper's figure).

    python benchmarks/channel_estimation.py [--quick] [--trials 50] [--snr 4,8,12,16,20]
        [--methods svd,am,...] [--n-jobs -1] [--store irs.sqlite] [--plot irs.png]

The same run as ``sparserec channel-estimation irs`` (this script passes its
arguments on, with ``--n-jobs -1`` unless given): the study of
:class:`sparserec.experiments.IRSChannelStudy`, resumable with ``--store``; it
prints the per-SNR table (mean of the linear NMSE in dB as the paper plots it,
median, share of trials with NMSE > 0.1, the share of paired trials PC-KroSBL
beta=0.8 wins, mean solve time) beside the paper's 50-trial mean (median) dB,
the thread settings and the wall time, and writes the figure with ``--plot``.
``--quick``: 3 channels per SNR (about a minute on two cores).  The trials
limit BLAS to one thread each; the ``--n-jobs`` workers run in parallel.
"""
import sys

from sparserec.cli import main


def run(argv=None):
    """Run the study with ``argv`` (default: the command line); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(a == "--n-jobs" or a.startswith("--n-jobs=") for a in argv):
        argv += ["--n-jobs", "-1"]
    return main(["channel-estimation", "irs", *argv])


if __name__ == "__main__":
    sys.exit(run())
