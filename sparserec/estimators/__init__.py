"""scikit-learn estimators: validate, call a solver, store fitted attributes."""
from .greedy import OMP
from .proximal import FISTA, IHT, ISTA

__all__ = ["ISTA", "FISTA", "IHT", "OMP"]
