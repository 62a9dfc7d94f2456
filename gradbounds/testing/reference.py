"""An independent NumPy reference: Nielsen's ``network2.py`` backpropagation and training loop.

Plain float64 NumPy, one example at a time, column vectors, no JAX: the
tests (``tests/training``) and the benchmarks (``bench/training.py``) compare
gradbounds against this one implementation.  Sigmoid layers and the
cross-entropy cost with a sigmoid output, so ``δ^L = a^L − y``.

.. math::

   δ^L = a^L - y,\\qquad δ^l = ((W^{l+1})^T δ^{l+1}) ⊙ σ'(z^l),\\qquad
   \\frac{∂C}{∂b^l} = δ^l,\\qquad \\frac{∂C}{∂W^l} = δ^l (a^{l-1})^T,

and the update with L2 regularisation on the weights and optional momentum
(Nielsen ch. 3): ``v ← μv − η(∇_w C + (λ/n)w)``, ``w ← w + v``; without
momentum ``w ← (1 − ηλ/n)w − η∇_w C``, ``b ← b − η∇_b C``.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 2 (BP1–BP4), ch. 3
  (cross-entropy, L2, momentum) and ch. 5 (the speeds ``‖(1/n) Σ_x δ^l_x‖``).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["sigmoid", "backprop", "mean_bias_gradient", "speeds", "train"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function ``1/(1 + e^{−z})``."""
    return 1.0 / (1.0 + np.exp(-z))


def backprop(
    Ws: Sequence[np.ndarray], bs: Sequence[np.ndarray], x: np.ndarray, y: np.ndarray
) -> tuple[list[Any], list[Any]]:
    """Bias and weight gradients of one example (column vectors ``x``, ``y``; biases ``(n_l, 1)``)."""
    a, acts, zs = x, [x], []
    for W, b in zip(Ws, bs):
        z = W @ a + b
        zs.append(z)
        a = sigmoid(z)
        acts.append(a)
    delta = acts[-1] - y  # CrossEntropyCost.delta (sigmoid output)
    nb: list[Any] = [None] * len(Ws)
    nw: list[Any] = [None] * len(Ws)
    nb[-1], nw[-1] = delta, delta @ acts[-2].T
    for l in range(2, len(Ws) + 1):
        sp = sigmoid(zs[-l]) * (1 - sigmoid(zs[-l]))
        delta = (Ws[-l + 1].T @ delta) * sp
        nb[-l], nw[-l] = delta, delta @ acts[-l - 1].T
    return nb, nw


def mean_bias_gradient(
    Ws: Sequence[np.ndarray], bs: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray
) -> list[np.ndarray]:
    """``(1/n) Σ_x δ^l_x`` for every layer, over the rows of ``X``, ``Y``."""
    acc = [np.zeros_like(b) for b in bs]
    for x, y in zip(X, Y):
        nb, _ = backprop(Ws, bs, x[:, None], y[:, None])
        acc = [s + g for s, g in zip(acc, nb)]
    return [s / len(X) for s in acc]


def speeds(Ws: Sequence[np.ndarray], bs: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Nielsen's speed of learning ``‖(1/n) Σ_x δ^l_x‖`` of every layer."""
    return np.array([float(np.sqrt(np.sum(g * g))) for g in mean_bias_gradient(Ws, bs, X, Y)])


def train(
    Ws: Sequence[ArrayLike],
    bs: Sequence[ArrayLike],
    X: np.ndarray,
    Y: np.ndarray,
    batches: Iterable[Sequence[int]],
    *,
    eta: float,
    lmbda: float,
    n: int,
    mu: float = 0.0,
    record: Container[int] | None = None,
    Xe: np.ndarray | None = None,
    Ye: np.ndarray | None = None,
    final: bool = True,
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray | None]:
    """Gradient steps over ``batches`` (index arrays into ``X``, ``Y``), speeds before recorded steps.

    Args:
      Ws: initial weights, ``W^l`` of shape ``(n_l, n_{l-1})``.
      bs: initial biases, ``b^l`` of shape ``(n_l,)``.
      X: training inputs (rows).
      Y: one-hot training targets (rows).
      batches: one index array per step.
      eta: learning rate ``η``.
      lmbda: L2 strength ``λ`` (weight decay ``ηλ/n``).
      n: training-set size in the decay.
      mu: momentum (0: plain gradient descent).
      record: steps before which the speeds over ``(Xe, Ye)`` are recorded (default: every step).
      Xe: evaluation inputs for the speeds (default ``X``).
      Ye: evaluation targets (default ``Y``).
      final: also compute the speeds after the last step (else ``None``).

    Returns:
      ``(Ws, bs, rows, final)``: the final parameters, the recorded speeds
      ``(len(record), L)`` and the speeds after the last step.
    """
    Xe = X if Xe is None else Xe
    Ye = Y if Ye is None else Ye
    Ws = [np.array(W, np.float64) for W in Ws]
    bs = [np.array(b, np.float64)[:, None] for b in bs]
    vW = [np.zeros_like(W) for W in Ws]
    vb = [np.zeros_like(b) for b in bs]
    rows = []
    for step, idx in enumerate(batches):
        if record is None or step in record:
            rows.append(speeds(Ws, bs, Xe, Ye))
        sW = [np.zeros_like(W) for W in Ws]
        sb = [np.zeros_like(b) for b in bs]
        for i in idx:
            nb, nw = backprop(Ws, bs, X[i][:, None], Y[i][:, None])
            sW = [s + g for s, g in zip(sW, nw)]
            sb = [s + g for s, g in zip(sb, nb)]
        m = len(idx)
        if mu == 0.0:
            Ws = [(1 - eta * (lmbda / n)) * W - (eta / m) * g for W, g in zip(Ws, sW)]
            bs = [b - (eta / m) * g for b, g in zip(bs, sb)]
        else:
            vW = [mu * v - eta * (g / m + (lmbda / n) * W) for v, g, W in zip(vW, sW, Ws)]
            vb = [mu * v - eta * g / m for v, g in zip(vb, sb)]
            Ws = [W + v for W, v in zip(Ws, vW)]
            bs = [b + v for b, v in zip(bs, vb)]
    last = speeds(Ws, bs, Xe, Ye) if final else None
    return Ws, [b[:, 0] for b in bs], np.array(rows), last
