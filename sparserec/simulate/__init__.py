"""Seeded generators of sparse-recovery problems (NumPy host data).

Every generator takes ``random_state`` (None, an int or a
:class:`numpy.random.Generator`); the same seed gives the same problem.
"""
from ._compressed_sensing import CSProblem, gaussian_cs

__all__ = ["CSProblem", "gaussian_cs"]
