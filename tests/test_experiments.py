"""Experiments: the Study runner, its store, phase transitions and their theory."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _study_helpers import least_squares, noisy_mean, noisy_mean_batch, padded
from sparserec import FISTA, OMP
from sparserec.experiments import (PhaseTransition, Study, default_solvers, logistic_boundary,
                                   weak_threshold)

TIMING = ["seconds", "run"]


def _toy(store=None, **kw):
    grid = kw.pop("grid", {"mu": [0.0, 1.0, 2.0], "label": ["a", "b"]})
    return Study("toy", grid, kw.pop("trial", noisy_mean), trials=kw.pop("trials", 6),
                 store=store, random_state=kw.pop("random_state", 3), **kw)


def _table(df):
    return df.drop(columns=TIMING).reset_index(drop=True)


# -- theory -------------------------------------------------------------------------------
def test_weak_threshold_matches_the_published_values():
    deltas = [0.1, 0.25, 0.5, 0.75, 0.9]
    np.testing.assert_allclose(weak_threshold(deltas), [0.1894, 0.2674, 0.3857, 0.5337, 0.6782],
                               atol=1e-3)
    assert abs(weak_threshold(0.5, signed=False) - 0.5582) <= 1e-3
    assert np.all(np.diff(weak_threshold(np.linspace(0.05, 0.95, 19))) > 0)
    with pytest.raises(ValueError, match=r"delta must lie in \(0, 1\)"):
        weak_threshold(1.2)


def test_logistic_boundary_finds_a_known_transition():
    rng = np.random.default_rng(0)
    rho = rng.uniform(0, 1, 2000)
    success = rng.uniform(size=rho.size) < 1 / (1 + np.exp(25 * (rho - 0.42)))
    rho50, low, high = logistic_boundary(rho, success, n_boot=100)
    assert abs(rho50 - 0.42) < 0.01 and low < 0.42 < high and high - low < 0.03
    assert np.isnan(logistic_boundary(rho, np.ones_like(rho))[0])       # no transition
    with pytest.raises(ValueError, match="one entry per trial"):
        logistic_boundary(rho, success[:-1])


# -- the Study runner ---------------------------------------------------------------------
def test_a_toy_study_runs_stores_and_resumes(tmp_path):
    store = tmp_path / "toy.sqlite"
    full = _toy(store, chunk_size=2).run(progress=False)
    assert len(full) == 36 and list(full.columns[:3]) == ["mu", "label", "trial"]
    assert not full.duplicated(["mu", "label", "trial"]).any()
    # the seed depends on the seeded parameters only: label is not in seed_by here
    by_mu = _toy(tmp_path / "s.sqlite", seed_by=["mu"]).run(progress=False)
    a, b = by_mu[by_mu.label == "a"], by_mu[by_mu.label == "b"]
    np.testing.assert_array_equal(a["first"].to_numpy(), b["first"].to_numpy())
    assert not np.array_equal(full[full.label == "a"]["first"], full[full.label == "b"]["first"])
    # a second run computes nothing (every row still from run 1) and returns the same table
    again = _toy(store, chunk_size=2)
    pd.testing.assert_frame_equal(again.run(progress=False), full)
    assert set(again.results()["run"]) == {1}
    runs = again.store.runs()
    assert len(runs) == 2 and runs[0][3]["versions"]["numpy"] == np.__version__
    assert "BLAS" in runs[0][3]["threads"] and runs[0][2] is not None
    # batched trial functions give the same values
    batched = _toy(tmp_path / "b.sqlite", chunk_size=2, trial=noisy_mean_batch, batch=True)
    pd.testing.assert_frame_equal(_table(batched.run(progress=False)), _table(full),
                                  check_like=False)


def test_results_do_not_depend_on_n_jobs_or_chunking(tmp_path):
    one = _table(_toy(None, chunk_size=1).run(n_jobs=1, progress=False))
    two = _table(_toy(None, chunk_size=1).run(n_jobs=2, progress=False))
    pd.testing.assert_frame_equal(one, two)
    other_chunks = _table(_toy(None, chunk_size=4).run(n_jobs=2, progress=False))
    pd.testing.assert_frame_equal(one, other_chunks)


def test_the_dask_backend_gives_the_same_table():
    distributed = pytest.importorskip("distributed")
    import joblib
    reference = _table(_toy(None).run(progress=False))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            on_dask = _table(_toy(None).run(n_jobs=-1, progress=False))
    pd.testing.assert_frame_equal(on_dask, reference)


_KILLABLE = """
import sys
sys.path.insert(0, {tests!r})
from _study_helpers import noisy_mean
from sparserec.experiments import Study
Study("toy", {{"mu": [0.0, 1.0, 2.0], "sleep": [0.05]}}, noisy_mean, trials=8, store=sys.argv[1],
      random_state=3, chunk_size=2).run(progress=False)
