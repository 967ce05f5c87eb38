"""Numba kernels for the NumPy path (compiled on first use, cached on disk)."""
import numba
import numpy as np

__all__ = ["soft_threshold_numba"]


@numba.njit(cache=True, error_model="numpy")
def _soft(v, t, out):
    # v, out: (B, n, P); t: (B, n, P), usually a broadcast (zero-stride) view
    B, n, P = v.shape
    for b in range(B):
        for i in range(n):
            for p in range(P):
                tau = t[b, i, p]
                a = v[b, i, p]
                # squared modulus first: the square root only for survivors
                m2 = (a * np.conj(a)).real
                if m2 <= tau * tau:
                    out[b, i, p] = 0.0
                else:
                    out[b, i, p] = a * (1.0 - tau / np.sqrt(m2))


def soft_threshold_numba(v, t):
    """Fused soft threshold for NumPy arrays of shape ``(n, P)`` or ``(B, n, P)``.

    ``t`` is a scalar or any array broadcasting against ``v`` (one threshold
    per problem, per coordinate, or both); it is read through a zero-stride
    view, never expanded.
    """
    t = np.asarray(t, dtype=v.real.dtype)
    v3 = v[None] if v.ndim == 2 else v
    if v3.ndim != 3 or t.ndim > 3:
        mod = np.abs(v)
        return v * np.maximum(1.0 - t / np.where(mod > 0, mod, 1.0), 0.0)
    out = np.empty_like(v3)
    _soft(np.ascontiguousarray(v3), np.broadcast_to(t, v3.shape), out)
    return out.reshape(v.shape)
