"""ISTA / FISTA / IHT against independent references (acceptance 1, 2, 4)."""
import warnings

import array_api_strict as xps
import cvxpy as cp
import numpy as np
import pytest
from sklearn.linear_model import Lasso

from sparserec import FISTA, IHT, ISTA, OMP, ConvergenceWarning
from sparserec.operators import Kron
from sparserec.solvers import fista, iht, ista, lasso_duality_gap

from _helpers import forbid_host_sync

SOLVERS = {"ista": ista, "fista": fista}


def _problem(seed, m=30, n=60, L=None, complex_=False, k=4, noise=0.05):
    rng = np.random.default_rng(seed)
    shape = (m, n)
    A = rng.standard_normal(shape)
    if complex_:
        A = A + 1j * rng.standard_normal(shape)
    cols = (n,) if L is None else (n, L)
    x = np.zeros(cols, dtype=A.dtype)
    x[:k] = rng.standard_normal((k,) + cols[1:])
    y = A @ x
    y = y + noise * (rng.standard_normal(y.shape) + (1j * rng.standard_normal(y.shape) if complex_ else 0))
    return A, y


def _lasso_objective(A, y, x, alpha):
    m = A.shape[0]
    r = y - A @ x
    return np.sum(np.abs(r) ** 2, axis=0) / (2 * m) + alpha * np.sum(np.abs(x), axis=0)


def _cvxpy_lasso(A, y, alpha):
    m, n = A.shape
    x = cp.Variable(n, complex=np.iscomplexobj(A) or np.iscomplexobj(y))
    obj = cp.sum_squares(y - A @ x) / (2 * m) + alpha * cp.norm1(x)
    cp.Problem(cp.Minimize(obj)).solve(solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11,
                                       tol_feas=1e-11, max_iter=500)
    return obj.value


@pytest.mark.parametrize("name", ["ista", "fista"])
@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("L", [None, 3], ids=["1d", "batch"])
def test_objective_matches_cvxpy(name, complex_, L):
    alpha = 0.05
    A, y = _problem(10 + (L or 0), complex_=complex_, L=L)
    res = SOLVERS[name](A, y, lam=alpha * A.shape[0], tol=1e-13, max_iter=200_000)
    assert np.all(res.converged)
    ours = np.atleast_1d(_lasso_objective(A, y, res.x, alpha))
    cols = [y] if L is None else [y[:, j] for j in range(L)]
    ref = np.array([_cvxpy_lasso(A, c, alpha) for c in cols])
    np.testing.assert_allclose(ours, ref, rtol=1e-7)


@pytest.mark.parametrize("est", [ISTA, FISTA])
@pytest.mark.parametrize("L", [None, 4, 24], ids=["1d", "batch", "batch-numba"])
def test_coefficients_match_sklearn_lasso(est, L):
    A, y = _problem(3, m=40, n=80, L=L)
    alpha = 0.02
    ours = est(alpha=alpha, tol=1e-13, max_iter=300_000).fit(A, y)
    ref = Lasso(alpha=alpha, fit_intercept=False, tol=1e-13, max_iter=1_000_000).fit(A, y)
    assert ours.coef_.shape == ref.coef_.shape
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-9, rtol=0)
    np.testing.assert_allclose(ours.predict(A), ref.predict(A), atol=1e-9)


@pytest.mark.parametrize("est", [ISTA, FISTA])
def test_stack_matches_a_loop_of_sklearn_lasso(est):
    rng = np.random.default_rng(21)
    As = rng.standard_normal((10, 30, 50))
    Ys = np.einsum("bmn,bn->bm", As[:, :, :5], rng.standard_normal((10, 5))) \
        + 0.05 * rng.standard_normal((10, 30))
    ours = est(alpha=0.02, tol=1e-13, max_iter=300_000).fit(As, Ys)
    assert ours.coef_.shape == (10, 50)
    for b in range(10):
        ref = Lasso(alpha=0.02, fit_intercept=False, tol=1e-13, max_iter=1_000_000).fit(As[b], Ys[b])
        np.testing.assert_allclose(ours.coef_[b], ref.coef_, atol=1e-9, rtol=0)
    np.testing.assert_allclose(ours.predict(As), np.einsum("bmn,bn->bm", As, ours.coef_))


