"""Numba kernels of the working-set Lasso: coordinate descent on a restricted problem.

The restricted problem of one column ``y`` on a working set ``W`` of ``w`` atoms,
``min_x 1/2 ||y - A_W x||^2 + lam ||x||_1`` (real or complex, ``|x_j|`` the modulus),
is given by its Gram block ``M = A_W^H A_W`` (``w x w``, Hermitian), ``b = A_W^H y``
and ``||y||^2``; the kernel tracks ``v = M x``, so a coordinate move costs ``w`` and
an epoch ``w^2``, whatever ``m`` and ``n``.

Each epoch minimises exactly along every coordinate in turn (cyclic CD).  Every
``ANDERSON_EVERY`` epochs the last iterates are extrapolated (Anderson
acceleration of the CD map, Bertrand & Massias, AISTATS 2021) and the
extrapolated point replaces the iterate only when its objective is lower, so the
objective never increases; the duality gap of the restricted problem is evaluated
at the same moment and stops the epochs.
"""
import numba
import numpy as np

__all__ = ["cd_restricted", "gram_correlations", "gram_block", "select_working_set",
           "gram_outer_step", "ANDERSON_EVERY"]

ANDERSON_EVERY = 5
# an inner solve stops once its gap has fallen by less than 0.1 % at this many checks in a
# row (the gap has reached the rounding level of the arithmetic)
STALL_CHECKS = 20
STALL_RATIO = 0.999
# columns of the correlation matrix updated together (a block of all problems stays in
# cache while each row of G is read once)
CORRELATION_BLOCK = 512


@numba.njit(cache=True)
def _residual_terms(x, b, v, yy):
    """``(||y - A_W x||^2, Re(r^H y))`` from ``b = A_W^H y`` and ``v = M x``."""
    bx = 0.0
    xv = 0.0
    for j in range(x.shape[0]):
        bx += (np.conj(b[j]) * x[j]).real
        xv += (np.conj(x[j]) * v[j]).real
    return max(yy - 2.0 * bx + xv, 0.0), yy - bx


@numba.njit(cache=True)
def _objective(x, b, v, yy, lam):
    rr, _ = _residual_terms(x, b, v, yy)
    l1 = 0.0
    for j in range(x.shape[0]):
        l1 += abs(x[j])
    return 0.5 * rr + lam * l1


@numba.njit(cache=True)
def _gap(b, x, v, yy, lam):
    """Duality gap of the restricted problem (residual scaled into the dual set)."""
    cmax = 0.0
    l1 = 0.0
    for j in range(x.shape[0]):
        a = abs(b[j] - v[j])
        if a > cmax:
            cmax = a
        l1 += abs(x[j])
    rr, ry = _residual_terms(x, b, v, yy)
    scale = lam / cmax if cmax > lam else 1.0
    return 0.5 * rr + lam * l1 - (scale * ry - 0.5 * scale * scale * rr)


@numba.njit(cache=True)
def _image(M, x, out):
    """``out = M x``."""
    zero = np.zeros(1, dtype=out.dtype)[0]
    for i in range(out.shape[0]):
        s = zero
        row = M[i]
        for j in range(x.shape[0]):
            s += row[j] * x[j]
        out[i] = s


@numba.njit(cache=True)
def _epoch(M, b, x, v, lam):
    zero = np.zeros(1, dtype=x.dtype)[0]
    for j in range(x.shape[0]):
        row = M[j]
        d = row[j].real
        if d <= 0:
            continue
        old = x[j]
        u = old + (b[j] - v[j]) / d
        mod = abs(u)
        tau = lam / d
        new = zero if mod <= tau else u * (1.0 - tau / mod)
        delta = new - old
        if delta != 0:
            x[j] = new
            for i in range(v.shape[0]):     # v += M[:, j] delta, M[:, j] = conj(M[j, :])
                v[i] += np.conj(row[i]) * delta

