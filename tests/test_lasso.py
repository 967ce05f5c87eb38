"""Working-set Lasso: same answer as plain FISTA, cvxpy and scikit-learn, on every path."""
import warnings

import array_api_strict as xps
import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse.linalg as spla
from sklearn.linear_model import Lasso as SkLasso
from sklearn.linear_model import LassoCV as SkLassoCV
from sklearn.model_selection import KFold

import sparserec.solvers.working_set as lasso_module
from sparserec import ConvergenceWarning, Lasso, LassoCV
from sparserec.operators import Kron
from sparserec.solvers import fista, lasso, lasso_duality_gap, lasso_path

TOL = 1e-13


def _draw(rng, shape, complex_):
    a = rng.standard_normal(shape)
    return a + 1j * rng.standard_normal(shape) if complex_ else a


def _case(seed):
    """Problem ``seed`` of the 200-problem sweep: real/complex x 1-D/batch/stack/Kron,
    sizes and l1 weights drawn from the seed."""
    rng = np.random.default_rng(seed)
    complex_ = bool(seed % 2)
    layout = ("1d", "batch", "stack", "kron")[(seed // 2) % 4]
    m, n = int(rng.integers(30, 60)), int(rng.integers(40, 120))
    if layout == "kron":
        A = Kron(_draw(rng, (4, 8), complex_), _draw(rng, (m // 4 + 1, n // 8 + 1), complex_))
        m = A.shape[0]
        y = _draw(rng, (m, 2), complex_)
        dense = A.todense()
    elif layout == "stack":
        A = _draw(rng, (3, m, n), complex_)
        y = _draw(rng, (3, m, 2), complex_)
        dense = A
    else:
        A = _draw(rng, (m, n), complex_)
        y = _draw(rng, (m,) if layout == "1d" else (m, 12), complex_)
        dense = A
    corr = np.abs(np.swapaxes(dense, -1, -2).conj() @ (y if y.ndim > 1 or dense.ndim == 3
                                                     else y[:, None]))
    lam = float(rng.uniform(0.3 if complex_ else 0.15, 0.6)) * float(corr.max())
    return A, dense, y, lam


def _columns(dense, arr):
    """Per-problem (A_p, v_p) pairs of a layout array (``(m|n, L)`` or ``(B, m|n, L)``)."""
    if dense.ndim == 2:
        arr = arr[:, None] if arr.ndim == 1 else arr
        return [(dense, arr[:, j]) for j in range(arr.shape[1])]
    return [(dense[b], arr[b, :, j]) for b in range(arr.shape[0]) for j in range(arr.shape[2])]


def _polished(A, y, x, lam):
    """The exact real Lasso solution on the support and signs of ``x`` (closed form), checked
    optimal by its KKT conditions: a reference accurate to rounding, where a duality
    gap of ``tol ||y||^2`` pins the coefficients only to ``sqrt(tol)``."""
    S = np.flatnonzero(x)
    AS = A[:, S]
    out = np.zeros_like(x)
    out[S] = np.linalg.solve(AS.T @ AS, AS.T @ y - lam * np.sign(x[S]))
    corr = np.abs(A.conj().T @ (y - AS @ out[S]))
    assert np.all(corr <= lam * (1 + 1e-8)), "the reference's support is not optimal"
    return out


@pytest.mark.parametrize("chunk", range(10))
def test_200_problems_match_plain_fista(chunk):
    """Screening and working sets never change the answer, on 200 seeded problems: the
    full problem's certified gap, the objective of plain FISTA (array-API path) to 1e-12,
    and its coefficients, polished to rounding on its own support and signs (closed
    form, real problems), to 1e-9; complex coefficients (phases have no closed form)
    to 1e-7."""
    for seed in range(20 * chunk, 20 * chunk + 20):
        A, dense, y, lam = _case(seed)
        ours = lasso(A, y, lam=lam, tol=TOL)
        ref = fista(A, y, lam=lam, tol=TOL, max_iter=200_000)
        assert np.all(ours.converged) and np.all(ref.converged), seed
        gap, _ = lasso_duality_gap(dense, y, ours.x, lam)
        yy = np.sum(np.abs(y) ** 2, axis=-2 if y.ndim == dense.ndim else -1)
        # the certificate resolves the gap to its declared floor (64 eps of ||y||^2)
        assert np.all(gap <= (TOL + 64 * np.finfo(float).eps) * yy), seed
        _, primal = lasso_duality_gap(dense, y, ours.x, lam)
        _, primal_ref = lasso_duality_gap(dense, y, ref.x, lam)
        np.testing.assert_allclose(primal, primal_ref, rtol=1e-12, err_msg=str(seed))
        if np.iscomplexobj(y):
            np.testing.assert_allclose(ours.x, ref.x, atol=1e-7, rtol=0, err_msg=str(seed))
            continue
        for (Ap, yp), (_, xp), (_, rp) in zip(_columns(dense, y), _columns(dense, ours.x),
                                              _columns(dense, ref.x)):
            np.testing.assert_allclose(xp, _polished(Ap, yp, rp, lam), atol=1e-9, rtol=0,
                                       err_msg=str(seed))


def test_the_sweep_covers_every_mode():
    modes = set()
    original = lasso_module._WorkingSetLasso.init

    def spy(self, op, Y):
        state = original(self, op, Y)
        modes.add(self.mode)
        return state

    lasso_module._WorkingSetLasso.init = spy
    try:
        for seed in range(8):
            A, _, y, lam = _case(seed)
            lasso(A, y, lam=lam, tol=1e-8)
    finally:
        lasso_module._WorkingSetLasso.init = original
    assert modes == {"gram", "columns", "structured"}


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_objective_matches_cvxpy(complex_):
    rng = np.random.default_rng(5)
    A, y = _draw(rng, (40, 150), complex_), _draw(rng, (40,), complex_)
    lam = 0.1 * np.max(np.abs(A.conj().T @ y))
    res = lasso(A, y, lam=lam, tol=TOL)
    x = cp.Variable(150, complex=complex_)
    obj = 0.5 * cp.sum_squares(y - A @ x) + lam * cp.norm1(x)
    cp.Problem(cp.Minimize(obj)).solve(solver=cp.CLARABEL, tol_gap_abs=1e-11,
                                       tol_gap_rel=1e-11, tol_feas=1e-11, max_iter=500)
    ours = 0.5 * np.sum(np.abs(y - A @ res.x) ** 2) + lam * np.sum(np.abs(res.x))
    np.testing.assert_allclose(ours, obj.value, rtol=1e-8)


@pytest.mark.parametrize("L", [None, 30], ids=["1d", "batch"])
def test_estimator_matches_scikit_learn(L):
    rng = np.random.default_rng(2)
    A = rng.standard_normal((60, 200))
    x = np.zeros((200,) if L is None else (200, L))
    x[:6] = 3 * rng.standard_normal(x[:6].shape)
    y = A @ x + 0.1 * rng.standard_normal((60,) if L is None else (60, L))
    ours = Lasso(alpha=0.05, tol=1e-13).fit(A, y)
    ref = SkLasso(alpha=0.05, fit_intercept=False, tol=1e-13, max_iter=1_000_000).fit(A, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-9, rtol=0)
    assert np.all(ours.converged_)


@pytest.mark.parametrize("force", ["gram", "columns", "no-screening"])
def test_forced_modes_give_the_same_answer(force):
    rng = np.random.default_rng(3)
    A, Y = rng.standard_normal((50, 300)), rng.standard_normal((50, 6))
    lam = 0.05 * np.max(np.abs(A.T @ Y))
    kwargs = {"gram": {"gram": True}, "columns": {"gram": False},
              "no-screening": {"screening": False}}[force]
    ours = lasso(A, Y, lam=lam, tol=TOL, **kwargs)
    ref = fista(A, Y, lam=lam, tol=TOL, max_iter=200_000)
    np.testing.assert_allclose(ours.x, ref.x, atol=1e-9, rtol=0)


def test_screening_discards_atoms_and_keeps_the_solution_support():
    rng = np.random.default_rng(4)
    A, y = rng.standard_normal((100, 2000)), rng.standard_normal((100, 1))
    lam = 0.3 * np.max(np.abs(A.T @ y))
    seen = {}
    res = lasso(A, y, lam=lam, tol=TOL, callback=lambda p: seen.update(p.state))
    assert seen["screened"].sum() > 1500            # most atoms are discarded for good
    assert not np.any(seen["screened"][0] & (res.x[:, 0] != 0))


def test_matrix_free_operator_and_array_api_strict_fall_back_to_fista():
    rng = np.random.default_rng(6)
    A, y = rng.standard_normal((30, 80)), rng.standard_normal(30)
    lam = 0.1 * np.max(np.abs(A.T @ y))
    ref = lasso(A, y, lam=lam, tol=TOL)
    free = lasso(spla.aslinearoperator(A), y, lam=lam, tol=TOL)
    strict = lasso(xps.asarray(A), xps.asarray(y), lam=lam, tol=TOL)
    np.testing.assert_allclose(free.x, ref.x, atol=1e-9)
    np.testing.assert_allclose(np.asarray(strict.x), ref.x, atol=1e-9)
    with pytest.raises(ValueError, match="gram=True"):
        lasso(rng.standard_normal((3, 30, 80)), rng.standard_normal((3, 30)), lam=1.0,
              gram=True)


def test_float32_runs_in_float32():
    rng = np.random.default_rng(7)
    A, y = rng.standard_normal((40, 200)).astype(np.float32), rng.standard_normal(40).astype(
        np.float32)
    lam = 0.1 * float(np.max(np.abs(A.T @ y)))
    res = lasso(A, y, lam=lam, tol=1e-5)
    ref = lasso(A.astype(float), y.astype(float), lam=lam, tol=1e-12)
    assert res.x.dtype == np.float32 and res.converged
    np.testing.assert_allclose(res.x, ref.x, atol=2e-3 * np.max(np.abs(ref.x)))


def test_warm_start_path_and_zero_solution():
    rng = np.random.default_rng(8)
    A, y = rng.standard_normal((40, 120)), rng.standard_normal((40, 3))
    lam_max = np.max(np.abs(A.T @ y), axis=0)
    zero = lasso(A, y, lam=1.01 * lam_max.max(), tol=TOL)
    assert np.all(zero.x == 0) and np.all(zero.n_iter == 0)
    lams = lam_max.max() * np.geomspace(1, 1e-2, 8)
    path = lasso_path(A, y, lams, tol=TOL)
    cold = [lasso(A, y, lam=lam, tol=TOL) for lam in lams]
    for warm, c in zip(path, cold):
        np.testing.assert_allclose(warm.x, c.x, atol=1e-9)
    assert sum(r.n_iter.sum() for r in path) < sum(r.n_iter.sum() for r in cold)
    est = Lasso(alpha=lams[-1] / 40, tol=TOL, warm_start=True).fit(A, y)
    first = est.n_iter_.copy()
    est.fit(A, y)
    assert np.all(est.n_iter_ <= 1) and np.all(first > 1)


def test_max_iter_warns():
    rng = np.random.default_rng(9)
    A, y = rng.standard_normal((40, 300)), rng.standard_normal(40)
    with pytest.warns(ConvergenceWarning, match="lasso did not converge"):
        lasso(A, y, lam=0.01 * np.max(np.abs(A.T @ y)), tol=TOL, max_iter=1)


@pytest.mark.parametrize("bad, match", [({"lam": -1.0}, "lam"), ({"lam": np.nan}, "lam"),
                                        ({"lam": 1.0, "gram": "yes"}, "gram"),
                                        ({"lam": 1.0, "max_epochs": 0}, "max_epochs")])
def test_bad_arguments(bad, match):
    A, y = np.ones((5, 8)), np.ones(5)
    with pytest.raises(ValueError, match=match):
        lasso(A, y, **bad)


def test_lasso_cv_picks_scikit_learns_alpha_on_real_data():
    """Diabetes data, the same unshuffled 5 folds and default grid as LassoCV."""
    from sklearn.datasets import load_diabetes
    X, y = load_diabetes(return_X_y=True)
    ref = SkLassoCV(fit_intercept=False, cv=KFold(5), tol=1e-12, max_iter=1_000_000).fit(X, y)
    ours = LassoCV(cv=KFold(5), tol=1e-12).fit(X, y)
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-12)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-6)
    assert ours.alpha_ == ref.alpha_
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-8 * np.max(np.abs(ref.coef_)))


def test_lasso_cv_batch_and_complex_choose_per_column():
    """Each column of a batch gets the alpha it would get alone (complex data too), and
    the choice follows the noise level (an estimator that ignored the folds would not)."""
    rng = np.random.default_rng(10)
    m, n = 80, 60
    A = _draw(rng, (m, n), True)
    x = np.zeros((n, 2), dtype=complex)
    x[:4] = _draw(rng, (4, 2), True)
    Y = A @ x + np.array([0.01, 3.0]) * _draw(rng, (m, 2), True)
    grid = np.geomspace(5.0, 1e-3, 12)
    both = LassoCV(alphas=grid, cv=4, tol=1e-12).fit(A, Y)
    alone = [LassoCV(alphas=grid, cv=4, tol=1e-12).fit(A, Y[:, j]).alpha_ for j in range(2)]
    np.testing.assert_array_equal(both.alpha_, alone)
    assert both.alpha_[1] > both.alpha_[0]
    assert both.coef_.shape == (2, n) and np.iscomplexobj(both.coef_)


def test_lasso_cv_rejects_what_it_cannot_split():
    with pytest.raises(ValueError, match="rows of A"):
        LassoCV().fit(Kron(np.ones((3, 2)), np.ones((4, 2))), np.ones(12))
    with pytest.raises(ValueError, match="alphas"):
        LassoCV(alphas=[-1.0]).fit(np.ones((10, 3)), np.ones(10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LassoCV(cv=3, n_alphas=5).fit(np.eye(12)[:, :4] + 0.1, np.arange(12.0))
