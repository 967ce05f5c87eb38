"""Classic sparse Bayesian learning (EM-SBL), M-SBL and PC-SBL: ``sparserec.solvers.sbl``."""
import importlib
import pickle
import warnings

import array_api_strict as xps
import numpy as np
import pytest
from sklearn.base import clone

from sparserec import SBL, ConvergenceWarning
from sparserec.solvers import pattern_coupled_sbl, sbl

from _helpers import forbid_host_sync, quiet, random_array

sbl_module = importlib.import_module("sparserec.solvers.sbl")


def _dense_posterior(A, gamma, s, y):
    """The textbook posterior, with explicit inverses: Sigma = (A^H A / s + Gamma^-1)^-1."""
    Sigma = np.linalg.inv(A.conj().T @ A / s + np.diag(1.0 / gamma))
    mu = Sigma @ A.conj().T @ y / s
    Sy = s * np.eye(A.shape[0]) + (A * gamma) @ A.conj().T
    logdet = np.linalg.slogdet(Sy)[1]
    quad = np.real(y.conj() @ np.linalg.solve(Sy, y))
    return mu, np.real(np.diag(Sigma)), logdet, quad


def _reference_em(A, y, gamma, s, n_iter, learn_noise):
    """A plain EM-SBL loop (no pruning) from the textbook formulas."""
    m = A.shape[0]
    for _ in range(n_iter):
        mu, var, _, _ = _dense_posterior(A, gamma, s, y)
        if learn_noise:
            s = (np.sum(np.abs(y - A @ mu) ** 2) + s * np.sum(1 - var / gamma)) / m
        gamma = np.abs(mu) ** 2 + var
    return gamma, s


