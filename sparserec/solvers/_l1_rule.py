"""Constants of the adaptive ISTA/FISTA step rule.

A leaf module: the array-API iteration (:mod:`.proximal`) and its Numba fast
path (:mod:`._l1_numba`) both import it, so the two cannot drift apart.
"""
#: every accepted step tries a longer one next: ``lip <- SHRINK * lip``
SHRINK = 0.9
#: a rejected step grows ``lip`` at least by this factor
GROW = 1.5
#: ... and to at least this multiple of the move's curvature ``||A d||^2 / ||d||^2``
MARGIN = 1.01
#: consecutive rejections after which a step is accepted anyway
MAX_BACKTRACK = 60
#: relative slack of the curvature test (rounding of ``||A d||^2``)
CURVATURE_SLACK = 1e-9
