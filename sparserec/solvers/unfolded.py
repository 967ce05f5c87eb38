"""Deep-unfolded ISTA / IHT and LISTA-CP: T-layer networks with exact backward passes.

Layer ``t`` maps the iterate ``x_t`` (columns of ``X``, one problem each) to

* ISTA: ``v = x + g_t A^H (y - A x)``, ``x+ = soft(v, g_t lam_t)``;
* IHT: the same ``v``, ``x+ = hard(v, sqrt(2 g_t lam_t))``, or with ``smoothing=beta``
  the surrogate ``x+ = v sigmoid(beta (|v| - tau))`` (differentiable in ``tau``);
* LISTA-CP (Chen et al. 2018): ``v = x + W_t^H (y - A x)``, ``x+ = soft(v, theta_t)``,

from ``x_0 = 0``; ISTA and LISTA-CP optionally with support selection (the largest
entries of each layer bypass the shrinkage).  With every ``g_t = 1/||A||^2`` the ISTA and IHT networks are plain
ISTA and IHT.  Everything is written against the array API: forward, backward, losses
and inference run unchanged on NumPy, CuPy and ``array_api_strict`` arrays, batched
over the columns, real or complex.

Gradients of the real losses with respect to complex arrays are ``dL/dRe + i dL/dIm``
(so ``A^H`` is the adjoint of ``A`` in the backward pass); with respect to the real
parameters they are exact derivatives (almost everywhere for the thresholds: the hard
threshold's level has derivative 0, the surrogate's does not).  The backward pass
costs about one forward pass and keeps ``v_t`` and ``A^H r_t`` (or ``r_t``) of every
layer.

Inference (:func:`unfolded`) is a batch solve on the engine: one engine iteration per
layer, ``n_layers`` iterations for every problem, the engine's checks for non-finite
iterates and its callback per layer (the per-layer diagnostics use it).
"""
from dataclasses import dataclass, field, replace

import numpy as np

from .._array import abs2, conj, is_complex, real_dtype, real_part, sum_abs2
from .._validation import check_problem, check_scalar
from ..prox import hard_threshold, l1_norm, soft_threshold
from ._engine import run

__all__ = ["Network", "KINDS", "LOSSES", "initial_network", "unfolded", "objective",
           "layer_thresholds", "forward", "loss_value", "loss_and_gradient", "layer_metrics"]

KINDS = ("ista", "iht", "lista_cp")
LOSSES = ("supervised", "unsupervised")


@dataclass
class Network:
    """The parameters of a T-layer unfolded network.

    Parameters
    ----------
    kind : {"ista", "iht", "lista_cp"}
    lam : float
        Weight of the objective ``1/2||y - Ax||^2 + lam ||x||_1`` (``||x||_0`` for
        IHT): the unsupervised loss, and the thresholds' starting point.
    params : dict of arrays
        ``"step"`` and ``"lam"`` ``(T,)`` (ISTA, IHT: step sizes ``g_t`` and per-layer
        threshold weights ``lam_t``), or ``"weight"`` ``(T, m, n)`` and
        ``"threshold"`` ``(T,)`` (LISTA-CP).
    smoothing : float or None
        IHT only: slope ``beta`` of the sigmoid surrogate of the hard threshold.
    support_selection : (float, float) or None
        ISTA and LISTA-CP only: ``(p, p_max)``; in layer ``t`` the entries among the
        ``min(p (t + 1), p_max) n`` largest moduli of every column that pass the
        threshold are kept without shrinkage (Chen et al. 2018's support selection).
    """

    kind: str
    lam: float
    params: dict = field(default_factory=dict)
    smoothing: float = None
    support_selection: tuple = None

    @property
    def n_layers(self):
        """Number of layers ``T``."""
        key = "threshold" if self.kind == "lista_cp" else "step"
        return int(self.params[key].shape[0])

    def copy(self):
        """A copy whose parameter arrays are new arrays (same namespace)."""
        return replace(self, params={k: v * 1 for k, v in self.params.items()})


def initial_network(op, kind, n_layers, lam, smoothing=None, support_selection=None):
    """The network whose layers are plain ISTA / IHT steps (``g_t = 1/||A||^2``).

    LISTA-CP starts from ``W_t = A / ||A||^2`` and ``theta_t = lam / ||A||^2`` (its
    first forward pass is plain ISTA too).

    Parameters
    ----------
    op : Operator
        Shared (not stacked) measurement operator.
    kind : {"ista", "iht", "lista_cp"}
    n_layers : int
    lam : float
    smoothing : float, optional
    support_selection : (float, float), optional

    Returns
    -------
    Network
    """
    xp = op.xp
    rdt = real_dtype(xp, op.dtype)
    inv_l = 1.0 / float(op.norm2()) ** 2
    ones = xp.ones(n_layers, dtype=rdt)
    if kind == "lista_cp":
        dense = op.todense() * inv_l
        params = {"weight": xp.stack([dense] * n_layers, axis=0), "threshold": ones * (lam * inv_l)}
    else:
        params = {"step": ones * inv_l, "lam": ones * lam}
    return Network(kind=kind, lam=float(lam), params=params, smoothing=smoothing,
                   support_selection=support_selection)