@pytest.mark.parametrize("shape", [(15, 30), (30, 12)], ids=["wide-woodbury", "tall-nxn"])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_posterior_equals_the_dense_formula(shape, dtype):
    rng = np.random.default_rng(0)
    A = random_array(rng, shape, dtype)
    y = random_array(rng, shape[0], dtype)
    gamma = rng.uniform(0.1, 3.0, shape[1])
    mu, var, explained, logdet, quad = sbl_module._posterior(
        np, A, gamma[None], np.array([0.3]), y[None, :, None])
    ref_mu, ref_var, ref_logdet, ref_quad = _dense_posterior(A, gamma, 0.3, y)
    np.testing.assert_allclose(mu[0, :, 0], ref_mu, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(var[0], ref_var, rtol=1e-10)
    np.testing.assert_allclose(explained[0], np.sum(1 - ref_var / gamma), rtol=1e-10)
    np.testing.assert_allclose([logdet[0], quad[0]], [ref_logdet, ref_quad], rtol=1e-10)


@pytest.mark.parametrize("shape", [(30, 60), (80, 60)], ids=["wide-woodbury", "tall-nxn"])
@pytest.mark.parametrize("coupled", [False, True], ids=["sbl", "pc-sbl"])
def test_a_real_matrix_with_complex_measurements_keeps_the_imaginary_part(shape, coupled):
    rng = np.random.default_rng(5)
    A = rng.standard_normal(shape)
    x = np.zeros(shape[1], complex)
    x[[3, 17, 40]] = [1 + 2j, -1j, 0.5 - 1j]
    y = A @ x + 0.01 * random_array(rng, shape[0], np.complex128)
    solve = (lambda A_: quiet(pattern_coupled_sbl, A_, y, noise_var=1e-4)) if coupled else \
        (lambda A_: quiet(sbl, A_, y, noise_var=1e-4))
    real_A, complex_A = solve(A), solve(A.astype(complex))
    np.testing.assert_allclose(real_A.x, complex_A.x, rtol=1e-10, atol=1e-12)
    assert np.linalg.norm(real_A.x - x) < 0.05 * np.linalg.norm(x)


@pytest.mark.parametrize("learn_noise", [False, True], ids=["known", "learned"])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_iterates_equal_a_textbook_em_loop(learn_noise, dtype):
    rng = np.random.default_rng(1)
    A = random_array(rng, (20, 45), dtype)
    x = np.zeros(45, dtype)
    x[[4, 20, 33]] = [1.0, -2.0, 0.7]
    y = A @ x + 0.05 * random_array(rng, 20, dtype)
    s0 = 0.1 * np.var(y) if learn_noise else 0.01
    for n_iter in (1, 2, 7):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = sbl(A, y, noise_var=None if learn_noise else 0.01, prune=0.0, max_iter=n_iter,
                      tol=0.0, gamma_init=1.0)
        gamma, s = _reference_em(A, y, np.ones(45), s0, n_iter, learn_noise)
        np.testing.assert_allclose(res.extras["gamma"], gamma, rtol=1e-8)
        np.testing.assert_allclose(res.extras["noise_var"], s, rtol=1e-10)
        np.testing.assert_allclose(res.x, _dense_posterior(A, gamma, s, y)[0], rtol=1e-7,
                                   atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_mackay_iterates_equal_a_textbook_loop(dtype):
    """update="mackay": Tipping's gamma = |mu|^2 / (1 - Sigma_jj / gamma_j), known noise."""
    rng = np.random.default_rng(21)
    A = random_array(rng, (20, 45), dtype)
    x = np.zeros(45, dtype)
    x[[4, 20, 33]] = [1.0, -2.0, 0.7]
    y = A @ x + 0.05 * random_array(rng, 20, dtype)
    for n_iter in (1, 2, 5):
        res = quiet(sbl, A, y, noise_var=0.01, prune=0.0, max_iter=n_iter, tol=0.0,
                    gamma_init=1.0, update="mackay")
        gamma = np.ones(45)
        for _ in range(n_iter):
            mu, var, _, _ = _dense_posterior(A, gamma, 0.01, y)
            gamma = np.abs(mu) ** 2 / (1 - var / gamma)
        np.testing.assert_allclose(res.extras["gamma"], gamma, rtol=1e-7,
                                   atol=1e-12 * gamma.max())    # some fall to ~1e-20 fast
    em = quiet(sbl, A, y, noise_var=0.01, prune=0.0, max_iter=2, tol=0.0, gamma_init=1.0)
    assert not np.allclose(em.extras["gamma"], quiet(
        sbl, A, y, noise_var=0.01, prune=0.0, max_iter=2, tol=0.0, gamma_init=1.0,
        update="mackay").extras["gamma"])


def test_mackay_needs_fewer_iterations_than_em():
    """The point of the option (benchmarks/bench_sbl.py part b): it prunes sooner."""
    its = {"em": [], "mackay": []}
    for seed in range(3):
        rng = np.random.default_rng(seed)
        A = rng.standard_normal((100, 1000))
        x = np.zeros(1000)
        x[rng.choice(1000, 10, replace=False)] = rng.standard_normal(10)
        y = A @ x + 0.1 * np.std(A @ x) * rng.standard_normal(100)
        for update in its:
            its[update].append(int(sbl(A, y, update=update).n_iter))
    assert np.mean(its["mackay"]) < 0.8 * np.mean(its["em"])


@pytest.mark.parametrize("learn_noise", [False, True], ids=["known", "learned"])
def test_em_cost_never_increases(learn_noise):
    rng = np.random.default_rng(2)
    A = rng.standard_normal((30, 80))
    x = np.zeros(80)
    x[rng.choice(80, 6, replace=False)] = rng.standard_normal(6)
    y = A @ x + 0.1 * rng.standard_normal(30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = sbl(A, y, noise_var=None if learn_noise else 0.01, prune=0.0, max_iter=200, tol=0)
    cost = res.extras["cost_curve"]
    assert cost.shape == (201,) and np.isfinite(cost).all()
    assert np.all(np.diff(cost) <= 1e-9 * np.abs(cost[1:]))
    assert cost[-1] < cost[0] - 10                 # it really moved


def test_columns_and_stacks_are_solved_like_single_problems():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((25, 60))
    X = np.zeros((60, 3))
    for j in range(3):
        X[rng.choice(60, 4, replace=False), j] = rng.standard_normal(4)
    Y = A @ X + 0.01 * rng.standard_normal((25, 3))
    batch = sbl(A, Y, noise_var=1e-4)
    stack = sbl(np.stack([A] * 3), Y.T, noise_var=1e-4)
    for j in range(3):
        single = sbl(A, Y[:, j], noise_var=1e-4)
        np.testing.assert_allclose(batch.x[:, j], single.x, atol=1e-10)
        np.testing.assert_allclose(stack.x[j], single.x, atol=1e-10)
        assert batch.n_iter[j] == single.n_iter == stack.n_iter[j]
        np.testing.assert_allclose(batch.extras["gamma"][j], single.extras["gamma"], atol=1e-10)


def test_dropping_pruned_columns_does_not_change_the_answer(monkeypatch):
    rng = np.random.default_rng(4)
    A = rng.standard_normal((30, 90))
    x = np.zeros(90)
    x[[5, 50, 77]] = [1.0, 2.0, -1.0]
    Y = np.stack([A @ x, A @ np.roll(x, 3)], 1) + 0.01 * rng.standard_normal((30, 2))
    calls = []
    original = sbl_module._EMSBL.refresh
    monkeypatch.setattr(sbl_module._EMSBL, "refresh",
                        lambda self, op, Y, st: calls.append(st["A"].shape[-1]) or
                        original(self, op, Y, st))
    compacted = sbl(A, Y, noise_var=1e-4)
    assert min(calls) < 90                            # columns were dropped
    monkeypatch.setattr(sbl_module, "_COMPACT_SHARE", 0.0)
    full = sbl(A, Y, noise_var=1e-4)
    np.testing.assert_allclose(compacted.x, full.x, atol=1e-10)
    np.testing.assert_array_equal(compacted.n_iter, full.n_iter)


def test_joint_sparsity_equals_a_textbook_msbl_loop_and_helps():
    rng = np.random.default_rng(5)
    m, n, L = 20, 60, 5
    A = rng.standard_normal((m, n))
    X = np.zeros((n, L))
    X[rng.choice(n, 12, replace=False)] = rng.standard_normal((12, L))
    Y = A @ X + 0.05 * rng.standard_normal((m, L))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = sbl(A, Y, noise_var=2.5e-3, joint=True, prune=0.0, max_iter=4, tol=0, gamma_init=1.0)
    gamma = np.ones(n)
    for _ in range(4):
        post = [_dense_posterior(A, gamma, 2.5e-3, Y[:, l]) for l in range(L)]
        gamma = np.mean([np.abs(p[0]) ** 2 for p in post], axis=0) + post[0][1]
    np.testing.assert_allclose(res.extras["gamma"], np.broadcast_to(gamma, (L, n)), rtol=1e-8)
    joint = sbl(A, Y, noise_var=2.5e-3, joint=True)
    apart = sbl(A, Y, noise_var=2.5e-3)
    err = [np.linalg.norm(r.x - X) / np.linalg.norm(X) for r in (joint, apart)]
    assert err[0] < 0.1 < err[1]                     # 12 atoms of 20 rows: only jointly


def test_recovers_a_sparse_vector_better_than_ard_regression():
    from sklearn.linear_model import ARDRegression
    rng = np.random.default_rng(6)
    A = rng.standard_normal((60, 200))
    x = np.zeros(200)
    x[rng.choice(200, 10, replace=False)] = rng.standard_normal(10) * 2
    y = A @ x + 0.1 * rng.standard_normal(60)
    ours = SBL().fit(A, y)
    ard = ARDRegression(fit_intercept=False).fit(A, y)
    err_ours = np.linalg.norm(ours.coef_ - x) / np.linalg.norm(x)
    err_ard = np.linalg.norm(ard.coef_ - x) / np.linalg.norm(x)
    assert err_ours < 0.05 and err_ours <= err_ard
    np.testing.assert_array_equal(np.abs(ours.coef_) > 0.05, x != 0)
    assert 0.003 < ours.noise_var_ < 0.03                 # true 0.01


def test_pattern_coupling_helps_on_block_sparse_signals():
    rng = np.random.default_rng(7)
    wins = []
    for _ in range(8):
        A = rng.standard_normal((30, 100))
        x = np.zeros(100)
        for start in rng.choice(np.arange(0, 90, 12), 2, replace=False):
            x[start:start + 6] = rng.standard_normal(6)
        y = A @ x + 0.02 * rng.standard_normal(30)
        errs = [np.linalg.norm(r.x - x) for r in (pattern_coupled_sbl(A, y, beta=0.9, noise_var=4e-4),
                                                  sbl(A, y, noise_var=4e-4))]
        wins.append(errs[0] < errs[1])
    assert np.mean(wins) >= 0.75


def test_pattern_coupled_update_matches_its_formula():
    rng = np.random.default_rng(8)
    A = rng.standard_normal((10, 12))
    y = rng.standard_normal(10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = pattern_coupled_sbl(A, y, beta=0.5, noise_var=0.1, max_iter=1, tol=0)
    mu, var, _, _ = _dense_posterior(A, np.ones(12), 0.1, y)
    d = mu ** 2 + var
    nb = lambda v: np.r_[0, v[:-1]] + np.r_[v[1:], 0]    # noqa: E731
    alpha = 1.0 / (0.5 * (d + 0.5 * nb(d)) + 1e-4)
    alpha[alpha > 1e3 * alpha.min()] = 1e10
    np.testing.assert_allclose(res.extras["gamma"], 1.0 / (alpha + 0.5 * nb(alpha)), rtol=1e-10)


@pytest.mark.parametrize("stacked", [False, True], ids=["shared", "stacked"])
@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_array_api_strict_equals_numpy(stacked, complex_):
    rng = np.random.default_rng(9)
    shape = (2, 15, 30) if stacked else (15, 30)
    dtype = np.complex128 if complex_ else np.float64
    A = random_array(rng, shape, dtype)
    Y = random_array(rng, shape[:-1] + (3,), dtype)
    ref = sbl(A, Y, max_iter=40, tol=1e-6)
    out = sbl(xps.asarray(A), xps.asarray(Y), max_iter=40, tol=1e-6)
    assert isinstance(out.x, type(xps.asarray(0.0)))
    np.testing.assert_allclose(np.from_dlpack(out.x), ref.x, atol=1e-12)
    np.testing.assert_array_equal(out.n_iter, ref.n_iter)


@pytest.mark.parametrize("coupling", [None, 0.5], ids=["sbl", "pc-sbl"])
def test_iterations_never_wait_for_the_host(monkeypatch, coupling):
    from sparserec._validation import check_problem
    from sparserec.solvers._engine import Batch
    rng = np.random.default_rng(10)
    A = xps.asarray(rng.standard_normal((15, 30)))
    Y = xps.asarray(rng.standard_normal((15, 2)))
    batch = Batch(check_problem(A, Y))
    algo = sbl_module._EMSBL(noise_var=None, prune=1e-3, joint=False, coupling=coupling,
                             max_iter=20, gamma_init="auto")
    state = algo.init(batch.op, batch.Y)
    forbid_host_sync(monkeypatch, type(A))
    for it in range(10):
        state = algo.step(batch.op, batch.Y, state, it)
    monkeypatch.undo()
    assert bool(xps.all(xps.isfinite(state["x"])))


@pytest.mark.gpu
def test_cupy_equals_numpy(cupy):
    rng = np.random.default_rng(11)
    A, Y = rng.standard_normal((3, 20, 40)), rng.standard_normal((3, 20))
    ref = sbl(A, Y, noise_var=0.01)
    out = sbl(cupy.asarray(A), cupy.asarray(Y), noise_var=0.01)
    np.testing.assert_allclose(cupy.asnumpy(out.x), ref.x, atol=1e-9)


def test_scale_invariance_of_the_default_start():
    rng = np.random.default_rng(12)
    A = rng.standard_normal((30, 70))
    x = np.zeros(70)
    x[[1, 9, 40, 66]] = [1.0, -1.0, 2.0, 0.5]
    y = A @ x + 0.01 * rng.standard_normal(30)
    base = sbl(A, y).x
    np.testing.assert_allclose(sbl(1e3 * A, 1e-4 * y).x, 1e-7 * base, rtol=1e-6, atol=1e-13)


# -- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"noise_var": 0.0}, "noise_var"), ({"noise_var": -1.0}, "noise_var"),
    ({"noise_var": np.nan}, "noise_var"), ({"prune": 1.5}, "prune"), ({"prune": -0.1}, "prune"),
    ({"gamma_init": 0.0}, "gamma_init"), ({"gamma_init": "big"}, "gamma_init"),
    ({"max_iter": -1}, "max_iter"), ({"tol": -1.0}, "tol"), ({"update": "newton"}, "update")])
def test_bad_hyperparameters_name_the_argument(kwargs, match):
    A, y = np.ones((4, 6)), np.ones(4)
    with pytest.raises(ValueError, match=match):
        sbl(A, y, **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"beta": 0.5, "joint": True}, "joint"), ({"beta": 0.5, "update": "mackay"}, "update"),
    ({"beta": 0.5, "prune": 0.1}, "prune"), ({"beta": 0.5, "gamma_init": 1.0}, "gamma_init"),
    ({"update": "newton"}, "update")])
