"""Deep-unfolded ISTA / IHT and LISTA-CP: exact invariants, gradients, training claims, API.

The fixture is the reference notes' (``../shared/references/unfolding.md`` §8): m=75,
n=150, Bernoulli-Gaussian p=0.08, A ~ N(0, 1) fixed (seed 1), lam=10, noise variance
0.008, 2000 test samples (seed 123); training samples drawn from the generator of A.
"""
import pickle
import warnings
from dataclasses import replace

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

from sparserec import LISTACP, ConvergenceWarning, UnfoldedIHT, UnfoldedISTA
from sparserec.operators import Dense, FromLinearOperator, Kron
from sparserec.solvers import fista, iht, lasso_duality_gap
from sparserec.solvers.unfolded import (forward, initial_network, loss_and_gradient,
                                        loss_value, unfolded)

from _helpers import forbid_host_sync, quiet, random_array

LAM, M, N = 10.0, 75, 150


def _draw(rng, A, size):
    X = rng.normal(size=(size, N)) * (rng.random((size, N)) < 0.08)
    Y = X @ A.T + np.sqrt(0.008) * rng.normal(size=(size, M))
    return Y, X


@pytest.fixture(scope="module")
def fixture():
    gen = np.random.default_rng(1)
    A = gen.normal(size=(M, N))
    Y_test, X_test = _draw(np.random.default_rng(123), A, 2000)
    Y_train, X_train = _draw(gen, A, 20000)
    return dict(A=A, Y=Y_test, X=X_test, Y_train=Y_train, X_train=X_train,
                L=np.linalg.norm(A, 2) ** 2)


def _mean_objective(A, Y, X, kind="ista"):
    """Per-sample objective averaged, computed here (not by the package)."""
    fit = 0.5 * np.sum(np.abs(Y - X @ A.T) ** 2, axis=1)
    pen = (X != 0).sum(axis=1) if kind == "iht" else np.abs(X).sum(axis=1)
    return float(np.mean(fit + LAM * pen))


def _plain_iterates(A, Y, n_iter, kind, step, lam=LAM):
    """Textbook ISTA / IHT iterates with a fixed step, rows as samples."""
    X = np.zeros((Y.shape[0], A.shape[1]), dtype=np.result_type(A, Y))
    out = []
    for _ in range(n_iter):
        V = X + step * (Y - X @ A.T) @ A.conj()
        mod = np.abs(V)
        if kind == "ista":
            X = V * np.maximum(1 - step * lam / np.where(mod > 0, mod, 1), 0)
        else:
            X = np.where(mod > np.sqrt(2 * step * lam), V, 0)
        out.append(X)
    return out


def _textbook_fista(A, Y, n_iter, L):
    X = Z = np.zeros((Y.shape[0], A.shape[1]))
    t = 1.0
    for _ in range(n_iter):
        V = Z + (Y - Z @ A.T) @ A / L
        Xn = np.sign(V) * np.maximum(np.abs(V) - LAM / L, 0)
        tn = (1 + np.sqrt(1 + 4 * t * t)) / 2
        Z, X, t = Xn + (t - 1) / tn * (Xn - X), Xn, tn
    return X


@pytest.fixture(scope="module")
def lasso_optimum(fixture):
    """Per-sample Lasso optimum bracket from a certified FISTA run: (F(x), duality gap)."""
    A, Y = fixture["A"], fixture["Y"]
    x = fista(A, Y.T, lam=LAM, max_iter=100000, tol=1e-14).x
    F = 0.5 * np.sum((Y.T - A @ x) ** 2, axis=0) + LAM * np.abs(x).sum(axis=0)
    gap = np.asarray(lasso_duality_gap(A, Y.T, x, LAM))
    return F, gap, x


def _train(cls, fixture, **kw):
    with threadpool_limits(1):
        return cls(fixture["A"], lam=LAM, random_state=0, **kw).fit(fixture["Y_train"],
                                                                  fixture["X_train"])


@pytest.fixture(scope="module")
def ista_models(fixture):
    """T=10, end-to-end, both losses (the reference recipe with 1000 steps at lr 3e-2)."""
    kw = dict(n_layers=10, max_steps=1000, learning_rate=3e-2)
    return {loss: _train(UnfoldedISTA, fixture, loss=loss, **kw)
            for loss in ("supervised", "unsupervised")}


