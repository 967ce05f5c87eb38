"""sparserec: sparse signal recovery as tested scikit-learn estimators.

Estimators (``fit``/``predict``, real and complex, batched): :class:`ISTA`,
:class:`FISTA`, :class:`IHT`, :class:`OMP`.  Sub-modules: :mod:`~sparserec.operators`
(measurement operators), :mod:`~sparserec.solvers` (pure solver functions),
:mod:`~sparserec.simulate` (seeded problem generators), :mod:`~sparserec.metrics`.
"""
from . import metrics, operators, simulate, solvers
from .estimators import FISTA, IHT, ISTA, OMP
from .exceptions import ConvergenceWarning

__version__ = "0.1.0"
__all__ = ["ISTA", "FISTA", "IHT", "OMP", "operators", "solvers", "simulate", "metrics",
           "ConvergenceWarning"]
