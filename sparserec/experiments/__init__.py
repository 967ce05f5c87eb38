"""Experiments: resumable, parallel simulation studies and phase-transition diagrams.

:class:`Study` turns "a grid of parameters times a trial function" into a
resumable run (SQLite store, per-trial seeds, joblib parallelism, progress bar,
run metadata); :class:`PhaseTransition` is the phase-transition study on top of
it, with :func:`weak_threshold` (Donoho–Tanner) and :func:`logistic_boundary`.
"""
from ._store import TrialStore
from ._study import Study
from .phase_transition import PhaseTransition, default_solvers
from .channel_estimation import IRSChannelStudy
from .theory import logistic_boundary, weak_threshold

__all__ = ["Study", "TrialStore", "PhaseTransition", "default_solvers", "weak_threshold",
           "logistic_boundary", "IRSChannelStudy"]
