"""Orthogonal matching pursuit: solver (sparserec.solvers.greedy) and estimator (OMP)."""
import pickle
import warnings

import array_api_strict as xps
import numpy as np
import pytest
import scipy.sparse
from sklearn.base import clone
from sklearn.linear_model import OrthogonalMatchingPursuit

from sparserec.estimators.greedy import OMP
from sparserec.operators import Dense, Kron
from sparserec.solvers import greedy
from sparserec.solvers.greedy import omp

ATOL = 1e-10


def _real(rng, *shape):
    return rng.standard_normal(shape)


def _complex(rng, *shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)


def _unit_columns(A):
    return A / np.linalg.norm(A, axis=-2, keepdims=True)


def _sklearn(A, y, **params):
    with warnings.catch_warnings():      # sklearn's "premature" RuntimeWarning, if any
        warnings.simplefilter("ignore", RuntimeWarning)
        return OrthogonalMatchingPursuit(fit_intercept=False, **params).fit(A, y).coef_


def _sparse_signals(rng, n, k, L, draw):
    X = np.zeros((n, L), dtype=draw(rng, 1).dtype)
    for col in range(L):
        X[rng.choice(n, k, replace=False), col] = draw(rng, k)
    return X


def reference_omp(A, y, k):
    """Textbook OMP: arg-max correlation modulus, fresh least squares every step."""
    r, support, coef = y.copy(), [], np.zeros(0)
    for _ in range(k):
        corr = np.abs(A.conj().T @ r)
        corr[support] = -1.0
        support.append(int(np.argmax(corr)))
        coef, *_ = np.linalg.lstsq(A[:, support], y, rcond=None)
        r = y - A[:, support] @ coef
    x = np.zeros(A.shape[1], dtype=np.result_type(A, y))
    x[support] = coef
    return x


# -- agreement with scikit-learn ---------------------------------------------------------

@pytest.mark.parametrize("m, n", [(40, 90), (60, 30)])
@pytest.mark.parametrize("L", [None, 6])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_sklearn_fixed_sparsity(m, n, L, seed):
    rng = np.random.default_rng(seed)
    A = _unit_columns(_real(rng, m, n))
    y = _real(rng, m) if L is None else _real(rng, m, L)
    k = 7
    expected = _sklearn(A, y, n_nonzero_coefs=k)
    est = OMP(n_nonzero_coefs=k).fit(A, y)
    np.testing.assert_allclose(est.coef_, expected, rtol=0, atol=ATOL)
    assert est.coef_.shape == expected.shape
    assert np.all(np.count_nonzero(np.atleast_2d(est.coef_), axis=-1) == k)
    assert np.all(est.n_iter_ == k) and est.n_nonzero_coefs_ == k
    for precompute in (True, False):         # both Gram-column routes
        res = omp(A, y, k=k, precompute=precompute)
        np.testing.assert_allclose(res.x, expected.T, rtol=0, atol=ATOL)
        assert res.n_iter.shape == (() if L is None else (L,))
        assert res.n_iter.dtype.kind == "i" and np.all(res.converged)


@pytest.mark.parametrize("L", [None, 5])
@pytest.mark.parametrize("precompute", [True, False])
def test_matches_sklearn_tolerance(L, precompute):
    rng = np.random.default_rng(3)
    m, n = 50, 80
    A = _unit_columns(_real(rng, m, n))
    y = _real(rng, m) if L is None else _real(rng, m, L)
    tol = 0.3 * float(np.min(np.sum(y ** 2, axis=0)))
    expected = _sklearn(A, y, tol=tol)
    np.testing.assert_allclose(OMP(tol=tol).fit(A, y).coef_, expected, rtol=0, atol=ATOL)
    res = omp(A, y, tol=tol, precompute=precompute)
    np.testing.assert_allclose(res.x, expected.T, rtol=0, atol=ATOL)
    residual = np.sum((y - A @ res.x) ** 2, axis=0)
    assert np.all(residual <= tol)
    # one atom fewer would not meet tol: OMP stopped at the first k that does
    assert np.all(res.n_iter == np.count_nonzero(np.atleast_2d(res.x.T), axis=-1))
    assert np.all(res.converged) and res.history.shape == (res.n_iter.max(), 2)
    assert np.all(np.diff(res.history[:, 1]) <= 0)   # residual norms only decrease
    np.testing.assert_allclose(res.history[0, 1], np.sqrt(np.max(np.sum(y ** 2, axis=0))))


