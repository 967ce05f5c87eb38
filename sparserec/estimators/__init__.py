"""scikit-learn estimators: validate, call a solver, store fitted attributes."""
from .greedy import OMP
from .lasso import Lasso, LassoCV
from .proximal import FISTA, IHT, ISTA
from .sbl import SBL, KroneckerSBL

__all__ = ["ISTA", "FISTA", "IHT", "OMP", "Lasso", "LassoCV", "SBL", "KroneckerSBL"]
