"""IRS-aided MIMO uplink channel estimation as a Kronecker-structured sparse problem.

The model of He & Joseph (KroSBL, IEEE TSP 2024, Sec. on IRS-MIMO): the MS
sends pilots ``X`` through the IRS, which cycles through ``K`` reflection
configurations ``theta_k``; the BS receives ``Y_k = H2 diag(theta_k) H1 X + W_k``.
On the angular grid the cascaded channels are 3-way sparse and
``y = (Phi_R ⊗ Phi_M ⊗ A_B) x + noise`` holds exactly.
"""
from dataclasses import dataclass

import numpy as np

from .._validation import check_scalar
from ..operators import Kron
from ._compressed_sensing import _standard_normal

__all__ = ["IRSProblem", "irs_mimo"]

_MIN_CHANNEL_NORM = 1e-5


@dataclass(frozen=True, eq=False)
class IRSProblem:
    """One simulated IRS-MIMO channel-estimation problem ``y = op @ x + noise``.

    ``x`` is the C-order flattening of a ``(grid, grid, grid)`` tensor indexed
    ``(IRS difference angle, MS angle of departure, BS angle of arrival)``;
    ``y`` is the C-order flattening of the received signals indexed
    ``(configuration k, pilot t, BS antenna b)``.

    Parameters
    ----------
    op : sparserec.operators.Kron
        ``Kron(Phi_R, Phi_M, A_B)`` with ``Phi_R = Theta^T D_R`` of shape
        ``(n_configs, grid)``, ``Phi_M = X^T conj(A_M)`` of shape
        ``(n_pilots, grid)`` and the BS dictionary ``A_B`` of shape
        ``(n_bs, grid)``; complex.
    y : ndarray of complex, shape ``(n_configs * n_pilots * n_bs,)``
        Received pilots.
    x : ndarray of complex, shape ``(grid**3,)``
        The true sparse angular representation of the cascaded channel.
    noise_var : float
        Variance of the circular complex Gaussian noise (zero when noiseless).
    channels : ndarray of complex, shape ``(n_configs, n_bs, n_ms)``
        True cascaded channels ``H_k = H2 diag(theta_k) H1``.
    support : ndarray of bool, shape ``(grid**3,)``
        ``True`` on the nonzeros of ``x``.
    pilots : ndarray of complex, shape ``(n_ms, n_pilots)``
        Pilot matrix ``X`` (QPSK symbols over ``sqrt(n_ms)``).
    configs : ndarray of float, shape ``(n_configs, n_irs)``
        IRS configurations; row ``k`` is ``theta_k``, entries ``+-1/sqrt(n_irs)``.
    """

    op: Kron
    y: np.ndarray
    x: np.ndarray
    noise_var: float
    channels: np.ndarray
    support: np.ndarray
    pilots: np.ndarray
    configs: np.ndarray

    def channels_from(self, x_hat):
        """Cascaded channels ``H_k`` implied by an estimate of ``x``.

        ``H_k[b, m] = sum_{r, p, q} Phi_R[k, r] A_B[b, q] conj(A_M[m, p]) x[r, p, q]``,
        i.e. ``vec(H_k) = (theta_k^T D_R ⊗ conj(A_M) ⊗ A_B) x`` with
        column-major ``vec``.

        Parameters
        ----------
        x_hat : array-like of shape ``(..., grid**3)``
            One estimate, or estimates stacked along leading axes.

        Returns
        -------
        ndarray of complex, shape ``(..., n_configs, n_bs, n_ms)``
            Compare with :attr:`channels` using
            :func:`sparserec.metrics.channel_nmse`.

        Raises
        ------
        ValueError
            ``x_hat`` does not end in an axis of length ``grid**3``.
        """
        phi_r, _, a_b = self.op.factors
        grid = a_b.shape[1]
        x_hat = np.asarray(x_hat)
        if x_hat.shape[-1:] != (grid ** 3,):
            raise ValueError(f"x_hat must have shape (..., {grid ** 3}) (grid**3 with "
                             f"grid={grid}), got {x_hat.shape}")
        a_m = _ula(self.pilots.shape[0], grid)
        tensor = x_hat.reshape(x_hat.shape[:-1] + (grid, grid, grid))
        return np.einsum("kr,bq,mp,...rpq->...kbm", phi_r, a_b, a_m.conj(), tensor,
                         optimize=True)


