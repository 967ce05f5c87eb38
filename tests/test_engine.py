"""The engine protocol, shown with a toy algorithm (damped Newton iteration for ridge).

Every problem ``p`` has its own ridge weight ``mu_p`` and damping ``omega_p`` (state,
not algorithm attributes) and its own inverse Hessian ``H_p`` of shape ``(n, n)``
stored problems-first (``state_axes``), so retirement and compaction must move all of
them together; the closed-form ridge solution is the reference.
"""
import array_api_strict as xps
import numpy as np
import pytest

from sparserec import ConvergenceWarning
from sparserec._validation import check_problem
from sparserec.solvers._engine import run


class _DampedNewtonRidge:
    """``x <- x - omega_p H_p (A^H (A x - y) + mu_p x)``, ``H_p = (A^H A + mu_p I)^-1``.

    The error shrinks by ``1 - omega_p`` per iteration, so problems finish at
    different iterations.  ``mu`` and ``omega`` are given per problem (flat index).
    """

    state_axes = {"H": 0}

    def __init__(self, mu, omega):
        self.mu, self.omega = mu, omega

    def _per_problem(self, xp, values, op):
        v = xp.asarray(values, dtype=xp.float64)
        return xp.reshape(v, (-1, 1, 1)) if op.is_stacked else xp.reshape(v, (1, -1))

    def init(self, op, Y):
        xp = op.xp
        n = op.shape[1]
        P = Y.shape[0] if op.is_stacked else Y.shape[-1]
        mu = self._per_problem(xp, self.mu[:P], op)
        G = op.gram()
        G = G if op.is_stacked else xp.broadcast_to(G, (P, n, n))
        eye = xp.eye(n, dtype=G.dtype)
        H = xp.linalg.inv(G + xp.reshape(mu, (P, 1, 1)) * eye)
        X = xp.zeros(Y.shape[:-2] + (n, Y.shape[-1]), dtype=Y.dtype)
        return {"x": X, "H": H, "mu": mu, "omega": self._per_problem(xp, self.omega[:P], op),
                "last_it": xp.zeros_like(mu), "rhs": op._rmatmat(Y)}

    def _gradient(self, op, Y, st):
        return op._rmatmat(op._matmat(st["x"])) - st["rhs"] + st["mu"] * st["x"]

    def step(self, op, Y, st, it):
        xp = op.xp
        grad = self._gradient(op, Y, st)
        if op.is_stacked:
            newton = st["H"] @ grad
        else:   # H is (P, n, n) problems-first; grad is (n, P)
            newton = xp.matrix_transpose((st["H"] @ xp.matrix_transpose(grad)[..., None])[..., 0])
        st = dict(st)
        st["x"] = st["x"] - st["omega"] * newton
        st["last_it"] = xp.full_like(st["last_it"], float(it))
        return st

    def criterion(self, op, Y, st):
        xp = op.xp
        g = xp.sum(self._gradient(op, Y, st) ** 2, axis=-2, keepdims=True)
        r = xp.sum(st["rhs"] ** 2, axis=-2, keepdims=True)
        return xp.sqrt(g / r)

    def finalize(self, op, Y, st):
        xp = op.xp
        n = op.shape[1]
        P = st["H"].shape[0]
        diag = xp.reshape(st["H"], (P, n * n))[:, ::n + 1]
        return {"mu": xp.reshape(st["mu"], (-1,)), "last_it": xp.reshape(st["last_it"], (-1,)),
                "h_diag": diag}


def _ridge(A, y, mu):
    return np.linalg.solve(A.T @ A + mu * np.eye(A.shape[1]), A.T @ y)


