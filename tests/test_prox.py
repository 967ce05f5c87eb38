"""Tests for :mod:`sparserec.prox` (NumPy, Numba and array-API paths)."""
import math
import warnings

import numpy as np
import pytest

import sparserec._kernels as kernels
from sparserec import prox
from sparserec.prox import hard_threshold, soft_threshold, top_k

from _helpers import random_array

xps = pytest.importorskip("array_api_strict")

P = 6                     # problems per call
SMALL_N = 9


def _large_n():
    """Unknowns per problem so that ``n * P`` exceeds the Numba threshold."""
    return math.ceil(prox._NUMBA_MIN_SIZE / P) + 5


def _to_np(x):
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.from_dlpack(x)
    except Exception:  # pragma: no cover - older array_api_strict
        return np.asarray(x)


def _tol(dtype):
    return 1e-5 if np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.complex64)) else 1e-13


def soft_ref(v, t):
    """Closed form: ``sign(v) max(|v|-t, 0)`` (real), ``v max(1 - t/|v|, 0)`` (complex)."""
    v = np.asarray(v, dtype=np.complex128 if np.iscomplexobj(v) else np.float64)
    if np.iscomplexobj(v):
        with np.errstate(divide="ignore"):
            return v * np.maximum(1.0 - t / np.abs(v), 0.0)
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def make_problem(layout, size, dtype, t_kind, seed):
    """``v`` of shape ``(n, P)`` ("columns") or ``(P, n, 1)`` ("stacked") and a threshold.

    Real ``v`` gets entries exactly at ``+-t`` and exact zeros (boundary cases).
    """
    rng = np.random.default_rng(seed)
    n = SMALL_N if size == "small" else _large_n()
    shape = (n, P) if layout == "columns" else (P, n, 1)
    v = random_array(rng, shape, dtype)
    tvals = rng.uniform(0.3, 1.5, P)
    if t_kind == "scalar":
        t = 0.75          # exactly representable in float32 too
        t_full = np.full(P, t)
    else:
        t = tvals.reshape((1, P) if layout == "columns" else (P, 1, 1))
        t_full = tvals
        if np.issubdtype(dtype, np.floating):
            t = t.astype(dtype)
            t_full = t.ravel().astype(np.float64)
    # boundary entries: |v| == t and v == 0
    if layout == "columns":
        v[2, :] = 0
        if not np.iscomplexobj(v):
            v[0, :], v[1, :] = t_full, -t_full
    else:
        v[:, 2, 0] = 0
        if not np.iscomplexobj(v):
            v[:, 0, 0], v[:, 1, 0] = t_full, -t_full
    assert (v.size >= prox._NUMBA_MIN_SIZE) == (size == "large")
    return v, t


def _xp_args(v, t, ns):
    if ns == "numpy":
        return v, t
    return xps.asarray(v), (t if np.isscalar(t) else xps.asarray(t))


DTYPES = [np.float64, np.complex128, np.float32, np.complex64]
LAYOUTS = ["columns", "stacked"]


