"""Numba kernels for the NumPy path (compiled on first use, cached on disk)."""
import numba
import numpy as np

__all__ = ["soft_threshold_numba"]


@numba.njit(cache=True, error_model="numpy")
def _soft(v, t, out):
    # v, out: (B, n, P); t: (Bt, nt, Pt) with Bt in {1, B}, nt in {1, n}, Pt in {1, P}
    B, n, P = v.shape
    sb = t.shape[0] > 1
    si = t.shape[1] > 1
    sp = t.shape[2] > 1
    for b in range(B):
        for i in range(n):
            for p in range(P):
                tau = t[b if sb else 0, i if si else 0, p if sp else 0]
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
    per problem, per coordinate, or per entry); its singleton axes are read
    as such, never expanded.  Other shapes fall back to NumPy.
    """
    t = np.asarray(t, dtype=v.real.dtype)
    v3 = v[None] if v.ndim == 2 else v
    t3 = t.reshape((1,) * (3 - t.ndim) + t.shape) if t.ndim <= 3 else t
    if v3.ndim != 3 or t3.ndim != 3 or any(ts not in (1, vs) for ts, vs in zip(t3.shape, v3.shape)):
        mod = np.abs(v)
        return v * np.maximum(1.0 - t / np.where(mod > 0, mod, 1.0), 0.0)
    out = np.empty_like(v3)
    _soft(v3, np.ascontiguousarray(t3), out)
    return out.reshape(v.shape)