def layer_thresholds(xp, net):
    """Per-layer threshold levels: ``g lam`` (ISTA), ``sqrt(2 g lam)`` (IHT), ``theta``
    (LISTA-CP).

    Parameters
    ----------
    xp : module
        Array namespace of the parameters.
    net : Network

    Returns
    -------
    array ``(T,)``
    """
    p = net.params
    if net.kind == "lista_cp":
        return p["threshold"]
    if net.kind == "ista":
        return p["step"] * p["lam"]
    return xp.sqrt(2.0 * p["step"] * p["lam"])


def _direction(op, net, t, X, Y):
    """``v - x`` of layer ``t`` and what its parameter gradient needs (``A^H r`` or ``r``)."""
    xp = op.xp
    R = Y - op._matmat(X)
    if net.kind == "lista_cp":
        W = net.params["weight"][t, ...]
        return xp.matmul(conj(xp, xp.matrix_transpose(W)), R), R
    G = op._rmatmat(R)
    return xp.astype(net.params["step"][t], G.dtype) * G, G


def _bypass(xp, net, V, level, t):
    """Entries of layer ``t`` that support selection keeps unshrunk (None: no selection)."""
    if net.support_selection is None:
        return None
    p, p_max = net.support_selection
    n = V.shape[0]
    k = int(min(p * (t + 1), p_max) * n)
    if k < 1:
        return None
    mod = xp.abs(V)
    cutoff = xp.sort(mod, axis=0)[n - k:n - k + 1, ...]     # k-th largest of each column
    return (mod >= cutoff) & (mod > level)


def _shrink(xp, net, V, level, t):
    if net.kind != "iht":
        X = soft_threshold(V, level)
        keep = _bypass(xp, net, V, level, t)
        return X if keep is None else xp.where(keep, V, X)
    if net.smoothing is None:
        return hard_threshold(V, level)
    return V * xp.astype(_gate(xp, net, V, level), V.dtype)


def _gate(xp, net, V, level):
    """The surrogate's gate ``sigmoid(beta (|v| - tau))`` (real)."""
    z = net.smoothing * (xp.abs(V) - level)
    return 0.5 * (1.0 + xp.tanh(0.5 * z))      # sigmoid without overflow


def _shrink_backward(xp, net, V, level, t, gX):
    """``dL/dv`` and ``dL/dlevel`` (a 0-d real sum) of one threshold, given ``dL/dx+``."""
    mod = xp.abs(V)
    if net.kind == "iht" and net.smoothing is not None:
        s = _gate(xp, net, V, level)
        ds = net.smoothing * s * (1.0 - s)
        proj = real_part(xp, conj(xp, gX) * V)              # Re(conj(gX) v)
        unit = V / xp.astype(xp.where(mod > 0, mod, xp.ones_like(mod)), V.dtype)
        gV = xp.astype(s, gX.dtype) * gX + xp.astype(ds * proj, V.dtype) * unit
        return gV, -xp.sum(ds * proj)
    active = xp.astype(mod > level, mod.dtype)
    if net.kind == "iht":
        return gX * xp.astype(active, gX.dtype), xp.zeros((), dtype=level.dtype)
    keep = _bypass(xp, net, V, level, t)
    # entries kept unshrunk pass the gradient and give the level none
    shrunk = active if keep is None else xp.where(keep, xp.zeros_like(active), active)
    if not is_complex(xp, V):
        gV = gX * active
        return gV, -xp.sum((gV if keep is None else gV * shrunk) * xp.sign(V))
    # complex: x+ = (|v| - level) u with u = v/|v|; the radial part of the gradient
    # passes, the tangential part shrinks by (|v| - level)/|v|
    safe = xp.where(mod > level, mod, xp.ones_like(mod))
    unit = V / xp.astype(safe, V.dtype)
    radial = shrunk * xp.real(conj(xp, unit) * gX)
    ratio = xp.astype(level / safe, V.dtype)
    gV = gX * (1.0 - ratio) + ratio * xp.astype(radial, V.dtype) * unit
    gV = gV * xp.astype(shrunk, V.dtype)
    return (gV if keep is None else xp.where(keep, gX, gV)), -xp.sum(radial)