# ---------------------------------------------------------------------- soft threshold
@pytest.mark.parametrize("ns", ["numpy", "strict"])
@pytest.mark.parametrize("t_kind", ["scalar", "per_problem"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("size", ["small", "large"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_soft_threshold_matches_closed_form(dtype, size, layout, t_kind, ns):
    v, t = make_problem(layout, size, dtype, t_kind, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = soft_threshold(*_xp_args(v, t, ns))
    assert (ns == "numpy") == isinstance(got, np.ndarray)
    got = _to_np(got)
    assert got.shape == v.shape and got.dtype == v.dtype
    ref = soft_ref(v, t)
    tol = _tol(dtype)
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
    # the zeroed set is exactly |v| <= t (entries at the boundary included)
    zero = np.abs(ref) == 0
    assert zero.any() and (~zero).any()
    np.testing.assert_array_equal(got == 0, zero)


@pytest.mark.parametrize("t_kind", ["scalar", "per_problem"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("size", ["small", "large"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_soft_threshold_strict_equals_numpy(dtype, size, layout, t_kind):
    v, t = make_problem(layout, size, dtype, t_kind, seed=2)
    a = soft_threshold(v, t)
    b = _to_np(soft_threshold(*_xp_args(v, t, "strict")))
    tol = _tol(dtype)
    np.testing.assert_allclose(b, a, rtol=tol, atol=tol)


@pytest.mark.parametrize("size", ["small", "large"])
def test_soft_threshold_uses_numba_only_for_large_numpy_arrays(size, monkeypatch):
    calls = []
    original = kernels.soft_threshold_numba

    def spy(v, t):
        calls.append(v.shape)
        return original(v, t)

    monkeypatch.setattr(kernels, "soft_threshold_numba", spy)
    v, t = make_problem("columns", size, np.float64, "per_problem", seed=3)
    soft_threshold(v, t)
    assert len(calls) == (1 if size == "large" else 0)
    soft_threshold(*_xp_args(v, t, "strict"))
    assert len(calls) == (1 if size == "large" else 0)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
def test_soft_threshold_numba_kernel_all_threshold_shapes(dtype):
    """The kernel directly, incl. shapes it hands back to NumPy (per-entry weights)."""
    rng = np.random.default_rng(4)
    n, Bn = 7, 3
    cases = [
        (random_array(rng, (n, P), dtype), 0.5),
        (random_array(rng, (n, P), dtype), rng.uniform(0.2, 1, (1, P))),
        (random_array(rng, (n, P), dtype), rng.uniform(0.2, 1, P)),
        (random_array(rng, (n, P), dtype), rng.uniform(0.2, 1, (n, 1))),      # per unknown
        (random_array(rng, (n, P), dtype), rng.uniform(0.2, 1, (n, P))),      # per entry
        (random_array(rng, (Bn, n, P), dtype), rng.uniform(0.2, 1, (Bn, 1, 1))),
        (random_array(rng, (Bn, n, P), dtype), rng.uniform(0.2, 1, (Bn, 1, P))),
        (random_array(rng, (Bn, n, P), dtype), rng.uniform(0.2, 1, (1, P))),
        (random_array(rng, (n,), dtype), 0.3),                                 # 1-D
        (random_array(rng, (2, Bn, n, 2), dtype), 0.3),                        # 4-D
        (np.asfortranarray(random_array(rng, (n, P), dtype)), 0.4),            # F-order
        (random_array(rng, (n, 2 * P), dtype)[:, ::2], 0.4),                   # strided view
    ]
    for v, t in cases:
        got = kernels.soft_threshold_numba(v, t)
        assert got.shape == v.shape and got.dtype == v.dtype
        np.testing.assert_allclose(got, soft_ref(v, t), rtol=_tol(dtype), atol=_tol(dtype),
                                   err_msg=f"v {v.shape}, t {np.shape(t)}")


@pytest.mark.parametrize("size", ["small", "large"])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_soft_threshold_zero_threshold_is_identity(dtype, size):
    v, _ = make_problem("columns", size, dtype, "scalar", seed=5)
    np.testing.assert_allclose(soft_threshold(v, 0.0), v, rtol=1e-15, atol=0)


def _objective(x, v, t):
    """``0.5 |x - v|^2 + t |x|_1`` per problem (problems along every axis but -2)."""
    return 0.5 * np.sum(np.abs(x - v) ** 2, axis=-2) + np.squeeze(
        np.asarray(t) * np.sum(np.abs(x), axis=-2, keepdims=True), axis=-2)


@pytest.mark.parametrize("ns", ["numpy", "strict"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("size", ["small", "large"])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_soft_threshold_is_prox_of_l1(dtype, size, layout, ns):
    """The output minimises ``0.5|x-v|^2 + t|x|_1``.

    By 1-strong convexity, ``f(p + d) >= f(p) + |d|^2 / 2`` must hold for every
    perturbation ``d`` when ``p`` is the minimiser; checked for random ``d`` of
    several scales, dense and sparse, and via the subgradient condition.
    """
    v, t = make_problem(layout, size, dtype, "per_problem", seed=6)
    p = _to_np(soft_threshold(*_xp_args(v, t, ns)))
    fp = _objective(p, v, t)
    rng = np.random.default_rng(7)
    for scale in (1e-4, 1e-2, 1.0):
        for _ in range(3):
            d = scale * random_array(rng, v.shape, dtype)
            if rng.random() < 0.5:   # sparse perturbation: a few entries only
                d = d * (rng.random(v.shape) < 0.05)
            gain = _objective(p + d, v, t) - fp - 0.5 * np.sum(np.abs(d) ** 2, axis=-2)
            assert np.all(gain >= -1e-9 * (1 + np.abs(fp))), gain.min()
    # subgradient: v - p = t p/|p| where p != 0, |v| <= t where p == 0
    tb = np.broadcast_to(np.asarray(t, dtype=np.float64), v.shape)
    nz = p != 0
    np.testing.assert_allclose((v - p)[nz], tb[nz] * p[nz] / np.abs(p[nz]), rtol=1e-10,
                               atol=1e-12)
    assert np.all(np.abs(v[~nz]) <= tb[~nz] * (1 + 1e-12))


# ---------------------------------------------------------------------- hard threshold
@pytest.mark.parametrize("ns", ["numpy", "strict"])
@pytest.mark.parametrize("t_kind", ["scalar", "per_problem"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_hard_threshold_keeps_entries_above_t(dtype, layout, t_kind, ns):
    v, t = make_problem(layout, "small", dtype, t_kind, seed=8)
    got = _to_np(hard_threshold(*_xp_args(v, t, ns)))
    assert got.dtype == v.dtype
    keep = np.abs(v.astype(np.complex128)) > np.asarray(t, dtype=np.float64)
    assert keep.any() and (~keep).any()
    np.testing.assert_array_equal(got, np.where(keep, v, 0))
    if not np.iscomplexobj(v):   # entries with |v| == t are dropped
        boundary = (np.abs(v) == np.asarray(t))
        assert boundary.any() and np.all(got[boundary] == 0)


# ----------------------------------------------------------------------------- top-k
def topk_ref(v, k):
    """Stable reference: ``k`` largest moduli per problem, ties to the lower index."""
    mag = np.abs(v.astype(np.complex128))
    order = np.argsort(-mag, axis=-2, kind="stable")
    keep = np.zeros(v.shape, dtype=bool)
    np.put_along_axis(keep, order[..., :k, :], True, axis=-2)
    return np.where(keep, v, 0)


def _topk_problem(layout, dtype, n, seed, ties=False):
    rng = np.random.default_rng(seed)
    shape = (n, P) if layout == "columns" else (P, n, 1)
    if not ties:
        return random_array(rng, shape, dtype)
    # moduli from a small integer set: many exact ties; never zero
    mod = rng.integers(1, 4, shape).astype(np.float64)
    if np.issubdtype(dtype, np.complexfloating):
        phase = np.array([1, -1, 1j, -1j])[rng.integers(0, 4, shape)]
    else:
        phase = np.array([1.0, -1.0])[rng.integers(0, 2, shape)]
    return (mod * phase).astype(dtype)


@pytest.mark.parametrize("ns", ["numpy", "strict"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_top_k_keeps_k_largest(dtype, layout, ns):
    n = 40
    v = _topk_problem(layout, dtype, n, seed=9)
    v_copy = v.copy()
    for k in (1, 3, n - 1, n):
        got = top_k(xps.asarray(v) if ns == "strict" else v, k)
        assert (ns == "numpy") == isinstance(got, np.ndarray)
        got = _to_np(got)
        assert got.shape == v.shape and got.dtype == v.dtype
        kept = got != 0
        np.testing.assert_array_equal(np.sum(kept, axis=-2), np.full(v.shape[:-2] + v.shape[-1:], k))
        np.testing.assert_array_equal(got[kept], v[kept])         # kept values untouched
        mag = np.abs(v.astype(np.complex128))
        lo = np.min(np.where(kept, mag, np.inf), axis=-2)
        hi = np.max(np.where(kept, -np.inf, mag), axis=-2)
        assert np.all(lo >= hi)                                   # largest moduli kept
        np.testing.assert_array_equal(got, topk_ref(v, k))
    np.testing.assert_array_equal(v, v_copy)                      # input not modified


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_top_k_ties_go_to_lower_index_in_every_namespace(dtype, layout):
    n = 200
    v = _topk_problem(layout, dtype, n, seed=10, ties=True)
    for k in (1, 17, 100, 150):
        a = top_k(v, k)
        b = _to_np(top_k(xps.asarray(v), k))
        ref = topk_ref(v, k)
        np.testing.assert_array_equal(np.sum(a != 0, axis=-2),
                                      np.full(v.shape[:-2] + v.shape[-1:], k))
        np.testing.assert_array_equal(a, ref)
        np.testing.assert_array_equal(b, ref)


@pytest.mark.parametrize("shape", [(1 << 15, 1), (4, 1 << 13, 1), (1 << 15,)],
                         ids=["one-problem", "stack-of-single-columns", "1-d"])
def test_single_column_layouts_never_use_the_numba_kernel(shape, monkeypatch):
    """NumPy wins on the ``(n, 1)`` layout (benchmarks/bench_prox.py), so large single
    problems never pay for loading compiled code."""
    def refuse(v, t):
        raise AssertionError("the Numba kernel was called")
    monkeypatch.setattr(kernels, "soft_threshold_numba", refuse)
    v = np.random.default_rng(6).standard_normal(shape)
    assert v.size >= prox._NUMBA_MIN_SIZE
    np.testing.assert_allclose(soft_threshold(v, 0.5), soft_ref(v, 0.5))


def test_a_large_single_problem_never_imports_numba():
    import subprocess
    import sys
    code = ("import sys, numpy as np; from sparserec import FISTA; "
            "rng = np.random.default_rng(0); A = rng.standard_normal((40, 20000)); "
            "FISTA(alpha=0.05, max_iter=20).fit(A, A[:, :3].sum(1)); "
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"
