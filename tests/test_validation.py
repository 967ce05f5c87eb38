"""The bad-input table (acceptance 5): every row is a clear error naming the argument."""
import numpy as np
import pytest

from sparserec import FISTA, IHT, ISTA, OMP
from sparserec.solvers import fista, iht

ESTIMATORS = [ISTA, FISTA, IHT, OMP]


def _data(seed=0, m=20, n=30):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, n)), rng.standard_normal(m)


def _with(array, index, value):
    out = np.array(array, dtype=float)
    out[index] = value
    return out


A0, Y0 = _data()

BAD_PROBLEMS = [
    # (A, y, exception, message naming the argument)
    (_with(A0, (0, 0), np.nan), Y0, ValueError, "A contains NaN"),
    (_with(A0, (1, 2), np.inf), Y0, ValueError, "A contains infinity"),
    (A0, _with(Y0, 3, np.nan), ValueError, "y contains NaN"),
    (A0, _with(Y0, 3, -np.inf), ValueError, "y contains infinity"),
    (A0, Y0[:-1], ValueError, "y of shape .* does not match A"),
    (A0, np.ones((A0.shape[0] + 1, 2)), ValueError, "y of shape .* does not match A"),
    (np.empty((0, 5)), np.empty(0), ValueError, "A has 0 sample"),
    (np.empty((5, 0)), np.ones(5), ValueError, "A has 0 feature"),
    (A0, np.empty(0), ValueError, "y"),
    (A0, np.ones((2, A0.shape[0], 3)), ValueError, r"y must have shape \(m,\) or \(m, L\)"),
    (A0[0], Y0, ValueError, "A must have 2 or 3 dimensions"),
    (A0.astype(str), Y0, TypeError, "A must be a numeric array"),
    (A0, Y0.astype(str), TypeError, "y must be a numeric array"),
    (_with(A0, (0, 0), 0).astype(object), Y0, None, None),  # object array of numbers: fine
    (np.array([[{"a": 1}, 2.0], [3.0, 4.0]], dtype=object), np.ones(2), TypeError,
     "A must contain numbers"),
    (A0, None, ValueError, "requires y to be passed"),
    (None, Y0, ValueError, "A"),
]


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("A, y, exc, msg", BAD_PROBLEMS,
                         ids=[f"row{i}" for i in range(len(BAD_PROBLEMS))])
def test_bad_problem_raises_naming_the_argument(est, A, y, exc, msg):
    model = est(3) if est in (IHT, OMP) else est(alpha=0.01)
    if exc is None:
        model.fit(A, y)
        return
    with pytest.raises(exc, match=msg):
        model.fit(A, y)


@pytest.mark.parametrize("params, exc, msg", [
    ({"alpha": -1.0}, ValueError, "alpha must be >= 0"),
    ({"alpha": np.inf}, ValueError, "alpha must be finite"),
    ({"alpha": np.nan}, ValueError, "alpha must be finite"),
    ({"alpha": "big"}, TypeError, "alpha must be a real number"),
    ({"max_iter": -1}, ValueError, "max_iter must be >= 0"),
    ({"max_iter": 2.5}, TypeError, "max_iter must be an integer"),
    ({"tol": -1e-3}, ValueError, "tol must be >= 0"),
    ({"check_every": 0}, ValueError, "check_every must be >= 1"),
])
@pytest.mark.parametrize("est", [ISTA, FISTA], ids=lambda c: c.__name__)
def test_bad_hyperparameters_of_l1_estimators(est, params, exc, msg):
    with pytest.raises(exc, match=msg):
        est(**params).fit(A0, Y0)


@pytest.mark.parametrize("params, exc, msg", [
    ({"n_nonzero_coefs": A0.shape[1] + 1}, ValueError, "n_nonzero_coefs=31 exceeds"),
    ({"n_nonzero_coefs": 0}, ValueError, "n_nonzero_coefs must be >= 1"),
    ({"n_nonzero_coefs": 2.5}, TypeError, "n_nonzero_coefs must be an integer"),
    ({"alpha": -1.0}, ValueError, "alpha must be >= 0"),
    ({"alpha": np.inf}, ValueError, "alpha must be finite"),
    ({"alpha": 0.1, "n_nonzero_coefs": 3}, ValueError, "n_nonzero_coefs or alpha, not both"),
    ({"alpha": 0.1, "normalized": True}, ValueError, "normalized IHT needs k"),
    ({"normalized": "yes"}, ValueError, "normalized must be"),
])
def test_bad_hyperparameters_of_iht(params, exc, msg):
    with pytest.raises(exc, match=msg):
        IHT(**params).fit(A0, Y0)


def test_solver_functions_name_their_arguments():
    with pytest.raises(ValueError, match="lam must be >= 0"):
        fista(A0, Y0, lam=-1)
    with pytest.raises(ValueError, match="k must be <= 30"):
        iht(A0, Y0, k=31)
    with pytest.raises(ValueError, match="exactly one of k"):
        iht(A0, Y0)


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda c: c.__name__)
def test_integer_inputs_are_converted_to_float(est):
    rng = np.random.default_rng(3)
    A = rng.integers(-5, 6, size=(25, 40))
    y = A[:, :2] @ np.array([3, -2])
    model = est(2) if est in (IHT, OMP) else est(alpha=0.01, tol=1e-10, max_iter=100_000)
    ref = est(2) if est in (IHT, OMP) else est(alpha=0.01, tol=1e-10, max_iter=100_000)
    np.testing.assert_array_equal(model.fit(A, y).coef_, ref.fit(A.astype(float), y.astype(float)).coef_)
    assert model.coef_.dtype == np.float64


def test_predict_checks_the_number_of_features():
    model = FISTA(alpha=0.1).fit(A0, Y0)
    with pytest.raises(ValueError, match="X has 29 features, but FISTA is expecting 30"):
        model.predict(A0[:, :-1])


def test_stacked_operator_with_unstacked_measurements_is_refused():
    As = np.stack([A0, A0])
    with pytest.raises(ValueError, match=r"y must have shape \(B, m\) or \(B, m, L\)"):
        FISTA(alpha=0.1).fit(As, Y0)
    with pytest.raises(ValueError, match="for each of the 2 problems"):
        FISTA(alpha=0.1).fit(As, np.ones((3, A0.shape[0])))