@pytest.fixture(scope="module")
def iht_models(fixture):
    """T=10, incremental (100 steps per depth), both losses."""
    kw = dict(n_layers=10, max_steps=1000, learning_rate=3e-2, training="incremental")
    return {loss: _train(UnfoldedIHT, fixture, loss=loss, **kw)
            for loss in ("supervised", "unsupervised")}


# -- acceptance 1: plain ISTA / IHT and the reference table ----------------------------------
@pytest.mark.parametrize("kind", ["ista", "iht"])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_plain_steps_reproduce_ista_and_iht_iterates(kind, dtype):
    rng = np.random.default_rng(4)
    A = random_array(rng, (30, 60), dtype)
    X = random_array(rng, (60, 9), dtype) * (rng.random((60, 9)) < 0.15)
    Y = (A @ X).T + 0.01 * random_array(rng, (9, 30), dtype)
    step = 1 / np.linalg.norm(A, 2) ** 2
    net = initial_network(Dense(A), kind, 25, 1.0)
    expected = _plain_iterates(A, Y, 25, kind, step, lam=1.0)
    for t in (1, 2, 7, 25):
        got = unfolded(A, Y.T, net, n_layers=t).x.T
        np.testing.assert_allclose(got, expected[t - 1], rtol=0,
                                   atol=1e-12 * np.abs(expected[t - 1]).max())
    assert np.count_nonzero(expected[-1]) > 0


def test_plain_ista_reproduces_the_reference_table(fixture, lasso_optimum):
    A, Y = fixture["A"], fixture["Y"]
    net = initial_network(Dense(A), "ista", 10, LAM)
    F10 = _mean_objective(A, Y, unfolded(A, Y.T, net).x.T)
    assert abs(F10 - 113.91) / 113.91 < 5e-4
    F_star = float(np.mean(lasso_optimum[0]))
    assert abs(F_star - 85.887) / 85.887 < 5e-4
    x = quiet(iht, A, Y.T, lam=LAM, max_iter=5000, tol=1e-15).x     # step 1/||A||^2
    assert abs(_mean_objective(A, Y, x.T, "iht") - 144.20) / 144.20 < 5e-4


# -- acceptance 2: exact gradients against central finite differences -------------------------
_SS = (0.03, 0.1)        # support selection: 3 % more of the entries per layer, up to 10 %
_GRADIENT_CASES = [("ista", None, "supervised"), ("ista", None, "unsupervised"),
                   ("iht", None, "supervised"), ("iht", None, "unsupervised"),
                   ("iht", 50.0, "supervised"), ("iht", 50.0, "unsupervised"),
                   ("lista_cp", None, "supervised"), ("lista_cp", None, "unsupervised"),
                   ("ista", _SS, "supervised"), ("lista_cp", _SS, "unsupervised")]


def _perturbed_network(op, kind, option, rng):
    """A network away from the plain start; ``option`` is IHT's smoothing or the support
    selection of ISTA / LISTA-CP."""
    net = initial_network(op, kind, 6, 2.0, option if kind == "iht" else None,
                          option if kind != "iht" else None)
    for key, p in net.params.items():   # away from the plain start, thresholds included
        net.params[key] = p * (1 + 0.5 * rng.random(p.shape))
    return net


