"""Per-layer speed of learning during training (Nielsen ch. 5), with optax.

Nielsen measures how fast hidden layer ``l`` learns by the norm of the bias
gradient of the cost averaged over ``n`` examples,

.. math::

   s_l = \\Big\\|\\frac1n\\sum_x δ^l_x\\Big\\|
       \\;\\le\\; \\bar E_l = \\frac1n\\sum_x \\|δ^l_x\\|
       \\;\\le\\; \\bar G_l = \\frac1n\\sum_x G_l(x),

the norm of the mean, not the mean of the norms.  The first inequality is the
triangle inequality (the gap, ``log10 Ē − log10 s``, is the *cancellation*
between examples), the second the bound hierarchy of :mod:`gradbounds.bounds`
example by example (the gap ``log10 Ḡ − log10 Ē`` is the bound's slack).
With cross-entropy and a sigmoid output σ' cancels and the hierarchy starts
from ``δ^L = a^L − y`` (Nielsen ch. 3, eq. 66).

Training uses optax.  L2 regularisation follows Nielsen's ``network2.py``:

.. math::

   w \\leftarrow \\Big(1 - \\frac{ηλ}{n}\\Big) w - \\frac{η}{m}\\sum_{x∈\\text{batch}} ∇_w C_x,
   \\qquad b \\leftarrow b - \\frac{η}{m}\\sum_{x∈\\text{batch}} ∇_b C_x,

that is ``optax.add_decayed_weights(λ/n)`` on the weights only, then
``optax.sgd(η, momentum)`` (momentum as in Nielsen ch. 3: ``v ← μv − η∇C``,
``w ← w + v``).  Each optimiser step is jitted and mini-batches of an epoch
run in one ``lax.scan``.

The preset ``nielsen-ch5`` is the protocol of the book's ``generate_gradient.py``
(sizes ``[n_0] + [30]*k + [10]``, sigmoid, cross-entropy, ``W ~ N(0,1)/√n_in``,
``b ~ N(0,1)``, the first 1000 training images, full-batch gradient descent
with η = 0.1, λ = 5.0, 500 steps, speeds recorded before each step);
``nielsen-ch5-accuracy`` is the chapter's accuracy run (full training set,
mini-batches of 10, 30 epochs).  The monitor for users' own optax loops is
in ``gradbounds.training.monitor``.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 5 ("The vanishing
  gradient problem", ``generate_gradient.py``), ch. 3 (eq. 66, L2
  regularisation, momentum, ``network2.py``); the data-split bound (*) and the textbook bound (**).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from gradbounds import bounds, core
from gradbounds.core import Layer, forward, init_network, validate_network, widths
from gradbounds.training._data import Dataset
from gradbounds.training._protocols import PRESETS, REMEDIES, Protocol, optimizer
from gradbounds.training._published import published_initial_speeds
from gradbounds.training.loggers import as_loggers

__all__ = [
    "TrainResult",
    "speeds",
    "layer_statistics",
    "accuracy",
    "epoch_order",
    "train",
    "summarize",
    "compare_remedies",
]


def _example_cost(net, x, y, c):
    fw = forward(net, x)
    return c.value(fw.z[-1], fw.a[-1], y, net[-1].activation)


def _mean_cost(net, x, y, c, w=None):
    per = jax.vmap(lambda a, b: _example_cost(net, a, b, c))(x, y)
    return jnp.mean(per) if w is None else jnp.sum(w * per) / jnp.sum(w)


def _speeds_impl(net, x, y, cost):
    bs = tuple(layer.b for layer in net)
    rebuild = lambda bs_: tuple(Layer(q.W, b, q.activation) for q, b in zip(net, bs_))  # noqa: E731
    g = jax.grad(lambda bs_: _mean_cost(rebuild(bs_), x, y, cost))(bs)
    return jnp.stack([jnp.linalg.norm(gb) for gb in g])


_speeds = partial(jax.jit, static_argnames=("cost",))(_speeds_impl)


def speeds(
    net: Sequence[Layer],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | core.Cost | Callable[[jax.Array, jax.Array], jax.Array] = "cross-entropy",
) -> jax.Array:
    """Nielsen's speed of learning of every layer, ``(L,)``.

    .. math:: s_l = \\Big\\|\\frac1n\\sum_{i=1}^n δ^l_{x_i}\\Big\\| = \\|∇_{b^l}\\bar C\\|.

    Args:
      net: tuple of :class:`~gradbounds.Layer`.
      x: inputs ``(n, n_0)``; y: targets ``(n, n_L)``.
      cost: ``"cross-entropy"``, ``"quadratic"`` or a callable.

    References:
      Nielsen ch. 5, ``generate_gradient.py`` (``get_average_gradient``, ``list_norm``).
    """
    return _speeds(tuple(net), jnp.asarray(x), jnp.asarray(y), core.get_cost(cost))


def _start(net, c) -> str:
    return c.start(net[-1].activation)


@partial(jax.jit, static_argnames=("cost",))
def _stats(net, x, y, cost):
    lv = jax.vmap(lambda a, b: bounds.levels(net, a, b, cost=cost))(x, y)
    n = x.shape[0]
    logmean = lambda t: jax.scipy.special.logsumexp(t, axis=0) - math.log(n)  # noqa: E731
    codes = jnp.max(bounds.verdict_codes(lv, start=_start(net, cost)), axis=(0, 2))
    return dict(
        log_speed=jnp.log(_speeds(net, x, y, cost)),
        log_E=logmean(lv.E),
        log_G=logmean(lv.G),
        codes=codes,
        finite=jnp.all(lv.finite, axis=0) & jnp.all(~jnp.isnan(lv.E) & ~jnp.isnan(lv.G), axis=0),
    )


def layer_statistics(
    net: Sequence[Layer],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | core.Cost | Callable[[jax.Array, jax.Array], jax.Array] = "cross-entropy",
) -> dict:
    """Speeds, mean E and G levels, their gaps and the hierarchy's verdicts per layer.

    .. math:: \\log_{10} s_l \\le \\log_{10}\\bar E_l \\le \\log_{10}\\bar G_l.

    Returns a dict of lists over layers ``1..L``: ``log10_speed``, ``log10_E``,
    ``log10_G``, ``cancellation_log10`` (Ē vs s), ``bound_slack_log10`` (Ḡ vs
    Ē), ``slack_log10`` (Ḡ vs s), ``verdicts`` (worst over examples and the
    comparisons E ≤ P ≤ J ≤ D ≤ G) and ``verdict``.

    Raises:
      ValueError: a layer whose levels are NaN or inf (naming it).
    """
    net = tuple(net)
    c = core.get_cost(cost)
    st = jax.device_get(_stats(net, jnp.asarray(x), jnp.asarray(y), c))
    bad = np.flatnonzero(~st["finite"])
    if bad.size:
        raise ValueError(f"layer {int(bad[0]) + 1}: z, σ'(z) or a level is not finite (training diverged?)")
    ln10 = np.log(10.0)
    sp, E, G = st["log_speed"] / ln10, st["log_E"] / ln10, st["log_G"] / ln10
    verdicts = [bounds.VERDICTS[int(k)] for k in st["codes"]]
    with np.errstate(invalid="ignore"):
        return {
            "log10_speed": sp.tolist(),
            "log10_E": E.tolist(),
            "log10_G": G.tolist(),
            "cancellation_log10": (E - sp).tolist(),
            "bound_slack_log10": (G - E).tolist(),
            "slack_log10": (G - sp).tolist(),
            "verdicts": verdicts,
            "verdict": bounds.VERDICTS[int(np.max(st["codes"]))],
        }


@partial(jax.jit, static_argnames=("cost", "opt", "reuse"))
def _run_chunk(net, state, X, Y, idx, w, record, Xe, Ye, cost, opt, reuse):
    """Optimiser steps over the mini-batches ``idx`` in one scan, with the speeds before each ``record`` step.

    ``reuse``: every batch is the whole evaluation set in order (full-batch
    training with ``n_eval`` covering it), so the step's own bias gradient is
    the speed vector and no second backward pass is needed.
    """
    import optax

    tx = optimizer(eta=opt[0], l2=opt[1], n=opt[2], momentum=opt[3])
    L = len(net)

    def step(carry, batch):
        net_, st = carry
        i, wi, r = batch
        g = jax.grad(_mean_cost)(net_, X[i], Y[i], cost, wi)
        if reuse:
            sp = jnp.stack([jnp.linalg.norm(q.b) for q in g])
        else:
            sp = jax.lax.cond(r, lambda: _speeds_impl(net_, Xe, Ye, cost), lambda: jnp.zeros((L,), X.dtype))
        upd, st = tx.update(g, st, net_)
        return (optax.apply_updates(net_, upd), st), sp

    return jax.lax.scan(step, (net, state), (idx, w, record))


@jax.jit
def _n_correct(net, x, labels):
    out = jax.vmap(lambda a: forward(net, a).a[-1])(x)
    return jnp.sum(jnp.argmax(out, axis=-1) == labels)


def accuracy(net: Sequence[Layer], x: ArrayLike, labels: ArrayLike) -> float:
    """Fraction of examples whose largest output is the label (Nielsen's ``accuracy``)."""
    x, labels = jnp.asarray(x), jnp.asarray(labels)
    return int(_n_correct(tuple(net), x, labels)) / max(1, int(labels.shape[0]))


@dataclass
class TrainResult:
    """What :func:`train` recorded.

    Attributes:
      protocol: the :class:`Protocol` run; dataset: its name; widths: the network's.
      steps: ``(R,)`` step of each record (speeds are taken *before* that step).
      speeds: ``(R, L)`` speeds of every layer (hidden layers are ``[:, :-1]``).
      details: records with :func:`layer_statistics` and test accuracy.
      final: speeds, statistics and accuracy after the last step.
      net: the trained network.
    """

    protocol: Protocol
    dataset: str
    widths: tuple
    steps: np.ndarray
    speeds: np.ndarray
    details: list = field(default_factory=list)
    final: dict = field(default_factory=dict)
    net: tuple = ()
    seed: int | None = None
    dtype: str = "float64"

    @property
    def hidden_speeds(self) -> np.ndarray:
        """``(R, L−1)``: the speeds of hidden layers 1..L−1 (Nielsen's columns)."""
        return self.speeds[:, :-1]

    def to_dict(self) -> dict:
        """JSON-ready summary; ``speeds`` has one row per record, hidden layers 1..L−1."""
        out = {
            "dataset": self.dataset,
            "widths": list(self.widths),
            "hidden_layers": len(self.widths) - 2,
            "dtype": self.dtype,
            "seed": self.seed,
            "protocol": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.protocol).items()},
            "steps": self.steps.tolist(),
            "speeds": self.hidden_speeds.tolist(),
            "output_speeds": self.speeds[:, -1].tolist(),
            "details": self.details,
            "final": self.final,
        }
        k = len(self.widths) - 2
        published = published_initial_speeds()
        if k in published and len(self.steps) and self.steps[0] == 0:
            pub = np.array(published[k])
            out["initial"] = {
                "speeds": self.hidden_speeds[0].tolist(),
                "ratios_to_last_hidden": (self.hidden_speeds[0] / self.hidden_speeds[0, -1]).tolist(),
                "published_speeds_mnist": pub.tolist(),
                "published_ratios_to_last_hidden": (pub / pub[-1]).tolist(),
            }
        return out


