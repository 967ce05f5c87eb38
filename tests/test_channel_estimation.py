"""The IRS-MIMO channel-estimation study (acceptance 4 of issue 8, krosbl.md §4.1, §6.2)."""
import numpy as np
import pandas as pd
import pytest

from sparserec import simulate
from sparserec.cli import main
from sparserec.experiments import IRSChannelStudy
from sparserec.experiments import channel_estimation as ce


def _fast(**kw):
    """A tiny study: one SNR, fast methods."""
    kw = {"snr_db": [20], "methods": ["svd", "omp"], "trials": 2, **kw}
    return IRSChannelStudy(**kw)


def test_tiny_run_gives_one_row_per_trial_and_method():
    df = _fast().run(progress=False)
    assert len(df) == 4
    assert list(df["method"]) == ["svd", "svd", "omp", "omp"]
    for column in ("snr_db", "trial", "nmse", "nmse_db", "seconds", "n_iter", "converged"):
        assert column in df
    np.testing.assert_allclose(df["nmse_db"], 10 * np.log10(df["nmse"]))
    assert (df["nmse"] > 0).all() and (df["seconds"] > 0).all()
    # at 20 dB SVD-KroSBL recovers these two channels (krosbl.md §4.1: median -28.9 dB)
    assert df.loc[df["method"] == "svd", "nmse_db"].max() < -15


def test_every_method_sees_the_same_channel():
    study = _fast()
    seeds = [study.study.seed({"snr_db": 20.0, "method": m}, 1) for m in ("svd", "omp")]
    assert seeds[0].spawn_key == seeds[1].spawn_key
    other = study.study.seed({"snr_db": 20.0, "method": "svd"}, 0)
    assert other.spawn_key != seeds[0].spawn_key


def test_resuming_from_a_store_repeats_no_trial(tmp_path, monkeypatch):
    store = tmp_path / "irs.sqlite"
    calls = []

    def broken(prob, snr_db, max_iter):
        raise RuntimeError("interrupted")

    real_svd, real_omp = ce._SOLVE["svd"], ce._SOLVE["omp"]
    monkeypatch.setitem(ce._SOLVE, "omp", broken)
    with pytest.raises(RuntimeError, match="interrupted"):
        _fast(store=store).run(progress=False)         # the SVD chunk was stored

    def counting(name, solve):
        def run(prob, snr_db, max_iter):
            calls.append(name)
            return solve(prob, snr_db, max_iter)
        return run

    monkeypatch.setitem(ce._SOLVE, "svd", counting("svd", real_svd))
    monkeypatch.setitem(ce._SOLVE, "omp", counting("omp", real_omp))
    study = _fast(store=store)
    df = study.run(progress=False)
    study.close()
    assert calls == ["omp", "omp"]                     # only what the first run missed
    assert len(df) == 4 and set(df.loc[df["method"] == "svd", "run"]) == {1}
    df_again = _fast(store=store).run(progress=False)
    assert calls == ["omp", "omp"]
    pd.testing.assert_frame_equal(df, df_again)
    # a fresh, uninterrupted run gives the same numbers
    fresh = _fast().run(progress=False)
    np.testing.assert_allclose(fresh["nmse"], df["nmse"], rtol=1e-10)


def _table():
    ref, other = "pc-kro-0.8", "svd"
    rows = []
    values = {(12.0, ref): [0.01, 0.5, 0.02, 0.04], (12.0, other): [0.02, 0.2, 0.02, 0.08],
              (20.0, ref): [0.001, 0.002, 0.004], (20.0, other): [0.01, 0.001, 0.2]}
    for (snr, method), nmse in values.items():
        for trial, v in enumerate(nmse):
            rows.append({"snr_db": snr, "method": method, "trial": trial, "nmse": v,
                         "nmse_db": 10 * np.log10(v), "seconds": 0.1 * (trial + 1),
                         "n_iter": 10, "converged": True})
    return pd.DataFrame(rows)