def test_the_estimator_refuses_settings_that_would_be_ignored(kwargs, match):
    A, y = np.random.default_rng(0).standard_normal((8, 12)), np.ones(8)
    with pytest.raises(ValueError, match=match):
        SBL(**kwargs).fit(A, y)


def test_bad_data_name_the_argument():
    A, y = np.random.default_rng(0).standard_normal((4, 6)), np.ones(4)
    with pytest.raises(ValueError, match="A contains NaN"):
        sbl(np.where(A > 0, np.nan, A), y)
    with pytest.raises(ValueError, match="y"):
        sbl(A, np.array([1.0, np.inf, 0.0, 1.0]))
    with pytest.raises(ValueError, match="y"):
        sbl(A, np.ones(5))
    with pytest.raises(ValueError, match="beta"):
        pattern_coupled_sbl(A, y, beta=1.5)
    with pytest.raises(ValueError, match="joint"):
        sbl(np.stack([A, A]), np.ones((2, 4)), joint=True)


def test_all_zero_measurements_give_zeros_without_warnings():
    A = np.random.default_rng(0).standard_normal((10, 20))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for noise in (None, 0.1):
            res = sbl(A, np.zeros((10, 2)), noise_var=noise)
            assert np.all(res.x == 0) and res.converged.all()
        assert np.all(SBL().fit(A, np.zeros(10)).coef_ == 0)