def epoch_order(
    key: jax.Array, e: int, n: int, m: int, shuffle: bool, dtype: DTypeLike
) -> tuple[np.ndarray, np.ndarray]:
    """The mini-batches of epoch ``e``: ``(idx, w)`` of shape ``(batches, m)``.

    ``n`` examples in batches of ``m`` (the last one padded with index 0 and
    weight 0); shuffled by ``jax.random.permutation(fold_in(key, e), n)``
    when ``shuffle`` and there is more than one batch.  The same key gives the
    same batches, which is how a reference implementation replays a run.
    """
    nb = -(-n // m)
    perm = np.arange(n)
    if shuffle and nb > 1:
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(key, e), n))
    idx = np.zeros(nb * m, np.int32)
    idx[:n] = perm
    w = np.zeros(nb * m, dtype)
    w[:n] = 1
    return idx.reshape(nb, m), w.reshape(nb, m)


def train(
    data: Dataset,
    protocol: Protocol | None = None,
    *,
    seed: int = 0,
    key: jax.Array | None = None,
    net: Sequence[Layer] | None = None,
    dtype: DTypeLike | None = None,
    progress: Callable[[int], object] | None = None,
    loggers: Any = None,
) -> TrainResult:
    """Trains a network on ``data`` under ``protocol``, recording per-layer speeds.

    Speeds (:func:`speeds`) are recorded before steps ``0, r, 2r, ...`` over
    the first ``n_eval`` training images; every ``detail_every`` steps, and
    after the last step, :func:`layer_statistics` and test accuracy too.

    Args:
      data: a :class:`gradbounds.training.Dataset`.
      protocol: a :class:`Protocol` (default ``PRESETS["nielsen-ch5"]``).
      seed: seed of the key for initialisation and shuffling (ignored if ``key``).
      key: an explicit ``jax.random`` key.
      net: start from this network instead of drawing one (its widths must fit the data).
      dtype: float dtype of a drawn network (default JAX's default float); data follow the network's.
      progress: called with the number of steps just done.
      loggers: where to report as the run goes (:mod:`gradbounds.training.loggers`: a logger, a
        callable ``(step, metrics)`` or a sequence of them): ``{"speed": [s_1..s_L]}`` at every
        recorded step, the :func:`layer_statistics` and ``accuracy`` at every detail step, and after
        the last step both.  They are not closed here (the caller owns them).

    Returns:
      :class:`TrainResult`.

    References:
      Nielsen ch. 5 (``generate_gradient.py``), ch. 3 (``network2.py``).
    """
    p = PRESETS["nielsen-ch5"] if protocol is None else protocol
    k_init, k_shuffle = jax.random.split(jax.random.key(seed) if key is None else key)
    d = data.head(p.n_train)
    if net is None:
        ws = (d.n_inputs, *p.hidden, d.n_classes)
        acts = [p.activation] * len(p.hidden) + [p.output_activation]
        net = init_network(k_init, ws, activation=acts, init=p.init, dtype=dtype)
    else:
        net = tuple(net)
        ws = validate_network(net)
        if ws[0] != d.n_inputs or ws[-1] != d.n_classes:
            raise ValueError(f"network: expected widths ({d.n_inputs}, ..., {d.n_classes}) for {d.name}, got {ws}")
    dtype = net[0].W.dtype
    X, Y = jnp.asarray(d.x_train, dtype), jnp.asarray(d.y_train(), dtype)
    n_ev = len(X) if p.n_eval is None else min(p.n_eval, len(X))
    Xe, Ye = X[:n_ev], Y[:n_ev]
    Xt, Lt = jnp.asarray(d.x_test, dtype), jnp.asarray(d.labels_test)
    c = core.get_cost(p.cost)
    n = len(X)
    m, nb, total, rec, det = p.plan(n)
    opt = (float(p.eta), float(p.l2), int(n), float(p.momentum))
    state = optimizer(eta=p.eta, l2=p.l2, n=n, momentum=p.momentum).init(net)  # pyright: ignore[reportArgumentType]  (a pytree)

    logs = as_loggers(loggers)

    def report(step, metrics):
        for lg in logs:
            lg.log(int(step), metrics)

    def detail(step, net_):
        st = layer_statistics(net_, Xe, Ye, cost=c) if p.levels else {}
        out = {"step": int(step), "accuracy": accuracy(net_, Xt, Lt), **st}
        report(step, {k: v for k, v in out.items() if k != "step"})
        return out

    steps_rec, speed_rows, details = [], [], []
    s, order, epoch = 0, None, -1
    # every step's batch is the evaluation set, in order: the step's bias gradient is the speed vector
    reuse = m == n and n_ev == n
    while s < total:
        if s % det == 0 and s % rec == 0:
            sp = np.asarray(_speeds(net, Xe, Ye, c))
            if not np.all(np.isfinite(sp)):  # a diverged run is reported by its speeds, before its levels
                bad = int(np.flatnonzero(~np.isfinite(sp))[0]) + 1
                raise ValueError(f"step {s}: layer {bad}: speed is {sp[bad - 1]} (training diverged; lower eta?)")
            details.append(detail(s, net))
        e, j = divmod(s, nb)
        if e != epoch:
            order, epoch = epoch_order(k_shuffle, e, n, m, p.shuffle, np.dtype(dtype)), e
        # one jitted scan up to the next detail record or the end of the epoch
        stop = min((s // det + 1) * det, (e + 1) * nb, total)
        if progress is not None:  # report at least at every record, as before
            stop = min(stop, (s // rec + 1) * rec)
        steps = np.arange(s, stop)
        (net, state), sp = _run_chunk(
            net,
            state,
            X,
            Y,
            order[0][j : j + stop - s],
            order[1][j : j + stop - s],
            steps % rec == 0,
            Xe,
            Ye,
            c,
            opt,
            reuse,
        )
        sp = np.asarray(sp)[steps % rec == 0]
        for s_rec, row in zip(steps[steps % rec == 0], sp):
            if not np.all(np.isfinite(row)):
                bad = int(np.flatnonzero(~np.isfinite(row))[0]) + 1
                raise ValueError(f"step {s_rec}: layer {bad}: speed is {row[bad - 1]} (training diverged; lower eta?)")
            steps_rec.append(int(s_rec))
            speed_rows.append(row)
            report(s_rec, {"speed": row.tolist()})
        if progress is not None:
            progress(stop - s)
        s = stop
    final_speeds = np.asarray(_speeds(net, Xe, Ye, c))
    report(total, {"speed": final_speeds.tolist()})
    final = {"step": int(total), "speeds": final_speeds.tolist(), **detail(total, net)}
    assert net is not None  # drawn or given above
    return TrainResult(
        p,
        d.name,
        widths(net),
        np.asarray(steps_rec, np.int64),
        np.asarray(speed_rows),
        details,
        final,
        tuple(net),
        seed if key is None else None,
        str(dtype),
    )


def summarize(result: TrainResult) -> dict:
    """Spread of speeds across hidden layers: first/last hidden-layer ratios at the start,
    the end and the median over the records, with the final test accuracy."""
    hs = result.hidden_speeds
    fin = np.asarray(result.final["speeds"][:-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "initial_speeds": hs[0].tolist(),
            "initial_ratio_first_last": float(hs[0, 0] / hs[0, -1]),
            "final_speeds": fin.tolist(),
            "final_ratio_first_last": float(fin[0] / fin[-1]),
            "median_log10_ratio_first_last": float(np.median(np.log10(hs[:, 0] / hs[:, -1]))),
            "final_accuracy": result.final["accuracy"],
        }


def compare_remedies(
    data: Dataset,
    protocol: Protocol | None = None,
    *,
    remedies: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    dtype: DTypeLike | None = None,
    progress: Callable[[int], object] | None = None,
    loggers: Any = None,
) -> dict:
    """Runs ``protocol`` once per remedy (:data:`REMEDIES`: activation, init, momentum, L2).

    Every run uses the same seed.  Returns ``{name: TrainResult}``.  ``loggers`` (as :func:`train`)
    receive each run's metrics under ``"<remedy>/<metric>"``.
    """
    p = PRESETS["nielsen-ch5"] if protocol is None else protocol
    remedies = REMEDIES if remedies is None else remedies
    logs = as_loggers(loggers)
    out = {}
    for name, change in remedies.items():
        tagged = [_Tagged(lg, name) for lg in logs]
        out[name] = train(data, replace(p, **change), seed=seed, dtype=dtype, progress=progress, loggers=tagged)
    return out


class _Tagged:
    """A logger whose metric names get a prefix (one remedy's run among several)."""

    def __init__(self, logger, tag):
        self.logger, self.tag = logger, tag

    def log(self, step, metrics):
        self.logger.log(step, {f"{self.tag}/{k}": v for k, v in metrics.items()})

    def close(self):
        self.logger.close()
