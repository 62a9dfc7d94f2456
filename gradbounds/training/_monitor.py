"""A per-layer learning-speed monitor for your own optax training loops.

Two ways in:

* :func:`monitor`, called every few steps with the current parameters and a
  batch, returns Nielsen's speed of every layer, the mean ``E`` and ``G``
  levels of the bound hierarchy and their slack (:func:`gradbounds.training.layer_statistics`),
  and warns (:class:`SlowLayerWarning`) when a layer's speed falls below a
  chosen fraction of the last layer's;
* :func:`speed_monitor`, an optax ``GradientTransformation`` to put *first* in
  a chain: it passes the gradients through unchanged, keeps the latest speeds
  in its state and warns every ``every`` steps.  It reads the speeds off the
  bias gradients it is given, which, for a loss that is the mean cost over a
  batch, are exactly the mean errors:

.. math::

   s_l = \\Big\\|\\frac1m\\sum_{x∈\\text{batch}} δ^l_x\\Big\\| = \\|∇_{b^l}\\bar C\\|,
   \\qquad \\text{warn when } s_l < f\\, s_L.

Parameters may be a gradbounds network (a tuple of
:class:`~gradbounds.Layer`) or a sequence of ``(W, b)`` pairs or of dicts with
keys ``W``/``w`` and ``b``/``bias``, with ``W`` of shape ``(n_out, n_in)``
(transpose Flax/Keras kernels, which are ``(n_in, n_out)``).

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 5 (speed of learning of
  each hidden layer); the data-split bound (*) and the textbook bound (**).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from gradbounds import io
from gradbounds._extras import require
from gradbounds.adapters import activation_name
from gradbounds.core import Layer, get_cost, network_from_arrays
from gradbounds.training._train import layer_statistics, speeds
from gradbounds.training.loggers import as_loggers

if TYPE_CHECKING:
    import optax

__all__ = ["SlowLayerWarning", "MonitorReport", "SpeedMonitorState", "as_network", "monitor", "speed_monitor"]


class SlowLayerWarning(UserWarning):
    """A layer learns more slowly than the chosen fraction of the last layer's speed."""


def _pairs(params) -> list:
    if isinstance(params, Layer):
        raise TypeError("params: expected a sequence of layers, got a single Layer")
    if not isinstance(params, Sequence) or isinstance(params, (str, bytes)) or len(params) == 0:
        raise TypeError(f"params: expected a sequence of layers, (W, b) pairs or dicts, got {type(params).__name__}")
    out = []
    for l, p in enumerate(params, start=1):
        if isinstance(p, Layer):
            out.append((p.W, p.b))
        elif isinstance(p, Mapping):
            W = next((p[k] for k in ("W", "w") if k in p), None)
            b = next((p[k] for k in ("b", "bias") if k in p), None)
            if W is None or b is None:
                raise TypeError(
                    f"layer {l}: expected a dict with keys 'W' (or 'w') and 'b' (or 'bias'), got {sorted(p)}"
                )
            out.append((W, b))
        elif isinstance(p, Sequence) and len(p) == 2:
            out.append((p[0], p[1]))
        else:
            raise TypeError(f"layer {l}: expected a Layer, a (W, b) pair or a dict, got {type(p).__name__}")
    return out


def as_network(params: Any, activation: str | Callable | Sequence[str | Callable] | None = None) -> tuple:
    """A gradbounds network from a network, ``(W, b)`` pairs or dicts (W is ``(n_out, n_in)``).

    Plain arrays do not say their activation: ``activation`` (one name or callable such as
    ``jax.nn.tanh``, or one per layer; see :func:`gradbounds.adapters.activation_name`) is then
    required; a network of :class:`~gradbounds.Layer` carries its own and takes none.

    Raises:
      ValueError: plain arrays without ``activation``, or layers with one.
    """
    if isinstance(params, (tuple, list)) and params and all(isinstance(p, Layer) for p in params):
        if activation is not None:
            raise ValueError(
                f"activation: the layers carry their own ({', '.join(p.activation for p in params)}); "
                f"expected no activation, got {activation!r}"
            )
        return tuple(params)
    pairs = _pairs(params)
    if activation is None:
        raise ValueError(
            "activation: expected the activation of plain (W, b) arrays (a name such as 'sigmoid', "
            "or one per layer), got none"
        )
    if isinstance(activation, str) or callable(activation):
        names: str | list[str] = activation_name(activation)
    else:
        names = [activation_name(a, f"layer {i}: activation") for i, a in enumerate(activation, start=1)]
    return network_from_arrays([p[0] for p in pairs], [p[1] for p in pairs], names)


