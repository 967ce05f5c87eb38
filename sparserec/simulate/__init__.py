"""Seeded generators of sparse-recovery problems (NumPy host data).

Every generator takes ``random_state`` (None, an int or a
:class:`numpy.random.Generator`); the same seed gives the same problem.
:func:`gaussian_cs` draws unstructured compressed-sensing problems,
:func:`kronecker_cs` Kronecker-structured ones with a Kronecker-supported
signal, and :func:`irs_mimo` the IRS-MIMO channel-estimation problem.
"""
from ._compressed_sensing import CSProblem, gaussian_cs
from ._irs import IRSProblem, irs_mimo
from ._kronecker import KroneckerCSProblem, kronecker_cs

__all__ = ["CSProblem", "gaussian_cs", "KroneckerCSProblem", "kronecker_cs", "IRSProblem",
           "irs_mimo"]
