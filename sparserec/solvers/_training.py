"""Gradient training of a few parameter arrays: Adam, minibatches, validation, guards.

Nothing here knows what the parameters mean: the caller hands in
``objective(params, batch, depth) -> (value, grads)`` and the trainer runs Adam on
the arrays of ``params`` (any array namespace; complex arrays are optimised as pairs
of real ones), projects them onto their lower bounds after every update, and

* rejects a step whose loss or gradients are not finite, or whose loss exceeds
  ``_BLOWUP`` times the best minibatch loss of the stage: the parameters go back to
  where they were before the last update (the update that overshot) and the learning
  rate is halved, so a NaN or a divergent network never reaches the parameters;
* evaluates ``validate(params, depth)`` every ``validation_interval`` steps (a loss
  ``_BLOWUP`` times the best one, or not finite, returns to the best parameters and
  halves the learning rate) and, with
  ``early_stopping``, stops a stage after ``n_iter_no_change`` evaluations without a
  relative improvement of ``tol`` and restores the best parameters;
* trains in *stages* ``(depth, n_steps)``: one stage is end-to-end training, stages of
  growing depth are incremental (layer-wise) training; each stage starts Adam afresh.

Each step syncs one number with the host (the loss, which the progress bar shows).
"""
from dataclasses import dataclass, field

import numpy as np

from .._array import get_namespace, is_complex, make_complex, real_part
from ..exceptions import ConvergenceWarning, warn

__all__ = ["TrainingLog", "adam_train"]

_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8
# the learning rate may be halved this many times before training gives up
_MAX_HALVINGS = 30
# a minibatch loss this many times the stage's best is an update that overshot
_BLOWUP = 100.0


@dataclass
class TrainingLog:
    """What happened during :func:`adam_train`.

    Attributes
    ----------
    loss : list of float
        Minibatch loss before every accepted update.
    validation : list of (int, int, float)
        ``(step, depth, validation loss)`` at every evaluation.
    n_steps : int
        Steps taken (accepted and rejected).
    n_rejected : int
        Steps rejected for a non-finite loss or gradient.
    learning_rate : float
        Learning rate at the end (halved once per rejection).
    stopped_early : bool
        Whether early stopping ended a stage.
    """

    loss: list = field(default_factory=list)
    validation: list = field(default_factory=list)
    n_steps: int = 0
    n_rejected: int = 0
    learning_rate: float = 0.0
    stopped_early: bool = False


def _adam_update(xp, z, g, m, v, k, lr):
    """One Adam update of the real array ``z`` (moments ``m``, ``v``; step ``k >= 1``)."""
    m = _BETA1 * m + (1 - _BETA1) * g
    v = _BETA2 * v + (1 - _BETA2) * g * g
    mhat = m / (1 - _BETA1 ** k)
    vhat = v / (1 - _BETA2 ** k)
    return z - lr * mhat / (xp.sqrt(vhat) + _EPS), m, v


class _Adam:
    """Adam over a dict of arrays; complex arrays as (real, imaginary) pairs."""

    def __init__(self, xp, params, keys):
        self.xp, self.keys, self.k = xp, keys, 0
        self.moments = {key: [xp.zeros_like(real_part(xp, params[key])) for _ in range(4)]
                        for key in keys}

    def update(self, params, grads, lr):
        xp = self.xp
        self.k += 1
        new = dict(params)
        for key in self.keys:
            z, g, mom = params[key], grads[key], self.moments[key]
            if is_complex(xp, z):
                re, mom[0], mom[1] = _adam_update(xp, xp.real(z), xp.real(g), mom[0], mom[1],
                                                  self.k, lr)
                im, mom[2], mom[3] = _adam_update(xp, xp.imag(z), xp.imag(g), mom[2], mom[3],
                                                  self.k, lr)
                new[key] = make_complex(xp, re, im, z.dtype)
            else:
                new[key], mom[0], mom[1] = _adam_update(xp, z, g, mom[0], mom[1], self.k, lr)
        return new


def _project(xp, params, lower):
    return {k: (xp.clip(v, min=lower[k]) if lower.get(k) is not None else v)
            for k, v in params.items()}


def _finite_total(xp, value, grads):
    """Whether the loss and every gradient entry are finite (one host sync)."""
    total = xp.abs(value)
    for g in grads.values():
        total = total + xp.sum(xp.abs(g))
    with np.errstate(all="ignore"):
        total = float(total)
    return np.isfinite(total)