def _data(stacked, L, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((3, 12, 6) if stacked else (12, 6))
    Y = rng.standard_normal(A.shape[:-1] + ((L,) if L else ()))
    return A, Y


@pytest.mark.parametrize("stacked", [False, True], ids=["shared", "stacked"])
@pytest.mark.parametrize("L", [0, 4], ids=["1d", "batch"])
def test_toy_algorithm_on_the_engine(stacked, L):
    A, Y = _data(stacked, L)
    P = (3 if stacked else 1) * max(L, 1)
    mu = np.linspace(0.5, 2.0, P)
    omega = np.linspace(0.3, 0.9, P)          # different finishing iterations
    progress = []
    res = run(_DampedNewtonRidge(mu, omega), check_problem(A, Y), max_iter=500, tol=1e-12,
              check_every=1, callback=lambda p: progress.append((p.iteration, p.problems.copy())))
    assert res.converged.all()
    flat_n_iter = res.n_iter.reshape(-1)
    assert len(set(flat_n_iter.tolist())) == P           # they retired one by one
    # every problem's own mu and omega followed it through compaction
    for p in range(P):
        b, j = divmod(p, max(L, 1))
        Ab = A[b] if stacked else A
        yb = (Y[b] if stacked else Y)
        yb = yb[:, j] if L else yb
        xb = res.x[b] if stacked else res.x
        xb = xb[:, j] if L else xb
        np.testing.assert_allclose(xb, _ridge(Ab, yb, mu[p]), rtol=1e-10, atol=1e-12)
        expected = int(np.ceil(np.log(1e-12) / np.log(1 - omega[p])))
        assert abs(flat_n_iter[p] - expected) <= 2
    # extras: problems first, in the user's layout, computed at retirement
    shape = ((3,) if stacked else ()) + ((L,) if L else ())
    assert res.extras["mu"].shape == shape and res.extras["h_diag"].shape == shape + (6,)
    np.testing.assert_allclose(res.extras["mu"].reshape(-1), mu)
    np.testing.assert_array_equal(res.extras["last_it"].reshape(-1), flat_n_iter - 1)
    # the iteration number reached step(); the callback saw each running problem
    assert [it for it, _ in progress] == list(range(1, flat_n_iter.max() + 1))
    for it, problems in progress:
        np.testing.assert_array_equal(problems, np.flatnonzero(flat_n_iter >= it))


def test_toy_algorithm_runs_unchanged_on_array_api_strict():
    A, Y = _data(False, 3)
    algo = _DampedNewtonRidge(np.array([0.5, 1.0, 2.0]), np.array([0.5, 0.7, 0.9]))
    ref = run(algo, check_problem(A, Y), max_iter=200, tol=1e-12)
    out = run(algo, check_problem(xps.asarray(A), xps.asarray(Y)), max_iter=200, tol=1e-12)
    np.testing.assert_allclose(np.from_dlpack(out.x), ref.x, atol=1e-13)
    np.testing.assert_allclose(np.from_dlpack(out.extras["h_diag"]), ref.extras["h_diag"])
    np.testing.assert_array_equal(out.n_iter, ref.n_iter)


def test_unconverged_problems_warn_and_are_returned_as_they_stand():
    A, Y = _data(False, 2)
    with pytest.warns(ConvergenceWarning, match="did not converge for 2 of 2"):
        res = run(_DampedNewtonRidge(np.ones(2), np.full(2, 0.1)), check_problem(A, Y),
                  max_iter=5, tol=1e-12, name="toy")
    assert not res.converged.any() and np.all(res.n_iter == 5)
    assert res.history[-1, 0] == 5


def test_tol_below_the_resolution_of_the_dtype_is_clamped_with_a_warning():
    A, Y = _data(False, 2)
    with pytest.warns(UserWarning, match="tol=1e-20 is below what float64"):
        res = run(_DampedNewtonRidge(np.ones(2), np.full(2, 0.9)), check_problem(A, Y),
                  max_iter=100, tol=1e-20, name="toy")
    assert res.converged.all()


def test_non_finite_iterates_raise():
    class Diverging(_DampedNewtonRidge):
        def step(self, op, Y, st, it):
            st = super().step(op, Y, st, it)
            st["x"] = st["x"] * (np.inf if it == 3 else 1.0)
            return st

    A, Y = _data(False, 2)
    with pytest.raises(ValueError, match="toy: the iterates of 2 of 2 problems became non-finite"):
        run(Diverging(np.ones(2), np.full(2, 0.1)), check_problem(A, Y), max_iter=50, tol=1e-12,
            name="toy")


def test_estimators_expose_the_extras_as_fitted_attributes():
    from sklearn.base import BaseEstimator, RegressorMixin

    from sparserec.estimators._base import SparseRecoveryMixin

    class Ridge(SparseRecoveryMixin, RegressorMixin, BaseEstimator):
        def _solve(self, problem, callback):
            P = problem.Y.shape[-1]
            return run(_DampedNewtonRidge(np.ones(P), np.full(P, 0.9)), problem, max_iter=100,
                       tol=1e-12, callback=callback)

    A, Y = _data(False, 3)
    est = Ridge().fit(A, Y)
    assert est.mu_.shape == (3,) and est.h_diag_.shape == (3, 6)
    assert est.coef_.shape == (3, 6)
    single = Ridge().fit(A, Y[:, :1])          # y (m, 1) squeezes the extras too
    assert single.h_diag_.shape == (6,) and single.coef_.shape == (6,)