@pytest.mark.parametrize("kind, option, loss", _GRADIENT_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_gradients_match_central_finite_differences(kind, option, loss, dtype):
    rng = np.random.default_rng(7)
    A = random_array(rng, (20, 40), dtype)
    X = random_array(rng, (40, 7), dtype) * (rng.random((40, 7)) < 0.2)
    Y = A @ X + 0.05 * random_array(rng, (20, 7), dtype)
    op = Dense(A)
    net = _perturbed_network(op, kind, option, rng)
    _, grads = loss_and_gradient(op, Y, X, net, loss)
    for key, p in net.params.items():
        d = random_array(rng, p.shape, p.dtype) * np.abs(p).mean()
        analytic = np.sum(np.real(np.conj(grads[key]) * d))
        def at(h):
            moved = net.copy()
            moved.params[key] = p + h * d
            return float(loss_value(op, Y, X, moved, loss))

        h = 1e-5      # five-point central difference (fourth order)
        numeric = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h)
        if kind == "iht" and option is None and key == "lam":
            # the exact hard threshold's level has zero gradient, and the loss is flat in it
            assert np.all(grads[key] == 0) and numeric == 0
            continue
        assert abs(analytic) > 1e-6
        assert abs(numeric - analytic) <= 1e-6 * abs(analytic), (key, numeric, analytic)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_support_selection_keeps_the_largest_entries_unshrunk(dtype):
    rng = np.random.default_rng(10)
    A = random_array(rng, (20, 40), dtype)
    Y = random_array(rng, (20, 6), dtype)
    net = initial_network(Dense(A), "ista", 3, 0.5, support_selection=(0.05, 0.1))
    lip = np.linalg.norm(A, 2) ** 2
    X = np.zeros((40, 6), dtype=dtype)
    for t in range(3):                         # written out: k = 2, 4, 4 entries bypass
        V = X + A.conj().T @ (Y - A @ X) / lip
        mod, level = np.abs(V), 0.5 / lip
        k = int(min(0.05 * (t + 1), 0.1) * 40)
        top = np.argsort(-mod, axis=0)[:k]
        keep = np.zeros(V.shape, bool)
        np.put_along_axis(keep, top, True, axis=0)
        keep &= mod > level
        X = np.where(keep, V, V * np.maximum(1 - level / np.where(mod > 0, mod, 1), 0))
        np.testing.assert_allclose(unfolded(A, Y, net, n_layers=t + 1).x, X, rtol=1e-12,
                                   atol=1e-14)
    assert keep.sum() > 0


def test_incremental_loss_gives_later_layers_zero_gradient():
    rng = np.random.default_rng(8)
    A = rng.normal(size=(20, 40))
    X = rng.normal(size=(40, 5)) * (rng.random((40, 5)) < 0.2)
    op = Dense(A)
    net = _perturbed_network(op, "ista", None, rng)
    value, grads = loss_and_gradient(op, A @ X, X, net, "supervised", n_layers=3)
    assert np.all(grads["step"][3:] == 0) and np.all(grads["step"][:3] != 0)
    assert float(value) == pytest.approx(float(loss_value(op, A @ X, X, net, "supervised",
                                                          n_layers=3)))


# -- acceptances 3-5: unfolded ISTA, trained -----------------------------------------------------
def test_unsupervised_ista_never_beats_the_lasso_optimum(fixture, lasso_optimum, ista_models):
    A, Y = fixture["A"], fixture["Y"]
    F_fista, gap, _ = lasso_optimum
    lower = F_fista - gap                          # certified lower bound of each optimum
    for est in ista_models.values():
        X = est.predict(Y)
        F = 0.5 * np.sum((Y - X @ A.T) ** 2, axis=1) + LAM * np.abs(X).sum(axis=1)
        assert np.all(F >= lower - 1e-8)
        # the objective the package reports (diagnostics, score) is this one
        assert est.layer_diagnostics(Y).objective.iloc[-1] == pytest.approx(F.mean(), rel=1e-12)
        assert est.score(Y) == pytest.approx(-F.mean(), rel=1e-12)


@pytest.mark.parametrize("loss", ["supervised", "unsupervised"])
def test_training_lowers_the_loss_and_keeps_steps_positive(ista_models, loss):
    est = ista_models[loss]
    curve = est.loss_curve_
    tenth = curve.size // 10
    assert np.all(np.isfinite(curve)) and curve[-tenth:].mean() < curve[:tenth].mean()
    assert np.all(np.isfinite(est.step_sizes_)) and np.all(est.step_sizes_ > 0)
    assert est.validation_curve_.shape[1] == 2
    assert est.validation_curve_[-1, 1] < est.validation_curve_[0, 1]
    assert np.mean(est.step_sizes_ * np.linalg.norm(est.A, 2) ** 2) > 1   # steps beyond 1/L