@numba.njit(cache=True)
def _solve_small(G, rhs):
    """``G z = rhs`` for a small symmetric positive definite ``G`` (Cholesky, no LAPACK
    call overhead); NaN when ``G`` is not numerically positive definite."""
    K = G.shape[0]
    L = np.zeros((K, K))
    for i in range(K):
        for j in range(i + 1):
            s = G[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            if i == j:
                if s <= 0:
                    return np.full(K, np.nan)
                L[i, i] = np.sqrt(s)
            else:
                L[i, j] = s / L[j, j]
    z = rhs.copy()
    for i in range(K):
        for k in range(i):
            z[i] -= L[i, k] * z[k]
        z[i] /= L[i, i]
    for i in range(K - 1, -1, -1):
        for k in range(i + 1, K):
            z[i] -= L[k, i] * z[k]
        z[i] /= L[i, i]
    return z


@numba.njit(cache=True)
def _extrapolate(hist, out):
    """Anderson point of the last iterates ``hist[0..K]`` (False when ill-posed)."""
    K = hist.shape[0] - 1
    U = np.empty((K, hist.shape[1]), dtype=hist.dtype)
    for k in range(K):
        U[k] = hist[k + 1] - hist[k]
    G = np.empty((K, K))
    for a in range(K):
        for c in range(K):
            s = 0.0
            for j in range(U.shape[1]):
                s += (np.conj(U[a, j]) * U[c, j]).real
            G[a, c] = s
    scale = 0.0
    for a in range(K):
        scale = max(scale, G[a, a])
    if scale == 0:
        return False
    for a in range(K):
        G[a, a] += 1e-12 * scale     # Tikhonov guard of a nearly singular system
    z = _solve_small(G, np.ones(K))
    total = z.sum()
    if not np.isfinite(total) or total == 0:
        return False
    out[:] = 0
    for k in range(K):
        out += (z[k] / total) * hist[k + 1]
    return True


@numba.njit(cache=True, error_model="numpy")
def cd_restricted(M, b, x, v, yy, lam, tol, max_epochs):
    """Coordinate descent with guarded Anderson acceleration on one restricted problem.

    Parameters
    ----------
    M : ndarray ``(w, w)``
        ``A_W^H A_W`` (C order).
    b : ndarray ``(w,)``
        ``A_W^H y``.
    x, v : ndarray ``(w,)``
        Start point and ``M x``, updated in place.
    yy : float
        ``||y||^2``.
    lam : float
    tol : float
        Absolute duality-gap target of the restricted problem.
    max_epochs : int

    Returns
    -------
    epochs : int
    gap : float
        The restricted duality gap at the returned ``x``.
    """
    K = ANDERSON_EVERY
    hist = np.empty((K + 1, x.shape[0]), dtype=x.dtype)
    x_acc = np.empty_like(x)
    v_acc = np.empty_like(v)
    gap = _gap(b, x, v, yy, lam)
    epoch = 0
    stalled = 0
    while gap > tol and epoch < max_epochs and stalled < STALL_CHECKS:
        hist[0] = x
        for k in range(K):
            _epoch(M, b, x, v, lam)
            hist[k + 1] = x
        epoch += K
        if _extrapolate(hist, x_acc):
            _image(M, x_acc, v_acc)
            if _objective(x_acc, b, v_acc, yy, lam) < _objective(x, b, v, yy, lam):
                x[:] = x_acc
                v[:] = v_acc
        previous = gap
        gap = _gap(b, x, v, yy, lam)
        if not np.isfinite(gap):
            break
        # rounding: a gap that stops falling cannot reach tol
        stalled = stalled + 1 if gap > STALL_RATIO * previous else 0
    if epoch > 0:             # the moves updated v incrementally: end on the exact M x
        _image(M, x, v)
        gap = _gap(b, x, v, yy, lam)
    return epoch, gap


@numba.njit(cache=True)
def gram_correlations(G, C0, X, active, C):
    """``C[p] = A^H y_p - G x_p`` over all atoms for the ``active`` problems, from the
    Hermitian Gram matrix ``G`` (column ``j`` is ``conj(G[j])``), in ``n |support|``
    per problem.

    ``C0``, ``X`` and ``C`` are problems-first ``(P, n)``.  The non-zeros are grouped by
    atom and ``C`` is updated in column blocks of ``CORRELATION_BLOCK``, so each row of
    ``G`` is read once for all problems and the block of ``C`` stays in cache.
    """
    P, n = X.shape
    start = np.zeros(n + 1, dtype=np.int64)
    for p in range(P):
        if active[p]:
            C[p] = C0[p]
            for j in range(n):
                if X[p, j] != 0:
                    start[j + 1] += 1
    for j in range(n):
        start[j + 1] += start[j]
    cursor = start[:-1].copy()
    owner = np.empty(start[n], dtype=np.int64)
    value = np.empty(start[n], dtype=X.dtype)
    for p in range(P):
        if active[p]:
            for j in range(n):
                if X[p, j] != 0:
                    owner[cursor[j]] = p
                    value[cursor[j]] = X[p, j]
                    cursor[j] += 1
    for lo in range(0, n, CORRELATION_BLOCK):
        hi = min(n, lo + CORRELATION_BLOCK)
        for j in range(n):
            if start[j + 1] == start[j]:
                continue
            row = G[j]
            for e in range(start[j], start[j + 1]):
                c = C[owner[e]]
                xj = value[e]
                for i in range(lo, hi):
                    c[i] -= np.conj(row[i]) * xj


@numba.njit(cache=True)
def gram_block(G, W, out):
    """``out = G[W][:, W]`` (row by row, so each read of ``G`` stays in one row)."""
    for a in range(W.shape[0]):
        row = G[W[a]]
        for b in range(W.shape[0]):
            out[a, b] = row[W[b]]


@numba.njit(cache=True)
def select_working_set(x, c, screened, norms, lam, previous, p0):
    """The working set of one problem: its support plus the atoms whose dual constraint
    is closest to the scaled dual point, ``(lam - s |c_j|) / ||a_j||`` ascending (celer),
    ``max(p0, 2 |support|, previous)`` atoms in all (fewer when screening leaves fewer).

    Returns the sorted atom indices.
    """
    n = x.shape[0]
    cmax = 0.0
    for j in range(n):
        cmax = max(cmax, abs(c[j]))
    scale = lam / cmax if cmax > lam else 1.0
    support = np.flatnonzero(x != 0)
    candidates = np.empty(n, dtype=np.int64)
    n_candidates = 0
    for j in range(n):
        if x[j] == 0 and not screened[j]:
            candidates[n_candidates] = j
            n_candidates += 1
    candidates = candidates[:n_candidates]
    size = min(support.shape[0] + n_candidates,
               max(p0, 2 * support.shape[0], previous))
    extra = size - support.shape[0]
    priority = np.empty(n_candidates)
    for i in range(n_candidates):
        j = candidates[i]
        priority[i] = (lam - scale * abs(c[j])) / norms[j] if norms[j] > 0 else np.inf
    chosen = candidates[np.argsort(priority)[:extra]] if extra < n_candidates else candidates
    return np.sort(np.concatenate((support, chosen)))


@numba.njit(cache=True)
def gram_outer_step(G, C0, X, C, screened, norms, lam, yy, gap, wsize, target, reduction,
                    floor, p0, max_epochs):
    """One outer iteration of every running problem of a shared Gram matrix ``G``
    (problems-first arrays; ``X`` and ``wsize`` updated in place): working set, block
    ``G[W, W]``, restricted coordinate descent, scatter back."""
    for p in range(X.shape[0]):
        if gap[p] <= target * yy[p]:
            continue
        x = X[p]
        W = select_working_set(x, C[p], screened[p], norms, lam[p], wsize[p], p0)
        wsize[p] = W.shape[0]
        M = np.empty((W.shape[0], W.shape[0]), dtype=G.dtype)
        gram_block(G, W, M)
        b = C0[p][W]
        xw = x[W]
        v = np.empty_like(xw)
        _image(M, xw, v)
        tol = max(reduction * gap[p], floor * target * yy[p])
        cd_restricted(M, b, xw, v, yy[p], lam[p], tol, max_epochs)
        x[:] = 0
        x[W] = xw
