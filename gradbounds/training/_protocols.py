"""Training protocols: Nielsen's chapter-5 presets, the remedies, and his optax update.

A :class:`Protocol` fixes everything a run needs (sizes, activation, init,
cost, data size, optimiser, steps, what to record); :func:`preset` builds the
chapter's two (``nielsen-ch5``: 1000 images, full-batch gradient descent,
η = 0.1, λ = 5, 500 steps; ``nielsen-ch5-accuracy``: mini-batches of 10, 30
epochs), and :data:`REMEDIES` the standard set of changes compared by
:func:`gradbounds.training.compare_remedies`.

.. math::  w \\leftarrow \\Big(1 - \\frac{ηλ}{n}\\Big) w - η\\,\\frac{1}{m}\\sum_x ∇_w C_x,
           \\qquad b \\leftarrow b - η\\,\\frac1m \\sum_x ∇_b C_x .

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 3 (L2 regularisation,
  momentum) and ch. 5 (``generate_gradient.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from gradbounds.core import Layer

if TYPE_CHECKING:
    import optax

__all__ = ["Plan", "Protocol", "PRESETS", "REMEDIES", "preset", "optimizer"]


class Plan(NamedTuple):
    """A protocol's schedule: batch size, batches per epoch, total steps, record and detail spacing."""

    batch_size: int
    batches_per_epoch: int
    total_steps: int
    record_every: int
    detail_every: int


@dataclass(frozen=True)
class Protocol:
    """One training protocol (every field has Nielsen ch. 5's value by default).

    Attributes:
      hidden: widths of the hidden layers.
      activation: σ of the hidden layers (the output layer uses ``output_activation``).
      output_activation: σ of the output layer (sigmoid, so that cross-entropy cancels σ').
      init: initialisation scheme (:data:`gradbounds.core.INITS`).
      cost: ``"cross-entropy"`` or ``"quadratic"``.
      eta: learning rate η.
      l2: Nielsen's λ; weights decay by ``1 − ηλ/n`` per step (n = training-set size).
      momentum: μ (0 for plain gradient descent).
      batch_size: mini-batch size m (``None``: the whole training set, one step per epoch).
      n_train: use the first ``n_train`` training images (``None``: all).
      steps: number of optimiser steps (takes precedence over ``epochs``).
      epochs: number of passes over the training set when ``steps`` is ``None``.
      record_every: record speeds every this many steps (``None``: once an epoch).
      detail_every: levels and accuracy at the recorded steps that are multiples of this
        (``None``: about 5 in a run), and after the last step.
      n_eval: speeds and levels over the first ``n_eval`` training images (``None``: all used).
      shuffle: reshuffle the training set every epoch (irrelevant for full batches).
      levels: compute :func:`layer_statistics` in detail records (else speeds and accuracy only).
    """

    hidden: tuple = (30, 30, 30, 30)
    activation: str = "sigmoid"
    output_activation: str = "sigmoid"
    init: str = "nielsen"
    cost: str = "cross-entropy"
    eta: float = 0.1
    l2: float = 5.0
    momentum: float = 0.0
    batch_size: int | None = None
    n_train: int | None = 1000
    steps: int | None = 500
    epochs: int | None = None
    record_every: int | None = None
    detail_every: int | None = None
    n_eval: int | None = None
    shuffle: bool = True
    levels: bool = True

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        for name in ("batch_size", "n_train", "steps", "epochs", "record_every", "detail_every", "n_eval"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or int(v) != v or v < 1):
                raise ValueError(f"{name}: expected a positive integer or None, got {v!r}")
        if self.steps is None and self.epochs is None:
            raise ValueError("expected steps or epochs, got neither")
        for name in ("eta", "l2", "momentum"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name}: expected a finite number >= 0, got {getattr(self, name)!r}")
        if self.momentum >= 1:
            raise ValueError(f"momentum: expected 0 <= μ < 1, got {self.momentum}")

    def plan(self, n: int) -> Plan:
        """Batch size, batches per epoch, total steps and record spacing for ``n`` training images."""
        m = n if self.batch_size is None else min(self.batch_size, n)
        nb = -(-n // m)
        total = self.steps if self.steps is not None else self.epochs * nb  # pyright: ignore[reportOptionalOperand]  (steps or epochs is set: __post_init__)
        rec = nb if self.record_every is None else self.record_every
        det = self.detail_every or rec * max(1, math.ceil(math.ceil(total / rec) / 5))
        return Plan(m, nb, total, rec, det)

    def with_hidden(self, k: int, width: int = 30) -> Protocol:
        """The protocol with ``k`` hidden layers of ``width`` neurons."""
        if k < 1:
            raise ValueError(f"hidden: expected at least 1 hidden layer, got {k}")
        return replace(self, hidden=(width,) * k)


PRESETS = {
    "nielsen-ch5": Protocol(),
    "nielsen-ch5-accuracy": Protocol(
        batch_size=10, n_train=None, steps=None, epochs=30, n_eval=1000, hidden=(30, 30, 30, 30)
    ),
}

REMEDIES = {
    "baseline": {},
    "activation=tanh": {"activation": "tanh"},
    "activation=relu": {"activation": "relu"},
    "init=standard-normal": {"init": "standard-normal"},
    "init=glorot": {"init": "glorot"},
    "init=he": {"init": "he"},
    "init=orthogonal": {"init": "orthogonal"},
    "momentum=0.9": {"momentum": 0.9},
    "l2=0": {"l2": 0.0},
}


def preset(name: str, *, hidden: int | None = None, **overrides: Any) -> Protocol:
    """A preset protocol (:data:`PRESETS`), with ``hidden`` layers of 30 and field overrides."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    p = PRESETS[name]
    if hidden is not None:
        p = p.with_hidden(hidden)
    unknown = sorted(set(overrides) - set(Protocol.__dataclass_fields__))
    if unknown:
        raise TypeError(
            f"preset: unknown protocol field {unknown[0]!r}; expected some of {', '.join(Protocol.__dataclass_fields__)}"
        )
    if overrides.get("steps") is not None:
        overrides.setdefault("epochs", None)
    return replace(p, **overrides)


def optimizer(*, eta: float, l2: float = 0.0, n: int = 1, momentum: float = 0.0) -> optax.GradientTransformation:
    """Nielsen's update as an optax transformation (L2 on weights only).

    .. math:: w ← (1 − ηλ/n)w − η\\,\\overline{∇_w C},\\qquad b ← b − η\\,\\overline{∇_b C}.

    References:
      Nielsen ch. 3 (L2 regularisation, its mini-batch update rule and ``network2.py``'s
      ``update_mini_batch``; momentum-based gradient descent).
    """
    import optax

    parts = []
    if l2:
        parts.append(
            optax.add_decayed_weights(
                l2 / n,
                mask=lambda p: tuple(Layer(True, False, q.activation) for q in p),  # pyright: ignore  (a bool mask with the network's structure)
            )
        )
    parts.append(optax.sgd(eta, momentum=momentum or None))
    return optax.chain(*parts)
