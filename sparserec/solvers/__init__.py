"""Solvers: pure functions ``solve(A, y, ...) -> Result`` that know nothing of scikit-learn."""
from ._engine import Progress, Result
from .greedy import omp
from .proximal import fista, iht, ista, lasso_duality_gap

__all__ = ["Result", "Progress", "ista", "fista", "iht", "omp", "lasso_duality_gap"]
