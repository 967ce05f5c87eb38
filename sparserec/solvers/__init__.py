"""Solvers: pure functions ``solve(A, y, ...) -> Result`` that know nothing of scikit-learn."""
from ._engine import Progress, Result
from .greedy import omp
from .working_set import lasso, lasso_path
from .proximal import fista, iht, ista, lasso_duality_gap
from .kronecker_sbl import kronecker_sbl
from .sbl import pattern_coupled_sbl, sbl
from .unfolded import unfolded

__all__ = ["Result", "Progress", "ista", "fista", "iht", "omp", "lasso", "lasso_path",
           "lasso_duality_gap", "sbl", "pattern_coupled_sbl", "kronecker_sbl", "unfolded"]
