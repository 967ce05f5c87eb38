import warnings

import numpy as np
import pytest

from sparserec.metrics import (channel_nmse, exact_support_recovery, nmse_db, relative_error,
                               support_f1, support_jaccard)

METRICS = [nmse_db, relative_error, support_f1, support_jaccard, exact_support_recovery]


# ---------------------------------------------------------------- nmse_db / relative_error

@pytest.mark.parametrize("x_true, x_est, ratio", [
    ([3.0, 4.0], [3.0, 4.5], 0.01),                       # 0.25 / 25
    ([1.0, 0.0, 0.0], [0.0, 0.0, 0.0], 1.0),               # estimate zero
    ([1.0, -1.0], [-1.0, 1.0], 4.0),                       # sign flip
    ([1j, 0.0], [1j + 0.1, 0.0], 0.01),                    # complex error
    ([3 + 4j, 0.0], [3 + 4j, 1j], 1 / 25),                 # error on the off-support entry
])
def test_closed_form_error_values(x_true, x_est, ratio):
    assert nmse_db(x_true, x_est) == pytest.approx(10 * np.log10(ratio), abs=1e-12)
    assert relative_error(x_true, x_est) == pytest.approx(np.sqrt(ratio), rel=1e-12)
    assert isinstance(nmse_db(x_true, x_est), float)
    assert isinstance(relative_error(x_true, x_est), float)


def test_exact_estimate_is_minus_inf_db():
    assert nmse_db([1.0, 2.0], [1.0, 2.0]) == -np.inf
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0


def test_zero_truth_conventions_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nmse_db([0.0, 0.0], [0.0, 0.0]) == -np.inf
        assert relative_error([0.0, 0.0], [0.0, 0.0]) == 0.0
        assert nmse_db([0.0, 0.0], [0.0, 1e-3]) == np.inf
        assert relative_error([0.0, 0.0], [0.0, 1e-3]) == np.inf
        # per problem: one column has zero truth, the other is an ordinary problem
        x_true = np.array([[0.0, 1.0], [0.0, 1.0]])
        x_est = np.array([[0.0, 1.0], [2.0, 0.0]])
        np.testing.assert_allclose(nmse_db(x_true, x_est, axis=0), [np.inf, 10 * np.log10(0.5)])
        np.testing.assert_allclose(relative_error(np.zeros((2, 2)), np.zeros((2, 2)), axis=0),
                                   [0.0, 0.0])


def test_error_per_axis():
    x_true = np.array([[1.0, 2.0, 0.0],
                       [0.0, 0.0, 3.0]])
    x_est = np.array([[1.0, 1.0, 0.0],
                      [1.0, 0.0, 3.0]])
    # columns: errors 1, 1, 0 over powers 1, 4, 9
    np.testing.assert_allclose(relative_error(x_true, x_est, axis=0), [1.0, 0.5, 0.0])
    np.testing.assert_allclose(nmse_db(x_true, x_est, axis=0), [0.0, 10 * np.log10(0.25), -np.inf])
    # rows: errors 1, 1 over powers 5, 9
    np.testing.assert_allclose(relative_error(x_true, x_est, axis=1), np.sqrt([1 / 5, 1 / 9]))
    np.testing.assert_allclose(relative_error(x_true, x_est, axis=-1), np.sqrt([1 / 5, 1 / 9]))
    assert relative_error(x_true, x_est, axis=(0, 1)) == pytest.approx(np.sqrt(2 / 14))
    assert relative_error(x_true, x_est) == pytest.approx(np.sqrt(2 / 14))


def test_error_over_a_tuple_of_axes_keeps_the_others():
    rng = np.random.default_rng(0)
    x_true = rng.standard_normal((3, 5, 4)) + 1j * rng.standard_normal((3, 5, 4))
    x_est = x_true + 0.1 * rng.standard_normal((3, 5, 4))
    got = nmse_db(x_true, x_est, axis=(0, 2))
    assert got.shape == (5,)
    for j in range(5):
        assert got[j] == pytest.approx(nmse_db(x_true[:, j], x_est[:, j]))


def test_nmse_and_relative_error_agree():
    rng = np.random.default_rng(1)
    x_true, x_est = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    np.testing.assert_allclose(relative_error(x_true, x_est, axis=0),
                               10 ** (nmse_db(x_true, x_est, axis=0) / 20))


# ---------------------------------------------------------------- support_f1

