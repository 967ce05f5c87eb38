"""Warnings raised by sparserec, attributed to the caller's code."""
import os
import sys
import warnings

__all__ = ["ConvergenceWarning", "warn"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class ConvergenceWarning(UserWarning):
    """A solver stopped at ``max_iter`` before meeting its stopping criterion.

    sparserec's own class (a ``UserWarning``, like scikit-learn's
    ``ConvergenceWarning``), so that the solvers import nothing of
    scikit-learn; filter it by this class or as a ``UserWarning``.
    """


def warn(message, category):
    """Issue a warning pointing at the first frame outside sparserec.

    Solvers are reached through different call depths (estimator or function,
    Numba or array-API path); this keeps the reported location, and
    module-based warning filters, the user's.

    Parameters
    ----------
    message : str
    category : type of Warning
    """
    frame, level = sys._getframe(1), 2  # stacklevel 2 is the caller of warn()
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
