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
    (A0, np.empty(0), ValueError, r"y has 0 sample\(s\)"),
    (A0, np.ones((2, A0.shape[0], 3)), ValueError, r"y must have shape \(m,\) or \(m, L\)"),
    (A0[0], Y0, ValueError, "A must have 2 or 3 dimensions"),
    (A0.astype(str), Y0, TypeError, "A must be a numeric array"),
    (A0, Y0.astype(str), TypeError, "y must be a numeric array"),
    (_with(A0, (0, 0), 0).astype(object), Y0, None, None),  # object array of numbers: fine
    (np.array([[{"a": 1}, 2.0], [3.0, 4.0]], dtype=object), np.ones(2), TypeError,
     "A must contain numbers"),
    (A0, None, ValueError, "requires y to be passed"),
    (None, Y0, ValueError, "A is required, got None"),
    (A0 > 0, Y0, TypeError, "A is a boolean array"),
    ([[1.0, 2.0], [3.0]], np.ones(2), ValueError, "A must be a rectangular array"),
    (A0, [1.0, [2.0, 3.0]] + [1.0] * 18, ValueError, "y must be a rectangular array"),
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
    with pytest.raises(ValueError, match="k=31 exceeds the number of unknowns"):
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
    with pytest.raises(ValueError, match=r"^A has 29 columns but the model was fitted with 30 "
                                         r"\(X has 29 features, but FISTA is expecting 30 "
                                         r"features as input\)$"):
        model.predict(A0[:, :-1])


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda c: c.__name__)
def test_counts_must_be_integers_not_floats(est):
    model = est(3.0) if est in (IHT, OMP) else est(alpha=0.1, max_iter=10.0)
    with pytest.raises(TypeError, match=r"must be an integer, got 3.0 \(write 3\)|"
                                        r"must be an integer, got 10.0 \(write 10\)"):
        model.fit(A0, Y0)


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda c: c.__name__)
def test_y_with_one_column_fits_like_a_vector_as_in_scikit_learn(est):
    from sklearn.linear_model import Lasso, OrthogonalMatchingPursuit
    model = est(3) if est in (IHT, OMP) else est(alpha=0.1)
    col = model.fit(A0, Y0[:, None])
    assert col.coef_.shape == (A0.shape[1],) and col.predict(A0).shape == (A0.shape[0],)
    assert np.ndim(col.n_iter_) == 0 and np.ndim(col.converged_) == 0
    np.testing.assert_array_equal(col.coef_, clone_fit(model, A0, Y0).coef_)
    assert col.score(A0, Y0[:, None]) == pytest.approx(col.score(A0, Y0))
    ref = Lasso(alpha=0.1, fit_intercept=False).fit(A0, Y0[:, None]) if est not in (IHT, OMP) \
        else OrthogonalMatchingPursuit(n_nonzero_coefs=3, fit_intercept=False).fit(A0, Y0[:, None])
    assert ref.coef_.shape == col.coef_.shape and ref.predict(A0).shape == col.predict(A0).shape


def clone_fit(model, A, y):
    from sklearn.base import clone
    return clone(model).fit(A, y)


def test_linear_operator_returning_the_wrong_size_is_refused():
    from scipy.sparse.linalg import LinearOperator
    M = np.ones((20, 30))
    bad_adjoint = LinearOperator((20, 30), matvec=lambda v: M @ v,
                                 rmatvec=lambda r: (M.T @ r)[:-1], dtype=float)
    with pytest.raises(ValueError, match=r"^A: rmatvec \(the adjoint\) of the linear operator "
                                         r"of shape \(20, 30\) failed on 20 values"):
        FISTA(alpha=0.1).fit(bad_adjoint, np.ones(20))

    class Bare:  # no SciPy wrapper: the output reaches the check as it is
        shape = (20, 30)

        def matvec(self, v):
            return M @ v

        def rmatvec(self, r):
            return (M.T @ r)[:-1]

    with pytest.raises(ValueError, match=r"returned 29 values from rmatvec \(the adjoint\); "
                                         "expected 30"):
        FISTA(alpha=0.1).fit(Bare(), np.ones(20))
    bad_forward = LinearOperator((20, 30), matvec=lambda v: np.ones(21), rmatvec=lambda r: M.T @ r,
                                 dtype=float)
    with pytest.raises(ValueError, match=r"^A: matvec of the linear operator of shape "
                                         r"\(20, 30\) failed on 30 values"):
        FISTA(alpha=0.1).fit(bad_forward, np.ones(20))
    Bare.matvec = lambda self, v: np.ones(21)
    Bare.rmatvec = lambda self, r: M.T @ r
    with pytest.raises(ValueError, match="returned 21 values from matvec; expected 20"):
        FISTA(alpha=0.1).fit(Bare(), np.ones(20))


