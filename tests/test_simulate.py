import math

import numpy as np
import pytest
import scipy.fft

from sparserec.operators import Kron
from sparserec.simulate import (CSProblem, IRSProblem, KroneckerCSProblem, gaussian_cs,
                                irs_mimo, kronecker_cs)


def _matmul(A, x):
    """``A @ x`` for every layout of :class:`CSProblem` (stacked A with (B, n) x)."""
    if A.ndim == 3 and x.ndim == 2:
        return np.einsum("bmn,bn->bm", A, x)
    return A @ x


@pytest.mark.parametrize("sensing", ["gaussian", "dct"])
@pytest.mark.parametrize("is_complex", [False, True])
@pytest.mark.parametrize("batch", [None, 3])
@pytest.mark.parametrize("n_targets", [None, 4])
def test_shapes_dtypes_and_noiseless_model(sensing, is_complex, batch, n_targets):
    m, n = 8, 16
    prob = gaussian_cs(m, n, 3, n_targets=n_targets, batch=batch, sensing=sensing,
                       complex=is_complex, random_state=0)
    assert isinstance(prob, CSProblem)
    lead = () if batch is None else (batch,)
    tail = () if n_targets is None else (n_targets,)
    assert prob.A.shape == lead + (m, n)
    assert prob.x.shape == lead + (n,) + tail
    assert prob.y.shape == lead + (m,) + tail
    assert prob.support.shape == prob.x.shape and prob.support.dtype == bool
    assert np.shape(prob.noise_var) == lead + tail
    assert np.all(prob.noise_var == 0)
    if not lead + tail:
        assert isinstance(prob.noise_var, float)
    signal = np.complex128 if is_complex else np.float64
    assert prob.x.dtype == signal and prob.y.dtype == signal
    assert prob.A.dtype == (np.complex128 if is_complex and sensing == "gaussian" else np.float64)
    np.testing.assert_allclose(prob.y, _matmul(prob.A, prob.x), atol=1e-12)


def test_noisy_shapes():
    prob = gaussian_cs(8, 16, 3, n_targets=4, batch=3, snr_db=10, random_state=0)
    assert prob.noise_var.shape == (3, 4) and np.all(prob.noise_var > 0)
    assert isinstance(gaussian_cs(8, 16, 3, snr_db=10, random_state=0).noise_var, float)


def test_batch_problems_are_independent():
    prob = gaussian_cs(8, 16, 3, n_targets=2, batch=2, sensing="dct", random_state=1)
    assert not np.array_equal(prob.A[0], prob.A[1])
    assert not np.array_equal(prob.support[0], prob.support[1])
    assert not np.array_equal(prob.support[..., 0], prob.support[..., 1])


@pytest.mark.parametrize("kwargs", [
    dict(k=4),
    dict(k=4, complex=True, snr_db=5, n_targets=3, batch=2),
    dict(sensing="dct", support="bernoulli", p=0.3, amplitude="rademacher", snr_db=0),
])
def test_same_seed_same_problem(kwargs):
    a = gaussian_cs(10, 20, random_state=7, **kwargs)
    b = gaussian_cs(10, 20, random_state=np.random.default_rng(7), **kwargs)
    c = gaussian_cs(10, 20, random_state=8, **kwargs)
    for field in ("A", "x", "y", "noise_var", "support"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.y, c.y)


def test_generator_is_advanced_not_copied():
    rng = np.random.default_rng(3)
    first, second = gaussian_cs(5, 10, 2, random_state=rng), gaussian_cs(5, 10, 2, random_state=rng)
    assert not np.array_equal(first.A, second.A)


@pytest.mark.parametrize("sensing", ["gaussian", "dct"])
@pytest.mark.parametrize("is_complex", [False, True])
def test_unit_column_norms(sensing, is_complex):
    prob = gaussian_cs(12, 30, 3, batch=4, sensing=sensing, complex=is_complex, random_state=2)
    np.testing.assert_allclose(np.linalg.norm(prob.A, axis=-2), 1.0, rtol=1e-12)


