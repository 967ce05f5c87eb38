import numpy as np
import pytest
import scipy.fft

from sparserec.simulate import CSProblem, gaussian_cs


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
