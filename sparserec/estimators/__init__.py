"""scikit-learn estimators: validate, call a solver, store fitted attributes."""
from .proximal import FISTA, IHT, ISTA

__all__ = ["ISTA", "FISTA", "IHT"]
