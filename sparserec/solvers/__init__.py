"""Solvers: pure functions ``solve(A, y, ...) -> Result`` that know nothing of scikit-learn."""
from ._engine import Result
from .greedy import omp
from .proximal import fista, iht, ista, lasso_duality_gap

__all__ = ["Result", "ista", "fista", "iht", "omp", "lasso_duality_gap"]
