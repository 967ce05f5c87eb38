"""Numba fast path of ISTA/FISTA for explicit NumPy matrices.

The array-API path (:mod:`sparserec.solvers.proximal`) applies ``A`` to the
whole batch at every iteration, which streams every matrix of a stack from
memory once per iteration.  Here each problem runs to convergence on its own
while its data stays in cache (chunks of problems on Numba's thread count, in
threads that release the GIL; a plain thread pool compiles faster than a
``prange`` loop), and the iterate's sparsity is exploited:

* shared ``A`` and many problems: the Gram matrix ``G = A^H A`` and ``A^H y``
  are formed once; the tracked image is ``G x - A^H y`` (the gradient itself)
  and a move ``d`` costs ``n * nnz(d)`` instead of ``2 m n``;
* a stack of distinct ``A`` (or few problems): ``A d`` costs ``m * nnz(d)`` and
  ``A^H r`` ``m * n``, on a matrix that stays in cache.

The iteration is that of :class:`sparserec.solvers.proximal._L1ProximalGradient`
(same metric, first step, accept/reject step rule with the constants of
:mod:`._l1_rule`, momentum, restart, exact refresh of the images and
duality-gap test every ``check_every`` iterations and before the first), and it
is reached only through that class's ``fast_path``; the tests compare the two
paths iteration by iteration.  History memory grows with the checks actually
made, never with ``max_iter``.
"""
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ._engine import FastRun
from ._l1_rule import CURVATURE_SLACK, GROW, MARGIN, MAX_BACKTRACK, SHRINK

__all__ = ["solve_l1_numba"]

# Gram mode (G d costs n * nnz(d)) for a shared A with at most _GRAM_MAX_N columns and at
# least max(_GRAM_MIN_PROBLEMS, n / _GRAM_COLUMNS_PER_PROBLEM) problems, so that forming
# G (n^2 m) costs less than what the problems save; benchmarks/bench_first_order.py (c)
# times both modes at the threshold
_GRAM_MIN_PROBLEMS = 8
_GRAM_COLUMNS_PER_PROBLEM = 64
_GRAM_MAX_N = 4096
_CHUNKS_PER_THREAD = 8
_HISTORY_START = 16


@numba.njit(cache=True)
def _real_dot(a, b):
    # Re(a^H b)
    s = 0.0
    for i in range(a.shape[0]):
        s += (np.conj(a[i]) * b[i]).real
    return s


@numba.njit(cache=True)
def _apply(x, out, gram, GT, A):
    """``G x`` (Gram mode) or ``A x``, visiting only the non-zeros of ``x``."""
    out[:] = 0
    for j in range(x.shape[0]):
        xj = x[j]
        if xj != 0:
            if gram:
                row = GT[j]
                for i in range(out.shape[0]):
                    out[i] += xj * row[i]
            else:
                for i in range(out.shape[0]):
                    out[i] += A[i, j] * xj


@numba.njit(cache=True)
def _affine(x, out, gram, GT, A, y, c):
    """The image of ``x`` the iteration tracks: ``G x - A^H y`` or ``A x - y``."""
    _apply(x, out, gram, GT, A)
    out -= c if gram else y


@numba.njit(cache=True)
def _gradient(s, g, gram, A):
    """``A^H (A x - y)`` from the affine image ``s`` of ``x``."""
    if gram:
        g[:] = s
        return
    g[:] = 0
    for i in range(s.shape[0]):
        si = s[i]
        row = A[i]
        for j in range(g.shape[0]):
            g[j] += np.conj(row[j]) * si


@numba.njit(cache=True)
def _relative_gap(x, s, g, gram, lam, c, yy):
    """Duality gap of 1/2||y - Ax||^2 + lam||x||_1 over ||y||^2 (see lasso_duality_gap)."""
    rr = yy - _real_dot(x, c) + _real_dot(x, s) if gram else _real_dot(s, s)
    l1 = 0.0
    cmax = 0.0
    for i in range(x.shape[0]):
        l1 += abs(x[i])
        a = abs(g[i])
        if a > cmax:
            cmax = a
    scale = lam / cmax if cmax > lam else 1.0
    primal = 0.5 * rr + lam * l1
    dual = scale * (yy - _real_dot(c, x)) - 0.5 * scale * scale * rr
    return (primal - dual) / (yy if yy > 0 else 1.0)


@numba.njit(cache=True)
def _record(hist, n_check, crit):
    """``hist[n_check] = max(hist[n_check], crit)``, doubling ``hist`` when full."""
    if n_check >= hist.shape[0]:
        grown = np.full(2 * hist.shape[0], -np.inf)
        grown[:hist.shape[0]] = hist
        hist = grown
    if crit > hist[n_check]:
        hist[n_check] = crit
    return hist