def test_estimator_default_and_tol_override_like_sklearn():
    rng = np.random.default_rng(4)
    A, Y = _real(rng, 30, 64), _real(rng, 30, 3)
    est = OMP().fit(A, Y)                     # k = max(1, int(0.1 * 64)) = 6
    assert est.n_nonzero_coefs_ == 6
    np.testing.assert_allclose(est.coef_, _sklearn(A, Y), rtol=0, atol=ATOL)
    # tol overrides n_nonzero_coefs, as in scikit-learn
    tol = 0.5 * float(np.min(np.sum(Y ** 2, axis=0)))
    est = OMP(n_nonzero_coefs=2, tol=tol).fit(A, Y)
    assert est.n_nonzero_coefs_ is None
    np.testing.assert_allclose(est.coef_, _sklearn(A, Y, n_nonzero_coefs=2, tol=tol),
                               rtol=0, atol=ATOL)
    # the default never asks for more atoms than measurements
    assert omp(A[:3], Y[:3]).n_iter.max() == 3


def test_tol_above_signal_energy_gives_zero():
    # documented difference: scikit-learn always selects a first atom
    rng = np.random.default_rng(5)
    A, y = _real(rng, 20, 40), _real(rng, 20)
    res = omp(A, y, tol=1.001 * float(y @ y))
    assert not np.any(res.x) and res.n_iter == 0 and res.converged


# -- stacks ----------------------------------------------------------------------------

@pytest.mark.parametrize("L", [None, 4])
@pytest.mark.parametrize("mode", ["k", "tol"])
@pytest.mark.parametrize("precompute", ["auto", True, False])
def test_stack_equals_loop(L, mode, precompute):
    rng = np.random.default_rng(6)
    B, m, n = 5, 30, 60
    A = _real(rng, B, m, n)
    y = _real(rng, B, m) if L is None else _real(rng, B, m, L)
    kw = {"k": 6} if mode == "k" else {"tol": 5.0}
    res = omp(A, y, precompute=precompute, **kw)
    assert res.x.shape == y.shape[:1] + (n,) + y.shape[2:]
    assert res.n_iter.shape == ((B,) if L is None else (B, L))
    for b in range(B):
        single = omp(A[b], y[b], **kw)
        np.testing.assert_allclose(res.x[b], single.x, rtol=0, atol=ATOL)
        np.testing.assert_array_equal(res.n_iter[b], single.n_iter)
        np.testing.assert_allclose(res.x[b], _sklearn(A[b], y[b], **(
            {"n_nonzero_coefs": 6} if mode == "k" else kw)).T, rtol=0, atol=ATOL)
    if mode == "tol":
        assert len(np.unique(res.n_iter)) > 1  # problems really stop at different steps


