"""Solvers: pure functions ``solve(A, y, ...) -> Result`` that know nothing of scikit-learn."""
from ._engine import Result
from .proximal import fista, iht, ista, lasso_duality_gap

__all__ = ["Result", "ista", "fista", "iht", "lasso_duality_gap"]