@pytest.mark.parametrize("is_complex", [False, True])
def test_gaussian_entries_without_normalisation(is_complex):
    m = 50
    A = gaussian_cs(m, 400, 3, complex=is_complex, normalize_columns=False, random_state=4).A
    norms = np.linalg.norm(A, axis=0)
    assert not np.allclose(norms, 1.0)
    # entries have variance 1/m: m * mean|a|^2 = 1 up to a few standard errors
    n_entries = A.size
    assert abs(m * np.mean(np.abs(A) ** 2) - 1) < 5 * np.sqrt((1 if is_complex else 2) / n_entries)
    if is_complex:  # circular: equal power in real and imaginary parts
        assert abs(m * np.mean(A.real ** 2) - 0.5) < 5 * np.sqrt(0.5 / n_entries)
        assert abs(m * np.mean(A.imag ** 2) - 0.5) < 5 * np.sqrt(0.5 / n_entries)


@pytest.mark.parametrize("is_complex", [False, True])
def test_dct_rows_are_distinct_orthonormal_dct_rows(is_complex):
    m, n = 10, 32
    prob = gaussian_cs(m, n, 3, batch=5, sensing="dct", complex=is_complex,
                       normalize_columns=False, random_state=5)
    dct = scipy.fft.dct(np.eye(n), norm="ortho", axis=0)
    assert prob.A.dtype == np.float64
    for A in prob.A:
        np.testing.assert_allclose(A @ A.T, np.eye(m), atol=1e-12)
        selection = A @ dct.T  # one 1 per row, in distinct columns
        np.testing.assert_allclose(np.sort(np.abs(selection), axis=1)[:, -1], 1.0, atol=1e-12)
        np.testing.assert_allclose(np.sort(np.abs(selection), axis=1)[:, :-1], 0.0, atol=1e-12)
        rows = np.argmax(np.abs(selection), axis=1)
        assert len(set(rows)) == m


def test_dct_rows_are_uniform():
    m, n, batch = 4, 8, 4000
    A = gaussian_cs(m, n, 1, batch=batch, sensing="dct", normalize_columns=False,
                    random_state=6).A
    dct = scipy.fft.dct(np.eye(n), norm="ortho", axis=0)
    rows = np.argmax(np.abs(A @ dct.T), axis=-1)
    counts = np.bincount(rows.ravel(), minlength=n)
    q = m / n  # each row is picked with probability m/n per problem
    assert np.all(np.abs(counts - batch * q) < 5 * np.sqrt(batch * q * (1 - q)))


@pytest.mark.parametrize("amplitude", ["gaussian", "rademacher"])
def test_fixed_support_has_exactly_k_per_problem(amplitude):
    k = 5
    prob = gaussian_cs(10, 40, k, n_targets=6, batch=7, amplitude=amplitude, random_state=8)
    np.testing.assert_array_equal(prob.support.sum(axis=1), k)
    assert np.all(prob.x[prob.support] != 0)
    assert np.all(prob.x[~prob.support] == 0)


def test_fixed_support_positions_are_uniform():
    n, k, problems = 10, 3, 6000
    support = gaussian_cs(4, n, k, n_targets=problems, random_state=9).support
    counts = support.sum(axis=1)
    q = k / n
    assert np.all(np.abs(counts - problems * q) < 5 * np.sqrt(problems * q * (1 - q)))


def test_k_equal_n_fills_the_support():
    prob = gaussian_cs(3, 6, 6, random_state=0)
    assert prob.support.all()


def test_bernoulli_rate():
    p = 0.1
    support = gaussian_cs(5, 200, support="bernoulli", p=p, n_targets=20, batch=50,
                          random_state=10).support
    n_entries = support.size
    assert abs(support.sum() - n_entries * p) < 5 * np.sqrt(n_entries * p * (1 - p))
    # the count varies between problems: it is not a fixed k
    assert len(np.unique(support.sum(axis=1))) > 1


def test_bernoulli_k_means_p_equals_k_over_n():
    a = gaussian_cs(5, 20, 4, support="bernoulli", n_targets=3, random_state=11)
    b = gaussian_cs(5, 20, support="bernoulli", p=0.2, n_targets=3, random_state=11)
    np.testing.assert_array_equal(a.support, b.support)
    np.testing.assert_array_equal(a.y, b.y)


def test_bernoulli_p_one_is_dense():
    assert gaussian_cs(5, 20, support="bernoulli", p=1, random_state=0).support.all()