def test_duality_gap_is_zero_at_the_optimum_and_positive_elsewhere():
    A, y = _problem(4, complex_=True)
    lam = 2.0
    res = fista(A, y, lam=lam, tol=1e-14, max_iter=100_000)
    gap_opt, primal = lasso_duality_gap(A, y, res.x, lam)
    assert gap_opt.shape == () and abs(float(gap_opt)) <= 1e-10 * float(primal)
    np.testing.assert_allclose(primal, 0.5 * np.sum(np.abs(y - A @ res.x) ** 2)
                               + lam * np.sum(np.abs(res.x)))
    gap_zero, _ = lasso_duality_gap(A, y, np.zeros(A.shape[1]), lam)
    assert float(gap_zero) > 1e-3
    # a stack of problems: one gap per problem
    As, Ys = np.stack([A, A]), np.stack([y, 2 * y])
    gaps, _ = lasso_duality_gap(As, Ys, np.zeros((2, A.shape[1])), lam)
    assert gaps.shape == (2,) and gaps[1] > gaps[0] > 0


def test_alpha_above_alpha_max_gives_zero_in_zero_iterations():
    A, y = _problem(5)
    alpha_max = np.max(np.abs(A.T @ y)) / A.shape[0]
    est = FISTA(alpha=1.01 * alpha_max).fit(A, y)
    assert est.n_iter_ == 0 and not np.any(est.coef_)


def test_restart_speeds_up_fista():
    A, y = _problem(6, m=80, n=100, k=6, noise=0.01)
    lam = 0.001 * 80
    plain = fista(A, y, lam=lam, tol=1e-12, restart=False, max_iter=100_000)
    restarted = fista(A, y, lam=lam, tol=1e-12, restart=True, max_iter=100_000)
    slow = ista(A, y, lam=lam, tol=1e-12, max_iter=1_000_000)
    np.testing.assert_allclose(restarted.x, plain.x, atol=1e-8)
    assert restarted.n_iter < plain.n_iter < slow.n_iter


@pytest.mark.parametrize("name", ["ista", "fista", "iht"])
@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_batch_and_stack_equal_the_per_problem_loop(name, complex_):
    rng = np.random.default_rng(7)
    B, m, n, L = 3, 25, 50, 2
    As = rng.standard_normal((B, m, n)) + (1j * rng.standard_normal((B, m, n)) if complex_ else 0)
    Ys = rng.standard_normal((B, m, L)) + (1j * rng.standard_normal((B, m, L)) if complex_ else 0)
    kw = {"k": 5} if name == "iht" else {"lam": 1.5}
    solve = {"ista": ista, "fista": fista, "iht": iht}[name]
    kw.update(tol=1e-12, max_iter=100_000)
    stacked = solve(As, Ys, **kw)
    stacked_1d = solve(As, Ys[:, :, 0], **kw)
    assert stacked.x.shape == (B, n, L) and stacked.n_iter.shape == (B, L)
    assert stacked.converged.all()
    for b in range(B):
        batch = solve(As[b], Ys[b], **kw)
        np.testing.assert_allclose(stacked.x[b], batch.x, atol=1e-10, rtol=0)
        for j in range(L):
            single = solve(As[b], Ys[b, :, j], **kw)
            np.testing.assert_allclose(batch.x[:, j], single.x, atol=1e-10, rtol=0)
            if name == "iht":  # fixed step: the very same iterates, whatever the batch
                assert batch.n_iter[j] == single.n_iter == stacked.n_iter[b, j]
        np.testing.assert_allclose(stacked_1d.x[b], solve(As[b], Ys[b, :, 0], **kw).x,
                                   atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", ["ista", "fista", "iht"])
@pytest.mark.parametrize("stacked", [False, True], ids=["shared", "stacked"])
@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_array_api_strict_equals_numpy(name, stacked, complex_):
    rng = np.random.default_rng(8)
    shape = (2, 20, 40) if stacked else (20, 40)
    A = rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if complex_ else 0)
    Y = rng.standard_normal(shape[:-1] + (3,)) + (1j * rng.standard_normal(shape[:-1] + (3,)) if complex_ else 0)
    solve = {"ista": ista, "fista": fista, "iht": iht}[name]
    kw = {"k": 4} if name == "iht" else {"lam": 1.0}
    kw.update(tol=1e-10, max_iter=20_000)
    ref = solve(A, Y, **kw)
    out = solve(xps.asarray(A), xps.asarray(Y), **kw)
    assert isinstance(out.x, type(xps.asarray(0.0)))
    np.testing.assert_allclose(np.from_dlpack(out.x), ref.x, atol=1e-12, rtol=0)
    np.testing.assert_array_equal(out.n_iter, ref.n_iter)


