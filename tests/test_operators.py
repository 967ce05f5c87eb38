"""Tests for :mod:`sparserec.operators` (Dense, stacked Dense, Kron, FromLinearOperator)."""
import warnings

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg

from sparserec.operators import (Dense, FromLinearOperator, Kron, Operator, as_operator,
                                 dottest)

from _helpers import random_array

xps = pytest.importorskip("array_api_strict")

DTYPES = [np.float64, np.complex128, np.float32, np.complex64]
DTYPES64 = [np.float64, np.complex128]
CASES = ["dense", "stacked", "kron1", "kron2", "kron3", "linop", "sparse"]
STACKED = {"stacked"}
B = 3


def _is32(dtype):
    return np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.complex64))


def _rtol(dtype):
    return 2e-5 if _is32(dtype) else 1e-10


def _kron_all(factors):
    out = np.ones((1, 1))
    for f in factors:
        out = np.kron(out, f)
    return out


def _to_np(x):
    """Host NumPy copy of an array of any namespace."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.from_dlpack(x)
    except Exception:  # pragma: no cover - older array_api_strict
        return np.asarray(x)


def make_case(name, dtype, seed=0):
    """Return ``(operator, explicit matrix or stack, factors or None)``."""
    rng = np.random.default_rng(seed)
    if name == "dense":
        A = random_array(rng, (7, 5), dtype)
        return Dense(A), A, None
    if name == "stacked":
        A = random_array(rng, (B, 6, 4), dtype)
        return Dense(A), A, None
    if name.startswith("kron"):
        shapes = {"kron1": [(5, 3)],
                  "kron2": [(3, 2), (4, 5)],
                  "kron3": [(3, 2), (2, 4), (4, 3)]}[name]
        factors = [random_array(rng, s, dtype) for s in shapes]
        return Kron(*factors), _kron_all(factors).astype(dtype), factors
    if name == "linop":
        A = random_array(rng, (6, 8), dtype)
        return FromLinearOperator(scipy.sparse.linalg.aslinearoperator(A)), A, None
    if name == "sparse":
        S = scipy.sparse.random(9, 6, density=0.4, random_state=seed, format="csr")
        if np.issubdtype(dtype, np.complexfloating):
            S = S + 1j * scipy.sparse.random(9, 6, density=0.4, random_state=seed + 1,
                                              format="csr")
        S = S.astype(dtype)
        return as_operator(S), S.toarray(), None
    raise AssertionError(name)


def _adj(A):
    return np.conj(np.swapaxes(A, -1, -2))


# --------------------------------------------------------------------------- dot test
@pytest.mark.parametrize("adjoint", [False, True], ids=["A", "AH"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_dottest(case, dtype, adjoint):
    op, _, _ = make_case(case, dtype)
    if adjoint:
        op = op.H
    err = dottest(op, rtol=_rtol(dtype), random_state=1)
    assert 0 <= err <= _rtol(dtype)


class _WrongAdjoint(Operator):
    """An operator whose adjoint forgets the conjugate (or is scaled when real)."""

    def __init__(self, A):
        super().__init__(A.shape, A.dtype, np)
        self.A = A

    def _matmat(self, X):
        return self.A @ X

    def _rmatmat(self, Y):
        if np.iscomplexobj(self.A):
            return self.A.T @ Y
        return 1.01 * self.A.T @ Y


@pytest.mark.parametrize("dtype", DTYPES64)
def test_dottest_detects_a_wrong_adjoint(dtype):
    op = _WrongAdjoint(random_array(np.random.default_rng(2), (5, 4), dtype))
    with pytest.raises(AssertionError, match="dot test failed"):
        dottest(op, rtol=1e-6)


# --------------------------------------------------------------------- matvec / rmatvec
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_matvec_rmatvec_match_explicit_matrix(case, dtype):
    op, A, _ = make_case(case, dtype)
    rng = np.random.default_rng(10)
    m, n = A.shape[-2:]
    assert op.shape == (m, n)
    AH = _adj(A)
    rtol = 1e-4 if _is32(dtype) else 1e-12
    atol = rtol * np.abs(A).max() * max(m, n) * 3
    L = 3
    if case in STACKED:
        assert op.batch_shape == (B,)
        x, X = random_array(rng, (B, n), dtype), random_array(rng, (B, n, L), dtype)
        y, Y = random_array(rng, (B, m), dtype), random_array(rng, (B, m, L), dtype)
        refs = [(op.matvec(x), np.einsum("bmn,bn->bm", A, x)),
                (op.matvec(X), np.einsum("bmn,bnl->bml", A, X)),
                (op.rmatvec(y), np.einsum("bnm,bm->bn", AH, y)),
                (op.rmatvec(Y), np.einsum("bnm,bml->bnl", AH, Y)),
                (op.H.matvec(y), np.einsum("bnm,bm->bn", AH, y)),
                (op.H.rmatvec(X), np.einsum("bmn,bnl->bml", A, X)),
                (op @ X, np.einsum("bmn,bnl->bml", A, X))]
    else:
        assert op.batch_shape == ()
        x, X = random_array(rng, (n,), dtype), random_array(rng, (n, L), dtype)
        y, Y = random_array(rng, (m,), dtype), random_array(rng, (m, L), dtype)
        refs = [(op.matvec(x), A @ x), (op.matvec(X), A @ X),
                (op.rmatvec(y), AH @ y), (op.rmatvec(Y), AH @ Y),
                (op.H.matvec(Y), AH @ Y), (op.H.rmatvec(x), A @ x),
                (op @ x, A @ x)]
    for got, ref in refs:
        got = np.asarray(got)
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES64)
def test_kron_uses_c_order_vectorisation(dtype):
    """``Kron(A1, A2) @ vec(X) == vec(A1 X A2^T)`` with row-major ``vec``."""
    rng = np.random.default_rng(11)
    A1, A2 = random_array(rng, (3, 2), dtype), random_array(rng, (5, 4), dtype)
    X = random_array(rng, (2, 4), dtype)
    got = Kron(A1, A2).matvec(X.ravel())
    np.testing.assert_allclose(got, (A1 @ X @ A2.T).ravel(), rtol=1e-12, atol=1e-12)
    # three factors: mode products on a (n1, n2, n3) tensor
    A3 = random_array(rng, (2, 3), dtype)
    T = random_array(rng, (2, 4, 3), dtype)
    ref = np.einsum("ai,bj,ck,ijk->abc", A1, A2, A3, T).ravel()
    np.testing.assert_allclose(Kron(A1, A2, A3).matvec(T.ravel()), ref,
                               rtol=1e-12, atol=1e-12)


def test_kron_with_mixed_real_complex_factors():
    rng = np.random.default_rng(12)
    A1 = random_array(rng, (3, 2), np.float64)
    A2 = random_array(rng, (2, 4), np.complex128)
    op = Kron(A1, A2)
    assert np.dtype(op.dtype) == np.complex128 and op.is_complex
    x = random_array(rng, (8, 2), np.float64)
    np.testing.assert_allclose(op.matvec(x), np.kron(A1, A2) @ x, rtol=1e-12, atol=1e-12)
    dottest(op)


# ----------------------------------------------------------------------------- todense
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_todense(case, dtype):
    op, A, _ = make_case(case, dtype)
    rtol = 1e-5 if _is32(dtype) else 1e-13
    D = np.asarray(op.todense())
    assert D.shape == A.shape
    np.testing.assert_allclose(D, A, rtol=rtol, atol=rtol * np.abs(A).max())
    np.testing.assert_allclose(np.asarray(op.H.todense()), _adj(A), rtol=rtol,
                               atol=rtol * np.abs(A).max())


# ------------------------------------------------------------------------------- norm2
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_norm2_matches_numpy(case, dtype):
    op, A, factors = make_case(case, dtype)
    rtol = 1e-4 if _is32(dtype) else 1e-8
    ref = np.linalg.norm(A.astype(np.complex128), 2, axis=(-2, -1))
    sigma = np.asarray(op.norm2())
    assert sigma.shape == op.batch_shape
    np.testing.assert_allclose(sigma, ref, rtol=rtol)
    np.testing.assert_allclose(np.asarray(op.H.norm2()), ref, rtol=rtol)
    if factors is not None:
        prod = np.prod([np.linalg.norm(f.astype(np.complex128), 2) for f in factors])
        np.testing.assert_allclose(sigma, prod, rtol=rtol)


def test_norm2_of_stack_equals_norm2_of_each_map_alone():
    A = random_array(np.random.default_rng(13), (4, 7, 5), np.complex128)
    stacked = np.asarray(Dense(A).norm2())
    alone = np.array([float(Dense(A[b]).norm2()) for b in range(4)])
    np.testing.assert_allclose(stacked, alone, rtol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_norm2_of_zero_operators_is_zero_without_warnings(dtype):
    rng = np.random.default_rng(14)
    stack = random_array(rng, (3, 4, 5), dtype)
    stack[1] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(Dense(np.zeros((4, 3), dtype=dtype)).norm2()) == 0.0
        assert float(Kron(random_array(rng, (2, 3), dtype), np.zeros((3, 2), dtype=dtype)).norm2()) == 0.0
        s = np.asarray(Dense(stack).norm2())
    assert s[1] == 0.0
    rtol = 1e-4 if _is32(dtype) else 1e-8
    np.testing.assert_allclose(s[[0, 2]], np.linalg.norm(stack[[0, 2]], 2, axis=(1, 2)),
                               rtol=rtol)


def test_norm2_is_cached():
    op = Dense(random_array(np.random.default_rng(15), (5, 5), np.float64))
    assert op.norm2() is op.norm2()


# -------------------------------------------------------------------------------- take
@pytest.mark.parametrize("dtype", DTYPES64)
def test_take_returns_sub_stack(dtype):
    op, A, _ = make_case("stacked", dtype)
    idx = np.array([2, 0])
    sub = op.take(idx)
    assert sub.batch_shape == (2,) and sub.shape == op.shape
    np.testing.assert_array_equal(np.asarray(sub.todense()), A[idx])
    X = random_array(np.random.default_rng(16), (2, op.shape[1], 2), dtype)
    np.testing.assert_allclose(sub.matvec(X), A[idx] @ X, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(sub.norm2()), np.asarray(op.norm2())[idx],
                               rtol=1e-12)
    subH = op.H.take(idx)
    np.testing.assert_allclose(np.asarray(subH.todense()), _adj(A[idx]), rtol=1e-13)


@pytest.mark.parametrize("case", ["dense", "kron1", "kron2", "kron3", "linop", "sparse"])
def test_take_on_shared_operator_raises(case):
    op, _, _ = make_case(case, np.float64)
    with pytest.raises(ValueError, match="not a stack"):
        op.take(np.array([0]))
    with pytest.raises(ValueError, match="not a stack"):
        op.H.take(np.array([0]))


# ------------------------------------------------------------------ shape validation
@pytest.mark.parametrize("case", CASES)
def test_shape_mismatch_raises(case):
    op, A, _ = make_case(case, np.float64)
    m, n = op.shape
    lead = (B,) if case in STACKED else ()
    bad = [
        (op.matvec, np.ones(lead + (n + 1,))),
        (op.matvec, np.ones(lead + (n + 1, 2))),
        (op.rmatvec, np.ones(lead + (m + 1,))),
        (op.rmatvec, np.ones(lead + (m + 1, 2))),
        (op.H.matvec, np.ones(lead + (n,))) if m != n else (op.H.matvec, np.ones(lead + (m + 1,))),
        (op.matvec, np.ones(lead + (n, 2, 1))),           # too many dimensions
        (op.matvec, np.ones(())),                         # too few dimensions
    ]
    if case in STACKED:
        bad += [(op.matvec, np.ones((B + 1, n))),         # wrong stack size
                (op.matvec, np.ones((n,))),               # missing stack axis
                (op.rmatvec, np.ones((B - 1, m, 2))),
                (op.matvec, np.ones((1, n, 2))),           # would broadcast silently
                (op.rmatvec, np.ones((1, m)))]
    else:
        bad += [(op.matvec, np.ones((2, n, 1)))]          # a shared op takes no stack axis
    for fn, x in bad:
        with pytest.raises(ValueError):
            fn(x)


def test_constructor_errors():
    with pytest.raises(ValueError):
        Dense(np.ones(3))
    with pytest.raises(ValueError):
        Dense(np.ones((2, 3, 4, 5)))
    with pytest.raises(ValueError):
        Kron()
    with pytest.raises(ValueError):
        Kron(np.ones((2, 2)), np.ones((2, 2, 2)))
    with pytest.raises(ValueError):
        FromLinearOperator(np.ones((2, 3, 4)))


def test_as_operator_dispatch():
    rng = np.random.default_rng(17)
    A = rng.standard_normal((4, 3))
    op = Dense(A)
    assert as_operator(op) is op
    assert isinstance(as_operator(A), Dense)
    assert isinstance(as_operator(rng.standard_normal((2, 4, 3))), Dense)
    assert isinstance(as_operator(scipy.sparse.csr_matrix(A)), FromLinearOperator)
    assert isinstance(as_operator(scipy.sparse.linalg.aslinearoperator(A)), FromLinearOperator)


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_linear_operator_keeps_dtype(dtype):
    A = random_array(np.random.default_rng(18), (4, 3), dtype)
    op = FromLinearOperator(scipy.sparse.linalg.aslinearoperator(A))
    assert np.dtype(op.dtype) == np.dtype(dtype)
    assert op.is_complex == np.issubdtype(dtype, np.complexfloating)


def test_from_linear_operator_without_matmat():
    """Objects with only ``matvec``/``rmatvec`` are applied column by column."""
    A = random_array(np.random.default_rng(19), (5, 3), np.complex128)

    class VecOnly:
        shape = A.shape
        dtype = A.dtype

        def matvec(self, x):
            return A @ x

        def rmatvec(self, y):
            return A.conj().T @ y

    op = as_operator(VecOnly())
    assert isinstance(op, FromLinearOperator)
    X = random_array(np.random.default_rng(20), (3, 4), np.complex128)
    np.testing.assert_allclose(op.matvec(X), A @ X, rtol=1e-13)
    np.testing.assert_allclose(op.todense(), A, rtol=1e-13)
    dottest(op)


# ------------------------------------------------------------------- array_api_strict
STRICT_CASES = ["dense", "stacked", "kron1", "kron2", "kron3"]


def _xp_operator(case, factors, A, xp):
    if case.startswith("kron"):
        return Kron(*[xp.asarray(f) for f in factors])
    return Dense(xp.asarray(A))


def _check_against_numpy(case, dtype, xp, on_device=lambda a: a):
    """Build the operator in namespace ``xp`` and compare everything to NumPy."""
    op_np, A, factors = make_case(case, dtype)
    op = _xp_operator(case, [on_device(f) for f in factors] if factors else None,
                      on_device(A), xp)
    assert op.shape == op_np.shape and op.batch_shape == op_np.batch_shape
    rng = np.random.default_rng(21)
    m, n = op.shape
    lead = op.batch_shape
    rtol = 1e-4 if _is32(dtype) else 1e-12
    atol = rtol * np.abs(A).max() * max(m, n)
    for shape_x, shape_y in [(lead + (n,), lead + (m,)), (lead + (n, 2), lead + (m, 2))]:
        x, y = random_array(rng, shape_x, dtype), random_array(rng, shape_y, dtype)
        for got, ref in [(op.matvec(xp.asarray(on_device(x))), op_np.matvec(x)),
                         (op.rmatvec(xp.asarray(on_device(y))), op_np.rmatvec(y)),
                         (op.H.matvec(xp.asarray(on_device(y))), op_np.rmatvec(y))]:
            assert not isinstance(got, np.ndarray)
            np.testing.assert_allclose(_to_np_any(got), ref, rtol=rtol, atol=atol)
    np.testing.assert_allclose(_to_np_any(op.todense()), A, rtol=rtol, atol=atol)
    np.testing.assert_allclose(_to_np_any(op.norm2()),
                               np.linalg.norm(A.astype(np.complex128), 2, axis=(-2, -1)),
                               rtol=1e-4 if _is32(dtype) else 1e-8)
    dottest(op, rtol=_rtol(dtype))
    dottest(op.H, rtol=_rtol(dtype))
    if op.is_stacked:
        sub = op.take(xp.asarray(on_device(np.array([2, 0]))))
        np.testing.assert_array_equal(_to_np_any(sub.todense()), A[[2, 0]])
    else:
        with pytest.raises(ValueError):
            op.take(xp.asarray(on_device(np.array([0]))))
    with pytest.raises(ValueError):
        op.matvec(xp.asarray(on_device(np.ones(lead + (n + 1,), dtype=dtype))))


def _to_np_any(x):
    if hasattr(x, "get"):  # CuPy
        return x.get()
    return _to_np(x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", STRICT_CASES)
def test_array_api_strict_matches_numpy(case, dtype):
    _check_against_numpy(case, dtype, xps)


@pytest.mark.gpu
def test_cupy_matches_numpy(cupy):
    cp = cupy
    for case in STRICT_CASES:
        for dtype in DTYPES:
            _check_against_numpy(case, dtype, cp, on_device=cp.asarray)


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_column_access_and_gram_blocks_match_the_explicit_matrix(complex_):
    """``columns`` / ``gram_block`` (what working-set solvers touch) equal the slices of
    the explicit matrix; three Kronecker factors, a stack entry, and None when
    matrix-free."""
    rng = np.random.default_rng(77)
    draw = (lambda s: rng.standard_normal(s) + 1j * rng.standard_normal(s)) if complex_ \
        else rng.standard_normal
    K = Kron(draw((3, 4)), draw((2, 5)), draw((4, 3)))
    full = K.todense()
    idx = np.array([0, 7, 13, 59, 31])
    np.testing.assert_allclose(K.columns(idx), full[:, idx], rtol=1e-13)
    np.testing.assert_allclose(K.gram_block(idx), (full.conj().T @ full)[np.ix_(idx, idx)],
                               rtol=1e-12, atol=1e-12)
    S = draw((3, 6, 8))
    np.testing.assert_array_equal(Dense(S).columns(idx[:3] % 8, entry=2), S[2][:, idx[:3] % 8])
    assert Dense(S).gram_block(idx) is None
    for order in "CF":      # row-major A: gathered from a kept copy of A^T, twice
        D = Dense(np.asarray(full, order=order))
        for _ in range(2):
            np.testing.assert_array_equal(D.columns(idx), full[:, idx])
    assert as_operator(scipy.sparse.linalg.aslinearoperator(full)).columns(idx) is None
