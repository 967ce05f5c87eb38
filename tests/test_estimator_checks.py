"""scikit-learn conformance of every estimator (acceptance 3)."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from sparserec import FISTA, IHT, ISTA, OMP, SBL, Lasso, LassoCV

ESTIMATORS = [ISTA(), FISTA(), IHT(), OMP(), Lasso(), LassoCV(cv=3, n_alphas=10), SBL()]

# sparserec accepts complex data on purpose; scikit-learn's check demands a refusal.
_EXPECTED_FAILURES = {"check_complex_data": "complex data is supported by design"}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: _EXPECTED_FAILURES)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_clone_and_pickle_roundtrip(est):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 50))
    y = A[:, :3] @ np.array([1.0, -2.0, 0.5])
    fitted = clone(est).set_params(**({"alpha": 0.01} if "alpha" in est.get_params()
                                      and not isinstance(est, IHT) else {})).fit(A, y)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.coef_, fitted.coef_)
    np.testing.assert_array_equal(restored.predict(A), fitted.predict(A))
    assert clone(fitted).get_params() == fitted.get_params()
    assert not hasattr(clone(fitted), "coef_")


def test_grid_search_scores_every_alpha_like_scikit_learns_lasso():
    """Same folds, same grid: the cross-validated scores of FISTA are those of Lasso
    (so an estimator that ignored ``alpha`` would fail), and so is the choice."""
    from sklearn.linear_model import Lasso
    from sklearn.model_selection import KFold
    rng = np.random.default_rng(1)
    m, n = 120, 60
    A = rng.standard_normal((m, n))
    x = np.zeros(n)
    x[:5] = rng.standard_normal(5) * 3
    y = A @ x + 0.5 * rng.standard_normal(m)
    grid = {"alpha": [1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 10.0]}
    folds = KFold(3, shuffle=True, random_state=0)
    ours = GridSearchCV(FISTA(tol=1e-12, max_iter=100_000), grid, cv=folds).fit(A, y)
    ref = GridSearchCV(Lasso(fit_intercept=False, tol=1e-12, max_iter=100_000), grid,
                       cv=folds).fit(A, y)
    scores = ours.cv_results_["mean_test_score"]
    np.testing.assert_allclose(scores, ref.cv_results_["mean_test_score"], rtol=1e-8)
    assert np.ptp(scores) > 0.5                 # the grid really matters here
    assert ours.best_params_ == ref.best_params_ and ours.best_params_["alpha"] not in (1e-4, 10.0)
    np.testing.assert_allclose(ours.best_estimator_.coef_, ref.best_estimator_.coef_, atol=1e-9)