@dataclass(frozen=True)
class MonitorReport:
    """Result of :func:`monitor`.

    Attributes:
      speeds: ``(L,)`` Nielsen's speed of every layer.
      ratios: ``speeds / speeds[-1]``.
      slow_layers: 1-based layers with ``ratio < fraction``.
      fraction: the threshold used.
      statistics: :func:`gradbounds.training.layer_statistics` (``None`` with ``levels=False``).
      step: the step given by the caller, if any.
      cost: the cost the speeds are gradients of; activations: σ of each layer.
    """

    speeds: np.ndarray
    ratios: np.ndarray
    slow_layers: tuple
    fraction: float
    statistics: dict | None = None
    step: int | None = None
    cost: str | None = None
    activations: tuple | None = None

    def to_dict(self) -> dict:
        """JSON-ready (``json.dumps`` works): plain numbers and lists, non-finite floats as in :mod:`gradbounds.io`."""
        out = {
            "step": self.step,
            "cost": self.cost,
            "activations": list(self.activations) if self.activations is not None else None,
            "fraction": self.fraction,
            "slow_layers": list(self.slow_layers),
            "speeds": np.asarray(self.speeds, float).tolist(),
            "ratios": np.asarray(self.ratios, float).tolist(),
            "statistics": self.statistics,
        }
        return io.to_json(out)

    def to_dataframe(self):
        """One row per layer: ``layer, speed, ratio, slow`` (and ``log10_speed, log10_E, log10_G``,
        ``cancellation_log10, bound_slack_log10, slack_log10, verdict`` with statistics), with
        ``step`` beside; pandas is the optional extra ``export``."""
        pd = require("pandas", "MonitorReport.to_dataframe")
        L = len(self.speeds)
        cols = {
            "step": [self.step] * L,
            "layer": np.arange(1, L + 1),
            "speed": np.asarray(self.speeds, float),
            "ratio": np.asarray(self.ratios, float),
            "slow": [l in self.slow_layers for l in range(1, L + 1)],
        }
        if self.statistics:
            for k in ("log10_speed", "log10_E", "log10_G", "cancellation_log10", "bound_slack_log10", "slack_log10"):
                cols[k] = np.asarray(self.statistics[k], float)
            cols["verdict"] = list(self.statistics["verdicts"])
        return pd.DataFrame(cols)

    def metrics(self) -> dict:
        """What the monitor reports to loggers: ``speed``, ``ratio`` (lists over layers) and the statistics."""
        out = {"speed": np.asarray(self.speeds, float).tolist(), "ratio": np.asarray(self.ratios, float).tolist()}
        if self.statistics:
            out.update({k: v for k, v in self.statistics.items() if k != "verdicts"})
        return out

    def __str__(self) -> str:
        said = [f"fraction {self.fraction:g}"]
        if self.cost is not None:
            said.insert(0, f"cost {self.cost}")
        if self.step is not None:
            said.insert(0, f"step {self.step}")
        if self.activations is not None:
            said.append(f"activations {', '.join(self.activations)}")
        head = f"{'layer':>5}  {'speed':>10}  {'ratio':>9}"
        if self.statistics:
            head += f"  {'log10 E':>8}  {'log10 G':>8}  {'slack':>6}"
        rows = [head]
        for i, (s, r) in enumerate(zip(self.speeds, self.ratios)):
            row = f"{i + 1:>5}  {s:>10.3e}  {r:>9.3g}"
            if self.statistics:
                st = self.statistics
                row += f"  {st['log10_E'][i]:>8.2f}  {st['log10_G'][i]:>8.2f}  {st['slack_log10'][i]:>6.2f}"
            rows.append(row + ("  slow" if i + 1 in self.slow_layers else ""))
        return "\n".join(["; ".join(said), *rows])


def _message(slow, ratios, fraction, step) -> str:
    L = len(ratios)
    at = f" at step {step}" if step is not None else ""
    parts = ", ".join(f"layer {l} ({ratios[l - 1]:.3g}×)" for l in slow)
    return f"slow layers{at}: {parts} learn below {fraction:g} times the speed of layer {L}"


