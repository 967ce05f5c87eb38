"""Warnings raised by sparserec."""
from sklearn.exceptions import ConvergenceWarning

__all__ = ["ConvergenceWarning"]
