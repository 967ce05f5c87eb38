"""scikit-learn estimators: validate, call a solver, store fitted attributes."""
from .greedy import OMP
from .lasso import Lasso, LassoCV
from .proximal import FISTA, IHT, ISTA
from .sbl import SBL, KroneckerSBL
from .unfolded import LISTACP, UnfoldedIHT, UnfoldedISTA

__all__ = ["ISTA", "FISTA", "IHT", "OMP", "Lasso", "LassoCV", "SBL", "KroneckerSBL", "UnfoldedISTA",
           "UnfoldedIHT", "LISTACP"]