def forward(op, Y, net, n_layers=None, cache=False):
    """Run the first ``n_layers`` layers on the columns of ``Y``.

    Parameters
    ----------
    op : Operator
        Shared measurement operator ``(m, n)``.
    Y : array ``(m, B)``
    net : Network
    n_layers : int, optional
        Default: all layers.
    cache : bool
        Also return what :func:`_backward` needs.

    Returns
    -------
    X : array ``(n, B)``
    cache : list (only with ``cache=True``)
    """
    xp = op.xp
    T = net.n_layers if n_layers is None else n_layers
    levels = layer_thresholds(xp, net)
    X = xp.zeros((op.shape[1], Y.shape[1]), dtype=Y.dtype)
    saved = []
    for t in range(T):
        D, aux = _direction(op, net, t, X, Y)
        V = X + D
        X = _shrink(xp, net, V, levels[t], t)
        if cache:
            saved.append((V, aux))
    return (X, saved) if cache else X


def _backward(op, net, saved, gX):
    """Parameter gradients of the layers in ``saved`` given ``dL/dx_T``."""
    xp = op.xp
    p = net.params
    levels = layer_thresholds(xp, net)
    T = len(saved)
    grads = {k: [None] * T for k in p}
    for t in reversed(range(T)):
        V, aux = saved[t]
        gV, g_level = _shrink_backward(xp, net, V, levels[t], t, gX)
        if net.kind == "lista_cp":
            W = p["weight"][t, ...]
            # v = x + W^H r: dL/dW = r gV^H, dL/dx = gV - A^H W gV
            g_weight = xp.matmul(aux, conj(xp, xp.matrix_transpose(gV)))
            grads["weight"][t] = g_weight if is_complex(xp, W) else real_part(xp, g_weight)
            grads["threshold"][t] = g_level
            gX = gV - op._rmatmat(xp.matmul(W, gV))
            continue
        step, lam_t = p["step"][t], p["lam"][t]
        g_step = xp.sum(real_part(xp, conj(xp, gV) * aux))
        if net.kind == "ista":                          # level = g lam
            d_step, d_lam = lam_t, step
        else:                                           # level = sqrt(2 g lam)
            safe = xp.where(levels[t] > 0, levels[t], xp.ones_like(levels[t]))
            d_step, d_lam = lam_t / safe, step / safe
        grads["step"][t] = g_step + g_level * d_step
        grads["lam"][t] = g_level * d_lam
        gX = gV - xp.astype(step, gV.dtype) * op._rmatmat(op._matmat(gV))
    return {k: xp.stack(v, axis=0) for k, v in grads.items()}


def objective(op, Y, X, lam, kind):
    """Per-problem objective ``1/2||y - Ax||^2 + lam ||x||_1`` (``||x||_0`` for IHT).

    Parameters
    ----------
    op : Operator
    Y : array ``(m, B)``
    X : array ``(n, B)``
    lam : float
    kind : {"ista", "iht", "lista_cp"}

    Returns
    -------
    array ``(B,)``, real
    """
    xp = op.xp
    fit = 0.5 * sum_abs2(xp, Y - op._matmat(X), -2)[0, ...]
    if kind == "iht":
        return fit + lam * xp.sum(xp.astype(X != 0, fit.dtype), axis=0)
    return fit + lam * l1_norm(xp, X)[0, ...]


def _loss_seed(op, Y, X, X_true, net, loss):
    """The mean loss over the columns and its gradient ``dL/dX``."""
    xp = op.xp
    B = X.shape[1]
    if loss == "supervised":
        E = X - X_true
        return xp.sum(abs2(xp, E)) / E.size, E * (2.0 / E.size)
    R = Y - op._matmat(X)
    value = xp.sum(objective(op, Y, X, net.lam, net.kind)) / B
    seed = -op._rmatmat(R)
    if net.kind != "iht":      # subgradient of |x| with sign(0) = 0, as autodiff takes it
        mod = xp.abs(X)
        seed = seed + net.lam * X / xp.astype(xp.where(mod > 0, mod, xp.ones_like(mod)), X.dtype)
    return value, seed / B


def loss_value(op, Y, X_true, net, loss, n_layers=None):
    """Mean loss of the network's output (as :func:`loss_and_gradient`, no gradient).

    Parameters
    ----------
    op : Operator
    Y : array ``(m, B)``
    X_true : array ``(n, B)`` or None
    net : Network
    loss : {"supervised", "unsupervised"}
    n_layers : int, optional

    Returns
    -------
    0-d array
    """
    X = forward(op, Y, net, n_layers)
    return _loss_seed(op, Y, X, X_true, net, loss)[0]