def test_non_convergence_warns():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((10, 20))
    with pytest.warns(ConvergenceWarning, match="sbl did not converge"):
        sbl(A, rng.standard_normal(10), max_iter=2)


# -- estimator --------------------------------------------------------------------------
def test_estimator_attributes_complex_data_and_pickling():
    rng = np.random.default_rng(13)
    A = random_array(rng, (30, 60), np.complex128)
    x = np.zeros(60, complex)
    x[[2, 30, 45]] = [1 + 1j, -2.0, 1j]
    y = A @ x + 0.01 * random_array(rng, 30, np.complex128)
    est = SBL().fit(A, y)
    assert est.coef_.dtype == np.complex128 and est.gamma_.shape == (60,)
    assert est.cost_curve_.shape == (est.n_iter_ + 1,)
    assert np.linalg.norm(est.coef_ - x) < 0.02 * np.linalg.norm(x)
    assert est.score(A, y) > 0.99
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(A), est.predict(A))
    assert clone(est).get_params() == est.get_params()
    pc = SBL(beta=0.5, noise_var=1e-4).fit(A, y)
    assert pc.coef_.shape == (60,)
    mk = SBL(update="mackay").fit(A, y)                       # the update reaches the solver
    np.testing.assert_array_equal(mk.coef_, sbl(A, y, update="mackay").x)
    started = SBL(gamma_init=1.0, max_iter=2).fit(A, y)       # the start reaches the solver
    direct = quiet(sbl, A, y, gamma_init=1.0, max_iter=2)
    np.testing.assert_array_equal(started.coef_, direct.x)
    assert not np.array_equal(started.coef_, SBL(max_iter=2).fit(A, y).coef_)