def adam_train(objective, params, *, trainable, lower, batches, stages, learning_rate,
               validate=None, validation_interval=50, early_stopping=False,
               n_iter_no_change=5, tol=1e-4, progress=False, desc="training"):
    """Minimise ``objective`` over the ``trainable`` entries of ``params`` with Adam.

    Parameters
    ----------
    objective : callable
        ``objective(params, batch, depth) -> (value, grads)``: a 0-d array and a dict
        of gradients for (at least) the trainable keys.
    params : dict of arrays
        Starting point (not modified).
    trainable : sequence of str
        Keys of ``params`` to optimise; the others stay fixed.
    lower : dict
        Lower bound per key (``None`` or absent: unbounded), enforced after every update.
    batches : iterator
        Yields the ``batch`` handed to ``objective`` (e.g. indices of a minibatch).
    stages : sequence of (int, int)
        ``(depth, n_steps)``: the depth handed to ``objective`` and ``validate``.
    learning_rate : float
    validate : callable, optional
        ``validate(params, depth) -> float``.
    validation_interval : int
    early_stopping : bool
        Needs ``validate``.
    n_iter_no_change : int
    tol : float
        Relative improvement of the validation loss that counts as one.
    progress : bool
        Show a tqdm bar with the loss.
    desc : str
        The bar's label.

    Returns
    -------
    params : dict of arrays
    log : TrainingLog
    """
    xp = get_namespace(*params.values())
    log = TrainingLog(learning_rate=float(learning_rate))
    bar = _progress_bar(progress, sum(n for _, n in stages), desc)
    try:
        for depth, n_steps in stages:
            params = _train_stage(xp, objective, params, trainable, lower, batches, depth,
                                  n_steps, log, validate, validation_interval, early_stopping,
                                  n_iter_no_change, tol, bar)
    finally:
        bar.close()
    return params, log


class _NoBar:
    def update(self, n):
        pass

    def set_postfix(self, **kwargs):
        pass

    def close(self):
        pass


def _progress_bar(progress, total, desc):
    """A tqdm bar, or a stand-in (tqdm.auto is imported only when a bar is shown)."""
    if not progress:
        return _NoBar()
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="step")


def _train_stage(xp, objective, params, trainable, lower, batches, depth, n_steps, log,
                 validate, interval, early_stopping, n_iter_no_change, tol, bar):
    adam = _Adam(xp, params, trainable)
    before = params                      # the parameters before the last update
    best, best_params, stale = np.inf, params, 0
    lowest = np.inf                      # the stage's best minibatch loss
    for step in range(1, n_steps + 1):
        log.n_steps += 1
        bar.update(1)
        with np.errstate(all="ignore"):
            value, grads = objective(params, next(batches), depth)
        if not _finite_total(xp, value, grads) or float(value) > _BLOWUP * lowest:
            log.n_rejected += 1
            log.learning_rate *= 0.5
            params = before
            if log.n_rejected > _MAX_HALVINGS:
                warn(f"training stopped: {log.n_rejected} steps gave a non-finite or "
                     f"exploding loss (learning rate now {log.learning_rate:.3g}); lower "
                     "learning_rate or rescale the data", ConvergenceWarning)
                return params
            continue
        loss = float(value)
        lowest = min(lowest, loss)
        log.loss.append(loss)
        if step % 10 == 1:
            bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        before = params
        params = _project(xp, adam.update(params, grads, log.learning_rate), lower)
        if validate is not None and (step % interval == 0 or step == n_steps):
            with np.errstate(all="ignore"):
                score = float(validate(params, depth))
            log.validation.append((log.n_steps, depth, score))
            if np.isfinite(best) and not score <= _BLOWUP * abs(best):
                # a few held-out samples diverge: go back to the best network seen
                log.n_rejected += 1
                log.learning_rate *= 0.5
                params = before = best_params
                continue
            if np.isfinite(score) and (not np.isfinite(best) or score < best - tol * abs(best)):
                best, best_params, stale = score, params, 0
            else:
                stale += 1
            if early_stopping and stale >= n_iter_no_change:
                log.stopped_early = True
                return best_params
    return best_params if early_stopping and validate is not None else params

