"""sparserec: sparse signal recovery as tested scikit-learn estimators.

Estimators (``fit``/``predict``, real and complex, batched): :class:`ISTA`,
:class:`FISTA`, :class:`IHT`, :class:`OMP`, :class:`Lasso` and :class:`LassoCV`
(working sets and screening), :class:`SBL` and :class:`KroneckerSBL` (sparse Bayesian
learning).  Sub-modules: :mod:`~sparserec.operators`
(measurement operators), :mod:`~sparserec.solvers` (pure solver functions),
:mod:`~sparserec.simulate` (seeded problem generators), :mod:`~sparserec.metrics`.
"""
from . import metrics, operators, simulate, solvers
from .exceptions import ConvergenceWarning

# the estimators (and with them scikit-learn, 0.6 s of import) load on first use, so
# that `import sparserec.solvers` stays free of scikit-learn
_ESTIMATORS = ("ISTA", "FISTA", "IHT", "OMP", "Lasso", "LassoCV", "SBL", "KroneckerSBL",
               "UnfoldedISTA", "UnfoldedIHT", "LISTACP")

__version__ = "0.1.0"
__all__ = ["ISTA", "FISTA", "IHT", "OMP", "Lasso", "LassoCV", "SBL", "KroneckerSBL",
           "UnfoldedISTA", "UnfoldedIHT", "LISTACP", "operators", "solvers", "simulate", "metrics",
           "ConvergenceWarning"]


def __getattr__(name):
    if name in _ESTIMATORS:
        from . import estimators
        return getattr(estimators, name)
    raise AttributeError(f"module 'sparserec' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ESTIMATORS))
