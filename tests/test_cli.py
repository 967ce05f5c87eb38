"""`sparserec demo`: the main job runs every solver, prints the table, writes the plot."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sparserec.cli import main
from sparserec.demo import run_demo


def test_demo_prints_a_row_per_solver_and_writes_the_plot(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["demo", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    for solver in ("ISTA", "FISTA", "Lasso-WS", "IHT", "NIHT", "OMP"):
        assert f"\n{solver} " in text
    assert "BLAS:" in text
    assert out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_recovers_the_signal():
    rows, alpha = run_demo(random_state=1)
    rows = {r.solver: r for r in rows}
    # at 30 dB the greedy solvers that know k and NIHT reach the noise floor;
    # the Lasso pays its shrinkage bias
    assert rows["OMP"].nmse_db < -25 and rows["NIHT"].nmse_db < -25
    assert rows["FISTA"].nmse_db < -15
    np.testing.assert_allclose(rows["ISTA"].nmse_db, rows["FISTA"].nmse_db, atol=0.1)
    # the same certified l1 problem, solved by working sets
    np.testing.assert_allclose(rows["Lasso-WS"].nmse_db, rows["FISTA"].nmse_db, atol=0.1)
    assert rows["FISTA"].n_iter < rows["ISTA"].n_iter
    assert 0 < alpha < 1e-2


def test_demo_curves_are_the_nmse_of_the_iterates():
    """The plotted curves are one comparable quantity: the NMSE of every iterate."""
    rows, _ = run_demo(random_state=1)
    for r in rows:
        iters, seconds, nmse = r.curve.T
        assert iters[-1] == r.n_iter                      # one point per iteration
        np.testing.assert_allclose(nmse[-1], r.nmse_db, atol=1e-9)   # ends at the estimate
        assert np.all(np.diff(iters) == 1)
        if r.solver != "OMP":                             # OMP: separate t-atom fits
            assert np.all(np.diff(seconds) >= 0)


def test_demo_prints_alpha_and_refuses_a_missing_output_folder(tmp_path, capsys):
    assert main(["demo", "--output", str(tmp_path / "missing" / "p.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["demo", "--output", str(tmp_path / "p.png")]) == 0
    assert "alpha=" in capsys.readouterr().out


def test_bad_arguments_exit_with_a_message(capsys):
    assert main(["demo", "--k", "300"]) == 2
    assert "sparserec: error:" in capsys.readouterr().err


def test_console_script_is_installed(tmp_path):
    script = Path(sys.executable).with_name("sparserec")
    if not script.exists():
        pytest.skip("sparserec console script not installed next to this interpreter")
    done = subprocess.run([str(script), "demo", "--output", str(tmp_path / "p.png")],
                          capture_output=True, text=True, check=True)
    assert "FISTA" in done.stdout and (tmp_path / "p.png").exists()
