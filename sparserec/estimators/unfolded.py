"""Deep-unfolded ISTA / IHT and LISTA-CP estimators (train with ``fit``, recover with ``predict``).

Unlike the other estimators, the measurement operator ``A`` is a constructor
parameter (the network is built for it) and ``fit`` learns from data: rows of
``Y_train`` are measurement vectors ``y = A x + w``, rows of ``X_train`` (supervised
loss only) their sparse signals.
"""
from dataclasses import replace

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._array import same_namespace, to_numpy
from .._validation import check_array, check_bool, check_operator, check_scalar
from ..solvers._training import adam_train
from ..solvers.unfolded import (LOSSES, Network, initial_network, layer_thresholds,
                                layer_metrics, loss_and_gradient, loss_value, unfolded)

__all__ = ["UnfoldedISTA", "UnfoldedIHT", "LISTACP"]

# the optimiser works in units where every parameter starts near 1: steps g L, threshold
# weights lam_t / lam, LISTA-CP weights W L and thresholds theta L / lam
_STEP_FLOOR = 1e-6          # smallest g L: steps stay positive


class _Unfolded(BaseEstimator):
    """Training, inference, diagnostics and parameter files shared by the networks."""

    _kind = None

    def _common_init(self, A, n_layers, lam, loss, training, learning_rate, batch_size,
                     max_steps, validation_fraction, early_stopping, n_iter_no_change,
                     validation_interval, tol, random_state, verbose):
        self.A, self.n_layers, self.lam, self.loss = A, n_layers, lam, loss
        self.training, self.learning_rate, self.batch_size = training, learning_rate, batch_size
        self.max_steps, self.validation_fraction = max_steps, validation_fraction
        self.early_stopping, self.n_iter_no_change = early_stopping, n_iter_no_change
        self.validation_interval, self.tol = validation_interval, tol
        self.random_state, self.verbose = random_state, verbose

    # -- validation -------------------------------------------------------------------
    def _operator(self):
        op = check_operator(self.A, "A")
        if op.is_stacked:
            raise ValueError("A must be one (m, n) operator shared by every sample, got a "
                             f"stack of shape {op.batch_shape + op.shape}")
        return op

    def _columns(self, op, Y, name):
        """Rows of ``Y`` ``(N, m)`` as columns ``(m, N)`` in the operator's namespace."""
        return _column_major(op.xp, self._rows(op, Y, name))

    def _rows(self, op, Y, name):
        """``Y`` ``(N, m)`` validated, in the operator's namespace and dtype."""
        Y = check_array(Y, name, ndims=(2,))
        if not same_namespace(op.xp, Y):
            raise TypeError(f"{name} and A must come from the same array library")
        if Y.shape[1] != op.shape[0]:
            raise ValueError(f"{name} has {Y.shape[1]} columns but A has {op.shape[0]} rows: "
                             f"each row of {name} is one measurement vector of length "
                             f"{op.shape[0]}")
        xp = op.xp
        dtype = xp.result_type(op.dtype, Y.dtype)
        return Y if Y.dtype == dtype else xp.astype(Y, dtype)

    def _signals(self, op, Yc, X, name):
        """``X`` ``(N, n)`` validated against ``Yc`` ``(m, N)``, as columns ``(n, N)``."""
        return _column_major(op.xp, self._signal_rows(op, Yc.shape[1], X, name))

    def _signal_rows(self, op, n_samples, X, name):
        X = check_array(X, name, ndims=(2,))
        if not same_namespace(op.xp, X):
            raise TypeError(f"{name} and A must come from the same array library")
        want = (n_samples, op.shape[1])
        if tuple(X.shape) != want:
            raise ValueError(f"{name} must have shape {want} (one row of {op.shape[1]} "
                             f"unknowns per row of Y), got {tuple(X.shape)}")
        return X

    def _check_params(self):
        T = check_scalar(self.n_layers, "n_layers", kind="int", low=1)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.training not in ("end-to-end", "incremental"):
            raise ValueError("training must be 'end-to-end' or 'incremental', got "
                             f"{self.training!r}")
        check_scalar(self.lam, "lam", low=0, allow_none=True)
        check_scalar(self.learning_rate, "learning_rate", low=0, low_inclusive=False)
        check_scalar(self.batch_size, "batch_size", kind="int", low=1)
        check_scalar(self.max_steps, "max_steps", kind="int", low=1)
        check_scalar(self.validation_fraction, "validation_fraction", low=0, high=0.9)
        check_bool(self.early_stopping, "early_stopping")
        check_scalar(self.n_iter_no_change, "n_iter_no_change", kind="int", low=1)
        check_scalar(self.validation_interval, "validation_interval", kind="int", low=1)
        check_scalar(self.tol, "tol", low=0)
        check_bool(self.verbose, "verbose")
        return T

    # -- the network's parameterisation (subclasses) -----------------------------------
    def _smoothing(self):
        return None

    def _support_selection(self):
        ss = getattr(self, "support_selection", None)
        if ss is None:
            return None
        if not hasattr(ss, "__len__") or len(ss) != 2:
            raise ValueError("support_selection must be None or a pair (p, p_max) of "
                             f"fractions, got {ss!r}")
        try:
            p, p_max = (check_scalar(v, "support_selection", low=0, low_inclusive=False,
                                     high=1) for v in ss)
        except TypeError:
            raise TypeError("support_selection must be None or a pair (p, p_max) of "
                            f"fractions, got {ss!r}") from None
        if p > p_max:
            raise ValueError(f"support_selection=(p, p_max) needs p <= p_max, got {ss!r}")
        return (p, p_max)

    def _trainable(self):
        return ("step", "lam") if check_bool(self.learn_threshold, "learn_threshold") \
            else ("step",)

    def _scales(self, net, lip):
        return {"step": 1.0 / lip, "lam": net.lam if net.lam > 0 else 1.0}

    def _lower(self):
        return {"step": _STEP_FLOOR, "lam": 0.0}

    # -- fit --------------------------------------------------------------------------
    def fit(self, Y_train, X_train=None):
        """Learn the network's parameters from training measurements.

        Parameters
        ----------
        Y_train : array-like of shape ``(n_samples, m)``
            Measurement vectors, one per row (real or complex).
        X_train : array-like of shape ``(n_samples, n)``, optional
            Their sparse signals; required by ``loss="supervised"``, ignored by the
            unsupervised loss (which trains and validates on the objective).

        Returns
        -------
        self
        """
        T = self._check_params()
        op = self._operator()
        xp = op.xp
        Y = self._rows(op, Y_train, "Y_train")
        X = None if X_train is None else self._signal_rows(op, Y.shape[0], X_train, "X_train")
        if self.loss == "supervised" and X is None:
            raise ValueError("loss='supervised' needs the true signals: call "
                             "fit(Y_train, X_train), or use loss='unsupervised'")
        lam = self._lam(op, Y)
        net0 = initial_network(op, self._kind, T, lam, self._smoothing(),
                               self._support_selection())
        lip = float(op.norm2()) ** 2
        scales = self._scales(net0, lip)
        trainable = self._trainable()
        rng = np.random.default_rng(self.random_state)
        train, valid = _split(Y.shape[0], self.validation_fraction, self.early_stopping, rng)

        def to_net(z):
            return replace(net0, params={k: z[k] * scales[k] for k in z})

        def subset(rows, idx):        # the samples idx, as columns
            return None if rows is None else \
                _column_major(xp, xp.take(rows, xp.asarray(idx), axis=0))

        def objective_fn(z, idx, depth):
            value, grads = loss_and_gradient(op, subset(Y, idx), subset(X, idx), to_net(z),
                                             self.loss, n_layers=depth)
            return value, {k: grads[k] * scales[k] for k in trainable}

        Yv, Xv = subset(Y, valid), subset(X, valid)

        def validate(z, depth):
            return loss_value(op, Yv, Xv, to_net(z), self.loss, n_layers=depth)

        stages = [(T, self.max_steps)] if self.training == "end-to-end" else \
            [(d, max(1, self.max_steps // T)) for d in range(1, T + 1)]
        z0 = {k: v / scales[k] for k, v in net0.params.items()}
        z, log = adam_train(objective_fn, z0, trainable=trainable, lower=self._lower(),
                            batches=_minibatches(train, self.batch_size, rng), stages=stages,
                            learning_rate=self.learning_rate,
                            validate=validate if valid.size else None,
                            validation_interval=self.validation_interval,
                            early_stopping=self.early_stopping,
                            n_iter_no_change=self.n_iter_no_change, tol=self.tol,
                            progress=self.verbose, desc=type(self).__name__)
        self._set_network(to_net(z), op)
        self.loss_curve_ = np.asarray(log.loss)
        self.validation_curve_ = np.asarray([(s, v) for s, _, v in log.validation],
                                            dtype=float).reshape(-1, 2)
        self.n_iter_ = log.n_steps
        self.n_rejected_steps_ = log.n_rejected
        self.stopped_early_ = log.stopped_early
        return self

    def _lam(self, op, Y):
        if self.lam is not None:
            return float(self.lam)
        xp = op.xp
        corr = xp.max(xp.abs(op._rmatmat(_column_major(xp, Y))), axis=0)
        return 0.1 * float(np.median(to_numpy(corr)))

    def _set_network(self, net, op):
        xp = op.xp
        self.network_ = net
        self.lam_ = net.lam
        self.thresholds_ = layer_thresholds(xp, net)
        if "step" in net.params:
            self.step_sizes_ = net.params["step"]
        else:
            self.weights_ = net.params["weight"]
        self.n_features_in_ = op.shape[0]
        self._norm = float(op.norm2())

    # -- inference --------------------------------------------------------------------
    def transform(self, Y, layer=None):
        """Recovered signals at the output of layer ``layer``.

        Parameters
        ----------
        Y : array-like of shape ``(n_samples, m)``
        layer : int, optional
            ``0 <= layer <= n_layers`` (0 is the start, ``x_0 = 0``); default the last.

        Returns
        -------
        X : array of shape ``(n_samples, n)``
        """
        check_is_fitted(self, "network_")
        op = self._operator()
        Yc = self._columns(op, Y, "Y")
        layer = check_scalar(layer, "layer", kind="int", low=0, high=self.network_.n_layers,
                             allow_none=True)
        result = unfolded(op, Yc, self.network_, n_layers=layer)
        return op.xp.matrix_transpose(result.x)

    def predict(self, Y):
        """Recovered signals (the network's output).

        Parameters
        ----------
        Y : array-like of shape ``(n_samples, m)``

        Returns
        -------
        X : array of shape ``(n_samples, n)``
        """
        return self.transform(Y)

    def score(self, Y, X=None):
        """Negative loss of the output: ``-MSE`` against ``X``, else ``-objective``.

        Higher is better (for :class:`~sklearn.model_selection.GridSearchCV`).

        Parameters
        ----------
        Y : array-like of shape ``(n_samples, m)``
        X : array-like of shape ``(n_samples, n)``, optional
            True signals: score by the mean squared error over all entries.

        Returns
        -------
        score : float
        """
        check_is_fitted(self, "network_")
        op = self._operator()
        Yc = self._columns(op, Y, "Y")
        Xc = None if X is None else self._signals(op, Yc, X, "X")
        loss = "unsupervised" if Xc is None else "supervised"
        return -float(loss_value(op, Yc, Xc, self.network_, loss))

    def layer_diagnostics(self, Y, X=None):
        """Mean objective (and MSE, NMSE against ``X``) of every layer's output.

        Parameters
        ----------
        Y : array-like of shape ``(n_samples, m)``
        X : array-like of shape ``(n_samples, n)``, optional
            True signals.

        Returns
        -------
        pandas.DataFrame
            One row per layer ``0..n_layers`` (0: the start ``x = 0``), columns
            ``layer``, ``objective`` and, with ``X``, ``mse`` and ``nmse_db``
            (``10 log10(sum ||x_t - x||^2 / sum ||x||^2)``).
        """
        import pandas as pd

        check_is_fitted(self, "network_")
        op = self._operator()
        Yc = self._columns(op, Y, "Y")
        Xc = None if X is None else self._signals(op, Yc, X, "X")
        return pd.DataFrame(layer_metrics(op, Yc, self.network_, Xc))

    # -- parameter files --------------------------------------------------------------
    def save(self, path):
        """Write the trained parameters to a ``.npz`` file (no pickle).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        None
        """
        check_is_fitted(self, "network_")
        net = self.network_
        smoothing = np.nan if net.smoothing is None else net.smoothing
        selection = (np.nan, np.nan) if net.support_selection is None else net.support_selection
        params = {f"param_{k}": to_numpy(v) for k, v in net.params.items()}
        np.savez(path, kind=np.str_(net.kind), lam=net.lam, smoothing=smoothing,
                 support_selection=np.asarray(selection, dtype=float),
                 operator_shape=np.asarray(self._operator().shape), operator_norm=self._norm,
                 **params)

    def load(self, path):
        """Read parameters written by :meth:`save` for this estimator's ``A``.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        self
            Fitted: ``predict`` and ``transform`` use the loaded network.
        """
        op = self._operator()
        with np.load(path, allow_pickle=False) as data:
            kind = str(data["kind"])
            if kind != self._kind:
                raise ValueError(f"{path} holds a {kind!r} network, not {self._kind!r}")
            if tuple(data["operator_shape"]) != op.shape or not np.isclose(
                    float(data["operator_norm"]), float(op.norm2()), rtol=1e-8):
                raise ValueError(f"{path} was trained for another operator (shape "
                                 f"{tuple(data['operator_shape'])}, norm "
                                 f"{float(data['operator_norm']):.6g}) than A (shape "
                                 f"{op.shape}, norm {float(op.norm2()):.6g})")
            smoothing = float(data["smoothing"])
            params = {k[len("param_"):]: op.xp.asarray(data[k]) for k in data.files
                      if k.startswith("param_")}
            selection = tuple(float(v) for v in data["support_selection"])
            net = Network(kind, float(data["lam"]), params,
                          None if np.isnan(smoothing) else smoothing,
                          None if np.isnan(selection[0]) else selection)
        self._set_network(net, op)
        return self


def _column_major(xp, rows):
    """``rows`` ``(N, k)`` as columns ``(k, N)``; a C-contiguous copy on NumPy (the
    layers' element-wise work runs ~15 % faster than on the transposed view)."""
    cols = xp.matrix_transpose(rows)
    return np.ascontiguousarray(cols) if isinstance(cols, np.ndarray) else cols


def _split(n_samples, fraction, early_stopping, rng):
    n_valid = int(round(fraction * n_samples))
    if early_stopping and n_valid == 0:
        raise ValueError("early_stopping=True needs a validation split: raise "
                         f"validation_fraction (now {fraction}) or pass more samples "
                         f"({n_samples})")
    if n_samples - n_valid < 1:
        raise ValueError(f"Y_train has {n_samples} sample(s): none is left for training "
                         f"after the validation split (validation_fraction={fraction})")
    order = rng.permutation(n_samples)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def _minibatches(indices, batch_size, rng):
    """Endless minibatches: epochs over a fresh permutation of ``indices``."""
    size = min(batch_size, indices.size)
    while True:
        order = rng.permutation(indices)
        for start in range(0, order.size - size + 1, size):
            yield order[start:start + size]


_COMMON_DOC = """
    A : array of shape ``(m, n)``, Operator or LinearOperator
        The measurement operator shared by every sample (real or complex).
    n_layers : int, default=10
        Number of layers ``T``.
    lam : float, optional
        Non-negative weight of the objective (unscaled, as in the solver functions);
        default ``0.1`` times the median over the training samples of
        ``||A^H y||_inf`` (fitted as ``lam_``).
    loss : {"unsupervised", "supervised"}, default="unsupervised"
        Train on the objective of the output (no ground truth) or on the mean squared
        error to ``X_train``.
    training : {"end-to-end", "incremental"}, default="end-to-end"
        Train all layers on the last layer's loss, or depths ``1..T`` in turn
        (``max_steps // T`` steps each, loss at the current depth, all layers up to it
        trained).
    learning_rate : float, default=LR
        Adam's step in the normalised units of the parameters (they start at 1).
    batch_size : int, default=100
    max_steps : int, default=1000
        Adam updates (minibatches), over all stages.
    validation_fraction : float, default=0.1
        Share of the training samples held out; their loss is evaluated every
        ``validation_interval`` steps (``validation_curve_``).
    early_stopping : bool, default=False
        Stop after ``n_iter_no_change`` evaluations without a relative improvement of
        ``tol`` of the validation loss, and keep the best parameters.
    n_iter_no_change : int, default=5
    validation_interval : int, default=50
    tol : float, default=1e-4
    random_state : int, Generator or None
        Seeds the validation split and the minibatch order.
    verbose : bool, default=False
        Show a tqdm progress bar with the training loss."""

_COMMON_ATTRS = """
    network_ : sparserec.solvers.unfolded.Network
        The trained parameters.
    lam_ : float
    thresholds_ : array of shape ``(n_layers,)``
        Threshold level of every layer.
    loss_curve_ : ndarray
        Minibatch training loss before every accepted update.
    validation_curve_ : ndarray of shape ``(n_evaluations, 2)``
        Step and validation loss at every evaluation.
    n_iter_ : int
        Training steps taken (including rejected ones).
    n_rejected_steps_ : int
        Steps rejected for a non-finite loss or gradient (each halves the learning rate).
    stopped_early_ : bool
    n_features_in_ : int
        ``m``, the length of the measurement vectors."""


class UnfoldedISTA(_Unfolded):
    __doc__ = f"""Deep-unfolded ISTA: ``T`` ISTA layers with learned step sizes.

    Layer ``t``: ``x <- soft(x + g_t A^H (y - A x), g_t lam_t)`` from ``x = 0``, with
    ``lam_t = lam`` unless ``learn_threshold``.  Every ``g_t`` starts at ``1/||A||^2``
    (plain ISTA) and is kept positive; gradients are exact (hand-written backward
    pass, checked against finite differences).

    Parameters
    ----------{_COMMON_DOC.replace("LR", "1e-2")}
    learn_threshold : bool, default=False
        Also learn the per-layer threshold weights ``lam_t``.
    support_selection : (float, float), optional
        ``(p, p_max)``: in layer ``t`` the entries among the ``min(p (t + 1), p_max)``
        fraction of largest moduli that pass the threshold skip the shrinkage (Chen et
        al. 2018; ALISTA uses ``(0.012, 0.13)``).

    Attributes
    ----------{_COMMON_ATTRS}
    step_sizes_ : array of shape ``(n_layers,)``

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec import UnfoldedISTA
    >>> rng = np.random.default_rng(0)
    >>> A = rng.normal(size=(30, 60))
    >>> X = rng.normal(size=(500, 60)) * (rng.random((500, 60)) < 0.1)
    >>> Y = X @ A.T
    >>> net = UnfoldedISTA(A, n_layers=5, lam=1.0, max_steps=100, random_state=0).fit(Y)
    >>> net.predict(Y[:3]).shape
    (3, 60)
    """

    _kind = "ista"

    def __init__(self, A, n_layers=10, lam=None, loss="unsupervised", *, learn_threshold=False,
                 support_selection=None, training="end-to-end", learning_rate=1e-2,
                 batch_size=100, max_steps=1000, validation_fraction=0.1,
                 early_stopping=False, n_iter_no_change=5, validation_interval=50, tol=1e-4,
                 random_state=None, verbose=False):
        self.learn_threshold, self.support_selection = learn_threshold, support_selection
        self._common_init(A, n_layers, lam, loss, training, learning_rate, batch_size,
                          max_steps, validation_fraction, early_stopping, n_iter_no_change,
                          validation_interval, tol, random_state, verbose)


class UnfoldedIHT(_Unfolded):
    __doc__ = f"""Deep-unfolded IHT for ``1/2||y - Ax||^2 + lam ||x||_0`` with learned steps.

    Layer ``t``: ``x <- hard(x + g_t A^H (y - A x), sqrt(2 g_t lam_t))``.  The exact
    hard threshold passes the gradient through the kept entries and gives its level
    none (so only the steps learn); ``smoothing=beta`` uses the surrogate
    ``v sigmoid(beta (|v| - tau))`` instead, whose level is differentiable (needed to
    learn ``lam_t``).  The unsupervised loss is the l0 objective, whose count term
    shapes training only through the thresholds.

    Parameters
    ----------{_COMMON_DOC.replace("LR", "1e-2")}
    learn_threshold : bool, default=False
        Also learn ``lam_t`` (requires ``smoothing``).
    smoothing : float, optional
        Slope ``beta`` of the sigmoid surrogate; None for the exact hard threshold.

    Attributes
    ----------{_COMMON_ATTRS}
    step_sizes_ : array of shape ``(n_layers,)``
    """

    _kind = "iht"

    def __init__(self, A, n_layers=10, lam=None, loss="unsupervised", *, learn_threshold=False,
                 smoothing=None, training="end-to-end", learning_rate=1e-2, batch_size=100,
                 max_steps=1000, validation_fraction=0.1, early_stopping=False,
                 n_iter_no_change=5, validation_interval=50, tol=1e-4, random_state=None,
                 verbose=False):
        self.learn_threshold, self.smoothing = learn_threshold, smoothing
        self._common_init(A, n_layers, lam, loss, training, learning_rate, batch_size,
                          max_steps, validation_fraction, early_stopping, n_iter_no_change,
                          validation_interval, tol, random_state, verbose)

    def _smoothing(self):
        return check_scalar(self.smoothing, "smoothing", low=0, low_inclusive=False,
                            allow_none=True)

    def _trainable(self):
        if check_bool(self.learn_threshold, "learn_threshold") and self._smoothing() is None:
            raise ValueError("learn_threshold=True needs smoothing: the exact hard "
                             "threshold's level has zero gradient")
        return super()._trainable()


class LISTACP(_Unfolded):
    __doc__ = f"""LISTA-CP (Chen et al. 2018): learned per-layer weights coupled to ``A``.

    Layer ``t``: ``x <- soft(x + W_t^H (y - A x), theta_t)``, ``W_t`` of shape
    ``(m, n)`` starting at ``A / ||A||^2`` and ``theta_t`` at ``lam / ||A||^2`` (the
    first forward pass is plain ISTA); both learned, with either loss.  ``A`` is formed
    once (``W_t`` are explicit matrices).

    Parameters
    ----------{_COMMON_DOC.replace("LR", "1e-3")}
    support_selection : (float, float), optional
        As in :class:`UnfoldedISTA` (LISTA-CPSS).

    Attributes
    ----------{_COMMON_ATTRS}
    weights_ : array of shape ``(n_layers, m, n)``
    """

    _kind = "lista_cp"

    def __init__(self, A, n_layers=10, lam=None, loss="unsupervised", *, support_selection=None,
                 training="end-to-end", learning_rate=1e-3, batch_size=100, max_steps=1000,
                 validation_fraction=0.1, early_stopping=False, n_iter_no_change=5,
                 validation_interval=50, tol=1e-4, random_state=None, verbose=False):
        self.support_selection = support_selection
        self._common_init(A, n_layers, lam, loss, training, learning_rate, batch_size,
                          max_steps, validation_fraction, early_stopping, n_iter_no_change,
                          validation_interval, tol, random_state, verbose)

    def _trainable(self):
        return ("weight", "threshold")

    def _scales(self, net, lip):
        return {"weight": 1.0 / lip, "threshold": net.lam / lip if net.lam > 0 else 1.0 / lip}

    def _lower(self):
        return {"threshold": 0.0}