@pytest.mark.parametrize("is_complex", [False, True])
def test_rademacher_moduli(is_complex):
    prob = gaussian_cs(10, 50, 20, n_targets=30, amplitude="rademacher", complex=is_complex,
                       random_state=12)
    values = prob.x[prob.support]
    np.testing.assert_allclose(np.abs(values), 1.0, rtol=1e-12)
    # symmetric: the mean of unit-modulus values is close to zero
    assert abs(np.mean(values)) < 5 / np.sqrt(values.size)
    if is_complex:  # uniform phases, not just +-1: |Im| > 1/2 with probability 2/3
        assert abs(np.mean(np.abs(values.imag) > 0.5) - 2 / 3) < 5 * np.sqrt(2 / 9 / values.size)
    else:
        assert set(np.unique(values)) == {-1.0, 1.0}


@pytest.mark.parametrize("is_complex", [False, True])
def test_gaussian_amplitudes_have_unit_power(is_complex):
    prob = gaussian_cs(10, 50, 25, n_targets=200, complex=is_complex, random_state=13)
    values = prob.x[prob.support]
    n_values = values.size
    assert abs(np.mean(np.abs(values) ** 2) - 1) < 5 * np.sqrt((1 if is_complex else 2) / n_values)
    if is_complex:
        assert abs(np.mean(values.real ** 2) - 0.5) < 5 * np.sqrt(0.5 / n_values)
    else:
        assert np.all(values.imag == 0)


@pytest.mark.parametrize("is_complex", [False, True])
@pytest.mark.parametrize("snr_db", [-5.0, 20.0])
def test_snr_matches_request(is_complex, snr_db):
    m = 30
    prob = gaussian_cs(m, 60, 5, n_targets=40, batch=25, snr_db=snr_db, complex=is_complex,
                       random_state=14)
    clean = prob.A @ prob.x
    noise = prob.y - clean
    signal_power = np.sum(np.abs(clean) ** 2, axis=1)
    np.testing.assert_allclose(prob.noise_var, signal_power / (m * 10 ** (snr_db / 10)),
                               rtol=1e-12)
    empirical = 10 * np.log10(signal_power.sum() / np.sum(np.abs(noise) ** 2))
    assert abs(empirical - snr_db) < 0.1
    # whitened noise has unit variance in every problem on average
    z = noise / np.sqrt(prob.noise_var)[:, None, :]
    assert abs(np.mean(np.abs(z) ** 2) - 1) < 5 * np.sqrt((1 if is_complex else 2) / z.size)
    if is_complex:  # circular: E[z^2] = 0 and equal real/imaginary power
        assert abs(np.mean(z ** 2)) < 5 / np.sqrt(z.size)
    else:
        assert np.all(noise.imag == 0)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(m=0), ValueError, "m must be >= 1"),
    (dict(m=2.5), TypeError, "m must be an integer"),
    (dict(m="10"), TypeError, "m must be a real number"),
    (dict(n=0), ValueError, "n must be >= 1"),
    (dict(n=None), TypeError, "n must be a real number"),
    (dict(k=0), ValueError, "k must be >= 1"),
    (dict(k=21), ValueError, "k must be <= 20"),
    (dict(k=1.5), TypeError, "k must be an integer"),
    (dict(k=None), ValueError, "k is required when support='fixed'"),
    (dict(p=0.2), ValueError, "p is only used with support='bernoulli'"),
    (dict(support="bernoulli", k=None), ValueError, "exactly one of k and p"),
    (dict(support="bernoulli", p=0.2), ValueError, "exactly one of k and p"),
    (dict(support="bernoulli", k=None, p=0.0), ValueError, "p must be > 0"),
    (dict(support="bernoulli", k=None, p=1.5), ValueError, "p must be <= 1"),
    (dict(support="bernoulli", k=None, p=float("nan")), ValueError, "p must be finite"),
    (dict(support="clustered"), ValueError, "support must be one of 'fixed', 'bernoulli'"),
    (dict(sensing="fourier"), ValueError, "sensing must be one of 'gaussian', 'dct'"),
    (dict(sensing=None), ValueError, "sensing must be one of"),
    (dict(amplitude="uniform"), ValueError, "amplitude must be one of 'gaussian', 'rademacher'"),
    (dict(sensing="dct", m=21), ValueError, "m <= n"),
    (dict(n_targets=0), ValueError, "n_targets must be >= 1"),
    (dict(batch=0), ValueError, "batch must be >= 1"),
    (dict(batch=1.5), TypeError, "batch must be an integer"),
    (dict(snr_db="high"), TypeError, "snr_db must be a real number"),
    (dict(snr_db=float("inf")), ValueError, "snr_db must be finite"),
    (dict(complex="yes"), TypeError, "complex must be True or False"),
    (dict(normalize_columns=1), TypeError, "normalize_columns must be True or False"),
    (dict(random_state="seed"), TypeError, "random_state must be None"),
    (dict(random_state=-1), ValueError, "random_state must be None"),
])
def test_invalid_arguments(kwargs, exc, match):
    args = dict(m=10, n=20, k=3) | kwargs
    with pytest.raises(exc, match=match):
        gaussian_cs(**args)