def _slow(speeds: np.ndarray, fraction: float) -> tuple[np.ndarray, tuple]:
    last = speeds[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = speeds / last
    slow = tuple(int(i) + 1 for i in np.flatnonzero(ratios[:-1] < fraction)) if last > 0 else ()
    return ratios, slow


def monitor(
    params: Any,
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "cross-entropy",
    fraction: float = 0.01,
    levels: bool = True,
    warn: bool = True,
    activation: str | Callable | Sequence[str | Callable] | None = None,
    step: int | None = None,
    loggers: Any = None,
) -> MonitorReport:
    """Per-layer speeds (and bound levels) at the current parameters; warns on slow layers.

    .. math:: s_l = \\|\\tfrac1n\\textstyle\\sum_x δ^l_x\\|,\\qquad s_l < f\\,s_L \\Rightarrow \\text{warning}.

    Args:
      params: a network, ``(W, b)`` pairs or dicts (see the module docstring).
      x: inputs ``(n, n_0)``; y: targets ``(n, n_L)`` (a batch or a held-out set).
      cost: the cost the network is trained on.
      fraction: warn when ``s_l < fraction · s_L`` for a layer ``l < L``.
      levels: also compute the mean E and G levels and the slack (costs SVDs per example).
      warn: issue :class:`SlowLayerWarning` (else only report).
      activation: σ of each layer when ``params`` are plain arrays (required there: arrays do
        not say it; a network of layers carries its own).
      step: the caller's step, quoted in the warning (required with ``loggers``).
      loggers: report :meth:`MonitorReport.metrics` at ``step`` to these
        (:mod:`gradbounds.training.loggers`: loggers, callables ``(step, metrics)`` or a sequence).

    References:
      Nielsen ch. 5; docs/design.md §2 (levels E and G).
    """
    if not (0 <= fraction <= 1):
        raise ValueError(f"fraction: expected a number in [0, 1], got {fraction}")
    logs = as_loggers(loggers)
    if logs and step is None:
        raise ValueError("step: expected the step number when loggers are given, got None")
    net = as_network(params, activation)
    dtype = net[0].W.dtype
    x, y = jnp.asarray(x, dtype), jnp.asarray(y, dtype)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x, y: expected (n, n_0) and (n, n_L) with the same n, got {x.shape} and {y.shape}")
    sp = np.asarray(speeds(net, x, y, cost=cost))
    if not np.all(np.isfinite(sp)):
        bad = int(np.flatnonzero(~np.isfinite(sp))[0]) + 1
        raise ValueError(f"layer {bad}: speed is {sp[bad - 1]} (NaN or inf)")
    stats = layer_statistics(net, x, y, cost=cost) if levels else None
    ratios, slow = _slow(sp, fraction)
    if warn and slow:
        warnings.warn(_message(slow, ratios, fraction, step), SlowLayerWarning, stacklevel=2)
    c = get_cost(cost)
    rep = MonitorReport(sp, ratios, slow, float(fraction), stats, step, c.name, tuple(q.activation for q in net))
    if step is not None:  # loggers were checked to come with a step
        for lg in logs:
            lg.log(step, rep.metrics())
    return rep


class SpeedMonitorState(NamedTuple):
    """State of :func:`speed_monitor`: steps seen and the latest speeds ``(L,)``."""

    count: jax.Array
    speeds: jax.Array


def _default_biases(tree) -> list:
    return [p[1] for p in _pairs(tree)]


def speed_monitor(
    *, fraction: float = 0.01, every: int = 10, biases: Callable | None = None, loggers: Any = None
) -> optax.GradientTransformation:
    """An optax ``GradientTransformation`` that watches per-layer speeds; put it first in a chain.

    Gradients pass through unchanged.  Its state (:class:`SpeedMonitorState`)
    holds the step count and the latest speeds ``‖∇_{b^l} C̄‖``; at steps
    ``0, every, 2·every, ...`` it warns (:class:`SlowLayerWarning`, through
    ``jax.debug.callback``, so it works under ``jit``) when ``s_l < fraction · s_L``.

    Args:
      fraction: the threshold relative to the last layer's speed.
      every: check every this many steps.
      biases: maps the gradient pytree to the list of bias gradients ``b^1..b^L``
        (default: for networks, ``(W, b)`` pairs and dicts as in :func:`as_network`).
      loggers: also report ``{"speed": [s_1..s_L], "ratio": [...]}`` at steps ``0, every, ...``
        (:mod:`gradbounds.training.loggers`; through ``jax.debug.callback``, so under ``jit``
        call ``jax.effects_barrier()`` before reading what they wrote).

    Example::

        tx = optax.chain(gradbounds.speed_monitor(fraction=0.01), optax.sgd(0.1))
        state = tx.init(params)
        updates, state = tx.update(grads, state, params)
        state[0].speeds  # the latest per-layer speeds
    """
    import optax

    if not (0 <= fraction <= 1):
        raise ValueError(f"fraction: expected a number in [0, 1], got {fraction}")
    if every < 1:
        raise ValueError(f"every: expected a positive integer, got {every}")
    get_b = biases or _default_biases
    logs = as_loggers(loggers)

    def init_fn(params):
        bs = get_b(params)
        return SpeedMonitorState(jnp.zeros((), jnp.int32), jnp.zeros((len(bs),), jnp.asarray(bs[0]).dtype))

    def _warn(count, sp):
        sp = np.asarray(sp)
        ratios, slow = _slow(sp, fraction)
        for lg in logs:
            lg.log(int(count), {"speed": sp.tolist(), "ratio": ratios.tolist()})
        if slow:
            warnings.warn(_message(slow, ratios, fraction, int(count)), SlowLayerWarning, stacklevel=2)

    def update_fn(updates, state, params=None):
        del params
        sp = jnp.stack([jnp.linalg.norm(jnp.ravel(b)) for b in get_b(updates)]).astype(state.speeds.dtype)
        check = (state.count % every) == 0
        slow = jnp.any(sp[:-1] < fraction * sp[-1]) & (sp[-1] > 0)
        call = check & (slow | bool(logs))  # with loggers, every check step reports
        jax.lax.cond(call, lambda: jax.debug.callback(_warn, state.count, sp), lambda: None)
        return updates, SpeedMonitorState(state.count + 1, sp)

    return optax.GradientTransformation(init_fn, update_fn)