def test_importing_the_solvers_imports_no_scikit_learn():
    import subprocess
    import sys
    code = ("import sys, sparserec.solvers, sparserec.operators, sparserec.simulate; "
            "print(any(m == 'sklearn' or m.startswith('sklearn.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_stacked_operator_with_unstacked_measurements_is_refused():
    As = np.stack([A0, A0])
    with pytest.raises(ValueError, match=r"y must have shape \(B, m\) or \(B, m, L\)"):
        FISTA(alpha=0.1).fit(As, Y0)
    with pytest.raises(ValueError, match="for each of the 2 problems"):
        FISTA(alpha=0.1).fit(As, np.ones((3, A0.shape[0])))


def test_numba_path_leaves_the_warm_start_untouched():
    from sparserec.solvers import fista
    rng = np.random.default_rng(30)
    A, Y = rng.standard_normal((30, 60)), rng.standard_normal((30, 10))
    path = []
    est = FISTA(warm_start=True, tol=1e-8)
    for alpha in (0.5, 0.2, 0.1):
        path.append(est.set_params(alpha=alpha).fit(A, Y).coef_)
    assert not np.shares_memory(path[0], path[2])
    np.testing.assert_allclose(path[0], FISTA(alpha=0.5, tol=1e-8).fit(A, Y).coef_, atol=1e-6)
    As, Ys = rng.standard_normal((9, 30, 60)), rng.standard_normal((9, 30))
    x0 = np.zeros((9, 60))
    x0.flags.writeable = False
    res = fista(As, Ys, lam=1.0, x0=x0)
    assert not np.any(x0) and not np.shares_memory(res.x, x0)


def test_score_of_stacks_and_complex_data_and_weights():
    from sklearn.metrics import r2_score
    rng = np.random.default_rng(31)
    As, Ys = rng.standard_normal((4, 30, 60)), rng.standard_normal((4, 30))
    model = OMP(3).fit(As, Ys)
    expected = np.mean([r2_score(Ys[b], As[b] @ model.coef_[b]) for b in range(4)])
    np.testing.assert_allclose(model.score(As, Ys), expected)
    Ys3 = rng.standard_normal((4, 30, 2))
    model = OMP(3).fit(As, Ys3)
    expected = np.mean([r2_score(Ys3[b], As[b] @ model.coef_[b].T) for b in range(4)])
    np.testing.assert_allclose(model.score(As, Ys3), expected)
    w = rng.uniform(0.5, 2.0, 30)
    model = FISTA(alpha=0.01).fit(As[0], Ys[0])
    np.testing.assert_allclose(model.score(As[0], Ys[0], sample_weight=w),
                               r2_score(Ys[0], model.predict(As[0]), sample_weight=w))
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(30,\)"):
        model.score(As[0], Ys[0], sample_weight=w[:-1])
    Ac = As[0] + 1j * rng.standard_normal((30, 60))
    yc = Ac[:, :3] @ np.array([1.0, 2j, -1.0])
    assert OMP(3).fit(Ac, yc).score(Ac, yc) == pytest.approx(1.0)


@pytest.mark.parametrize("make, msg", [
    (lambda: __import__("sparserec").operators.Dense(_with(A0, (2, 2), np.nan)), "A contains NaN"),
    (lambda: __import__("sparserec").operators.Kron(np.ones((2, 3)), _with(np.ones((3, 4)), (0, 0), np.inf)),
     "A contains NaN or infinity"),
])
def test_prebuilt_operators_are_checked_for_non_finite_entries(make, msg):
    op = make()
    y = np.ones(op.shape[0])
    with pytest.raises(ValueError, match=msg):
        FISTA(alpha=0.1).fit(op, y)


def test_linear_operator_without_adjoint_is_refused():
    from scipy.sparse.linalg import LinearOperator
    op = LinearOperator((20, 30), matvec=lambda v: np.ones(20), dtype=float)
    with pytest.raises(ValueError, match="no adjoint"):
        FISTA(alpha=0.1).fit(op, np.ones(20))


def test_operator_without_dtype_infers_complex():
    from sparserec.operators import as_operator
    rng = np.random.default_rng(32)
    M = rng.standard_normal((20, 30)) + 1j * rng.standard_normal((20, 30))

    class Bare:  # PyLops-like: shape, matvec, rmatvec, no dtype
        shape = M.shape

        def matvec(self, v):
            return M @ v

        def rmatvec(self, v):
            return M.conj().T @ v

    assert as_operator(Bare()).dtype == np.complex128
    y = M[:, :3] @ np.array([1.0, -1.0, 0.5])
    np.testing.assert_allclose(OMP(3).fit(Bare(), y.real).coef_, OMP(3).fit(M, y.real).coef_,
                               atol=1e-10)


@pytest.mark.parametrize("dtype, outcome", [(np.float16, np.float32), (np.longdouble, TypeError)])
def test_half_and_extended_precision(dtype, outcome):
    A = A0.astype(dtype)
    if outcome is TypeError:
        if np.dtype(np.longdouble).itemsize == 8:
            pytest.skip("longdouble is float64 on this platform")
        with pytest.raises(TypeError, match="A has extended precision"):
            FISTA(alpha=0.1).fit(A, Y0)
        return
    assert FISTA(alpha=0.1).fit(A, Y0.astype(dtype)).coef_.dtype == outcome


@pytest.mark.parametrize("params, name", [({"restart": "no"}, "restart"),
                                          ({"warm_start": "yes"}, "warm_start")])
def test_flags_must_be_booleans(params, name):
    model = FISTA(alpha=0.1, **params)
    with pytest.raises(TypeError, match=f"{name} must be True or False"):
        model.fit(A0, Y0)


def test_complex_warm_start_for_a_real_problem_is_refused():
    from sparserec.solvers import fista
    with pytest.raises(ValueError, match="x0 is complex but the problem"):
        fista(A0, Y0, lam=1.0, x0=np.zeros(A0.shape[1], complex))


def test_alpha_zero_warns_like_scikit_learn():
    with pytest.warns(UserWarning, match="alpha=0"):
        FISTA(alpha=0.0, max_iter=50).fit(A0[:10], Y0[:10])