def test_supervised_vs_unsupervised_ista_at_ten_layers(fixture, ista_models):
    A, Y, X = fixture["A"], fixture["Y"], fixture["X"]
    out = {loss: est.predict(Y) for loss, est in ista_models.items()}
    mse = {loss: np.mean((Z - X) ** 2) for loss, Z in out.items()}
    F = {loss: _mean_objective(A, Y, Z) for loss, Z in out.items()}
    assert mse["supervised"] <= 0.9 * mse["unsupervised"]        # >= 10 % lower MSE
    assert F["unsupervised"] <= 0.97 * F["supervised"]           # >= 3 % lower objective
    # unsupervised ISTA at T=10 is plain ISTA at 30 iterations or better, beats FISTA at 10
    plain30 = _plain_iterates(A, Y, 30, "ista", 1 / fixture["L"])[-1]
    assert F["unsupervised"] <= _mean_objective(A, Y, plain30)
    assert F["unsupervised"] < _mean_objective(A, Y, _textbook_fista(A, Y, 10, fixture["L"]))
    ours = quiet(fista, A, Y.T, lam=LAM, max_iter=10, tol=1e-14, check_every=10).x.T
    assert F["unsupervised"] < _mean_objective(A, Y, ours)   # the package's adaptive FISTA too


def test_fifty_layer_unsupervised_ista_reaches_the_lasso_optimum(fixture, lasso_optimum):
    est = _train(UnfoldedISTA, fixture, n_layers=50, max_steps=200, learning_rate=3e-2)
    F = _mean_objective(fixture["A"], fixture["Y"], est.predict(fixture["Y"]))
    F_star = float(np.mean(lasso_optimum[0]))
    assert (F - F_star) / F_star < 5e-3
    plain = initial_network(Dense(fixture["A"]), "ista", 50, LAM)
    assert F < _mean_objective(fixture["A"], fixture["Y"],
                               unfolded(fixture["A"], fixture["Y"].T, plain).x.T)


# -- acceptance 6: unfolded IHT, trained ----------------------------------------------------------
def test_trained_ihts_find_better_minima_than_converged_iht(fixture, iht_models):
    A, Y, X = fixture["A"], fixture["Y"], fixture["X"]
    x = quiet(iht, A, Y.T, lam=LAM, max_iter=5000, tol=1e-15).x.T
    F_conv, mse_conv = _mean_objective(A, Y, x, "iht"), np.mean((x - X) ** 2)
    mse = {}
    for loss, est in iht_models.items():
        Z = est.predict(Y)
        assert _mean_objective(A, Y, Z, "iht") < 0.75 * F_conv
        mse[loss] = np.mean((Z - X) ** 2)
        assert mse[loss] < 0.5 * mse_conv
    assert abs(mse["supervised"] - mse["unsupervised"]) / mse["unsupervised"] < 0.3


# -- guards ---------------------------------------------------------------------------------------
def test_an_overshooting_learning_rate_is_rejected_not_propagated():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(30, 60))
    X = rng.normal(size=(400, 60)) * (rng.random((400, 60)) < 0.1)
    est = UnfoldedISTA(A, n_layers=8, lam=1.0, learning_rate=50.0, max_steps=60,
                       random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X @ A.T)
    assert est.n_rejected_steps_ > 0
    assert np.all(np.isfinite(est.step_sizes_)) and np.all(est.step_sizes_ > 0)
    assert np.all(np.isfinite(est.predict(X @ A.T)))
    assert np.all(np.isfinite(est.loss_curve_))


def test_early_stopping_keeps_the_best_validation_network():
    rng = np.random.default_rng(5)
    A = rng.normal(size=(30, 60))
    X = rng.normal(size=(600, 60)) * (rng.random((600, 60)) < 0.1)
    est = UnfoldedISTA(A, n_layers=5, lam=1.0, max_steps=3000, early_stopping=True,
                       n_iter_no_change=3, validation_interval=20, tol=1e-2,
                       random_state=0).fit(X @ A.T)
    assert est.stopped_early_ and est.n_iter_ < 3000
    curve = est.validation_curve_[:, 1]
    # the best evaluation by the stopping rule (a relative improvement of tol counts)
    best, kept = np.inf, None
    for i, value in enumerate(curve):
        if not np.isfinite(best) or value < best - 1e-2 * abs(best):
            best, kept = value, i
    assert kept < curve.size - 3          # the last n_iter_no_change evaluations were worse
    # the validation samples: the split is the first draw of the estimator's generator
    order = np.random.default_rng(0).permutation(600)
    valid = np.sort(order[:60])
    held_out = loss_value(Dense(A), (X[valid] @ A.T).T, None, est.network_, "unsupervised")
    assert float(held_out) == pytest.approx(curve[kept], rel=1e-12)