def loss_and_gradient(op, Y, X_true, net, loss, n_layers=None):
    """Mean loss of the network's output and its exact parameter gradients.

    Parameters
    ----------
    op : Operator
    Y : array ``(m, B)``
        Measurements, one problem per column.
    X_true : array ``(n, B)`` or None
        Ground truth (the supervised loss needs it).
    net : Network
    loss : {"supervised", "unsupervised"}
        Mean squared error to ``X_true`` over all entries, or the objective of
        :func:`objective` averaged over the columns.
    n_layers : int, optional
        Loss at this layer's output (incremental training); default the last.
        The gradients of later layers are 0.

    Returns
    -------
    value : 0-d array
    grads : dict of arrays shaped like ``net.params``
    """
    xp = op.xp
    X, saved = forward(op, Y, net, n_layers, cache=True)
    value, gX = _loss_seed(op, Y, X, X_true, net, loss)
    grads = _backward(op, net, saved, gX) if saved else {}
    T = net.n_layers
    for key, p in net.params.items():
        g = grads.get(key)
        pad = xp.zeros((T - len(saved),) + tuple(p.shape[1:]), dtype=p.dtype)
        grads[key] = pad if g is None else xp.concat([xp.astype(g, p.dtype), pad], axis=0)
    return value, grads


class _Layers:
    """Engine algorithm: one network layer per iteration, ``n_layers`` for every problem."""

    def __init__(self, net, n_layers):
        self.net, self.n_layers = net, n_layers

    def init(self, op, Y):
        xp = op.xp
        X = xp.zeros((op.shape[1], Y.shape[1]), dtype=Y.dtype)
        return {"x": X, "depth": xp.zeros((1, Y.shape[1]), dtype=real_dtype(xp, Y.dtype))}

    def step(self, op, Y, st, it):
        xp = op.xp
        D, _ = _direction(op, self.net, it, st["x"], Y)
        X = _shrink(xp, self.net, st["x"] + D, layer_thresholds(xp, self.net)[it], it)
        return {"x": X, "depth": st["depth"] + 1.0}

    def criterion(self, op, Y, st):
        xp = op.xp
        done = st["depth"] >= self.n_layers
        return xp.where(done, xp.zeros_like(st["depth"]), xp.ones_like(st["depth"]))


def unfolded(A, y, net, *, n_layers=None, callback=None):
    """Apply a trained (or initial) unfolded network to measurements: a batch solve.

    Parameters
    ----------
    A : array ``(m, n)``, Operator or LinearOperator
        The shared measurement operator the network was built for.
    y : array ``(m,)`` or ``(m, L)``
        One problem per column.
    net : Network
    n_layers : int, optional
        Stop after this many layers (``0 <= n_layers <= T``); default all.
    callback : callable, optional
        ``callback(Progress)`` after every layer (the engine's callback).

    Returns
    -------
    Result
        ``x`` ``(n,)`` or ``(n, L)``; ``n_iter`` is the number of layers applied.
    """
    problem = check_problem(A, y)
    if problem.op.is_stacked:
        raise ValueError("an unfolded network is built for one shared operator A, got a "
                         f"stack of shape {problem.op.batch_shape + problem.op.shape}")
    T = net.n_layers
    depth = check_scalar(T if n_layers is None else n_layers, "n_layers", kind="int", low=0,
                         high=T)
    return run(_Layers(net, depth), problem, max_iter=depth, tol=0.5,
               check_every=max(depth, 1), name=f"unfolded {net.kind}", callback=callback)



def layer_metrics(op, Y, net, X_true=None):
    """Mean objective (and MSE, NMSE against ``X_true``) after every layer.

    The network runs once on the engine; its callback records each layer.

    Parameters
    ----------
    op : Operator
    Y : array ``(m, B)``
    net : Network
    X_true : array ``(n, B)``, optional

    Returns
    -------
    list of dict
        One per layer ``0..T`` (0: the start ``x = 0``) with keys ``layer``,
        ``objective`` and, with ``X_true``, ``mse`` and ``nmse_db``
        (``10 log10(sum ||x_t - x||^2 / sum ||x||^2)``).
    """
    xp = op.xp
    rows = []

    def record(layer, X):
        row = {"layer": layer,
               "objective": float(xp.mean(objective(op, Y, X, net.lam, net.kind)))}
        if X_true is not None:
            err = float(xp.sum(abs2(xp, X - X_true)))
            row["mse"] = err / X_true.size
            row["nmse_db"] = 10 * np.log10(err / float(xp.sum(abs2(xp, X_true))))
        rows.append(row)

    record(0, xp.zeros((op.shape[1], Y.shape[1]), dtype=Y.dtype))
    unfolded(op, Y, net, callback=lambda p: record(p.iteration, p.state["x"]))
    return rows