def test_summary_matches_a_hand_computation():
    table = ce.summary(_table())
    assert list(table.columns) == ["snr_db", "method", "trials", "mean_db", "median_db",
                                   "failure", "ref_wins", "seconds"]
    assert table.attrs["reference"] == "pc-kro-0.8"
    got = table.set_index(["snr_db", "method"])
    row = got.loc[(12.0, "pc-kro-0.8")]
    assert row["trials"] == 4
    np.testing.assert_allclose(row["mean_db"], 10 * np.log10(0.57 / 4))   # linear mean
    np.testing.assert_allclose(row["median_db"], 10 * np.log10(0.03))      # (0.02 + 0.04) / 2
    assert row["failure"] == 0.25 and np.isnan(row["ref_wins"])
    np.testing.assert_allclose(row["seconds"], 0.25)
    row = got.loc[(12.0, "svd")]
    np.testing.assert_allclose(row["median_db"], 10 * np.log10(0.05))
    # trials 0 and 3 won, 1 lost, 2 a tie (counts half)
    np.testing.assert_allclose(row["ref_wins"], 2.5 / 4)
    assert row["failure"] == 0.25
    row = got.loc[(20.0, "svd")]
    np.testing.assert_allclose(row["mean_db"], 10 * np.log10(0.211 / 3))
    np.testing.assert_allclose(row["ref_wins"], 2 / 3)
    np.testing.assert_allclose(got.loc[(20.0, "pc-kro-0.8"), "median_db"], 10 * np.log10(0.002))
    # another reference, or none
    np.testing.assert_allclose(ce.summary(_table(), reference="svd").set_index(
        ["snr_db", "method"]).loc[(12.0, "pc-kro-0.8"), "ref_wins"], 1.5 / 4)
    assert ce.summary(_table(), reference=None)["ref_wins"].isna().all()
    text = ce.format_summary(table)
    assert "PC-KroSBL β=0.8" in text and "pc-kro-0.8 wins" in text


def test_plot_writes_a_png(tmp_path):
    path = tmp_path / "irs.png"
    ce.plot(_table(), path, description="a hand-made table")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kwargs, name", [
    ({"snr_db": []}, "snr_db"), ({"snr_db": [12, 12]}, "snr_db"),
    ({"snr_db": [12, np.inf]}, "snr_db"), ({"snr_db": ["high"]}, "snr_db"),
    ({"methods": ["svd", "nope"]}, "methods"), ({"methods": []}, "methods"),
    ({"methods": ["svd", "svd"]}, "methods"),
    ({"trials": 0}, "trials"), ({"max_iter": 0}, "max_iter"), ({"threads": 0}, "threads"),
    ({"setup_state": -1}, "setup_state"),
])
def test_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        IRSChannelStudy(**kwargs)


def test_bad_tables_name_the_argument():
    with pytest.raises(ValueError, match="reference"):
        ce.summary(_table(), reference="omp")
    with pytest.raises(ValueError, match="df"):
        ce.summary(_table().drop(columns="nmse"))
    with pytest.raises(ValueError, match="df"):
        ce.plot(_table().iloc[:0], "unused.png")


def test_methods_accept_a_comma_separated_string():
    assert IRSChannelStudy(methods="svd, am").methods == ["svd", "am"]