def test_a_diverging_validation_loss_returns_to_the_best_parameters():
    from sparserec.solvers._training import adam_train
    calls, steps = [], []

    def objective(params, batch, depth):         # minimise w^2
        steps.append(params["w"].copy())
        return params["w"][0] ** 2, {"w": 2 * params["w"]}

    def validate(params, depth):                 # the 3rd evaluation "diverges"
        calls.append(params["w"].copy())
        return 1e9 if len(calls) == 3 else float(params["w"][0] ** 2)

    params, log = adam_train(objective, {"w": np.array([3.0])}, trainable=("w",), lower={},
                             batches=iter(lambda: None, 1), stages=[(1, 40)],
                             learning_rate=0.1, validate=validate, validation_interval=10)
    assert log.n_rejected == 1 and log.learning_rate == pytest.approx(0.05)
    assert [v for _, _, v in log.validation][2] == 1e9
    # the step after the rejected evaluation (at step 30) starts from the best network,
    # the one evaluated at step 20, not from the one that "diverged"
    np.testing.assert_array_equal(steps[30], calls[1])
    assert not np.array_equal(steps[30], calls[2])
    assert abs(params["w"][0]) < 3.0


# -- acceptance 8: bad input --------------------------------------------------------------------
@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(20, 40))
    X = rng.normal(size=(50, 40)) * (rng.random((50, 40)) < 0.1)
    return A, X @ A.T, X


@pytest.mark.parametrize("params, match", [
    (dict(n_layers=0), "n_layers"), (dict(lam=-1.0), "lam"), (dict(loss="mse"), "loss"),
    (dict(training="greedy"), "training"), (dict(learning_rate=0.0), "learning_rate"),
    (dict(batch_size=0), "batch_size"), (dict(validation_fraction=1.5), "validation_fraction")])
def test_bad_hyper_parameters_are_named(small, params, match):
    A, Y, X = small
    with pytest.raises(ValueError, match=match):
        UnfoldedISTA(A, **params).fit(Y, X)


def test_bad_training_data_is_named(small):
    A, Y, X = small
    with pytest.raises(ValueError, match="Y_train has 30 columns but A has 20 rows"):
        UnfoldedISTA(A).fit(np.zeros((5, 30)))
    bad = Y.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="Y_train contains NaN"):
        UnfoldedISTA(A).fit(bad)
    with pytest.raises(ValueError, match=r"X_train must have shape \(50, 40\)"):
        UnfoldedISTA(A, loss="supervised").fit(Y, X[:, :30])
    with pytest.raises(ValueError, match="X_train"):
        UnfoldedISTA(A, loss="supervised").fit(Y, np.where(X == 0, np.inf, X))
    with pytest.raises(ValueError, match="loss='supervised' needs the true signals"):
        UnfoldedISTA(A, loss="supervised").fit(Y)
    with pytest.raises(ValueError, match="A must be one"):
        UnfoldedISTA(np.stack([A, A])).fit(Y)
    with pytest.raises(ValueError, match="support_selection"):
        UnfoldedISTA(A, support_selection=(0.1, 0.2, 0.3)).fit(Y)
    with pytest.raises(ValueError, match="p <= p_max"):
        UnfoldedISTA(A, support_selection=(0.3, 0.2)).fit(Y)
    with pytest.raises(ValueError, match="learn_threshold=True needs smoothing"):
        UnfoldedIHT(A, learn_threshold=True).fit(Y)
    with pytest.raises(ValueError, match="Y has 19 columns"):
        UnfoldedISTA(A, max_steps=2).fit(Y).predict(Y[:, :19])
    with pytest.raises(ValueError, match="layer must be <= 3"):
        UnfoldedISTA(A, n_layers=3, max_steps=2).fit(Y).transform(Y, layer=4)