@pytest.mark.parametrize("x_true, x_est, f1", [
    ([1.0, 2.0, 0.0, 0.0], [1.0, 0.0, 3.0, 0.0], 0.5),   # tp 1, |S| 2, |T| 2
    ([1.0, 2.0, 0.0, 0.0], [5.0, -1.0, 0.0, 0.0], 1.0),  # values do not matter
    ([1.0, 0.0, 0.0], [1.0, 1.0, 1.0], 0.5),              # tp 1, |S| 1, |T| 3
    ([1.0, 1.0, 0.0], [0.0, 0.0, 1.0], 0.0),              # disjoint
    ([0.0, 0.0], [0.0, 0.0], 1.0),                        # both empty
    ([0.0, 0.0], [0.0, 1.0], 0.0),                        # only the estimate has a support
    ([1j, 0.0, 0.0], [0.0, 2j, 1.0], 0.0),                # complex, disjoint
    ([1j, 1 + 1j, 0.0], [2.0, 1j, 0.0], 1.0),             # complex, same support
])
def test_support_f1_closed_form(x_true, x_est, f1):
    got = support_f1(x_true, x_est)
    assert isinstance(got, float)
    assert got == pytest.approx(f1)


def test_support_f1_tolerance_uses_modulus():
    x_true = np.array([1.0, 0.0, 0.0, 0.0])
    x_est = np.array([0.6 + 0.8j, 0.05, 0.0, -0.05j])  # moduli 1, 0.05, 0, 0.05
    assert support_f1(x_true, x_est) == pytest.approx(2 / 4)
    assert support_f1(x_true, x_est, tol=0.1) == 1.0
    # the real part alone (0.6) is below 0.9 but the modulus (1) is above
    assert support_f1(x_true, x_est, tol=0.9) == 1.0
    assert support_f1(x_true, x_est, tol=1.0) == 1.0  # both supports empty at tol 1


def test_support_f1_per_axis():
    x_true = np.array([[1.0, 1.0, 0.0],
                       [1.0, 0.0, 0.0],
                       [0.0, 1.0, 0.0]])
    x_est = np.array([[1.0, 0.0, 0.0],
                      [1.0, 1.0, 0.0],
                      [1.0, 0.0, 0.0]])
    # columns: (tp 2, 2+3) (tp 0, 2+1) (empty, empty)
    np.testing.assert_allclose(support_f1(x_true, x_est, axis=0), [0.8, 0.0, 1.0])
    # rows: (tp 1, 2+1) (tp 1, 1+2) (tp 0, 1+1)
    np.testing.assert_allclose(support_f1(x_true, x_est, axis=1), [2 / 3, 2 / 3, 0.0])
    assert support_f1(x_true, x_est) == pytest.approx(2 * 2 / (4 + 4))  # tp 2, 4+4


def test_support_f1_accepts_boolean_masks():
    assert support_f1([True, False, True], [True, True, False]) == pytest.approx(0.5)


# ---------------------------------------------------------------- support_jaccard

@pytest.mark.parametrize("x_true, x_est, jaccard", [
    ([1.0, 2.0, 0.0, 0.0], [1.0, 0.0, 3.0, 0.0], 1 / 3),   # |S & T| 1, |S | T| 3
    ([1.0, 2.0, 0.0, 0.0], [5.0, -1.0, 0.0, 0.0], 1.0),    # values do not matter
    ([1.0, 0.0, 0.0], [1.0, 1.0, 1.0], 1 / 3),
    ([1.0, 1.0, 0.0], [0.0, 0.0, 1.0], 0.0),               # disjoint
    ([0.0, 0.0], [0.0, 0.0], 1.0),                         # both empty
    ([1.0, 0.0], [0.0, 0.0], 0.0),                         # zero estimate: empty support
    ([0.0, 0.0], [0.0, 1.0], 0.0),                         # only the estimate has a support
    ([1.0, 2.0, 3.0, 0.0], [1.0, 2.0, 1e-4, 0.5], 0.5),    # 1e-4 < 1e-3 * 2: dropped
    ([1.0, 0.0, 0.0], [1.0, 2e-3, 1e-3], 0.5),             # at the threshold: dropped
    ([1j, 1 + 1j, 0.0], [2.0, 0.6 + 0.8j, 0.0], 1.0),      # complex, moduli
])
def test_support_jaccard_closed_form(x_true, x_est, jaccard):
    got = support_jaccard(x_true, x_est)
    assert isinstance(got, float)
    assert got == pytest.approx(jaccard, abs=1e-15)


def test_support_jaccard_threshold_is_relative_to_the_largest_modulus():
    x_true = np.array([1.0, 1.0, 0.0, 0.0])
    x_est = np.array([0.8j, -0.6, 5e-4, 0.0])      # threshold 1e-3 * 0.8
    assert support_jaccard(x_true, x_est) == 1.0
    for scale in (1e-6, 1e6):                       # invariant to the scale of x_est
        assert support_jaccard(x_true, scale * x_est) == 1.0
    assert support_jaccard(x_true, x_est, rel_tol=1e-4) == pytest.approx(2 / 3)
    assert support_jaccard(x_true, x_est, rel_tol=0) == pytest.approx(2 / 3)
    assert support_jaccard(x_true, x_est, rel_tol=0.8) == pytest.approx(0.5)   # 0.6 < 0.64
    assert support_jaccard(x_true, x_est, rel_tol=1) == 0.0   # nothing exceeds its maximum