"""


def _count(path):
    try:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.DatabaseError:
        return 0


def test_a_run_killed_mid_way_resumes_to_the_same_table(tmp_path):
    """SIGKILL in the middle of a run, then the same run again: nothing lost, nothing twice."""
    store = tmp_path / "killed.sqlite"
    code = _KILLABLE.format(tests=str(Path(__file__).parent))
    proc = subprocess.Popen([sys.executable, "-c", code, str(store)])
    deadline = time.time() + 120
    while _count(store) < 6 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = _count(store)
    assert 6 <= stored < 24 and stored % 2 == 0       # whole chunks only
    subprocess.run([sys.executable, "-c", code, str(store)], check=True)
    grid = {"mu": [0.0, 1.0, 2.0], "sleep": [0.05]}
    resumed = _toy(store, grid=grid, trials=8, chunk_size=2).results()
    fresh = _toy(tmp_path / "fresh.sqlite", grid=grid, trials=8, chunk_size=2).run(progress=False)
    assert len(resumed) == 24 and set(resumed["run"]) == {1, 2}
    pd.testing.assert_frame_equal(_table(resumed), _table(fresh))


# -- store errors -------------------------------------------------------------------------
def _stored_rows(path):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT point, trial, result FROM trials ORDER BY point, trial").fetchall()


def test_bad_stores_give_clear_errors_and_keep_what_was_stored(tmp_path):
    good = tmp_path / "good.sqlite"
    _toy(good).run(progress=False)
    before = _stored_rows(good)
    # another experiment definition
    with pytest.raises(ValueError, match="holds a different experiment.*trials: stored 6, given 7"):
        _toy(good, trials=7).run(progress=False)
    with pytest.raises(ValueError, match="holds a different experiment.*random_state"):
        _toy(good, random_state=4).run(progress=False)
    assert _stored_rows(good) == before
    # not SQLite at all
    text = tmp_path / "notes.sqlite"
    text.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(ValueError, match="is not a sparserec experiment store"):
        _toy(text).run(progress=False)
    assert text.read_text().startswith("these are my notes")
    # a corrupt database: the header survives, the pages do not
    corrupt = tmp_path / "corrupt.sqlite"
    first = _toy(corrupt)
    first.run(progress=False)
    first.close()
    data = bytearray(corrupt.read_bytes())
    data[100:4096 * 3] = os.urandom(4096 * 3 - 100)
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="is not a sparserec experiment store"):
        _toy(corrupt).run(progress=False)
    # a location nobody can write (procfs refuses new files, even to root)
    with pytest.raises((PermissionError, ValueError), match="cannot create or write|does not exist"):
        _toy("/proc/sparserec-store.sqlite").run(progress=False)
    with pytest.raises(ValueError, match="the folder .* does not exist"):
        _toy(tmp_path / "missing" / "s.sqlite").run(progress=False)


def test_a_full_disk_stops_the_run_cleanly_and_keeps_the_stored_trials(tmp_path):
    """The disk fills mid-run (simulated with SQLite's max_page_count): a clear OSError,
    whole chunks stored, and a later run with room resumes to the complete table."""
    path = tmp_path / "full.sqlite"
    study = _toy(path, chunk_size=1, trial=padded)
    db = study.store.db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0] + 2}")
    with pytest.raises(OSError, match="the disk is full.*stored so far are intact"):
        study.run(progress=False)
    study.close()
    partial = _stored_rows(path)
    assert 0 < len(partial) < 36
    resumed = _toy(path, chunk_size=1, trial=padded).run(progress=False)   # room: it resumes
    assert set(partial) <= set(_stored_rows(path))
    fresh = _toy(None, chunk_size=1, trial=padded).run(progress=False)
    pd.testing.assert_frame_equal(_table(resumed), _table(fresh))


# -- phase transitions --------------------------------------------------------------------
def test_phase_transition_table_and_figure(tmp_path):
    pt = PhaseTransition({"omp": OMP(), "lstsq": least_squares, "fista": FISTA(alpha=1e-6, tol=1e-10,
                                                                                  max_iter=5000),
                          "lstsq-again": least_squares},
                         n=50, grid=(2, 3), trials=4, store=tmp_path / "pt.sqlite", random_state=1)
    df = pt.run(progress=False)
    assert len(df) == 4 * 2 * 3 * 4
    assert {"success", "exact_support", "relative_error", "n_iter", "seconds", "m", "k"} <= set(df)
    # every solver saw the very same problems: the same deterministic solver under two
    # names gives identical errors trial by trial (a seed that depended on the solver
    # would give different problems), while different trials see different problems
    a = df[df.solver == "lstsq"]["relative_error"].to_numpy()
    b = df[df.solver == "lstsq-again"]["relative_error"].to_numpy()
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a)) == len(a)
    assert df[df.solver == "omp"]["success"].mean() > df[df.solver == "lstsq"]["success"].mean()
    bounds = pt.boundaries(n_boot=20)
    assert set(bounds.columns) == {"solver", "delta", "rho50", "low", "high", "theory"}
    out = tmp_path / "pt.png"
    pt.plot(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kw", [{"complex": True}, {"ensemble": "dct"}, {"amplitudes": "rademacher"}],
                         ids=["complex", "dct", "rademacher"])
def test_phase_transition_ensembles(kw):
    pt = PhaseTransition(default_solvers(["omp"]), n=40, grid=(2, 2), trials=3, random_state=2, **kw)
    df = pt.run(progress=False)
    assert len(df) == 12 and df["relative_error"].notna().all()
    assert pt.boundaries(n_boot=0)["theory"].isna().all() == kw.get("complex", False)


def _l1_boundary(n, trials, n_rho, half_width, deltas=(0.25, 0.5, 0.75)):
    """FISTA's empirical 50 % point per delta, on a rho window around the theory."""
    rows = []
    for delta in deltas:
        centre = weak_threshold(delta)
        pt = PhaseTransition(default_solvers(["fista"]), n=n, grid=(1, n_rho), trials=trials,
                             random_state=0, delta_range=(delta, delta),
                             rho_range=(centre - half_width, centre + half_width))
        pt.run(n_jobs=-1, progress=False)
        rows.append(pt.boundaries(n_boot=0))
    return pd.concat(rows, ignore_index=True)


def test_empirical_l1_boundary_small_grid():
    """Small version of the n=400 acceptance test: n=100, 16 trials per cell."""
    bounds = _l1_boundary(100, 16, 5, 0.15)
    np.testing.assert_allclose(bounds["rho50"], bounds["theory"], atol=0.08)


@pytest.mark.slow
def test_empirical_l1_boundary_matches_donoho_tanner_at_n_400():
    """Acceptance: noiseless, Gaussian A with unit columns, 50 trials per cell near the edge."""
    bounds = _l1_boundary(400, 50, 5, 0.06)
    print(bounds.to_string())
    np.testing.assert_allclose(bounds["rho50"], bounds["theory"], atol=0.04)


@pytest.mark.slow
def test_sbl_boundary_lies_above_l1_at_delta_one_half():
    """Acceptance 5 of the SBL issue: n = 200, Gaussian amplitudes, noiseless; the
    empirical 50 % points of SBL and of l1 from the same problems."""
    pt = PhaseTransition(default_solvers(["fista", "sbl"]), n=200, grid=(1, 9), trials=20,
                         random_state=0, delta_range=(0.5, 0.5), rho_range=(0.25, 0.65))
    pt.run(n_jobs=-1, progress=False)
    bounds = pt.boundaries(n_boot=0).set_index("solver")["rho50"]
    print(bounds.to_string())
    assert abs(bounds["fista"] - weak_threshold(0.5)) < 0.05
    assert bounds["sbl"] >= bounds["fista"] + 0.1


def test_cli_phase_transition_runs_redraws_and_exports(tmp_path, capsys):
    from sparserec.cli import main
    store, png, csv = tmp_path / "pt.sqlite", tmp_path / "pt.png", tmp_path / "pt.csv"
    args = ["phase-transition", "--solvers", "omp,iht", "--n", "40", "--grid", "2x2", "--trials",
            "3", "--store", str(store), "--quiet"]
    assert main(args) == 0
    assert main(["phase-transition", "--store", str(store), "--plot", str(png), "--export",
                 str(csv)]) == 0
    out = capsys.readouterr().out
    assert "figure written" in out and png.exists()
    table = pd.read_csv(csv)
    assert len(table) == 2 * 2 * 2 * 3 and set(table["solver"]) == {"omp", "iht"}
    assert main(args[:-4] + ["4", "--store", str(store)]) == 2       # another definition
    assert "holds a different experiment" in capsys.readouterr().err
    assert main(["phase-transition", "--store", str(store)]) == 2
    assert main(["phase-transition", "--solvers", "lars", "--store", str(tmp_path / "x")]) == 2
    assert "unknown solver" in capsys.readouterr().err


def test_the_timing_benchmark_runs_at_a_tiny_size(capsys):
    """benchmarks/phase_transition.py --time prints its ratios (here on a 2x2 grid)."""
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "phase_transition.py"
    if not path.exists():
        pytest.skip("benchmarks/ is not beside the tests")
    spec = importlib.util.spec_from_file_location("bench_phase_transition", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--time", "--n", "40", "--grid", "2x2", "--trials", "8", "--n-jobs", "1",
                "--delta-range", "0.5,0.9", "--rho-range", "0.05,0.15"])
    out = capsys.readouterr().out
    assert "FISTA sweep" in out and "faster" in out and "batched" in out