# -- API -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, kw", [(UnfoldedISTA, dict(learn_threshold=True)),
                                     (UnfoldedISTA, dict(support_selection=(0.05, 0.2))),
                                     (UnfoldedIHT, dict(smoothing=20.0, learn_threshold=True)),
                                     (UnfoldedIHT, {}), (LISTACP, {})])
def test_clone_pickle_save_and_load(small, tmp_path, cls, kw):
    A, Y, X = small
    est = cls(A, n_layers=4, lam=0.5, loss="supervised", max_steps=30, random_state=0, **kw)
    assert clone(est).get_params()["n_layers"] == 4
    est.fit(Y, X)
    again = cls(A, n_layers=4, lam=0.5, loss="supervised", max_steps=30, random_state=0,
                **kw).fit(Y, X)
    np.testing.assert_array_equal(est.predict(Y), again.predict(Y))        # seeded
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict(Y), est.predict(Y))
    est.save(tmp_path / "net.npz")
    loaded = cls(A).load(tmp_path / "net.npz")
    np.testing.assert_array_equal(loaded.predict(Y), est.predict(Y))
    np.testing.assert_array_equal(loaded.thresholds_, est.thresholds_)
    with pytest.raises(ValueError, match="another operator"):
        cls(2 * A).load(tmp_path / "net.npz")
    other = UnfoldedISTA if cls is not UnfoldedISTA else UnfoldedIHT
    with pytest.raises(ValueError, match="network"):
        other(A).load(tmp_path / "net.npz")


def test_transform_layers_and_diagnostics_agree(small):
    A, Y, X = small
    est = UnfoldedISTA(A, n_layers=5, lam=0.5, max_steps=40, random_state=0).fit(Y)
    assert np.all(est.transform(Y, layer=0) == 0)
    table = est.layer_diagnostics(Y, X)
    assert list(table.columns) == ["layer", "objective", "mse", "nmse_db"]
    assert list(table.layer) == list(range(6))
    for t in (1, 3, 5):
        Z = est.transform(Y, layer=t)
        assert table.mse[t] == pytest.approx(np.mean((Z - X) ** 2), rel=1e-12)
        F = 0.5 * np.sum((Y - Z @ A.T) ** 2, axis=1) + 0.5 * np.abs(Z).sum(axis=1)
        assert table.objective[t] == pytest.approx(F.mean(), rel=1e-12)
    np.testing.assert_array_equal(est.transform(Y, layer=5), est.predict(Y))
    assert est.score(Y) == pytest.approx(-table.objective[5], rel=1e-12)
    assert est.score(Y, X) == pytest.approx(-table.mse[5], rel=1e-12)


def test_default_lam_follows_the_data_scale(small):
    A, Y, X = small
    est = UnfoldedISTA(A, n_layers=3, max_steps=5, random_state=0).fit(Y)
    scaled = UnfoldedISTA(A, n_layers=3, max_steps=5, random_state=0).fit(10 * Y)
    assert scaled.lam_ == pytest.approx(10 * est.lam_)
    assert est.lam_ == pytest.approx(0.1 * np.median(np.abs(Y @ A).max(axis=1)))


def test_grid_search_selects_the_number_of_layers(small):
    A, Y, X = small
    search = GridSearchCV(UnfoldedISTA(A, lam=0.5, loss="supervised", max_steps=20,
                                       random_state=0),
                          {"n_layers": [1, 6]}, cv=2).fit(Y, X)
    assert search.best_params_ == {"n_layers": 6}