def test_support_jaccard_per_axis_uses_each_problems_maximum():
    x_true = np.array([[1.0, 1.0, 0.0],
                       [1.0, 0.0, 0.0],
                       [0.0, 1.0, 0.0]])
    x_est = np.array([[1e3, 0.0, 0.0],
                      [1e3, 1e-3, 0.0],
                      [0.1, 1e-2, 0.0]])
    # columns: ({0,1} vs {0,1}: the 0.1 is below 1e-3 * 1e3) ({0,2} vs {1,2}: threshold
    # 1e-5 from this column's own maximum, not 1 from the array's) (empty, empty)
    np.testing.assert_allclose(support_jaccard(x_true, x_est, axis=0), [1.0, 1 / 3, 1.0])
    # rows: ({0,1} vs {0}) ({0} vs {0}: 1e-3 < 1) ({1} vs {0,1})
    np.testing.assert_allclose(support_jaccard(x_true, x_est, axis=1), [0.5, 1.0, 0.5])
    # whole array: only the two 1e3 entries survive the global threshold
    assert support_jaccard(x_true, x_est) == pytest.approx(2 / 4)
    assert support_jaccard(x_true[None], x_est[None], axis=(0, 1)).shape == (3,)


def test_support_jaccard_accepts_boolean_masks():
    assert support_jaccard([True, False, True], [True, True, False]) == pytest.approx(1 / 3)


# ---------------------------------------------------------------- channel_nmse

def test_channel_nmse_matches_a_loop():
    rng = np.random.default_rng(0)
    shape = (5, 4, 6, 3)                            # trials, K, a, b
    H = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    H[0, 1] *= 100                                  # per-matrix, not pooled, normalisation
    H_est = H + 0.3 * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    want = [np.mean([np.linalg.norm(H_est[t, k] - H[t, k], "fro") ** 2
                     / np.linalg.norm(H[t, k], "fro") ** 2 for k in range(4)])
            for t in range(5)]
    got = channel_nmse(H, H_est)
    assert got.shape == (5,)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    single = channel_nmse(H[2], H_est[2])
    assert isinstance(single, float) and single == pytest.approx(want[2], rel=1e-12)
    assert channel_nmse(H[None], H_est[None]).shape == (1, 5)


def test_channel_nmse_closed_form():
    H = np.zeros((2, 2, 2), dtype=complex)
    H[0, 0, 0], H[1] = 2.0, 1j                       # powers 4 and 4
    H_est = H.copy()
    H_est[0, 1, 1] = 1.0                             # error 1 / 4
    H_est[1] *= 0                                    # error 4 / 4
    assert channel_nmse(H, H_est) == pytest.approx((0.25 + 1.0) / 2)
    assert channel_nmse(H, H) == 0.0


def test_channel_nmse_zero_channels_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert channel_nmse(np.zeros((2, 2, 2)), np.zeros((2, 2, 2))) == 0.0
        H = np.ones((2, 2, 2))
        H[0] = 0
        assert channel_nmse(H, np.ones((2, 2, 2))) == np.inf


def test_channel_nmse_errors():
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        channel_nmse(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"H_est has shape \(2, 2, 3\) but H_true"):
        channel_nmse(np.ones((2, 2, 2)), np.ones((2, 2, 3)))
    with pytest.raises(ValueError, match="H_true contains NaN"):
        channel_nmse(np.full((1, 2, 2), np.nan), np.ones((1, 2, 2)))
    with pytest.raises(TypeError, match="H_est must be a numeric array"):
        channel_nmse(np.ones((1, 1, 1)), [[["a"]]])


# ---------------------------------------------------------------- exact_support_recovery

def test_exact_support_recovery_without_k():
    assert exact_support_recovery([0.0, 2.0, -1.0], [0.0, 7.0, 1e-9]) is True
    assert exact_support_recovery([0.0, 2.0, -1.0], [1e-9, 7.0, 1.0]) is False
    assert exact_support_recovery([0.0, 2.0, -1.0], [0.0, 2.0, 0.0]) is False
    assert exact_support_recovery([0.0, 0.0], [0.0, 0.0]) is True
    assert exact_support_recovery([0.0, 1j], [0.0, 1.0]) is True