def test_kron_operator_equals_explicit_matrix():
    rng = np.random.default_rng(9)
    A1, A2 = rng.standard_normal((6, 10)), rng.standard_normal((5, 8))
    x = np.zeros(80)
    x[[3, 17, 50]] = [1.0, -2.0, 0.5]
    y = np.kron(A1, A2) @ x + 0.01 * rng.standard_normal(30)
    a = FISTA(alpha=0.01, tol=1e-12, max_iter=100_000).fit(Kron(A1, A2), y)
    b = FISTA(alpha=0.01, tol=1e-12, max_iter=100_000).fit(np.kron(A1, A2), y)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-9)


@pytest.mark.parametrize("normalized", [True, False], ids=["niht", "iht"])
def test_iht_recovers_exact_support(normalized):
    """m=128, n=256, k=10 noiseless Gaussian problems: well inside the recovery region."""
    from sparserec import simulate
    hits = 0
    for seed in range(20):
        prob = simulate.gaussian_cs(128, 256, 10, random_state=seed)
        est = IHT(10, normalized=normalized, tol=1e-10, max_iter=5000).fit(prob.A, prob.y)
        hits += np.array_equal(est.coef_ != 0, prob.support)
    # NIHT (the default) must get every seed; the fixed 1/||A||^2 step is weaker
    assert hits == 20 if normalized else hits >= 15


def test_iht_with_l0_penalty_finds_the_least_squares_fit_on_the_true_support():
    rng = np.random.default_rng(11)
    A = rng.standard_normal((60, 100))
    x = np.zeros(100)
    x[:3] = [2.0, -1.5, 1.0]
    y = A @ x + 0.01 * rng.standard_normal(60)
    res = iht(A, y, lam=2.0, tol=1e-12, max_iter=20_000)
    assert np.all(res.converged)
    assert set(np.flatnonzero(res.x)) == {0, 1, 2}
    # a fixed point of IHT is the least-squares fit on its support
    np.testing.assert_allclose(res.x[:3], np.linalg.lstsq(A[:, :3], y, rcond=None)[0], atol=1e-9)


def test_iht_default_sparsity_is_a_tenth_of_n():
    A, y = _problem(12, m=40, n=50)
    assert np.count_nonzero(IHT().fit(A, y).coef_) == 5


def test_max_iter_reached_warns():
    A, y = _problem(13)
    with pytest.warns(ConvergenceWarning, match="did not converge for 1 of 1"):
        est = FISTA(alpha=1e-3, tol=1e-14, max_iter=5).fit(A, y)
    assert est.n_iter_ == 5 and est.converged_ is False