def test_cli_runs_the_study_and_writes_the_figure(tmp_path, capsys):
    out, store = tmp_path / "irs.png", tmp_path / "irs.sqlite"
    argv = ["channel-estimation", "irs", "--quick", "--trials", "1", "--snr", "20",
            "--methods", "svd,pc-kro-0.8", "--store", str(store), "--plot", str(out),
            "--quiet"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "PC-KroSBL β=0.8" in text and "SVD-KroSBL" in text and "BLAS:" in text
    assert "pc-kro-0.8 wins" in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(argv) == 0                              # resumed from the store
    assert capsys.readouterr().out.count("SVD-KroSBL") == 1


def test_the_benchmark_script_prints_the_paper_beside_the_run(capsys):
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "channel_estimation.py"
    spec = importlib.util.spec_from_file_location("bench_channel_estimation", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.run(["--trials", "1", "--snr", "20", "--methods", "svd,omp", "--quiet",
                      "--n-jobs", "1"]) == 0
    text = capsys.readouterr().out
    assert "paper mean (median)" in text and "-9.8 (-28.9)" in text    # SVD-KroSBL at 20 dB
    assert "wall time of this run" in text


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    assert main(["channel-estimation", "irs", "--methods", "nope", "--quiet"]) == 2
    assert "methods" in capsys.readouterr().err
    assert main(["channel-estimation", "irs", "--trials", "1", "--snr", "20", "--methods",
                 "svd", "--plot", str(tmp_path / "missing" / "p.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_irs_acceptance_reduced():
    """Acceptance 4, reduced: 12 and 20 dB, 30 channels (krosbl.md §6.2).

    The paper's "no PC-KroSBL trial above NMSE 0.1 at 16-20 dB" (0 of its 50 channels) is
    asserted as a failure share of at most 5 % and below AM's and SVD's: on our channels
    a few trials fail, some of which no method can recover (the oracle's NMSE is above
    0.1 too), see the closing note of the issue.
    """
    study = IRSChannelStudy(snr_db=[12, 20], methods=["svd", "am", "pc-kro-0.8", "sbl",
                                                      "oracle"],
                            trials=30, random_state=0)
    study.run(n_jobs=2, progress=False)
    table = study.summary()
    print("\n" + ce.format_summary(table))
    got = table.set_index(["snr_db", "method"])
    pc20 = got.loc[(20.0, "pc-kro-0.8")]
    assert pc20["median_db"] <= -24
    assert pc20["failure"] <= 0.05
    assert pc20["failure"] < min(got.loc[(20.0, m), "failure"] for m in ("am", "svd"))
    pc12 = got.loc[(12.0, "pc-kro-0.8"), "mean_db"]
    assert pc12 <= got.loc[(12.0, "am"), "mean_db"] - 4
    assert pc12 <= got.loc[(12.0, "svd"), "mean_db"] - 4
    for snr in (12.0, 20.0):
        worst = got.loc[(snr, "sbl"), "median_db"]
        for method in ("svd", "am", "pc-kro-0.8"):
            assert worst > got.loc[(snr, method), "median_db"], (snr, method)
        # the oracle bounds every method: a broken NMSE or oracle would not
        assert got.loc[(snr, "oracle"), "median_db"] < got.loc[(snr, "pc-kro-0.8"), "median_db"]


def test_the_oracle_is_least_squares_on_the_true_support():
    prob = simulate.irs_mimo(None, random_state=3)                 # noiseless
    x = np.asarray(ce.solve_irs("oracle", prob, 100.0).x)
    np.testing.assert_allclose(x, prob.x, atol=1e-9 * np.abs(prob.x).max())
    noisy = simulate.irs_mimo(10, random_state=3)
    x = np.asarray(ce.solve_irs("oracle", noisy, 10.0).x)
    assert np.all(x[~noisy.support] == 0) and np.all(x[noisy.support] != 0)
    with pytest.raises(ValueError, match="methods"):
        ce.solve_irs("lars", prob, 10.0)


def test_every_sbl_method_runs_at_the_reference_settings(monkeypatch):
    """krosbl.md §2.7 / §4.1: the settings that reproduce the paper (a swapped per-mode
    pruning tuple or a lost gamma start would pass every accuracy-free test)."""
    import sparserec.solvers as solvers
    calls = {}

    def spy(name):
        def record(A, y, **kw):
            calls[name] = kw
            return solvers.Result(x=np.zeros(5832, complex), n_iter=np.asarray(0),
                                  converged=np.asarray(True))
        return record
    for name in ("kronecker_sbl", "sbl", "pattern_coupled_sbl"):
        monkeypatch.setattr(solvers, name, spy(name))
    prob = simulate.irs_mimo(12, random_state=0)
    common = {"max_iter": 150, "tol": 1e-4, "gamma_init": 1.0, "noise_var": prob.noise_var}
    kron = {**common, "prune_abs": 1e-4, "inner_tol": 1e-4}
    expected = {
        "svd": ("kronecker_sbl", {**kron, "method": "svd", "prune": 0.0}),
        "am": ("kronecker_sbl", {**kron, "method": "am", "prune": (1e-2, 1e-1, 1e-3)}),
        "pc-kro-0.8": ("kronecker_sbl", {**kron, "method": "am", "block": (0, 2), "beta": 0.8,
                                         "prune": (1e-2, 1e-1, 1e-2)}),
        "pc-kro-0.5": ("kronecker_sbl", {**kron, "method": "am", "block": (0, 2), "beta": 0.5,
                                         "prune": (1e-2, 1e-1, 1e-2)}),
        "sbl": ("sbl", {**common, "prune": 1e-4}),
        "pc-sbl": ("pattern_coupled_sbl", {"noise_var": prob.noise_var, "max_iter": 150}),
    }
    for key, (solver, kw) in expected.items():
        calls.clear()
        ce.solve_irs(key, prob, 12.0)
        assert calls == {solver: kw}, key
    calls.clear()
    ce.solve_irs("svd", prob, 30.0)                  # relative pruning back on at >= 25 dB
    assert calls["kronecker_sbl"]["prune"] == 1e-3