def test_blocks_and_compaction_do_not_change_results(monkeypatch):
    rng = np.random.default_rng(7)
    m, n, L = 40, 64, 300
    A = _real(rng, m, n)
    Y = A @ _sparse_signals(rng, n, 3, L, _real) + 1e-3 * _real(rng, m, L)
    Y[:, ::3] *= 10.0                        # heterogeneous stopping under tol
    kw = {"tol": 0.05}
    whole = omp(A, Y, **kw)
    monkeypatch.setattr(greedy, "_BLOCK_ENTRIES", 7 * n)   # 7 problems per block
    blocked = omp(A, Y, **kw)
    np.testing.assert_allclose(blocked.x, whole.x, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(blocked.n_iter, whole.n_iter)
    np.testing.assert_allclose(whole.x, _sklearn(A, Y, **kw).T, rtol=0, atol=ATOL)
    As = _real(rng, 9, m, n)
    Ys = _real(rng, 9, m, 2)
    monkeypatch.setattr(greedy, "_BLOCK_ENTRIES", 1)       # one map per block
    blocked = omp(As, Ys, tol=8.0)
    monkeypatch.setattr(greedy, "_BLOCK_ENTRIES", 1 << 30)
    whole = omp(As, Ys, tol=8.0)
    np.testing.assert_allclose(blocked.x, whole.x, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(blocked.n_iter, whole.n_iter)


# -- complex data --------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_complex_exact_support_recovery(seed):
    rng = np.random.default_rng(seed)
    m, n, k, L = 64, 128, 5, 3
    A = _complex(rng, m, n)
    X = _sparse_signals(rng, n, k, L, _complex)
    res = omp(A, A @ X, k=k)
    np.testing.assert_array_equal(res.x != 0, X != 0)
    np.testing.assert_allclose(res.x, X, rtol=0, atol=ATOL)
    one = omp(A, A @ X[:, 0], k=k)
    np.testing.assert_array_equal(np.flatnonzero(one.x), np.flatnonzero(X[:, 0]))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("precompute", [True, False])
def test_complex_matches_reference_omp(seed, precompute):
    rng = np.random.default_rng(10 + seed)
    m, n, k = 64, 128, 8
    A = _complex(rng, m, n)
    Y = _complex(rng, m, 4)                  # dense: every step is a real choice
    res = omp(A, Y, k=k, precompute=precompute)
    for col in range(Y.shape[1]):
        np.testing.assert_allclose(res.x[:, col], reference_omp(A, Y[:, col], k),
                                   rtol=0, atol=ATOL)
    stacked = omp(np.stack([A, A[::-1]]), np.stack([Y, Y]), k=k)
    np.testing.assert_allclose(stacked.x[0], res.x, rtol=0, atol=ATOL)
    np.testing.assert_allclose(stacked.x[1, :, 0], reference_omp(A[::-1], Y[:, 0], k),
                               rtol=0, atol=ATOL)


def test_real_operator_complex_measurements():
    rng = np.random.default_rng(13)
    A, y = _real(rng, 30, 50), _complex(rng, 30)
    np.testing.assert_allclose(omp(A, y, k=4).x, reference_omp(A, y, 4), rtol=0, atol=ATOL)


# -- array namespaces and operators ----------------------------------------------------------

@pytest.mark.parametrize("draw", [_real, _complex], ids=["real", "complex"])
@pytest.mark.parametrize("stacked", [False, True])
@pytest.mark.parametrize("kw", [{"k": 5}, {"tol": 4.0}], ids=["k", "tol"])
@pytest.mark.parametrize("precompute", [True, False])
def test_array_api_strict_matches_numpy(draw, stacked, kw, precompute):
    rng = np.random.default_rng(14)
    A = draw(rng, *((3,) if stacked else ()), 25, 50)
    Y = draw(rng, *A.shape[:-1], 4)
    expected = omp(A, Y, precompute=precompute, **kw)
    res = omp(xps.asarray(A), xps.asarray(Y), precompute=precompute, **kw)
    assert isinstance(res.x, type(xps.asarray(1.0)))
    np.testing.assert_allclose(np.asarray(res.x), expected.x, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res.n_iter, expected.n_iter)
    est = OMP(**({"n_nonzero_coefs": kw["k"]} if "k" in kw else kw)).fit(
        xps.asarray(A), xps.asarray(Y))
    np.testing.assert_allclose(np.asarray(est.coef_), np.swapaxes(expected.x, -1, -2),
                               rtol=0, atol=1e-12)


def test_kron_gram_is_built_from_the_factor_grams(monkeypatch):
    """precompute=True on a Kron asks the operator for its Gram matrix, which is the
    Kronecker product of the factor Grams: the product of the factors is never formed."""
    rng = np.random.default_rng(14)
    A1, A2 = _real(rng, 6, 9) + 1j * _real(rng, 6, 9), _real(rng, 5, 8)
    Y = _real(rng, 30, 40)
    dense = omp(np.kron(A1, A2), Y, k=6, precompute=True)

    def refuse(self):
        raise AssertionError("Kron.todense() was called")
    monkeypatch.setattr(Kron, "todense", refuse)
    monkeypatch.setattr(Kron, "_matmat", refuse)
    res = omp(Kron(A1, A2), Y, k=6, precompute=True)
    np.testing.assert_allclose(res.x, dense.x, rtol=0, atol=ATOL)


def test_matrix_free_operators_match_dense():
    rng = np.random.default_rng(15)
    A1, A2 = _real(rng, 6, 9), _real(rng, 5, 8)
    Y = _real(rng, 30, 3)
    dense = omp(np.kron(A1, A2), Y, k=6)
    for precompute in (True, False):
        np.testing.assert_allclose(omp(Kron(A1, A2), Y, k=6, precompute=precompute).x,
                                   dense.x, rtol=0, atol=ATOL)
    S = scipy.sparse.random(40, 70, density=0.3, random_state=16, format="csr")
    y = _real(rng, 40)
    np.testing.assert_allclose(OMP(n_nonzero_coefs=5).fit(S, y).coef_,
                               omp(Dense(S.toarray()), y, k=5).x, rtol=0, atol=ATOL)


def test_float32_stays_float32_and_close():
    rng = np.random.default_rng(17)
    A, X = _real(rng, 40, 80), _sparse_signals(rng, 80, 4, 3, _real)
    res = omp(A.astype(np.float32), (A @ X).astype(np.float32), k=4)
    assert res.x.dtype == np.float32
    np.testing.assert_allclose(res.x, X, rtol=0, atol=1e-4)


# -- early stops, degenerate inputs ------------------------------------------------------------

def test_zero_measurements_give_zero_without_warnings():
    rng = np.random.default_rng(18)
    A = _real(rng, 20, 30)
    Y = _real(rng, 20, 3)
    Y[:, 1] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = omp(A, Y, k=4)
        zero = omp(A, np.zeros(20), k=4)
        zero_tol = OMP(tol=0.0).fit(A, np.zeros(20))
    assert not np.any(res.x[:, 1]) and res.n_iter.tolist() == [4, 0, 4]
    assert not np.any(zero.x) and zero.n_iter == 0 and zero.converged
    assert not np.any(zero_tol.coef_) and zero_tol.n_iter_ == 0


def test_stops_when_residual_vanishes_and_never_reselects():
    rng = np.random.default_rng(19)
    A = _unit_columns(_real(rng, 20, 30))
    y = A[:, [4, 11]] @ np.array([2.0, -1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = omp(A, y, k=6)
    assert res.n_iter == 2 and res.converged
    np.testing.assert_array_equal(np.flatnonzero(res.x), [4, 11])
    np.testing.assert_allclose(res.x, _sklearn(A, y, n_nonzero_coefs=6), rtol=0, atol=ATOL)
    # duplicated atom: once one copy is chosen the residual is zero; no second copy
    Ad = np.concatenate([A, A[:, [4]]], axis=1)
    res = omp(Ad, A[:, 4] * 3.0, k=3)
    assert res.n_iter == 1 and np.count_nonzero(res.x) == 1


def test_tol_zero_selects_at_most_m_atoms():
    rng = np.random.default_rng(20)
    A, Y = _real(rng, 12, 30), _real(rng, 12, 2)
    res = omp(A, Y, tol=0.0)
    assert np.all(res.n_iter == 12) and np.all(res.converged)
    np.testing.assert_allclose(A @ res.x, Y, rtol=0, atol=1e-9)


def test_unreachable_tol_uses_every_atom_and_is_flagged():
    rng = np.random.default_rng(23)
    A, Y = _real(rng, 30, 8), _real(rng, 30, 2)     # overdetermined: residual stays
    res = omp(A, Y, tol=1e-3)
    assert np.all(res.n_iter == 8) and not np.any(res.converged)
    np.testing.assert_allclose(res.x, np.linalg.lstsq(A, Y, rcond=None)[0], rtol=0, atol=ATOL)
    np.testing.assert_allclose(res.x, _sklearn(A, Y, tol=1e-3).T, rtol=0, atol=ATOL)


def test_linearly_dependent_atoms_warn_and_flag():
    A = np.array([[1.0, 1.0], [0.0, 1e-10]])
    y = np.array([0.0, 1.0])
    with pytest.warns(RuntimeWarning, match="linearly dependent"):
        res = omp(A, y, k=2)
    assert res.n_iter == 1 and not res.converged
    np.testing.assert_allclose(res.x, _sklearn(A, y, n_nonzero_coefs=2), rtol=0, atol=ATOL)


# -- bad input ----------------------------------------------------------------------------

def test_invalid_sparsity_and_tolerance():
    rng = np.random.default_rng(21)
    A, y = _real(rng, 10, 20), _real(rng, 10)
    with pytest.raises(ValueError, match="k=21 exceeds the number of unknowns"):
        omp(A, y, k=21)
    with pytest.raises(ValueError, match="k=11 exceeds the number of measurements"):
        omp(A, y, k=11)
    for bad in (0, -3):
        with pytest.raises(ValueError, match="k must be >= 1"):
            omp(A, y, k=bad)
    with pytest.raises(TypeError, match="k must be an integer"):
        omp(A, y, k=2.5)
    with pytest.raises(ValueError, match="at most one of k .* and tol"):
        omp(A, y, k=2, tol=0.1)
    with pytest.raises(ValueError, match="tol must be >= 0"):
        omp(A, y, tol=-1.0)
    with pytest.raises(ValueError, match="precompute"):
        omp(A, y, k=2, precompute="yes")
    with pytest.raises(ValueError, match="n_nonzero_coefs=21 exceeds"):
        OMP(n_nonzero_coefs=21).fit(A, y)
    with pytest.raises(ValueError, match="n_nonzero_coefs must be >= 1"):
        OMP(n_nonzero_coefs=0).fit(A, y)
    with pytest.raises(ValueError, match="tol must be >= 0"):
        OMP(tol=-0.5).fit(A, y)


# -- scikit-learn conformance -------------------------------------------------------------------

def test_clone_and_pickle_roundtrip():
    rng = np.random.default_rng(22)
    A = _real(rng, 30, 50)
    y = A[:, :3] @ np.array([1.0, -2.0, 0.5])
    fitted = OMP(n_nonzero_coefs=3).fit(A, y)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.coef_, fitted.coef_)
    np.testing.assert_array_equal(restored.predict(A), fitted.predict(A))
    assert clone(fitted).get_params() == {"n_nonzero_coefs": 3, "tol": None}
    assert not hasattr(clone(fitted), "coef_")
    assert fitted.score(A, y) > 1 - 1e-12
