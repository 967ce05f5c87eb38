"""Kronecker-structured SBL (AM, SVD, PC-KroSBL): ``sparserec.solvers.kronecker_sbl``.

References: ``../shared/references/krosbl.md`` §2 (algorithm) and §6 (acceptance).
"""
import importlib
import pickle
import warnings

import array_api_strict as xps
import numpy as np
import pytest
from sklearn.base import clone

from _helpers import forbid_host_sync, quiet, random_array
from sparserec import SBL, ConvergenceWarning, KroneckerSBL, metrics, simulate
from sparserec.operators import Kron
from sparserec.solvers import kronecker_sbl, sbl

kro = importlib.import_module("sparserec.solvers.kronecker_sbl")
sbl_module = importlib.import_module("sparserec.solvers.sbl")


def _kron(*vectors):
    out = vectors[0]
    for v in vectors[1:]:
        out = np.kron(out, v)
    return out


# -- exactness (krosbl.md §6.1) ----------------------------------------------------------
def test_factor_estep_equals_the_dense_estep():
    rng = np.random.default_rng(0)
    shapes = [(3, 5), (4, 4), (5, 6)]
    factors = [random_array(rng, s, np.complex128) for s in shapes]
    gammas = [rng.uniform(0.1, 2.0, (1, s[1])) for s in shapes]
    y = random_array(rng, 60, np.complex128)
    mu, var, logdet, quad, explained = kro.factor_estep(np, factors, gammas, np.array([0.3]),
                                                        y.reshape(1, 3, 4, 5))
    ref = sbl_module._posterior(np, _kron(*factors), _kron(*[g[0] for g in gammas])[None],
                                np.array([0.3]), y[None, :, None])
    np.testing.assert_allclose(mu.ravel(), ref[0].ravel(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(var.ravel(), ref[1].ravel(), rtol=1e-10)
    np.testing.assert_allclose([explained[0], logdet[0], quad[0]],
                               [ref[2][0], ref[3][0], ref[4][0]], rtol=1e-10)


@pytest.mark.parametrize("method", ["svd", "am"])
@pytest.mark.parametrize("learn_noise", [False, True], ids=["known", "learned"])
def test_one_factor_kronecker_sbl_is_classic_sbl(method, learn_noise):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((20, 50))
    x = np.zeros(50)
    x[[3, 17, 41]] = [1.0, -1.5, 0.8]
    y = A @ x + 0.05 * rng.standard_normal(20)
    noise = None if learn_noise else 2.5e-3
    for n_iter in (1, 3, 10, 40):
        ours = quiet(kronecker_sbl, Kron(A), y, method=method, noise_var=noise, prune=1e-3,
                      max_iter=n_iter, tol=0)
        ref = quiet(sbl, A, y, noise_var=noise, prune=1e-3, max_iter=n_iter, tol=0)
        np.testing.assert_allclose(ours.extras["gamma"], ref.extras["gamma"], rtol=1e-8,
                                   atol=1e-12)
        np.testing.assert_allclose(ours.x, ref.x, rtol=1e-8, atol=1e-12)


def _m_step_cost(D, gammas):
    g = _kron(*gammas)
    on = g > 0
    return np.sum(np.log(g[on]) + D.ravel()[on] / g[on])


def test_am_block_update_is_the_exact_minimiser_and_never_raises_the_cost():
    rng = np.random.default_rng(2)
    sizes = (4, 5, 3)
    D = rng.uniform(0.01, 2.0, sizes)
    gammas = [rng.uniform(0.5, 2.0, n) for n in sizes]
    costs = [_m_step_cost(D, gammas)]
    for sweep in range(3):
        for i in range(3):
            new = kro.am_block_update(np, D[None], [g[None] for g in gammas], i)[0]
            gammas[i] = new
            # gradient of sum log g + d/g w.r.t. gamma_i vanishes at the update
            others = _kron(*[np.ones_like(g) if k == i else g for k, g in enumerate(gammas)])
            full = _kron(*gammas).reshape(sizes)
            grad = np.moveaxis(1.0 / full - D / full ** 2, i, 0).reshape(sizes[i], -1)
            weights = np.moveaxis(others.reshape(sizes), i, 0).reshape(sizes[i], -1)
            np.testing.assert_allclose(np.sum(grad * weights, axis=1), 0, atol=1e-10)
            costs.append(_m_step_cost(D, gammas))
    assert np.all(np.diff(costs) <= 1e-12 * np.abs(costs[1:]))
    assert costs[-1] < costs[0]


def test_pruned_entries_stay_pruned_and_counts_follow_the_active_set():
    rng = np.random.default_rng(3)
    D = rng.uniform(0.1, 1.0, (1, 4, 5))
    g = [np.array([[1.0, 0.0, 2.0, 1.0]]), np.array([[0.5, 1.0, 0.0, 0.0, 1.0]])]
    new = kro.am_block_update(np, D, g, 0)
    assert new[0, 1] == 0
    # the exact minimiser on the active sub-tensor
    act = D[0][np.ix_([0, 2, 3], [0, 1, 4])]
    np.testing.assert_allclose(new[0, [0, 2, 3]], (act / g[1][0, [0, 1, 4]]).sum(1) / 3)


def test_svd_projection_is_exact_on_a_kronecker_input():
    rng = np.random.default_rng(4)
    parts = [rng.uniform(0.1, 2.0, n) for n in (4, 6, 5)]
    D = _kron(*parts).reshape(1, 4, 6, 5)
    ones = [np.ones((1, n)) for n in (4, 6, 5)]
    out = kro.svd_projection(np, D, ones)
    np.testing.assert_allclose(_kron(*[o[0] for o in out]), D.ravel(), rtol=1e-12)
    for o in out[:-1]:
        np.testing.assert_allclose(np.linalg.norm(o), 1.0, rtol=1e-12)
    # I = 2 on a general input: the Eckart-Young optimum (leading singular triplet)
    M = rng.uniform(0.0, 1.0, (5, 7))
    a, b = kro.svd_projection(np, M[None], [np.ones((1, 5)), np.ones((1, 7))])
    U, S, Vh = np.linalg.svd(M)
    np.testing.assert_allclose(np.outer(a[0], b[0]), S[0] * np.outer(U[:, 0], Vh[0]), atol=1e-12)


def test_rescaling_normalises_leading_factors_and_keeps_the_product():
    rng = np.random.default_rng(5)
    g = [rng.uniform(0.1, 3.0, (2, n)) for n in (3, 4, 5)]
    out = kro.rescale(np, g)
    for p in range(2):
        np.testing.assert_allclose([np.linalg.norm(out[0][p]), np.linalg.norm(out[1][p])], 1.0)
        np.testing.assert_allclose(_kron(*[o[p] for o in out]), _kron(*[v[p] for v in g]),
                                   rtol=1e-12)


@pytest.mark.parametrize("learn_noise", [False, True], ids=["known", "learned"])
def test_am_kronecker_sbl_cost_never_increases(learn_noise):
    prob = simulate.kronecker_cs(m=(6, 8, 8), n=(10, 10, 10), k=2, snr_db=20, random_state=6)
    res = quiet(kronecker_sbl, prob.op, prob.y, method="am", prune=0.0, max_iter=120, tol=0,
                 noise_var=None if learn_noise else prob.noise_var, inner_tol=1e-10,
                 max_inner=500)
    cost = res.extras["cost_curve"]
    assert cost.shape == (121,) and np.isfinite(cost).all()
    assert np.all(np.diff(cost) <= 1e-9 * np.abs(cost[1:]))
    assert cost[-1] < cost[0] - 100


# -- the CI-size synthetic study (krosbl.md §6.2) ------------------------------------------
def _study(seeds, snrs, methods):
    """Squared NMSE in dB per (snr, method): one row per seeded trial."""
    out = {}
    for seed in seeds:
        for snr in snrs:
            prob = simulate.kronecker_cs(m=(6, 8, 8), n=(10, 10, 10), k=2, snr_db=snr,
                                         random_state=seed)
            for name, fit in methods.items():
                x = fit(prob)
                err = np.sum(np.abs(x - prob.x) ** 2) / np.sum(np.abs(prob.x) ** 2)
                out.setdefault((snr, name), []).append(10 * np.log10(err))
    return {k: np.array(v) for k, v in out.items()}


_METHODS = {
    "svd": lambda p: quiet(kronecker_sbl, p.op, p.y, method="svd", noise_var=p.noise_var).x,
    "am": lambda p: quiet(kronecker_sbl, p.op, p.y, method="am", noise_var=p.noise_var).x,
    "sbl": lambda p: quiet(sbl, p.op.todense(), p.y, noise_var=p.noise_var, max_iter=150).x,
}


def test_ci_size_synthetic_study():
    """SVD-KroSBL vs AM-KroSBL vs classic SBL over 30 seeded trials (acceptance 3)."""
    res = _study(range(30), (10, 20), _METHODS)
    assert np.median(res[(20, "svd")]) <= -29
    assert np.median(res[(10, "svd")]) <= -18
    for snr in (10, 20):
        assert np.mean(res[(snr, "svd")] < res[(snr, "sbl")]) >= 0.85
        assert np.median(res[(snr, "svd")]) <= np.median(res[(snr, "am")]) + 1
    # AM fails at 10 dB at least as often as SVD (krosbl.md §6.2)
    assert np.mean(res[(10, "am")] > -10) >= np.mean(res[(10, "svd")] > -10)


@pytest.mark.slow
def test_paper_size_synthetic_study():
    """N_i = 15, M = 8·12·15, K = 3 per mode, 20 dB, 50 trials (krosbl.md §6.2)."""
    srr, svd_db, sbl_db = [], [], []
    for seed in range(50):
        prob = simulate.kronecker_cs(m=(8, 12, 15), n=(15, 15, 15), k=3, snr_db=20,
                                     random_state=1000 + seed)
        x_svd = quiet(kronecker_sbl, prob.op, prob.y, method="svd", noise_var=prob.noise_var).x
        x_sbl = quiet(sbl, prob.op.todense(), prob.y, noise_var=prob.noise_var, max_iter=150).x
        norm = np.sum(prob.x ** 2)
        svd_db.append(10 * np.log10(np.sum((x_svd - prob.x) ** 2) / norm))
        sbl_db.append(10 * np.log10(np.sum((x_sbl - prob.x) ** 2) / norm))
        srr.append(simulate_srr(prob.x, x_svd))
    svd_db, sbl_db = np.array(svd_db), np.array(sbl_db)
    print(f"paper size: SVD median {np.median(svd_db):.1f} dB, SBL median {np.median(sbl_db):.1f} dB,"
          f" SVD SRR {np.mean(srr):.2f}, SVD < SBL in {np.mean(svd_db < sbl_db):.2f}")
    assert np.median(svd_db) <= -28
    assert np.mean(srr) >= 0.8
    assert np.mean(svd_db < sbl_db) >= 0.9


def simulate_srr(x_true, x_est):
    from sparserec.metrics import support_jaccard
    return float(support_jaccard(x_true, x_est))


# -- batches, arrays, estimator --------------------------------------------------------------
def test_columns_are_solved_like_single_problems():
    prob = simulate.kronecker_cs(m=(4, 5, 5), n=(6, 6, 6), k=2, snr_db=25, random_state=7)
    other = simulate.kronecker_cs(m=(4, 5, 5), n=(6, 6, 6), k=2, snr_db=25, random_state=8)
    y2 = prob.op @ other.x
    Y = np.stack([prob.y, y2], 1)
    for method in ("svd", "am"):
        batch = quiet(kronecker_sbl, prob.op, Y, method=method, noise_var=prob.noise_var)
        for j, y in enumerate((prob.y, y2)):
            single = quiet(kronecker_sbl, prob.op, y, method=method, noise_var=prob.noise_var)
            np.testing.assert_allclose(batch.x[:, j], single.x, atol=1e-10)
            assert batch.n_iter[j] == single.n_iter


@pytest.mark.parametrize("method", ["svd", "am"])
def test_array_api_strict_equals_numpy(method):
    rng = np.random.default_rng(9)
    factors = [random_array(rng, (4, 6), np.complex128) for _ in range(3)]
    Y = random_array(rng, (64, 2), np.complex128)
    ref = quiet(kronecker_sbl, Kron(*factors), Y, method=method, max_iter=30)
    out = quiet(kronecker_sbl, Kron(*[xps.asarray(f) for f in factors]), xps.asarray(Y),
                 method=method, max_iter=30)
    np.testing.assert_allclose(np.from_dlpack(out.x), ref.x, atol=1e-12)
    np.testing.assert_array_equal(out.n_iter, ref.n_iter)


@pytest.mark.parametrize("method", ["svd", "am"])
def test_iterations_never_wait_for_the_host(monkeypatch, method):
    from sparserec._validation import check_problem
    from sparserec.solvers._engine import Batch
    rng = np.random.default_rng(10)
    factors = [xps.asarray(rng.standard_normal((3, 5))) for _ in range(3)]
    Y = xps.asarray(rng.standard_normal((27, 2)))
    batch = Batch(check_problem(Kron(*factors), Y))
    algo = kro._KroneckerSBL(factors, method=method, noise_var=None, prune=(1e-3,) * 3,
                             prune_abs=0.0, coupled=(), beta=0.0, max_iter=10, inner_tol=1e-5,
                             max_inner=5, gamma_init="auto")
    state = algo.init(batch.op, batch.Y)
    forbid_host_sync(monkeypatch, type(Y))
    for it in range(5):
        state = algo.step(batch.op, batch.Y, state, it)
    monkeypatch.undo()
    assert bool(xps.all(xps.isfinite(state["x"])))


def test_estimator_attributes_and_pickling():
    prob = simulate.kronecker_cs(m=(5, 6, 6), n=(8, 8, 8), k=2, snr_db=30, complex=True,
                                 random_state=11)
    est = KroneckerSBL(noise_var=prob.noise_var).fit(prob.op, prob.y)
    assert est.coef_.shape == (512,) and est.coef_.dtype == np.complex128
    assert [g.shape for g in est.gamma_factors_] == [(8,), (8,), (8,)]
    np.testing.assert_allclose(_kron(*est.gamma_factors_), est.gamma_, rtol=1e-12)
    assert est.cost_curve_.shape == (est.n_iter_ + 1,)
    assert np.linalg.norm(est.coef_ - prob.x) < 0.05 * np.linalg.norm(prob.x)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(prob.op), est.predict(prob.op))
    assert clone(est).get_params() == est.get_params()
    learned = KroneckerSBL(method="am").fit(prob.op, prob.y)
    assert 0.3 < learned.noise_var_ / prob.noise_var < 3
    # gamma_init reaches the solver (the start changes the iterates)
    started = KroneckerSBL(method="am", gamma_init=1.0).fit(prob.op, prob.y)
    direct = quiet(kronecker_sbl, prob.op, prob.y, method="am", gamma_init=1.0)
    np.testing.assert_array_equal(started.coef_, direct.x)
    assert not np.array_equal(started.coef_, learned.coef_)


def test_block_sparse_pc_kronecker_sbl_beats_am_on_irs_channels():
    """IRS channels (krosbl.md §4.1) at 12 dB, the reference's settings: the angle
    spread makes modes 0 and 2 block-sparse and pattern coupling pays (§4.1: +6 dB mean)."""
    reference = {"noise_var": None, "max_iter": 150, "gamma_init": 1.0, "prune_abs": 1e-4}
    settings = {"pc": {"method": "am", "block": (0, 2), "beta": 0.8, "prune": (1e-2, 1e-1, 1e-2)},
                "am": {"method": "am", "prune": (1e-2, 1e-1, 1e-3)}}
    nmse = {name: [] for name in settings}
    for seed in range(6):
        prob = simulate.irs_mimo(12, random_state=seed)
        for name, kw in settings.items():
            kw = {**reference, **kw, "noise_var": prob.noise_var}
            x_hat = quiet(kronecker_sbl, prob.op, prob.y, **kw).x
            nmse[name].append(metrics.channel_nmse(prob.channels, prob.channels_from(x_hat)))
    pc, am = (np.asarray(nmse[name]) for name in ("pc", "am"))
    assert np.mean(pc) < 10 ** (-0.4) * np.mean(am)       # >= 4 dB better on the mean
    assert np.median(pc) < 10 ** -1.5                     # and a median below -15 dB


# -- bad input -------------------------------------------------------------------------------
def test_a_dense_matrix_is_refused_with_a_pointer_to_kron():
    with pytest.raises(TypeError, match="Kron"):
        kronecker_sbl(np.ones((4, 9)), np.ones(4))
    with pytest.raises(TypeError, match="Kron"):
        KroneckerSBL().fit(np.ones((4, 9)), np.ones(4))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"noise_var": 0.0}, ValueError, "noise_var"), ({"noise_var": np.nan}, ValueError, "noise_var"),
    ({"beta": 1.5}, ValueError, "beta"), ({"beta": -0.1}, ValueError, "beta"),
    ({"method": "hosvd"}, ValueError, "method"), ({"prune": (0.1, 0.1)}, ValueError, "prune"),
    ({"prune": 2.0}, ValueError, "prune"), ({"block": (0, 5)}, ValueError, "block"),
    ({"block": "yes"}, TypeError, "block"), ({"block": 1}, TypeError, "block"),
    ({"block": [True, False]}, TypeError, "block"), ({"max_inner": 0}, ValueError, "max_inner"),
    ({"prune_abs": -1.0}, ValueError, "prune_abs")])