@numba.njit(cache=True, error_model="numpy")
def _solve_one(x, gram, GT, A, y, c, yy, c2, lip, lam, momentum, restart, max_iter, tol,
               check_every, hist):
    """One problem to convergence; returns ``(iterations, status, hist)`` with status
    1 converged, 0 not converged, -1 non-finite iterates."""
    n = x.shape[0]
    size = n if gram else y.shape[0]
    # images (A x - y, or G x - A^H y in Gram mode) of the iterate, the extrapolated
    # point and the move d = x_new - z
    sx = np.zeros(size, dtype=x.dtype)
    sz = np.zeros_like(sx)
    ad = np.zeros_like(sx)
    z = x.copy()
    xn = np.zeros_like(x)
    d = np.zeros_like(x)
    g = np.zeros_like(x)     # gradient at z
    gx = np.zeros_like(x)    # gradient at x (duality gap)
    lip_acc = lip / SHRINK
    t = 1.0
    nback = 0
    it = 0
    n_check = 0
    status = 0
    while True:
        if it % check_every == 0 or it == max_iter:
            _affine(x, sx, gram, GT, A, y, c)   # exact images, no drift
            _affine(z, sz, gram, GT, A, y, c)
            if it == 0:
                _gradient(sz, g, gram, A)
            _gradient(sx, gx, gram, A)
            crit = _relative_gap(x, sx, gx, gram, lam, c, yy)
            if not np.isfinite(crit):
                status = -1
                break
            hist = _record(hist, n_check, crit)
            n_check += 1
            if crit <= tol:
                status = 1
                break
        if it == max_iter:
            break
        it += 1
        dd = 0.0
        for i in range(n):
            scale = lip * c2[i]
            v = z[i] - g[i] / scale
            tau = lam / scale
            mod = abs(v)
            xn[i] = 0.0 if mod <= tau else v * (1.0 - tau / mod)
            d[i] = xn[i] - z[i]
            dd += c2[i] * (np.conj(d[i]) * d[i]).real
        _apply(d, ad, gram, GT, A)
        # ||A d||^2 = Re(d^H G d) in Gram mode
        curv = _real_dot(d, ad) if gram else _real_dot(ad, ad)
        if curv > lip * dd * (1.0 + CURVATURE_SLACK) and dd > 0 and nback < MAX_BACKTRACK:
            lip = max(MARGIN * curv / dd, lip * GROW)   # rejected: retry from z
            nback += 1
            continue
        nback = 0
        beta = 0.0
        if momentum:
            if restart:
                uphill = 0.0
                for i in range(n):
                    uphill += c2[i] * (np.conj(z[i] - xn[i]) * (xn[i] - x[i])).real
                if uphill > 0:
                    t = 1.0
            t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t * lip / lip_acc))
            beta = (t - 1.0) / t_next
            t = t_next
        for i in range(size):
            sn = sz[i] + ad[i]
            sz[i] = sn + beta * (sn - sx[i])
            sx[i] = sn
        for i in range(n):
            z[i] = xn[i] + beta * (xn[i] - x[i])
            x[i] = xn[i]
        _gradient(sz, g, gram, A)
        lip_acc = lip
        lip = lip * SHRINK
    return it, status, hist


@numba.njit(cache=True, nogil=True)
def _solve_range(start, stop, X, gram, GT, A, a_index, Y, C, yy, C2, LIP, lam, momentum,
                 restart, max_iter, tol, check_every, n_iter, status):
    """Problems ``start <= p < stop``, one after the other (runs without the GIL).

    Returns the largest criterion over these problems at every check (``-inf``
    where none of them was still running)."""
    hist = np.full(_HISTORY_START, -np.inf)
    for p in range(start, stop):
        b = a_index[p]
        it, st, hist = _solve_one(X[p], gram, GT, A[b], Y[p], C[p], yy[p], C2[b], LIP[p], lam,
                                  momentum, restart, max_iter, tol, check_every, hist)
        n_iter[p] = it
        status[p] = st
    return hist


def _solve_all(*args):
    """Spread the problems over Numba's thread count in chunks (load balance); return
    the per-check maxima of every chunk."""
    P = args[0].shape[0]
    threads = numba.get_num_threads()
    if threads == 1 or P < 2 * _CHUNKS_PER_THREAD:
        return [_solve_range(0, P, *args)]
    bounds = np.linspace(0, P, threads * _CHUNKS_PER_THREAD + 1).astype(int)
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda lo_hi: _solve_range(lo_hi[0], lo_hi[1], *args),
                             zip(bounds[:-1], bounds[1:])))