def test_exact_support_recovery_with_k_takes_largest_moduli():
    x_true = [0.0, 2.0, -1.0, 0.0]
    x_est = [0.01, 1.9, -0.8, -0.3]
    assert exact_support_recovery(x_true, x_est) is False
    assert exact_support_recovery(x_true, x_est, k=2) is True
    assert exact_support_recovery(x_true, x_est, k=1) is False
    assert exact_support_recovery(x_true, x_est, k=3) is False
    # complex: modulus, not real part, decides (|0.1 + 2j| > |1|)
    assert exact_support_recovery([0.0, 1j, 1.0], [0.5, 0.1 + 2j, 1.0], k=2) is True


def test_exact_support_recovery_ties_go_to_the_lower_index():
    assert exact_support_recovery([1.0, 0.0], [1.0, 1.0], k=1) is True
    assert exact_support_recovery([0.0, 1.0], [1.0, 1.0], k=1) is False


def test_exact_support_recovery_per_axis():
    x_true = np.array([[1.0, 0.0],
                       [0.0, 1.0],
                       [2.0, 3.0]])
    x_est = np.array([[0.9, 0.2],
                      [0.1, 1.1],
                      [2.1, 0.0]])
    # columns with k=2: {0, 2} vs {0, 2} -> True; {1, 2} vs {0, 1} -> False
    got = exact_support_recovery(x_true, x_est, k=2, axis=0)
    assert got.dtype == bool
    np.testing.assert_array_equal(got, [True, False])
    np.testing.assert_array_equal(exact_support_recovery(x_true, x_est, k=1, axis=1),
                                  [True, True, False])
    np.testing.assert_array_equal(exact_support_recovery(x_true, x_est, axis=0), [False, False])


def test_exact_support_recovery_k_over_a_tuple_of_axes():
    x_true = np.zeros((2, 3, 2))
    x_true[0, 1, 0] = x_true[1, 2, 0] = 1.0  # slice [:, :, 0] has 2 nonzeros
    x_true[1, 0, 1] = 1.0                   # slice [:, :, 1] has 1 nonzero
    x_est = x_true + 0.01
    np.testing.assert_array_equal(exact_support_recovery(x_true, x_est, k=2, axis=(0, 1)),
                                  [True, False])
    np.testing.assert_array_equal(exact_support_recovery(x_true, x_est, k=1, axis=(0, 1)),
                                  [False, True])


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("metric", METRICS)
def test_shape_mismatch(metric):
    with pytest.raises(ValueError, match=r"x_est has shape \(3,\) but x_true has shape \(2,\)"):
        metric([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="x_est has shape"):
        metric(np.ones((2, 3)), np.ones((3, 2)))


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("which", ["x_true", "x_est"])
@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "infinity"),
                                       (complex(0, np.nan), "NaN")])
def test_non_finite_input(metric, which, bad, word):
    good = np.array([1.0, 0.0, 2.0], dtype=complex)
    broken = good.copy()
    broken[1] = bad
    args = {"x_true": good, "x_est": good, which: broken}
    with pytest.raises(ValueError, match=f"{which} contains {word}"):
        metric(**args)


@pytest.mark.parametrize("metric", METRICS)
def test_empty_input(metric):
    with pytest.raises(ValueError, match="x_true is empty"):
        metric([], [])
    with pytest.raises(ValueError, match="x_true is empty"):
        metric(np.zeros((0, 3)), np.zeros((0, 3)))


@pytest.mark.parametrize("metric", METRICS)
def test_non_numeric_input(metric):
    with pytest.raises(TypeError, match="x_est must be a numeric array"):
        metric([1.0, 2.0], ["a", "b"])


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("axis", [2, -3, (0, 0)])
def test_bad_axis(metric, axis):
    with pytest.raises(ValueError):
        metric(np.ones((2, 3)), np.ones((2, 3)), axis=axis)


def test_bad_tol_and_k():
    with pytest.raises(ValueError, match="tol must be >= 0"):
        support_f1([1.0], [1.0], tol=-0.1)
    with pytest.raises(ValueError, match="rel_tol must be >= 0"):
        support_jaccard([1.0], [1.0], rel_tol=-1e-3)
    with pytest.raises(TypeError, match="rel_tol must be a real number"):
        support_jaccard([1.0], [1.0], rel_tol="small")
    with pytest.raises(ValueError, match="k must be >= 1"):
        exact_support_recovery([1.0, 0.0], [1.0, 0.0], k=0)
    with pytest.raises(ValueError, match="k must be <= 2"):
        exact_support_recovery(np.ones((2, 3)), np.ones((2, 3)), k=3, axis=0)
    with pytest.raises(TypeError, match="k must be an integer"):
        exact_support_recovery([1.0, 0.0], [1.0, 0.0], k=1.5)