def test_bad_hyperparameters_name_the_argument(kwargs, error, match):
    op = Kron(np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(error, match=match):
        kronecker_sbl(op, np.ones(8), **kwargs)


def test_bad_data_name_the_argument():
    rng = np.random.default_rng(0)
    f = [rng.standard_normal((2, 3)) for _ in range(2)]
    with pytest.raises(ValueError, match="y"):
        kronecker_sbl(Kron(*f), np.ones(5))                 # factor shapes vs y
    with pytest.raises(ValueError, match="NaN"):
        kronecker_sbl(Kron(f[0], np.full((2, 3), np.nan)), np.ones(4))
    with pytest.raises(ValueError, match="y"):
        kronecker_sbl(Kron(*f), np.array([1.0, np.nan, 0.0, 1.0]))


def test_all_zero_measurements_give_zeros_without_warnings():
    op = Kron(*[np.random.default_rng(i).standard_normal((3, 4)) for i in range(3)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kw in ({"method": "svd"}, {"method": "am"}, {"method": "am", "block": True},
                   {"method": "svd", "noise_var": 0.1}):
            res = kronecker_sbl(op, np.zeros(27), **kw)
            assert np.all(res.x == 0) and bool(res.converged)
            assert np.all(np.isfinite(res.extras["gamma"]))


def test_non_convergence_warns_and_never_returns_nan():
    prob = simulate.kronecker_cs(m=(4, 4, 4), n=(6, 6, 6), k=2, snr_db=10, random_state=13)
    with pytest.warns(ConvergenceWarning, match="kronecker_sbl did not converge"):
        res = kronecker_sbl(prob.op, prob.y, max_iter=2)
    assert np.isfinite(res.x).all()
    # pruning everything away gives an all-zero (finite) model, not NaN
    res = quiet(kronecker_sbl, prob.op, prob.y, prune=0.999, prune_abs=10.0)
    assert np.all(res.x == 0)


def test_sbl_on_a_kron_operator_forms_the_product():
    prob = simulate.kronecker_cs(m=(4, 4, 4), n=(6, 6, 6), k=2, snr_db=30, random_state=14)
    a = quiet(SBL(noise_var=prob.noise_var).fit, prob.op, prob.y).coef_
    b = quiet(SBL(noise_var=prob.noise_var).fit, prob.op.todense(), prob.y).coef_
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_the_stopping_value_resolves_small_changes_in_float32():
    """||⊗new - ⊗old|| / ||⊗old|| from the factors must not cancel to 0 (it did at 2e-6)."""
    mod = importlib.import_module("sparserec.solvers.kronecker_sbl")
    rng = np.random.default_rng(30)
    old = [rng.uniform(0.5, 1.5, (1, n)).astype(np.float32) for n in (8, 9, 10)]
    for eps in (1e-3, 2e-5):
        new = [g.copy() for g in old]
        new[1] = new[1] * (1 + eps * rng.standard_normal(new[1].shape)).astype(np.float32)
        ref = np.linalg.norm(_kron(*(g[0].astype(float) for g in new))
                             - _kron(*(g[0].astype(float) for g in old)))
        ref /= np.linalg.norm(_kron(*(g[0].astype(float) for g in old)))
        got = mod._relative_kron_change(np, new, old)[0]
        np.testing.assert_allclose(got, ref, rtol=0.05)


@pytest.mark.parametrize("block", [False, (0, 2)], ids=["am", "pc"])
def test_scale_invariance_with_the_auto_start(block):
    """Scaling y by c (and the noise by c^2) scales x by c, PC-KroSBL's floor included."""
    prob = simulate.kronecker_cs(m=(5, 4, 6), n=(12, 6, 12), k=2, snr_db=15, complex=True,
                                 random_state=31)
    fits = [quiet(kronecker_sbl, prob.op, c * prob.y, method="am", block=block,
                  noise_var=c ** 2 * prob.noise_var, max_iter=40).x / c for c in (1.0, 1e-4, 1e3)]
    np.testing.assert_allclose(fits[1], fits[0], rtol=1e-6, atol=1e-9 * np.abs(fits[0]).max())
    np.testing.assert_allclose(fits[2], fits[0], rtol=1e-6, atol=1e-9 * np.abs(fits[0]).max())


def test_pc_kronecker_m_step_follows_the_authors_recipe():
    """krosbl.md §3 from scratch (einsum AM targets, SciPy NNLS, floor 1e-5, rescale), with
    mode 1 pruned to an active subset so that C_beta must be restricted to it."""
    from scipy.optimize import nnls
    rng = np.random.default_rng(40)
    sizes, beta, start = (7, 5, 6), 0.8, 2.5
    D = rng.uniform(0.0, 2.0, sizes)
    gammas = [rng.uniform(0.5, 1.5, n) for n in sizes]
    gammas[0][[1, 4]] = 0.0                          # pruned entries of a coupled mode
    algo = kro._KroneckerSBL([np.eye(n) for n in sizes], method="am", noise_var=1.0,
                             prune=(0.0,) * 3, prune_abs=0.0, coupled=(0, 2), beta=beta,
                             max_iter=1, inner_tol=0.0, max_inner=1, gamma_init=1.0)
    got = algo._pc_mstep(np, D[None], [g[None] for g in gammas], np.array([start]))

    def am_target(gs, mode):
        others = [k for k in range(3) if k != mode]
        w = [np.where(gs[k] > 0, 1 / np.where(gs[k] > 0, gs[k], 1), 0) for k in others]
        letters = "abc"
        spec = f"abc,{letters[others[0]]},{letters[others[1]]}->{letters[mode]}"
        count = np.prod([np.count_nonzero(gs[k]) for k in others])
        return np.where(gs[mode] > 0, np.einsum(spec, D, *w) / count, 0)

    def couple(t, current, floor):
        idx = np.flatnonzero(current > 0)
        C = coupling_matrix_ref(t.size)[np.ix_(idx, idx)]
        out = np.zeros_like(t)
        out[idx] = C @ nnls(C, t[idx])[0] + floor
        return out

    def coupling_matrix_ref(n):
        return np.eye(n) + beta * (np.eye(n, k=1) + np.eye(n, k=-1))

    gs = [g.copy() for g in gammas]
    for _ in range(9):                               # the authors' 9 passes (inner_tol=0)
        gs[0] = couple(am_target(gs, 0), gs[0], 1e-5)
        gs[1] = am_target(gs, 1)
        gs[2] = couple(am_target(gs, 2), gs[2], 1e-5 * start)
        n0, n1 = np.linalg.norm(gs[0]), np.linalg.norm(gs[1])
        gs = [gs[0] / n0, gs[1] / n1, gs[2] * n0 * n1]
    for g_got, g_ref in zip(got, gs):
        np.testing.assert_allclose(g_got[0], g_ref, rtol=1e-9, atol=1e-15)
    assert np.all(got[0][0, [1, 4]] == 0)            # pruned entries stay pruned