def irs_mimo(snr_db=20, *, n_ms=6, n_bs=16, n_irs=256, grid=18, n_pilots=3, n_configs=6,
             angle_spread=3, setup_state=0, random_state=None):
    """Draw an IRS-MIMO uplink channel-estimation problem (the KroSBL IRS experiment).

    Uniform linear arrays with atoms ``a(u)[n] = exp(j pi u n) / sqrt(dim)``
    on the grid ``u_q = 2 q / grid - 1``, ``q = 0, ..., grid - 1``. The
    MS-IRS channel is ``H1 = sqrt(n_ms n_irs / L) A_R[:, S_a] alpha_a
    a_M(u_MS)^H`` and the IRS-BS channel ``H2 = sqrt(n_bs n_irs / L)
    A_B[:, S_b] alpha_b a_R(u_D)^H``: one MS angle of departure and one IRS
    angle of departure, uniform on the grid; ``L = angle_spread`` paths at
    contiguous grid points ``S_a`` (IRS arrival) and ``S_b`` (BS arrival),
    whose first point is uniform among the positions where the block fits
    without wrapping around; gains ``alpha ~ CN(0, I_L)``.

    Because the grid covers a full period, ``a_R(u_D)^H diag(theta) a_R(u)``
    is exactly ``theta^T D_R[:, r]`` with the difference-angle dictionary
    ``D_R[:, r] = a_R(u_0) * conj(a_R(u_r))`` and ``r = (d - a) mod grid`` for
    the grid indices ``d`` of ``u_D`` and ``a`` of ``u``. Hence ``x`` (see
    :class:`IRSProblem`) is rank one with ``angle_spread * 1 * angle_spread``
    nonzeros: mode 1 (IRS) holds ``L`` cyclically contiguous indices (the
    block may wrap from ``grid - 1`` to ``0``), mode 2 (MS) one index,
    mode 3 (BS) ``L`` contiguous indices (never wrapping).

    Parameters
    ----------
    snr_db : float, optional
        ``None`` for noiseless measurements. Otherwise circular complex
        Gaussian noise of variance ``(||Ybar||_F^2 / len(y)) / 10**(snr_db / 10)``
        with ``Ybar`` the noiseless received signal.
    n_ms : int
        MS antennas ``N_M``.
    n_bs : int
        BS antennas ``N_B``.
    n_irs : int
        IRS elements ``N_R``.
    grid : int
        Points of each angular grid (columns of every dictionary).
    n_pilots : int
        Pilot symbols ``T`` per configuration.
    n_configs : int
        IRS configurations ``K``.
    angle_spread : int
        Paths ``L`` per link, ``1 <= L <= grid``.
    setup_state : None, int or numpy.random.Generator
        Seed of the pilots ``X`` and configurations ``Theta``, drawn once per
        experiment as in the reference: keep it fixed across trials.
    random_state : None, int or numpy.random.Generator
        Seed of the angles, gains and noise: vary it across trials. A
        configuration with ``||H2 diag(theta_k) H1||_F < 1e-5`` for the drawn
        channel is redrawn from this generator until it exceeds the bound.

    Returns
    -------
    IRSProblem
        ``y`` has length ``n_configs * n_pilots * n_bs`` (288 by default) and
        ``x`` length ``grid**3`` (5832 by default).

    Raises
    ------
    ValueError
        An argument is out of range.
    TypeError
        An argument has the wrong type.

    Examples
    --------
    >>> import numpy as np
    >>> from sparserec.simulate import irs_mimo
    >>> prob = irs_mimo(snr_db=None, random_state=0)
    >>> prob.op.shape, int(prob.support.sum()), prob.channels.shape
    ((288, 5832), 9, (6, 16, 6))
    >>> bool(np.allclose(prob.op @ prob.x, prob.y))
    True
    >>> bool(np.allclose(prob.channels_from(prob.x), prob.channels))
    True
    """
    snr_db = check_scalar(snr_db, "snr_db", allow_none=True)
    sizes = {name: check_scalar(value, name, kind="int", low=1) for name, value in
             dict(n_ms=n_ms, n_bs=n_bs, n_irs=n_irs, grid=grid, n_pilots=n_pilots,
                  n_configs=n_configs).items()}
    n_ms, n_bs, n_irs, grid = sizes["n_ms"], sizes["n_bs"], sizes["n_irs"], sizes["grid"]
    L = check_scalar(angle_spread, "angle_spread", kind="int", low=1, high=grid)
    setup = _rng(setup_state, "setup_state")
    rng = _rng(random_state, "random_state")

    pilots = _qpsk(setup, (n_ms, sizes["n_pilots"])) / np.sqrt(n_ms)
    a_m, a_r, a_b = _ula(n_ms, grid), _ula(n_irs, grid), _ula(n_bs, grid)
    h1, h2, x = _draw_links(rng, a_m, a_r, a_b, L)
    configs = _usable_configs(rng, _irs_configs(setup, (sizes["n_configs"], n_irs)), h1, h2)

    channels = np.einsum("bi,ki,im->kbm", h2, configs, h1)
    y = np.swapaxes(channels @ pilots, 1, 2).reshape(-1)      # (k, t, b) in C order
    d_r = a_r[:, :1] * a_r.conj()
    op = Kron(configs @ d_r, pilots.T @ a_m.conj(), a_b)
    noise_var = 0.0
    if snr_db is not None:
        noise_var = float(np.sum(np.abs(y) ** 2) / (y.size * 10.0 ** (snr_db / 10)))
        y = y + np.sqrt(noise_var) * _standard_normal(rng, y.shape, True)
    return IRSProblem(op=op, y=y, x=x.reshape(-1), noise_var=noise_var, channels=channels,
                      support=(x != 0).reshape(-1), pilots=pilots, configs=configs)


