"""The adding problem: long-term dependencies that a plain cell does not learn and gated cells do.

A sequence of ``T`` pairs ``x_t = (u_t, m_t)``, ``u_t ~ U(0, 1)``, the marker
``m_t`` 1 at one position in the first half and one in the second half, 0
elsewhere; the target is the sum of the two marked values.  Answering 1 always
gives MSE ``Var(u_1 + u_2) = 1/6 ≈ 0.167``.  Trained with optax (the ``train``
extra, imported inside :func:`train_adding`): the plain tanh cell, the LSTM, the
GRU, the plain cell with Pascanu's gradient-norm clipping and a relu cell with
identity initialisation (IRNN), recording ``log10 ‖∂C/∂s_k‖`` over ``k`` during
training (:func:`gradbounds.rnn.point_levels` on one training sequence) and the test MSE.

References:
  Hochreiter & Schmidhuber 1997, "Long short-term memory", Neural Computation
  (experiment 4); Pascanu, Mikolov & Bengio 2013, ICML (clipping, §3.2); Le,
  Jaitly & Hinton 2015, "A simple way to initialize recurrent networks of
  rectified linear units" (IRNN).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradbounds.rnn import _cells, _levels

VARIANTS = ("rnn", "lstm", "gru", "rnn_clip", "irnn")


def adding_batch(key: jax.Array, n: int, T: int, dtype: Any = jnp.float64) -> tuple[jax.Array, jax.Array]:
    """``n`` adding-problem sequences: ``x (n, T, 2)`` and ``y (n, 1)``."""
    ku, k1, k2 = jax.random.split(key, 3)
    u = jax.random.uniform(ku, (n, T), dtype)
    half = max(T // 2, 1)
    i1 = jax.random.randint(k1, (n,), 0, half)
    i2 = jax.random.randint(k2, (n,), half, max(T, half + 1))
    m = jax.nn.one_hot(i1, T, dtype=dtype) + jax.nn.one_hot(i2, T, dtype=dtype)
    y = jnp.sum(u * m, axis=1, keepdims=True)
    return jnp.stack([u, m], axis=-1), y


@dataclasses.dataclass(frozen=True)
class AddingResult:
    """One training run: ``steps`` trained, ``test_mse`` over training (``(checkpoints,)``), ``log10_E``
    (``(checkpoints, T + 1)``: ``log10 ‖∂C/∂s_k‖`` on one sequence), the final test MSE and the wall time.
    """

    variant: str
    T: int
    steps: np.ndarray
    test_mse: np.ndarray
    log10_E: np.ndarray
    final_mse: float
    seconds: float

    def to_dict(self) -> dict:
        """JSON-ready (lists)."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in dataclasses.asdict(self).items()}


def _init(key, variant: str, hidden: int, dtype) -> _cells.Cell:
    kind = {"rnn_clip": "rnn", "irnn": "rnn"}.get(variant, variant)
    act = "relu" if variant == "irnn" else "tanh"
    cell = _cells.init_cell(key, kind, hidden=hidden, inputs=2, outputs=1, activation=act, forget_bias=1.0, dtype=dtype)
    if variant == "irnn":  # Le et al. 2015: W_hh = I, zero biases, small input weights
        cell = dataclasses.replace(
            cell,
            weight_hh=jnp.eye(hidden, dtype=dtype),
            weight_ih=0.001 * cell.weight_ih,
            bias_ih=jnp.zeros_like(cell.bias_ih),
            bias_hh=jnp.zeros_like(cell.bias_hh),
        )
    return cell


def train_adding(
    variant: str,
    *,
    T: int = 100,
    hidden: int = 32,
    steps: int = 2000,
    batch: int = 64,
    lr: float = 1e-2,
    clip: float = 1.0,
    checkpoints: int = 10,
    seed: int = 0,
    dtype: Any = jnp.float32,
) -> AddingResult:
    """Trains one variant (:data:`VARIANTS`) on fresh batches with Adam; MSE on 1000 test sequences.

    .. math:: C = \\tfrac12(W_{out}h_T + b_{out} − y)^2,\\qquad \\text{MSE} = \\mathbb E(W_{out}h_T + b_{out} − y)^2.

    ``rnn_clip`` rescales the gradient to norm ``clip`` when it is larger
    (Pascanu et al. 2013, Algorithm 1); ``irnn`` uses ``lr/10``.

    References:
      Pascanu, Mikolov & Bengio 2013; Le, Jaitly & Hinton 2015; Kingma & Ba 2015 (Adam).
    """
    import optax

    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {', '.join(VARIANTS)}, got {variant!r}")
    key = jax.random.key(seed)
    kc, kd, kt = jax.random.split(key, 3)
    cell = _init(kc, variant, hidden, dtype)
    parts = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "W_out", "b_out")
    params = {k: getattr(cell, k) for k in parts}
    tx = optax.adam(lr / 10 if variant == "irnn" else lr)
    if variant == "rnn_clip":
        tx = optax.chain(optax.clip_by_global_norm(clip), tx)
    opt = tx.init(params)

    def predict(p, xs):
        c = dataclasses.replace(cell, **p)
        return _cells.readout(c, _cells.run(c, xs)[-1])

    def loss(p, x, y):
        r = jax.vmap(lambda xs: predict(p, xs))(x) - y
        return 0.5 * jnp.mean(jnp.sum(r * r, axis=-1))

    @jax.jit
    def update(p, o, k):
        x, y = adding_batch(k, batch, T, dtype)
        g = jax.grad(loss)(p, x, y)
        upd, o = tx.update(g, o, p)
        return optax.apply_updates(p, upd), o

    xt, yt = adding_batch(kt, 1000, T, dtype)

    @jax.jit
    def test_mse(p):
        return 2 * loss(p, xt, yt)

    @jax.jit
    def log_E(p):
        c = dataclasses.replace(cell, **p)
        return _levels.point_levels(c, xt[0], yt[0])["E"] / jnp.log(10.0)

    every = max(steps // checkpoints, 1)
    marks, mses, Es = [], [], []
    t0 = time.perf_counter()
    keys = jax.random.split(kd, steps)
    with jax.numpy_dtype_promotion("standard"):  # optax mixes its int32 step count with floats
        for i in range(steps):
            if i % every == 0:
                marks.append(i)
                mses.append(float(test_mse(params)))
                Es.append(np.asarray(log_E(params)))
            params, opt = update(params, opt, keys[i])
        final = float(test_mse(params))
        seconds = time.perf_counter() - t0
        marks.append(steps)
        mses.append(final)
        Es.append(np.asarray(log_E(params)))
    return AddingResult(variant, T, np.asarray(marks), np.asarray(mses), np.stack(Es), final, seconds)