def test_problem_is_frozen():
    prob = gaussian_cs(4, 8, 2, random_state=0)
    with pytest.raises(AttributeError):
        prob.x = np.zeros(8)


# ---------------------------------------------------------------- kronecker_cs

def _kron_all(mats):
    out = mats[0]
    for a in mats[1:]:
        out = np.kron(out, a)
    return out


@pytest.mark.parametrize("m, n, k", [
    ((4,), (7,), 3),
    ((3, 4), (5, 6), (2, 3)),
    ((6, 8, 8), (10, 10, 10), 2),
    ((2, 3, 2, 3), (3, 4, 3, 4), (1, 2, 3, 2)),
])
@pytest.mark.parametrize("is_complex", [False, True])
@pytest.mark.parametrize("values", ["rank1", "iid"])
def test_kronecker_shapes_and_noiseless_model(m, n, k, is_complex, values):
    prob = kronecker_cs(m, n, k, values=values, complex=is_complex, random_state=0)
    assert isinstance(prob, KroneckerCSProblem)
    assert isinstance(prob.op, Kron) and prob.op.shape == (math.prod(m), math.prod(n))
    assert len(prob.factors) == len(m)
    for A, fa, mi, ni in zip(prob.factors, prob.op.factors, m, n):
        assert A.shape == (mi, ni) and fa is A
    dtype = np.complex128 if is_complex else np.float64
    assert prob.x.dtype == dtype and prob.y.dtype == dtype
    assert all(A.dtype == dtype for A in prob.factors)
    assert prob.x.shape == (math.prod(n),) and prob.y.shape == (math.prod(m),)
    assert prob.noise_var == 0.0 and isinstance(prob.noise_var, float)
    # C-order flattening: the explicit np.kron(A1, np.kron(A2, ...)) gives the same y
    np.testing.assert_allclose(prob.y, _kron_all(prob.factors) @ prob.x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("values", ["rank1", "iid"])
def test_kronecker_support_is_the_product_of_the_factor_supports(values):
    n, k = (8, 9, 10), (2, 3, 4)
    prob = kronecker_cs((4, 5, 6), n, k, values=values, random_state=1)
    indicators = []
    for s, ni, ki in zip(prob.factor_supports, n, k):
        assert len(s) == ki and len(set(s.tolist())) == ki
        assert np.all(np.diff(s) > 0)                      # sorted
        ind = np.zeros(ni, dtype=bool)
        ind[s] = True
        indicators.append(ind)
    np.testing.assert_array_equal(prob.support, _kron_all(indicators).astype(bool))
    assert prob.support.dtype == bool and prob.support.sum() == math.prod(k)
    assert np.all(prob.x[prob.support] != 0) and np.all(prob.x[~prob.support] == 0)


def _unfolding_ranks(block):
    return [np.linalg.matrix_rank(np.moveaxis(block, i, 0).reshape(block.shape[i], -1))
            for i in range(block.ndim)]


@pytest.mark.parametrize("is_complex", [False, True])
def test_kronecker_rank1_and_iid_values(is_complex):
    n, k = (6, 7, 8), (3, 3, 3)
    rank1 = kronecker_cs((3, 3, 3), n, k, complex=is_complex, random_state=2)
    block = rank1.x.reshape(n)[np.ix_(*rank1.factor_supports)]
    assert _unfolding_ranks(block) == [1, 1, 1]
    iid = kronecker_cs((3, 3, 3), n, k, values="iid", complex=is_complex, random_state=2)
    block = iid.x.reshape(n)[np.ix_(*iid.factor_supports)]
    assert _unfolding_ranks(block) == [3, 3, 3]


@pytest.mark.parametrize("values", ["rank1", "iid"])
@pytest.mark.parametrize("is_complex", [False, True])
def test_kronecker_draw_order_and_distributions(values, is_complex):
    """The documented draw order, replayed by hand: unnormalised N(0, 1) / CN(0, 1) factors,
    uniform sorted supports, N(0, 1) / CN(0, 1) values, then the noise."""
    m, n, k, snr = (3, 4), (5, 6), (2, 3), 10.0
    prob = kronecker_cs(m, n, k, snr_db=snr, values=values, complex=is_complex,
                        random_state=3)
    rng = np.random.default_rng(3)

    def normal(shape):
        if is_complex:
            return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)
        return rng.standard_normal(shape)

    factors = [normal(shape) for shape in zip(m, n)]
    supports, parts = [], []
    for ni, ki in zip(n, k):
        supports.append(np.sort(rng.choice(ni, size=ki, replace=False)))
        if values == "rank1":
            parts.append(normal(ki))
    block = np.outer(*parts) if values == "rank1" else normal(k)
    x = np.zeros(n, dtype=block.dtype)
    x[np.ix_(*supports)] = block
    clean = np.kron(*factors) @ x.reshape(-1)
    noise_var = np.sum(np.abs(clean) ** 2) / (clean.size * 10 ** (snr / 10))
    for got, want in zip(prob.factors, factors):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(prob.x, x.reshape(-1))
    assert prob.noise_var == pytest.approx(noise_var, rel=1e-12)
    np.testing.assert_allclose(prob.y, clean + np.sqrt(noise_var) * normal(clean.size),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("is_complex", [False, True])
def test_kronecker_factors_are_unnormalised_standard_normal(is_complex):
    A = kronecker_cs((40, 50), (60, 70), 2, complex=is_complex, random_state=4).factors[1]
    assert abs(np.mean(np.abs(A) ** 2) - 1) < 5 * np.sqrt((1 if is_complex else 2) / A.size)
    if is_complex:
        assert abs(np.mean(A.real ** 2) - 0.5) < 5 * np.sqrt(0.5 / A.size)
        assert abs(np.mean(A ** 2)) < 5 / np.sqrt(A.size)


def test_kronecker_supports_are_uniform():
    n, k, draws = 6, 2, 3000
    counts = np.zeros(n)
    for seed in range(draws):
        counts[kronecker_cs((2,), (n,), k, random_state=seed).factor_supports[0]] += 1
    q = k / n
    assert np.all(np.abs(counts - draws * q) < 5 * np.sqrt(draws * q * (1 - q)))


@pytest.mark.parametrize("is_complex", [False, True])
@pytest.mark.parametrize("snr_db", [0.0, 20.0])
def test_kronecker_snr_matches_request(is_complex, snr_db):
    signal = noise = 0.0
    for seed in range(60):
        prob = kronecker_cs((4, 5, 5), (6, 6, 6), 2, snr_db=snr_db, complex=is_complex,
                            random_state=seed)
        clean = prob.op @ prob.x
        assert prob.noise_var == pytest.approx(
            np.sum(np.abs(clean) ** 2) / (clean.size * 10 ** (snr_db / 10)), rel=1e-12)
        signal += np.sum(np.abs(clean) ** 2) / prob.noise_var
        noise += np.sum(np.abs(prob.y - clean) ** 2) / prob.noise_var
        if not is_complex:
            assert np.all(prob.y.imag == 0)
    # whitened: 60 * 100 noise samples of unit variance, signal 100 * 10**(snr/10) each draw
    assert abs(noise / (60 * 100) - 1) < 5 * np.sqrt((1 if is_complex else 2) / 6000)
    assert abs(10 * np.log10(signal / noise) - snr_db) < 0.15


def test_kronecker_reproducible():
    kwargs = dict(m=(3, 4, 2), n=(5, 6, 4), k=(2, 3, 1), snr_db=15, complex=True)
    a = kronecker_cs(**kwargs, random_state=5)
    b = kronecker_cs(**kwargs, random_state=np.random.default_rng(5))
    c = kronecker_cs(**kwargs, random_state=6)
    for field in ("x", "y", "support", "noise_var"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    for fa, fb in zip(a.factors, b.factors):
        np.testing.assert_array_equal(fa, fb)
    assert not np.array_equal(a.y, c.y) and not np.array_equal(a.factors[0], c.factors[0])
    with pytest.raises(AttributeError):
        a.x = None


def test_kronecker_k_equal_n_fills_the_support():
    assert kronecker_cs((2, 2), (3, 4), (3, 4), random_state=0).support.all()


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(m=6), TypeError, "m must be a sequence"),
    (dict(n="10"), TypeError, "n must be a sequence"),
    (dict(m=()), ValueError, "m must have at least one mode"),
    (dict(m=(6, 0, 8)), ValueError, r"m\[1\] must be >= 1"),
    (dict(n=(10, 10.5, 10)), TypeError, r"n\[1\] must be an integer"),
    (dict(m=(6, 8)), ValueError, "m and n must have the same length"),
    (dict(k=11), ValueError, r"k\[0\] must be <= 10"),
    (dict(k=(2, 2, 0)), ValueError, r"k\[2\] must be >= 1"),
    (dict(k=(2, 2)), ValueError, "k must be an int or have one entry per mode"),
    (dict(k=1.5), TypeError, r"k\[0\] must be an integer"),
    (dict(values="lowrank"), ValueError, "values must be one of 'rank1', 'iid'"),
    (dict(complex=1), TypeError, "complex must be True or False"),
    (dict(snr_db="high"), TypeError, "snr_db must be a real number"),
    (dict(random_state="seed"), TypeError, "random_state must be None"),
])
def test_kronecker_invalid_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        kronecker_cs(**kwargs)


