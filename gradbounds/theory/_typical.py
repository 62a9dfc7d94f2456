"""Typical against worst case: mean-field gradient norms beside measured ones and the bound G.

For a family of random networks (widths, activation, ``σ_w²``, ``σ_b²``,
init) this puts three numbers side by side at every layer l:

* the mean-field prediction of the mean squared error norm, from the
  measured output error: ``E‖δ^l‖² ≈ χ₁^{L-l} E‖δ^L‖²`` (at the fixed point
  q*), and its finite-depth variant ``∏_{r=l}^{L-1} χ(q^r)`` with the
  length-map iterates ``q^r`` started from the input;
* the measured average of ``‖δ^l‖²`` over N networks (exact, by rescaled
  backpropagation: the level ``E`` of :func:`gradbounds.bounds.sweep`);
* the textbook bound ``G_l = γ^{L-l+1} ∏_{r>l}‖W^r‖ ‖∇_{a^L}C‖`` of the core,
  and the slack ``log G_l − log ‖δ^l‖`` (averaged over networks).

Inputs are drawn with ``‖x‖²/n_0 = (q* − σ_b²)/σ_w²`` so that ``z^1`` starts at
the fixed point (``x_scale`` overrides); targets are uniform on ``[0,1]``.

References:
  Schoenholz et al. 2017, §5 (``E[(∂C/∂W^l)²] ∝ χ₁^{L-l}`` and ξ_∇);
  Poole et al. 2016, eqs. (3), (7); Nielsen ch. 5 and the textbook
  bound (**) (the worst case G).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from gradbounds import core
from gradbounds.core import Activation
from gradbounds.theory._meanfield import gaussian_moments, length_map_iterates
from gradbounds.theory._phase import mean_field

__all__ = ["TypicalWorst", "typical_rates", "typical_vs_worst"]

_LN10 = math.log(10.0)


def readout(a, y):
    """The linear cost ``C(a^L, y) = yᵀ a^L``: ``∇_{a^L} C = y``, independent of the forward pass."""
    return jnp.dot(a, y)


@dataclass
class TypicalWorst:
    """Per-layer typical and worst case, in log10 of norms (``½ log10`` of mean squares).

    Attributes:
      layers: ``1..L``.
      measured: ``½ log10 mean_N ‖δ^l‖²`` (root mean square over the networks).
      predicted: ``½ log10 (χ₁^{L-l} mean_N ‖δ^L‖²)``.
      predicted_map: the same with ``∏_{r=l}^{L-1} χ(q^r)`` along the length map.
      bound: mean over networks of ``log10 G_l``.
      exact_mean: mean over networks of ``log10 ‖δ^l‖``.
      slack: mean over networks of ``log10 G_l − log10 ‖δ^l‖``.
      measured_rate: least-squares fit of ``log10`` of the per-layer factor by which
        mean ``‖δ^l‖²`` shrinks towards the input (compare ``log10 χ₁``).
    """

    widths: tuple
    activation: str
    init: str
    sw2: float
    sb2: float
    n_networks: int
    q_star: float
    chi1: float
    xi_grad: float
    layers: np.ndarray
    measured: np.ndarray
    predicted: np.ndarray
    predicted_map: np.ndarray
    bound: np.ndarray
    exact_mean: np.ndarray
    slack: np.ndarray
    measured_rate: float

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        out = {}
        for k, v in self.__dict__.items():
            out[k] = v.tolist() if isinstance(v, np.ndarray) else (list(v) if isinstance(v, tuple) else v)
        return out

    def table(self) -> str:
        """A plain-text table, one row per layer."""
        head = (
            f"{self.activation}, {self.init}, sw2={self.sw2:g}, sb2={self.sb2:g}, widths={list(self.widths)}, "
            f"N={self.n_networks}: chi1={self.chi1:.6g} (log10 {math.log10(self.chi1):+.4f}/layer), "
            f"xi_grad={self.xi_grad:.4g}, measured log10 rate {self.measured_rate:+.4f}/layer\n"
        )
        cols = f"{'layer':>5} {'log10 rms|d|':>13} {'mean field':>11} {'mf (q^l)':>9} {'bound G':>9} {'slack':>7}\n"
        rows = "".join(
            f"{int(l):5d} {m:13.3f} {p:11.3f} {pm:9.3f} {g:9.3f} {s:7.3f}\n"
            for l, m, p, pm, g, s in zip(
                self.layers, self.measured, self.predicted, self.predicted_map, self.bound, self.slack
            )
        )
        return head + cols + rows


def typical_vs_worst(
    key: jax.Array,
    widths: Sequence[int],
    *,
    activation: str | Activation = "tanh",
    sw2: float = 1.0,
    sb2: float = 0.0,
    init: str = "gaussian",
    n_networks: int = 16,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "readout",
    x_scale: float | None = None,
) -> TypicalWorst:
    """Mean-field prediction, measured average and textbook bound G per layer.

    ``sw2``, ``sb2`` are the variances σ_w², σ_b² of ``init`` ("gaussian" or
    "orthogonal"; the theory assumes Gaussian weights or square orthogonal
    layers).  One input and one target per network, all from ``key``.

    .. math::

       E\\|δ^l\\|^2 \\approx χ_1^{L-l}\\,E\\|δ^L\\|^2,\\qquad
       \\|δ^l\\| \\le G_l = γ^{L-l+1} \\prod_{r=l+1}^{L}\\|W^r\\|\\,\\|∇_{a^L}C\\|.

    Returns:
      :class:`TypicalWorst`.

    References:
      Schoenholz et al. 2017, §5; Poole et al. 2016, eq. (7); Nielsen ch. 5
      and the textbook bound (**).
    """
    from scipy.special import logsumexp

    ws, mf, x_scale = _setup(widths, n_networks, init, activation, sw2, sb2, x_scale)
    q = mf.q_star
    E, G, x = _measure(key, ws, activation, sw2, sb2, init, n_networks, cost, x_scale)
    assert G is not None  # levels=True (the default) gives the bound G
    L = E.shape[1]
    layers = np.arange(1, L + 1)
    log_ms = np.asarray(logsumexp(2 * E, axis=0)) - math.log(n_networks)  # log mean ‖δ^l‖²
    log_chi = math.log(mf.chi1)
    pred = log_ms[-1] + (L - layers) * log_chi
    q1 = sw2 * float(jnp.mean(jnp.sum(x * x, -1))) / ws[0] + sb2
    qs = length_map_iterates(activation, q1, L, sw2=sw2, sb2=sb2)
    log_chis = np.log(sw2 * gaussian_moments(activation, qs).dphi2)
    tail = np.concatenate([np.cumsum(log_chis[:-1][::-1])[::-1], [0.0]])  # Σ_{r=l}^{L-1} log χ(q^r)
    pred_map = log_ms[-1] + tail
    rate = _rate(log_ms)
    return TypicalWorst(
        widths=ws,
        activation=str(activation),
        init=init,
        sw2=float(sw2),
        sb2=float(sb2),
        n_networks=n_networks,
        q_star=float(q),
        chi1=float(mf.chi1),
        xi_grad=float(mf.xi_grad),
        layers=layers,
        measured=0.5 * log_ms / _LN10,
        predicted=0.5 * pred / _LN10,
        predicted_map=0.5 * pred_map / _LN10,
        bound=np.mean(G, 0) / _LN10,
        exact_mean=np.mean(E, 0) / _LN10,
        slack=np.mean(G - E, 0) / _LN10,
        measured_rate=-rate,
    )


def _rate(log_ms) -> float:
    """Least-squares slope, in log10 per layer, of ``log mean ‖δ^l‖²`` over ``l = 1..L``."""
    L = len(log_ms)
    return float(np.polyfit(np.arange(1, L + 1), log_ms, 1)[0]) / _LN10 if L > 1 else float("nan")


def _setup(widths, n_networks, init, activation, sw2, sb2, x_scale):
    ws = core.check_widths(widths)
    if isinstance(n_networks, bool) or not isinstance(n_networks, int) or n_networks < 1:
        raise ValueError(f"n_networks: expected an int >= 1, got {n_networks!r}")
    if init not in ("gaussian", "orthogonal"):
        raise ValueError(f"init: expected 'gaussian' or 'orthogonal' (the mean-field ensembles), got {init!r}")
    mf = mean_field(activation, sw2, sb2, correlation=False)
    q = mf.q_star
    if x_scale is None:  # start z^1 at q*; scale 1 where q* is 0 or inf (relu at σ_b² = 0: any q is fixed)
        x_scale = math.sqrt((q - sb2) / sw2) if (sw2 > 0 and math.isfinite(q) and q > sb2) else 1.0
    return ws, mf, x_scale


def _measure(key, ws, activation, sw2, sb2, init, n_networks, cost, x_scale, levels=True):
    """``(E, G, x)``: natural ``log ‖δ^l‖`` and ``log G_l`` of ``n_networks`` networks from ``key``, and their inputs.

    ``key`` may be a stack of keys (one draw of ``n_networks`` each, drawn exactly as from a single key): then
    ``E``, ``G`` and ``x`` gain a leading axis of draws, all computed by one sweep.
    """
    keys = key if key.ndim else key[None]
    D = keys.shape[0]
    parts = [jax.random.split(k, 3) for k in keys]
    kns = jnp.stack([jax.random.split(p[0], n_networks) for p in parts]).reshape(D * n_networks)
    nets = jax.vmap(lambda k: core.init_network(k, ws, activation=activation, init=init, sw2=sw2, sb2=sb2))(kns)
    dtype = nets[0].W.dtype
    x = x_scale * jnp.stack([jax.random.normal(p[1], (n_networks, 1, ws[0]), dtype) for p in parts])
    if cost == "readout":
        cost = readout
        y = jnp.stack([jax.random.normal(p[2], (n_networks, 1, ws[-1]), dtype) for p in parts]) / math.sqrt(ws[-1])
    else:
        y = jnp.stack([jax.random.uniform(p[2], (n_networks, 1, ws[-1]), dtype) for p in parts])
    xs, ys = x.reshape(D * n_networks, 1, -1), y.reshape(D * n_networks, 1, -1)
    if levels:  # E and G alone: rescaled backprop and log-norms, not the whole enclosed hierarchy
        E, G = _log_error_and_bound(nets, xs, ys, cost)
        E = np.asarray(E).reshape(D, n_networks, -1)  # natural log ‖δ^l‖
        G = np.asarray(G).reshape(D, n_networks, -1)
    else:  # only ‖δ^l‖, by plain backpropagation (float64: no overflow at the depths of the paper)
        E = np.asarray(_log_error_norms(nets, xs, ys, cost)).reshape(D, n_networks, -1)
        G = None
    return (E, G, x) if key.ndim else (E[0], None if G is None else G[0], x[0])


@functools.partial(jax.jit, static_argnums=3)
def _log_error_norms(nets, x, y, cost):
    """``log ‖δ^l‖``, ``l = 1..L``, of each network of a stack at its one example."""

    def one(net, xi, yi):
        return jnp.stack([jnp.log(jnp.linalg.norm(d)) for d in core.errors(net, xi[0], yi[0], cost=cost)])

    return jax.vmap(one)(nets, x, y)


@functools.partial(jax.jit, static_argnums=3)
def _log_error_and_bound(nets, x, y, cost):
    r"""Natural ``log ‖δ^l‖`` and ``log G_l``, ``l = 1..L``, of each network of a stack at its one example.

    The levels ``E`` and ``G`` of :func:`gradbounds.bounds.sweep` (the same point values, to
    rounding), without the rest of the hierarchy and its enclosures: ``E`` by rescaled
    backpropagation (no underflow at any depth), ``G`` from the log-norms of the weights
    (:func:`gradbounds.linalg.log_norm`, as the sweep's point ``G``):

    .. math:: \log G_l = \sum_{r=l}^{L} \log γ_r + \sum_{r=l+1}^{L} \log\|W^r\| + \log\|g\|,

    ``γ_L`` left out where the hierarchy starts from ``δ^L`` (a named cost with its output
    activation).
    """
    from gradbounds import linalg
    from gradbounds.linalg import enclosures

    def step(carry, item):  # one rescaled BP2 step: v ← Σ'(z^l)(W^{l+1})ᵀv / ‖·‖, log ‖δ^l‖ accumulated
        v, log_e = carry
        d, W, _ = item
        w = d * (W.T @ v)
        nw = jnp.linalg.norm(w)
        log_e = log_e + jnp.log(nw)
        return (w / jnp.where(nw > 0, nw, 1.0), log_e), log_e

    def one(net, xi, yi):
        net = tuple(net)
        dtype = net[0].W.dtype
        u = enclosures.unit_roundoff(dtype)
        segs = core.segments(net)
        zs, a_L = core.forward_segments(segs, xi[0])
        act_L = net[-1].act
        out = core.output_error(cost, act_L, zs[-1][-1], a_L, yi[0])
        nd = jnp.linalg.norm(out.delta)
        v = out.delta / jnp.where(nd > 0, nd, 1.0)
        _, logs = core.backward_scan(step, (v, jnp.log(nd)), segs, zs)  # layers 1..L-1, scanned within segments
        E = jnp.concatenate([logs, jnp.log(nd)[None]]) if logs is not None else jnp.log(nd)[None]
        gam = [math.log(layer.act.gamma) for layer in net[:-1]]
        gam.append(math.log(act_L.gamma) if out.start == "grad_a" else 0.0)
        logW = jnp.stack([linalg.log_norm(layer.W, u)[0] for layer in net[1:]] + [jnp.zeros((), dtype)])
        rcs = lambda t: jnp.flip(jnp.cumsum(jnp.flip(t)))  # noqa: E731  (Σ_{r ≥ l})
        G = rcs(jnp.asarray(gam, dtype)) + rcs(logW) + jnp.log(jnp.linalg.norm(out.g))
        return E, G

    return jax.vmap(one)(nets, x, y)


#: networks' weights (float64 entries) that :func:`typical_rates` sweeps at once: about 0.8 GB
_CHUNK_ENTRIES = 10**8


def typical_rates(
    key: jax.Array,
    widths: Sequence[int],
    *,
    activation: str | Activation = "tanh",
    sw2: float = 1.0,
    sb2: float = 0.0,
    init: str = "gaussian",
    n_networks: int = 16,
    draws: int = 32,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "readout",
    x_scale: float | None = None,
) -> np.ndarray:
    """The measured rate of :func:`typical_vs_worst` over ``draws`` independent draws of ``n_networks`` networks.

    Draw ``d`` is ``typical_vs_worst(k_d, …).measured_rate`` with ``k_d`` the d-th key of
    ``jax.random.split(key, draws)``: the sampling distribution of the fitted
    ``log10`` per-layer factor of mean ``‖δ^l‖²``, to set beside ``log10 χ₁``.

    Returns:
      the ``draws`` rates (log10 per layer, positive when ``‖δ^l‖`` grows towards the input).

    References:
      Schoenholz et al. 2017, §5; Hanin & Nica 2019 (finite-width fluctuations of ``log‖δ^l‖``).
    """
    from scipy.special import logsumexp

    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws: expected an int >= 1, got {draws!r}")
    ws, _, x_scale = _setup(widths, n_networks, init, activation, sw2, sb2, x_scale)
    per_draw = n_networks * sum(a * b for a, b in zip(ws[:-1], ws[1:]))
    chunk = max(1, _CHUNK_ENTRIES // per_draw)  # draws per sweep
    keys = jax.random.split(key, draws)
    rates = []
    for i in range(0, draws, chunk):
        E, _, _ = _measure(keys[i : i + chunk], ws, activation, sw2, sb2, init, n_networks, cost, x_scale, False)
        rates += [-_rate(np.asarray(logsumexp(2 * e, axis=0)) - math.log(n_networks)) for e in E]
    return np.asarray(rates)