def _merge_history(hists, max_iter, check_every):
    """Per-check maxima of the chunks as the engine's ``(n_checks, 2)`` history."""
    width = max(h.shape[0] for h in hists)
    merged = np.full(width, -np.inf)
    for h in hists:
        merged[:h.shape[0]] = np.maximum(merged[:h.shape[0]], h)
    merged = merged[np.isfinite(merged)]
    iters = np.minimum(np.arange(merged.size) * check_every, max_iter)
    return np.column_stack([iters, merged]) if merged.size else np.zeros((0, 2))


def _use_gram(n_problems, n, stacked):
    """Whether the kernels run in Gram mode (see the constants above)."""
    return (not stacked and n <= _GRAM_MAX_N
            and n_problems >= max(_GRAM_MIN_PROBLEMS, n // _GRAM_COLUMNS_PER_PROBLEM))


def solve_l1_numba(op, Y, c2, *, lam, momentum, restart, max_iter, tol, check_every, x0=None):
    """ISTA/FISTA on every problem of a validated NumPy problem (problem layout).

    Parameters
    ----------
    op : Dense
        Shared ``(m, n)`` or stacked ``(B, m, n)`` NumPy matrix.
    Y : ndarray
        ``(m, L)`` (shared) or ``(B, m, L)`` (stacked), float32, float64, complex64 or
        complex128 (the kernels run in that precision).
    c2 : ndarray
        Squared column norms (the metric), ``(n,)`` or ``(B, n)``.
    lam, momentum, restart, max_iter, tol, check_every :
        As in :func:`sparserec.solvers.fista`.
    x0 : ndarray, optional
        Warm start ``(n, L)`` / ``(B, n, L)``.

    Returns
    -------
    FastRun
    """
    dtype = Y.dtype
    A = np.ascontiguousarray(op.A, dtype=dtype)
    n = op.shape[1]
    if op.is_stacked:
        B, m, L = Y.shape
        Yp = np.ascontiguousarray(np.swapaxes(Y, 1, 2)).reshape(B * L, m)
        a_index = np.repeat(np.arange(B), L)
        A3 = A
    else:
        m, L = Y.shape
        Yp = np.ascontiguousarray(Y.T)
        a_index = np.zeros(L, dtype=np.int64)
        A3 = A[None]
    C2 = np.ascontiguousarray(np.reshape(c2, (-1, n)), dtype=np.float64)
    P = Yp.shape[0]
    gram = _use_gram(P, n, op.is_stacked)
    GT = np.ascontiguousarray(op.gram().T, dtype=dtype) if gram else np.zeros((1, 1), dtype)
    # A^H y and the first trial's lip (the curvature along the first preconditioned
    # gradient d = A^H y / c2) for all problems in two batched products
    C = np.ascontiguousarray(np.swapaxes(op._rmatmat(Y), -1, -2).reshape(P, n))
    with np.errstate(all="ignore"):     # overflowing data: reported as non-finite iterates
        D0 = C / C2[a_index]
        AD = op._matmat(np.swapaxes(D0.reshape(Y.shape[:-2] + (L, n)), -1, -2))
        ad = np.einsum("...ml,...ml->...l", AD.conj(), AD).real.reshape(P)
        dd = np.einsum("pn,pn->p", C2[a_index] * D0.conj(), D0).real
        lip = np.where(dd > 0, ad / np.where(dd > 0, dd, 1.0), 1.0)
    lip = np.ascontiguousarray(np.where(lip > 0, lip, 1.0))
    yy = np.einsum("pm,pm->p", Yp.conj(), Yp).real.copy()
    if x0 is None:
        X = np.zeros((P, n), dtype=dtype)
    elif op.is_stacked:
        X = np.array(np.swapaxes(x0, 1, 2), dtype=dtype, order="C").reshape(P, n)
    else:
        X = np.array(x0.T, dtype=dtype, order="C")  # a copy: the kernel writes into X
    n_iter = np.zeros(P, dtype=np.int64)
    status = np.zeros(P, dtype=np.int64)
    hists = _solve_all(X, gram, GT, A3, a_index, Yp, C, yy, C2, lip, float(lam), bool(momentum),
                       bool(restart), int(max_iter), float(tol), int(check_every), n_iter,
                       status)
    history = _merge_history(hists, max_iter, check_every)
    shape = (B, L) if op.is_stacked else (L,)
    X = np.swapaxes(X.reshape(B, L, n), 1, 2) if op.is_stacked else X.T
    return FastRun(X=X, n_iter=n_iter.reshape(shape), converged=(status == 1).reshape(shape),
                   history=history, finite=(status >= 0).reshape(shape))