# ---------------------------------------------------------------- irs_mimo

def _naive_ula(dim, grid):
    u = 2 * np.arange(grid) / grid - 1
    return np.exp(1j * np.pi * np.outer(np.arange(dim), u)) / np.sqrt(dim)


def _relative(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


SMALL_IRS = dict(n_ms=3, n_bs=5, n_irs=40, grid=9, n_pilots=2, n_configs=4, angle_spread=2)


@pytest.mark.parametrize("kwargs", [{}, SMALL_IRS])
@pytest.mark.parametrize("seed", range(8))
def test_irs_noiseless_model_is_exact(kwargs, seed):
    prob = irs_mimo(snr_db=None, **kwargs, random_state=seed)
    assert _relative(prob.op @ prob.x, prob.y) < 1e-12
    assert _relative(prob.channels_from(prob.x), prob.channels) < 1e-12
    assert prob.noise_var == 0.0


def test_irs_shapes_and_dtypes():
    prob = irs_mimo(random_state=0)
    assert isinstance(prob, IRSProblem) and isinstance(prob.op, Kron)
    assert [f.shape for f in prob.op.factors] == [(6, 18), (3, 18), (16, 18)]
    assert prob.op.shape == (288, 18 ** 3)
    assert prob.y.shape == (288,) and prob.x.shape == (5832,) and prob.support.shape == (5832,)
    assert prob.channels.shape == (6, 16, 6)
    assert prob.pilots.shape == (6, 3) and prob.configs.shape == (6, 256)
    for arr in (prob.y, prob.x, prob.channels, prob.pilots, *prob.op.factors):
        assert arr.dtype == np.complex128
    assert prob.support.dtype == bool and isinstance(prob.noise_var, float)


def test_irs_received_signal_layout():
    """y is the C-order flattening of Y[k, t, b] = (H_k X)[b, t], independently of op."""
    prob = irs_mimo(snr_db=None, **SMALL_IRS, random_state=1)
    Y = prob.y.reshape(4, 2, 5)
    for k in range(4):
        np.testing.assert_allclose(Y[k], (prob.channels[k] @ prob.pilots).T, rtol=1e-13,
                                   atol=1e-13)


def test_irs_factors_follow_the_reference_formulas():
    prob = irs_mimo(snr_db=None, **SMALL_IRS, random_state=2)
    phi_r, phi_m, a_b = prob.op.factors
    a_r = _naive_ula(40, 9)
    d_r = a_r[:, [0]] * a_r.conj()
    np.testing.assert_allclose(a_b, _naive_ula(5, 9), atol=1e-13)
    np.testing.assert_allclose(phi_m, prob.pilots.T @ _naive_ula(3, 9).conj(), atol=1e-13)
    np.testing.assert_allclose(phi_r, prob.configs @ d_r, atol=1e-13)


def test_irs_pilots_and_configurations():
    prob = irs_mimo(random_state=0)
    np.testing.assert_allclose(np.abs(prob.pilots), 1 / np.sqrt(6), rtol=1e-13)
    phases = np.angle(prob.pilots * np.sqrt(6)) / (np.pi / 4)   # odd multiples of pi/4
    np.testing.assert_allclose(phases, np.round(phases), atol=1e-12)
    assert set(np.round(phases).astype(int).ravel()) <= {-3, -1, 1, 3}
    assert len(set(np.round(phases).astype(int).ravel())) > 1
    assert set(np.unique(prob.configs * 16)) == {-1.0, 1.0}


def test_irs_channels_are_rank_one_with_grid_ms_direction():
    prob = irs_mimo(snr_db=None, random_state=3)
    tensor = np.argwhere(prob.support.reshape(18, 18, 18))
    p_ms = np.unique(tensor[:, 1])
    assert p_ms.size == 1
    a_m = _naive_ula(6, 18)[:, p_ms[0]]
    for H in prob.channels:
        s = np.linalg.svd(H, compute_uv=False)
        assert s[1] < 1e-12 * s[0]
        # every row is a multiple of a_M(u_MS)^H
        np.testing.assert_allclose(np.abs(H @ a_m), np.linalg.norm(H, axis=1), rtol=1e-12)


def test_irs_support_structure():
    grid, wrapped, starts_b = 18, 0, set()
    for seed in range(300):
        prob = irs_mimo(snr_db=None, random_state=seed)
        assert prob.support.sum() == 9
        np.testing.assert_array_equal(prob.support, prob.x != 0)
        idx = np.argwhere(prob.support.reshape(grid, grid, grid))
        r, p, q = (np.unique(idx[:, i]) for i in range(3))
        assert r.size == 3 and p.size == 1 and q.size == 3
        # mode 3 (BS): contiguous, never wrapping; mode 1 (IRS): contiguous modulo grid
        assert np.array_equal(q, q[0] + np.arange(3))
        starts_b.add(int(q[0]))
        assert any(np.array_equal(np.sort((r0 + np.arange(3)) % grid), r) for r0 in r)
        wrapped += not np.array_equal(r, r[0] + np.arange(3))
        # rank one: x = x_R ⊗ e_p ⊗ x_B
        block = prob.x.reshape(grid, grid, grid)[np.ix_(r, p, q)][:, 0, :]
        assert np.linalg.matrix_rank(block) == 1
    assert starts_b == set(range(grid - 2))
    assert 0 < wrapped < 100    # wraps in 2 of the 18 positions of the difference angle


def test_irs_gain_scaling():
    """E ||x||^2 = (n_ms n_irs / L)(n_bs n_irs / L) E||alpha_a||^2 E||alpha_b||^2
    = n_ms n_bs n_irs^2, checked over 400 draws (relative std 0.88 / sqrt(400))."""
    power = [np.sum(np.abs(irs_mimo(snr_db=None, random_state=s).x) ** 2) for s in range(400)]
    assert abs(np.mean(power) / (6 * 16 * 256 ** 2) - 1) < 5 * 0.88 / np.sqrt(400)


@pytest.mark.parametrize("snr_db", [4.0, 20.0])
def test_irs_snr_matches_request(snr_db):
    signal = noise = 0.0
    z = []
    for seed in range(50):
        prob = irs_mimo(snr_db=snr_db, random_state=seed)
        clean = prob.op @ prob.x
        assert prob.noise_var == pytest.approx(
            np.sum(np.abs(clean) ** 2) / (288 * 10 ** (snr_db / 10)), rel=1e-12)
        signal += np.sum(np.abs(clean) ** 2) / prob.noise_var
        noise += np.sum(np.abs(prob.y - clean) ** 2) / prob.noise_var
        z.append((prob.y - clean) / np.sqrt(prob.noise_var))
    z = np.concatenate(z)
    assert abs(10 * np.log10(signal / noise) - snr_db) < 0.15
    assert abs(np.mean(np.abs(z) ** 2) - 1) < 5 / np.sqrt(z.size)
    assert abs(np.mean(z ** 2)) < 5 / np.sqrt(z.size)          # circular


def test_irs_setup_state_fixes_pilots_and_configurations():
    a = irs_mimo(random_state=1)
    b = irs_mimo(random_state=2)
    np.testing.assert_array_equal(a.pilots, b.pilots)
    np.testing.assert_array_equal(a.configs, b.configs)
    np.testing.assert_array_equal(a.op.factors[1], b.op.factors[1])
    assert not np.array_equal(a.channels, b.channels)
    assert not np.array_equal(a.support, b.support)
    c = irs_mimo(random_state=1, setup_state=1)
    assert not np.array_equal(a.pilots, c.pilots) and not np.array_equal(a.configs, c.configs)
    # the channel draws do not depend on the setup: same angles and gains
    np.testing.assert_array_equal(a.x, c.x)


def test_irs_reproducible():
    a = irs_mimo(12, random_state=7, setup_state=3)
    b = irs_mimo(12, random_state=np.random.default_rng(7),
                 setup_state=np.random.default_rng(3))
    for field in ("y", "x", "channels", "support", "pilots", "configs", "noise_var"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.y, irs_mimo(12, random_state=8, setup_state=3).y)


def test_irs_degenerate_configurations_are_redrawn():
    """With 2 IRS elements, a 2-point grid and one path, half the sign patterns null the
    cascaded channel exactly; those configurations must be redrawn."""
    kwargs = dict(n_ms=2, n_bs=2, n_irs=2, grid=2, n_pilots=2, n_configs=4, angle_spread=1)
    setup = irs_mimo(snr_db=None, **kwargs, random_state=0).configs
    redrawn = 0
    for seed in range(20):
        prob = irs_mimo(snr_db=None, **kwargs, random_state=seed)
        assert np.all(np.linalg.norm(prob.channels, axis=(1, 2)) >= 1e-5)
        assert _relative(prob.op @ prob.x, prob.y) < 1e-12
        assert _relative(prob.channels_from(prob.x), prob.channels) < 1e-12
        redrawn += not np.array_equal(prob.configs, setup)
    assert redrawn > 0


def test_irs_channels_from_is_linear_and_batched():
    prob = irs_mimo(snr_db=None, **SMALL_IRS, random_state=4)
    rng = np.random.default_rng(0)
    other = rng.standard_normal(9 ** 3) + 1j * rng.standard_normal(9 ** 3)
    stacked = prob.channels_from(np.stack([prob.x, other, 2 * prob.x - other]))
    assert stacked.shape == (3, 4, 5, 3)
    np.testing.assert_allclose(stacked[0], prob.channels, atol=1e-12)
    np.testing.assert_allclose(stacked[2], 2 * stacked[0] - stacked[1], atol=1e-12)
    np.testing.assert_allclose(prob.channels_from(np.zeros(9 ** 3)), 0)
    with pytest.raises(ValueError, match="x_hat must have shape"):
        prob.channels_from(np.zeros(9 ** 3 - 1))


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(n_ms=0), ValueError, "n_ms must be >= 1"),
    (dict(n_bs=1.5), TypeError, "n_bs must be an integer"),
    (dict(n_irs="256"), TypeError, "n_irs must be a real number"),
    (dict(grid=0), ValueError, "grid must be >= 1"),
    (dict(n_pilots=0), ValueError, "n_pilots must be >= 1"),
    (dict(n_configs=-2), ValueError, "n_configs must be >= 1"),
    (dict(angle_spread=19), ValueError, "angle_spread must be <= 18"),
    (dict(angle_spread=0), ValueError, "angle_spread must be >= 1"),
    (dict(snr_db="high"), TypeError, "snr_db must be a real number"),
    (dict(snr_db=float("nan")), ValueError, "snr_db must be finite"),
    (dict(setup_state="fixed"), TypeError, "setup_state must be None"),
    (dict(random_state=-1), ValueError, "random_state must be None"),
])
def test_irs_invalid_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        irs_mimo(**kwargs)