def test_operators_and_complex_data_train():
    rng = np.random.default_rng(9)
    A1, A2 = rng.normal(size=(4, 8)), rng.normal(size=(5, 8))
    K = Kron(A1, A2)
    dense = np.kron(A1, A2)
    X = rng.normal(size=(300, 64)) * (rng.random((300, 64)) < 0.05)
    Y = X @ dense.T
    kw = dict(n_layers=4, lam=0.2, loss="supervised", max_steps=25, random_state=0)
    ref = UnfoldedISTA(dense, **kw).fit(Y, X)
    for op in (K, FromLinearOperator(__import__("scipy").sparse.linalg.aslinearoperator(dense))):
        est = UnfoldedISTA(op, **kw).fit(Y, X)
        np.testing.assert_allclose(est.step_sizes_, ref.step_sizes_, rtol=1e-8)
        np.testing.assert_allclose(est.predict(Y), ref.predict(Y), rtol=1e-8, atol=1e-10)
    Ac = random_array(rng, (20, 40), np.complex128)
    Xc = random_array(rng, (300, 40), np.complex128) * (rng.random((300, 40)) < 0.1)
    Yc = Xc @ Ac.T
    for cls in (UnfoldedISTA, LISTACP):
        est = cls(Ac, n_layers=5, lam=0.2, loss="supervised", max_steps=100,
                  learning_rate=3e-2 if cls is UnfoldedISTA else 3e-3, random_state=0).fit(Yc, Xc)
        assert np.iscomplexobj(est.predict(Yc)) and est.loss_curve_[-10:].mean() < \
            est.loss_curve_[:10].mean()


# -- array API and GPU ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, option", [("ista", None), ("iht", 30.0), ("lista_cp", None),
                                          ("ista", _SS)])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_array_api_strict_matches_numpy(monkeypatch, kind, option, dtype):
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(11)
    A = random_array(rng, (15, 30), np.dtype(dtype))
    X = random_array(rng, (30, 6), np.dtype(dtype)) * (rng.random((30, 6)) < 0.2)
    Y = A @ X
    net = _perturbed_network(Dense(A), kind, option, rng)
    ref_value, ref_grads = loss_and_gradient(Dense(A), Y, X, net, "unsupervised")
    op = Dense(xps.asarray(A))
    snet = replace(net, params={k: xps.asarray(v) for k, v in net.params.items()})
    value, grads = loss_and_gradient(op, xps.asarray(Y), xps.asarray(X), snet, "unsupervised")
    assert float(value) == pytest.approx(float(ref_value), rel=1e-12)
    for key in grads:
        np.testing.assert_allclose(np.asarray(grads[key]), ref_grads[key], rtol=1e-10,
                                   atol=1e-12)
    out = unfolded(op, xps.asarray(Y), snet)
    np.testing.assert_allclose(np.asarray(out.x), unfolded(A, Y, net).x, rtol=1e-12, atol=1e-13)
    # the layers (inference steps) and the training step never wait for the host
    forbid_host_sync(monkeypatch, type(xps.asarray(1.0)))
    forward(op, xps.asarray(Y), snet)
    loss_and_gradient(op, xps.asarray(Y), xps.asarray(X), snet, "supervised")
    monkeypatch.undo()


def test_array_api_strict_training_matches_numpy():
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(12)
    A = rng.normal(size=(15, 30))
    X = rng.normal(size=(200, 30)) * (rng.random((200, 30)) < 0.1)
    kw = dict(n_layers=4, lam=0.3, loss="supervised", max_steps=15, random_state=0)
    ref = UnfoldedISTA(A, **kw).fit(X @ A.T, X)
    est = UnfoldedISTA(xps.asarray(A), **kw).fit(xps.asarray(X @ A.T), xps.asarray(X))
    np.testing.assert_allclose(np.asarray(est.step_sizes_), ref.step_sizes_, rtol=1e-10)
    np.testing.assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-10)


@pytest.mark.gpu
def test_cupy_training_and_inference_match_numpy(cupy):
    rng = np.random.default_rng(13)
    A = rng.normal(size=(15, 30))
    X = rng.normal(size=(200, 30)) * (rng.random((200, 30)) < 0.1)
    kw = dict(n_layers=4, lam=0.3, loss="unsupervised", max_steps=15, random_state=0)
    ref = UnfoldedISTA(A, **kw).fit(X @ A.T)
    est = UnfoldedISTA(cupy.asarray(A), **kw).fit(cupy.asarray(X @ A.T))
    np.testing.assert_allclose(cupy.asnumpy(est.step_sizes_), ref.step_sizes_, rtol=1e-8)
    np.testing.assert_allclose(cupy.asnumpy(est.predict(cupy.asarray(X @ A.T))),
                               ref.predict(X @ A.T), rtol=1e-8, atol=1e-10)