def _draw_links(rng, a_m, a_r, a_b, L):
    """MS-IRS channel ``H1``, IRS-BS channel ``H2`` and the ``(grid,) * 3`` tensor ``x``.

    Draws, in order: the MS departure index, the first IRS arrival index, the
    IRS departure index ``d``, the first BS arrival index, then the gains
    ``alpha_a`` and ``alpha_b``.
    """
    (n_ms, grid), n_irs, n_bs = a_m.shape, a_r.shape[0], a_b.shape[0]
    p_ms, start_a, p_d, start_b = (rng.integers(grid), rng.integers(grid - L + 1),
                                   rng.integers(grid), rng.integers(grid - L + 1))
    alpha_a, alpha_b = _standard_normal(rng, L, True), _standard_normal(rng, L, True)
    s_a, s_b = start_a + np.arange(L), start_b + np.arange(L)
    scale_1, scale_2 = np.sqrt(n_ms * n_irs / L), np.sqrt(n_bs * n_irs / L)
    h1 = scale_1 * np.outer(a_r[:, s_a] @ alpha_a, a_m[:, p_ms].conj())
    h2 = scale_2 * np.outer(a_b[:, s_b] @ alpha_b, a_r[:, p_d].conj())
    x = np.zeros((grid, grid, grid), dtype=complex)
    gains = scale_1 * scale_2 * np.outer(alpha_a, alpha_b)
    x[np.ix_((p_d - s_a) % grid, [p_ms], s_b)] = gains[:, None, :]   # r = (d - a) mod grid
    return h1, h2, x


def _rng(state, name):
    try:
        return np.random.default_rng(state)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{name} must be None, a non-negative int or a "
                        f"numpy.random.Generator, got {state!r}") from err


def _ula(dim, grid):
    """ULA dictionary ``(dim, grid)``: ``exp(j pi u_q n) / sqrt(dim)``, ``u_q = 2q/grid - 1``.

    The phase ``n (2q - grid) / grid`` is reduced modulo 2 in integers first, so
    that large arrays keep full accuracy (and the on-grid identities hold to
    rounding).
    """
    n, q = np.arange(dim)[:, None], np.arange(grid)[None, :]
    phase = (n * (2 * q - grid)) % (2 * grid)
    return np.exp(1j * np.pi * phase / grid) / np.sqrt(dim)


def _qpsk(rng, shape):
    """Unit-modulus QPSK symbols ``exp(j pi (2 s + 1) / 4)``, ``s`` uniform in 0..3."""
    return np.exp(1j * np.pi * (2 * rng.integers(4, size=shape) + 1) / 4)


def _irs_configs(rng, shape):
    """Random IRS phase configurations with entries ``+-1/sqrt(n_irs)``."""
    return rng.choice([-1.0, 1.0], size=shape) / np.sqrt(shape[-1])


def _usable_configs(rng, configs, h1, h2):
    """``configs`` with every row giving ``||H2 diag(theta) H1||_F < 1e-5`` redrawn."""
    configs = configs.copy()
    for k in range(configs.shape[0]):
        while np.linalg.norm((h2 * configs[k]) @ h1) < _MIN_CHANNEL_NORM:
            configs[k] = _irs_configs(rng, configs[k].shape)
    return configs