@pytest.mark.parametrize("est", [ISTA(), FISTA(), IHT(3), IHT(alpha=0.1), OMP(3)], ids=repr)
@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_zero_measurements_give_zero_without_warnings(est, complex_):
    A, _ = _problem(14, complex_=complex_)
    y = np.zeros(A.shape[0], dtype=A.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.fit(A, y)
    assert est.coef_.shape == (A.shape[1],) and not np.any(est.coef_)


def test_warm_start_from_the_solution_stops_at_once():
    A, y = _problem(15, L=2)
    first = fista(A, y, lam=1.0, tol=1e-10, max_iter=50_000)
    again = fista(A, y, lam=1.0, tol=1e-10, max_iter=50_000, x0=first.x)
    assert np.all(again.n_iter == 0)
    with pytest.raises(ValueError, match="x0 must have shape"):
        fista(A, y, lam=1.0, x0=first.x[:, 0])


def test_complex_recovery_with_fista():
    from sparserec import metrics, simulate
    prob = simulate.gaussian_cs(100, 256, 10, complex=True, snr_db=30, random_state=0)
    est = FISTA(alpha=1e-4, tol=1e-8).fit(prob.A, prob.y)
    assert np.iscomplexobj(est.coef_)
    assert metrics.nmse_db(prob.x, est.coef_) < -25


def _numba_layout_problem(layout, complex_, seed=16):
    rng = np.random.default_rng(seed)
    m, n = 20, 40
    shape = {"gram": (m, n), "shared-few": (m, n), "stacked": (4, m, n)}[layout]
    ycols = {"gram": (m, 20), "shared-few": (m, 8), "stacked": (4, m, 2)}[layout]
    cplx = (lambda s: 1j * rng.standard_normal(s)) if complex_ else (lambda s: 0)
    A = rng.standard_normal(shape) + cplx(shape)
    A[..., 3] *= 30.0          # one badly scaled column: the metric matters
    Y = rng.standard_normal(ycols) + cplx(ycols)
    x0 = 0.1 * (rng.standard_normal(shape[:-2] + (n, ycols[-1])) + cplx(shape[:-2] + (n, ycols[-1])))
    return A, Y, x0


def _both_paths(monkeypatch, solve, A, Y, **kw):
    import sparserec.solvers.proximal as proximal
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fast = solve(A, Y, **kw)
        monkeypatch.setattr(proximal, "_USE_NUMBA", False)
        slow = solve(A, Y, **kw)
        monkeypatch.setattr(proximal, "_USE_NUMBA", True)
    return fast, slow


@pytest.mark.parametrize("name", ["ista", "fista", "fista-norestart"])
@pytest.mark.parametrize("layout", ["gram", "shared-few", "stacked"])
@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("warm", [False, True], ids=["cold", "x0"])
def test_numba_path_equals_array_api_path_iteration_by_iteration(monkeypatch, name, layout,
                                                                  complex_, warm):
    """The Numba kernels (Gram / in-cache) run the very iteration of the array-API loop:
    after every number of iterations 1..30 the iterates and iteration counts agree."""
    import sparserec.solvers.proximal as proximal
    A, Y, x0 = _numba_layout_problem(layout, complex_)
    solve, kw = SOLVERS[name.split("-")[0]], dict(lam=1.0, tol=1e-13, check_every=7)
    if name == "fista-norestart":
        kw["restart"] = False
    if warm:
        kw["x0"] = x0
    assert proximal._L1ProximalGradient(1.0, True, True, None).fast_path(
        proximal.check_problem(A, Y), max_iter=1, tol=0.0, check_every=1) is not None
    for max_iter in range(1, 31):
        fast, slow = _both_paths(monkeypatch, solve, A, Y, max_iter=max_iter, **kw)
        np.testing.assert_allclose(fast.x, slow.x, atol=1e-11, rtol=0, err_msg=f"{max_iter=}")
        np.testing.assert_array_equal(fast.n_iter, slow.n_iter)
    np.testing.assert_allclose(fast.history, slow.history, rtol=1e-8)
    if not complex_:
        # the test can fail: restarts and the warm start change the first 30 iterates
        # here, so a kernel that ignored either would disagree with the array-API path
        other = dict(kw, max_iter=30)
        if name == "fista":
            other["restart"] = False
        elif warm:
            other.pop("x0")
        else:
            other["x0"] = x0
        _, changed = _both_paths(monkeypatch, solve, A, Y, **other)
        assert np.max(np.abs(changed.x - fast.x)) > 1e-6


@pytest.mark.parametrize("name", ["ista", "fista"])
@pytest.mark.parametrize("layout", ["gram", "shared-few", "stacked"])
def test_numba_path_solution_equals_array_api_path(monkeypatch, name, layout):
    A, Y, _ = _numba_layout_problem(layout, True)
    fast, slow = _both_paths(monkeypatch, SOLVERS[name], A, Y, lam=1.0, tol=1e-12,
                             max_iter=100_000)
    assert fast.converged.all() and slow.converged.all()
    np.testing.assert_allclose(fast.x, slow.x, atol=1e-9, rtol=0)


def test_numba_history_memory_grows_with_the_checks_made():
    """max_iter=10**7 with a check every iteration: memory and time of ~30 iterations."""
    import tracemalloc
    A, Y, _ = _numba_layout_problem("gram", False)
    fista(A, Y, lam=1.0, tol=1e-6, max_iter=10_000)   # load the kernels
    tracemalloc.start()
    res = fista(A, Y, lam=1.0, tol=1e-6, max_iter=10**7, check_every=1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert res.converged.all() and res.n_iter.max() < 1000
    assert peak < 1 << 22      # 4 MiB; a history sized by max_iter would need 1.6 GB
    assert res.history.shape == (res.n_iter.max() + 1, 2)


def test_non_finite_iterates_raise_a_clear_error():
    from scipy.sparse.linalg import LinearOperator
    rng = np.random.default_rng(30)
    M = rng.standard_normal((20, 30))
    calls = {"n": 0}

    def matvec(v):
        calls["n"] += 1
        out = M @ v
        return out * np.nan if calls["n"] > 5 else out

    op = LinearOperator((20, 30), matvec=matvec, rmatvec=lambda r: M.T @ r, dtype=float)
    with pytest.raises(ValueError, match="became non-finite"):
        fista(op, rng.standard_normal(20), lam=0.1, tol=1e-12, max_iter=1000)
    # the Numba path: measurements whose squares overflow
    with pytest.raises(ValueError, match="became non-finite"):
        fista(M, 1e160 * rng.standard_normal((20, 10)), lam=1.0, tol=1e-12)
    with pytest.raises(ValueError, match="overflow"):
        fista(np.full((20, 30), 1e200), np.ones((20, 10)), lam=1.0, tol=1e-12)


def test_columns_scaled_by_1e6_are_solved_like_scikit_learn():
    """Diagonal preconditioning: the l1 solvers are invariant to column scaling."""
    rng = np.random.default_rng(31)
    A = rng.standard_normal((50, 100))
    x = np.zeros(100)
    x[[2, 7, 40]] = [1.0, -2.0, 1.5]
    y = A @ x + 0.01 * rng.standard_normal(50)
    scale = np.ones(100)
    scale[[2, 11, 60]] = [1e6, 1e-4, 1e3]
    As = A * scale
    alpha = 0.01
    ref = Lasso(alpha=alpha, fit_intercept=False, tol=1e-13, max_iter=100_000).fit(As, y)
    f_ref = _lasso_objective(As, y, ref.coef_, alpha)
    for est in (FISTA, ISTA):
        ours = est(alpha=alpha, tol=1e-13, max_iter=100_000).fit(As, y)
        assert ours.converged_
        assert _lasso_objective(As, y, ours.coef_, alpha) <= f_ref * (1 + 1e-10)
        np.testing.assert_allclose(ours.coef_ * scale, ref.coef_ * scale, atol=1e-7, rtol=0)
    # and the iteration count does not depend on the scaling
    plain = FISTA(alpha=alpha, tol=1e-10).fit(A, y)
    scaled = FISTA(alpha=alpha, tol=1e-10).fit(As, y)
    assert abs(int(plain.n_iter_) - int(scaled.n_iter_)) <= 0.2 * int(plain.n_iter_)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["ista", "fista", "iht"])
@pytest.mark.parametrize("stacked", [False, True], ids=["shared", "stacked"])
def test_cupy_equals_numpy(cupy, name, stacked):
    """The GPU path: CuPy arrays in, CuPy arrays out, same numbers as NumPy."""
    rng = np.random.default_rng(17)
    shape = (4, 30, 60) if stacked else (30, 60)
    A = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    Y = rng.standard_normal(shape[:-1] + (5,)) + 1j * rng.standard_normal(shape[:-1] + (5,))
    solve = {"ista": ista, "fista": fista, "iht": iht}[name]
    kw = {"k": 4} if name == "iht" else {"lam": 1.0}
    kw.update(tol=1e-12, max_iter=50_000)
    ref = solve(A, Y, **kw)
    out = solve(cupy.asarray(A), cupy.asarray(Y), **kw)
    assert isinstance(out.x, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(out.x), ref.x, atol=1e-9, rtol=0)


@pytest.mark.parametrize("est", [ISTA, FISTA], ids=lambda c: c.__name__)
@pytest.mark.parametrize("L", [3, 12], ids=["array-api", "numba"])
def test_warm_start_follows_a_regularisation_path(est, L):
    A, y = _problem(18, m=40, n=80, L=L)
    alphas = [0.1, 0.05, 0.02, 0.01]
    cold = [est(alpha=a, tol=1e-13, max_iter=200_000).fit(A, y) for a in alphas]
    warm_model = est(tol=1e-13, max_iter=200_000, warm_start=True)
    warm_coef, warm_iter = [], []
    for a in alphas:
        warm_model.set_params(alpha=a).fit(A, y)
        warm_coef.append(warm_model.coef_.copy())
        warm_iter.append(warm_model.n_iter_.copy())
    for c, w in zip(cold, warm_coef):
        np.testing.assert_allclose(w, c.coef_, atol=1e-9, rtol=0)
    # the first fit starts from zero like the cold one; later ones start nearer
    np.testing.assert_array_equal(warm_iter[0], cold[0].n_iter_)
    for c, w in zip(cold[1:], warm_iter[1:]):
        assert w.sum() < c.n_iter_.sum()
    # refitting at the solution costs nothing
    assert np.all(warm_model.fit(A, y).n_iter_ == 0)
    # a different number of targets cannot warm-start: it starts from zero
    single = warm_model.fit(A, y[:, 0])
    assert single.coef_.shape == (80,)
    assert single.n_iter_ == est(alpha=0.01, tol=1e-13, max_iter=200_000).fit(A, y[:, 0]).n_iter_
    # nor can a complex solution start a real problem
    Ac = A + 1j * np.random.default_rng(19).standard_normal(A.shape)
    warm_model.fit(Ac, Ac @ np.eye(80)[:, :3].sum(1))
    assert warm_model.fit(A, y[:, 0]).coef_.dtype == np.float64


@pytest.mark.parametrize("name, kw", [("ista", {"lam": 1.0}), ("fista", {"lam": 1.0}),
                                      ("iht", {"k": 4}), ("niht", {"k": 4})])
@pytest.mark.parametrize("stacked", [False, True], ids=["shared", "stacked"])
def test_iterations_never_wait_for_the_host(monkeypatch, name, kw, stacked):
    """Between two checks a GPU runs the steps back to back: step() converts no array
    to a Python scalar or a host array (array_api_strict's conversions are made to raise)."""
    import sparserec.solvers.proximal as proximal
    from sparserec._validation import check_problem
    from sparserec.solvers._engine import Batch
    rng = np.random.default_rng(40)
    shape = (3, 20, 40) if stacked else (20, 40)
    A = xps.asarray(rng.standard_normal(shape))
    Y = xps.asarray(rng.standard_normal(shape[:-1] + (2,)))
    batch = Batch(check_problem(A, Y))
    algo = proximal._HardThresholding(kw["k"], None, name == "niht", None) if "k" in kw \
        else proximal._L1ProximalGradient(kw["lam"], name == "fista", True, None)
    state = algo.init(batch.op, batch.Y)
    forbid_host_sync(monkeypatch, type(A))
    backtracks = []
    for it in range(25):
        state = algo.step(batch.op, batch.Y, state, it)
        backtracks.append(state.get("nback"))
    monkeypatch.undo()
    assert bool(xps.all(xps.isfinite(state["x"])))
    if name in ("ista", "fista", "niht"):   # rejected trials were among those steps
        assert any(bool(xps.any(b > 0)) for b in backtracks)


def test_float32_defaults_run_without_tolerance_warnings():
    rng = np.random.default_rng(41)
    A = rng.standard_normal((40, 80)).astype(np.float32)
    y = (A[:, :3] @ np.array([1.0, -2.0, 1.5], dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for est in (IHT(3), FISTA(alpha=0.01), ISTA(alpha=0.01)):
            assert est.fit(A, y).coef_.dtype == np.float32
    with pytest.warns(UserWarning, match="tol=1e-08 is below what float32"):
        FISTA(alpha=0.01, tol=1e-8).fit(A, y)


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_single_precision_runs_the_numba_path_in_single_precision(monkeypatch, dtype):
    """float32/complex64 stay on the fast path end to end, and reach the float64 answer
    to single precision."""
    import sparserec.solvers._l1_numba as l1_numba
    calls = []
    original = l1_numba.solve_l1_numba
    monkeypatch.setattr(l1_numba, "solve_l1_numba",
                        lambda op, Y, *a, **k: calls.append(Y.dtype) or original(op, Y, *a, **k))
    rng = np.random.default_rng(41)
    A = rng.standard_normal((40, 100)) + (1j * rng.standard_normal((40, 100))
                                          if dtype == np.complex64 else 0)
    Y = A[:, :4] @ rng.standard_normal((4, 12)) + 0.01 * rng.standard_normal((40, 12))
    res32 = fista(A.astype(dtype), Y.astype(dtype), lam=0.5, tol=1e-5, max_iter=20_000)
    res64 = fista(A, Y, lam=0.5, tol=1e-12, max_iter=20_000)
    assert calls[0] == np.dtype(dtype) and res32.x.dtype == dtype
    np.testing.assert_allclose(res32.x, res64.x, atol=2e-3 * np.abs(res64.x).max())


def test_dispatch_sends_large_shared_matrices_to_the_batched_path(monkeypatch):
    """The cost model: per-problem kernels for stacks and small shared matrices, batched
    GEMMs beyond _NUMBA_MAX_SHARED_BYTES (benchmarks/bench_first_order.py (c) times both)."""
    import sparserec.solvers._l1_numba as l1_numba
    import sparserec.solvers.proximal as proximal
    calls = []
    original = l1_numba.solve_l1_numba
    monkeypatch.setattr(l1_numba, "solve_l1_numba",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    rng = np.random.default_rng(42)
    A, Y = rng.standard_normal((30, 60)), rng.standard_normal((30, 10))
    fista(A, Y, lam=1.0)
    assert calls == [1]
    monkeypatch.setattr(proximal, "_NUMBA_MAX_SHARED_BYTES", A.nbytes - 1)
    fista(A, Y, lam=1.0)
    assert calls == [1]
    fista(np.stack([A, A]), np.stack([Y, Y]), lam=1.0)      # stacks always take the kernel
    assert calls == [1, 1]
