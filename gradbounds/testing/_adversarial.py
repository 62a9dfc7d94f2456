"""Adversarial Hypothesis strategies: networks built to break rounding-error analyses.

Each example is a *batch* of ``size`` networks with the same widths,
activations, dtype and cost (one jitted :func:`gradbounds.sweep` call checks
them all, so a batch costs one compilation), of one kind or, with
``mix_kinds``, of every kind its structure admits, with one example per network: ``x`` of shape
``(size, 1, n_0)`` and ``y`` of shape ``(size, 1, n_L)``.  Hypothesis draws
the kind, widths, activations, dtype and a seed; the arrays come from
``numpy.random.default_rng(seed)``, so a failing batch shrinks on its sizes
and replays exactly.  The kinds (:data:`ADVERSARIAL_KINDS`):

``ill-conditioned``
   ``W^l = U diag(s) V^T`` with Haar ``U``, ``V`` and ``log10 s`` uniform in
   ``[min_log10_sv, 0]``: products ``Π_l`` with condition numbers up to
   ``10^{-L·min_log10_sv}``.
``null-space``
   ``g`` exactly in the null space of a nonzero rank-one product, so
   ``E_{L-1} = 0`` exactly while floating point gives rounding noise:
   layer ``L-1`` is linear with ``W = 0``, ``b = s e_k``; layer ``L`` is
   linear with ``W^L = u v^T``, ``u_i ∈ {±1, ±2}``, ``v_k = 1`` (so
   ``a^L = s u`` exactly), ``b^L = 0``; ``g = a^L − y`` has integer
   multiples of ``s 2^{-(p-3)}`` (``p`` the mantissa bits) with
   ``u^T g = 0`` exactly, and every float operation of ``y = a^L − g`` is
   exact.  Then ``Π_{L-1} = v u^T ≠ 0``, ``Π_{L-1} g = 0`` and
   ``σ_{n_L}(Π_{L-1}) = 0``.
``saturated``
   saturating activations with biases uniform in ``[-max_abs_z, max_abs_z]``:
   ``σ'(z)`` far below the dtype's smallest subnormal (``e^{-800}``,
   ``e^{-800²}`` for erf), where a vanishing gradient is not a zero one.
``cancellation``
   every row of ``W^1`` holds ``C`` and ``-C`` (``C = 10^c``) against input
   entries equal to 1, so ``z^1 = C + (small terms) − C``: the forward pass
   cancels catastrophically.
``huge-gradient`` / ``tiny-gradient``
   a linear output with ``b^L = ±10^{e}`` (``‖g‖ ≈ 10^e``) or ``W^L``,
   ``b^L`` scaled by ``10^{-e}`` and ``y = 0`` (``‖g‖ ≈ 10^{-e}``), ``e`` up
   to ``max_log10_g``: squared norms overflow or underflow.
``cross-entropy-near-target``
   cross-entropy with a sigmoid output, ``z^L_i = ±t`` with ``t`` uniform in
   ``[15, 45]`` and ``y_i = 1`` where ``z^L_i > 0`` (else 0), so
   ``δ^L = σ(z^L) − y ≈ e^{-t}`` while ``σ(z^L)`` rounds to ``y``.
``quadratic-near-target``
   quadratic cost with ``y`` within two ulps of the computed ``a^L``, so
   the exact ``g = a^L − y`` is of the size of ``a^L``'s rounding error.
``overflowing-bound``
   every row of ``W^1`` holds ``C`` and ``C`` (``C`` within a factor ``10^{0.4}``
   of the dtype's largest float) against inputs ``1`` and ``−1`` (one input:
   ``W^1 = C``, ``b^1 = −C``), so ``z^1`` is small (the big terms cancel
   exactly when summed first) while the forward error bound ``|W||a| + |b|``
   overflows: every enclosure must stay sound (wide) with an infinite radius.

References:
  Higham 2002, *Accuracy and Stability of Numerical Algorithms*, §1.7
  (cancellation) and §3.5 (matrix products); Mezzadri 2007 (Haar matrices);
  MacIver et al., Hypothesis (``hypothesis.extra.numpy``'s argument checks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from gradbounds.core import Layer, forward
from gradbounds.testing._arrays import _activation_name, _check_x64, _choice, _dtype, _haar, _int, _interval, _real
from gradbounds.testing._networks import seeds

__all__ = ["ADVERSARIAL_KINDS", "AdversarialProblem", "adversarial_problems"]

ADVERSARIAL_KINDS = (
    "ill-conditioned",
    "null-space",
    "saturated",
    "cancellation",
    "huge-gradient",
    "tiny-gradient",
    "cross-entropy-near-target",
    "quadratic-near-target",
    "overflowing-bound",
)
"""Kinds of :func:`adversarial_problems` (module docstring)."""

_SMOOTH = ("sigmoid", "tanh", "erf", "gelu", "silu", "softplus", "elu", "selu")
_ALL = _SMOOTH + ("relu", "leaky_relu", "hard_tanh", "linear")
_HIDDEN = {
    "ill-conditioned": ("linear",) * 4 + _ALL,  # linear chains most often
    "saturated": _SMOOTH,
}


class AdversarialProblem(NamedTuple):
    """A batch: ``nets`` (arrays with a leading axis ``size``), ``x`` ``(size, 1, n_0)``, ``y``, ``cost``,
    and ``kinds``, the kind of each network."""

    nets: tuple
    x: jax.Array
    y: jax.Array
    cost: str
    kinds: tuple


def _mantissa(dt) -> int:
    return int(np.finfo(dt).nmant) + 1


def _max_exp10(dt) -> float:
    return math.log10(float(np.finfo(dt).max))


def _rows_normal(rng, N, n_out, n_in):
    return rng.standard_normal((N, n_out, n_in)) / math.sqrt(n_in)


def _sv_matrix(rng, N, n_out, n_in, min_log10_sv):
    k = min(n_out, n_in)
    u = _haar(rng.standard_normal((N, n_out, k)))
    v = _haar(rng.standard_normal((N, n_in, k)))
    e = rng.uniform(min_log10_sv, 0.0, (N, k))
    e[:, 0] = 0.0  # the top singular value is 1: the spread is the condition number
    return (u * (10.0**e)[:, None, :]) @ np.swapaxes(v, -1, -2)


def _plain(rng, ws, N):
    return [(_rows_normal(rng, N, o, i), rng.standard_normal((N, o))) for i, o in zip(ws[:-1], ws[1:])]


@jax.jit
def _forward_last(nets, x):
    return jax.vmap(lambda n, xx: forward(n, xx).a[-1])(nets, x)


def _build(kind, ws, acts, dt, seed, N, p):
    """Arrays ``[(W, b)]``, ``x``, ``y`` (each with a leading axis N) and the cost, for one kind."""
    rng = np.random.default_rng(seed)
    L, n0, nL = len(ws) - 1, ws[0], ws[-1]
    x = rng.uniform(-1.0, 1.0, (N, n0))
    y = rng.uniform(0.0, 1.0, (N, nL))
    cost = "quadratic"
    if kind == "ill-conditioned":
        layers = [
            (_sv_matrix(rng, N, o, i, p["min_log10_sv"]), p["bias"] * rng.standard_normal((N, o)))
            for i, o in zip(ws[:-1], ws[1:])
        ]
    elif kind == "null-space":
        layers = _plain(rng, ws, N)
        bits = _mantissa(dt)
        s = 2.0 ** p["log2_s"]
        k = p["k"]
        layers[L - 2] = (np.zeros((N, ws[L - 1], ws[L - 2])), s * np.eye(ws[L - 1])[k][None].repeat(N, 0))
        u = rng.choice([-2.0, -1.0, 1.0, 2.0], (N, nL))
        v = rng.standard_normal((N, ws[L - 1]))
        v[:, k] = 1.0
        layers[L - 1] = (u[:, :, None] * v[:, None, :], np.zeros((N, nL)))
        m = rng.integers(-(2 ** (bits - 6)), 2 ** (bits - 6), (N, nL)).astype(np.float64)
        m[:, -1] = -np.sum(u[:, :-1] * m[:, :-1], axis=1) / u[:, -1]
        g = s * m * 2.0 ** (-(bits - 3))
        y = s * u - g
    elif kind == "saturated":
        z = p["max_abs_z"]
        layers = [(_rows_normal(rng, N, o, i), rng.uniform(-z, z, (N, o))) for i, o in zip(ws[:-1], ws[1:])]
    elif kind == "cancellation":
        layers = _plain(rng, ws, N)
        C = 10.0 ** p["log10_C"]
        W1 = layers[0][0]
        if n0 >= 2:
            x[:, :2] = 1.0
            W1[:, :, 0], W1[:, :, 1] = C, -C
            if n0 >= 3:  # a small term between the two big ones: C + w x − C
                W1[:, :, [1, 2]] = W1[:, :, [2, 1]]
                x[:, [1, 2]] = x[:, [2, 1]]
        else:  # one input: z = C·x + b with b ≈ −C·x
            x[:, 0] = 1.0
            W1[:, :, 0] = C
            layers[0] = (W1, -C + rng.standard_normal((N, ws[1])))
    elif kind in ("huge-gradient", "tiny-gradient"):
        layers = _plain(rng, ws, N)
        e = p["log10_g"]
        W, b = layers[-1]
        if kind == "huge-gradient":
            layers[-1] = (W, rng.choice([-1.0, 1.0], (N, nL)) * 10.0**e * rng.uniform(1, 9, (N, nL)))
        else:
            layers[-1] = (W * 10.0 ** (-e), b * 10.0 ** (-e))
            y = np.zeros((N, nL))
    elif kind == "cross-entropy-near-target":
        layers = _plain(rng, ws, N)
        cost = "cross-entropy"
        W, _ = layers[-1]
        t = rng.uniform(15.0, 45.0, (N, nL)) * rng.choice([-1.0, 1.0], (N, nL))
        layers[-1] = (W * 1e-3, t)  # z^L ≈ t: the hidden part moves it by at most ~1e-3
        y = (t > 0).astype(np.float64)
    elif kind == "quadratic-near-target":
        layers = _plain(rng, ws, N)
    elif kind == "overflowing-bound":
        layers = _plain(rng, ws, N)
        C = 10.0 ** (_max_exp10(dt) - p["below_max"])
        W1, b1 = layers[0]
        if n0 >= 2:  # z = C·1 + C·(−1) + (the rest): exact, while |W||x| = 2C + … overflows
            x[:, :2] = (1.0, -1.0)
            W1[:, :, 0] = W1[:, :, 1] = C
        else:  # z = C·1 − C + b: exact
            x[:, 0] = 1.0
            W1[:, :, 0] = C
            b1 = -C + 0.0 * b1
        layers[0] = (W1, b1)
    else:  # pragma: no cover
        raise AssertionError(kind)
    nets = tuple(Layer(jnp.asarray(W.astype(dt)), jnp.asarray(b.astype(dt)), a) for (W, b), a in zip(layers, acts))
    x = jnp.asarray(x.astype(dt))
    if kind == "quadratic-near-target":  # y within two ulps of the computed a^L
        aL = np.asarray(_forward_last(nets, x))
        steps = rng.integers(-2, 3, aL.shape)
        y = aL.copy()
        for _ in range(2):
            y = np.where(steps > 0, np.nextafter(y, np.inf), np.where(steps < 0, np.nextafter(y, -np.inf), y))
            steps = steps - np.sign(steps)
    y = jnp.asarray(np.asarray(y).astype(dt))
    return AdversarialProblem(nets, x[:, None, :], y[:, None, :], cost, (kind,) * N)


def _compatible(kind, ws, acts, cost) -> bool:
    """Whether a network of widths ``ws``, activations ``acts`` and ``cost`` can be built as ``kind``."""
    L = len(ws) - 1
    if kind == "cross-entropy-near-target":
        return cost == "cross-entropy" and acts[-1] == "sigmoid"
    if cost != "quadratic":
        return False
    if kind == "null-space":
        return L >= 2 and ws[L] >= 3 and ws[L - 1] >= 2 and acts[L - 2] == acts[L - 1] == "linear"
    if kind in ("huge-gradient", "tiny-gradient"):
        return acts[-1] == "linear"
    return True


@st.composite
def _params(draw, kind, ws, dt, min_log10_sv, max_abs_z, max_log10_g):
    """The per-batch parameters of ``kind`` (drawn by Hypothesis, so they shrink)."""
    top = _max_exp10(dt)
    if kind == "ill-conditioned":
        return {"min_log10_sv": draw(st.floats(min_log10_sv, 0.0)), "bias": draw(st.sampled_from([0.0, 1.0]))}
    if kind == "null-space":
        return {"k": draw(st.integers(0, ws[-2] - 1)), "log2_s": draw(st.integers(-3, 3))}
    if kind == "saturated":
        return {"max_abs_z": max_abs_z}
    if kind == "cancellation":
        return {"log10_C": draw(st.integers(4, 17 if dt == jnp.float64 else 8))}
    if kind in ("huge-gradient", "tiny-gradient"):
        return {"log10_g": draw(st.floats(1.0, min(max_log10_g, top - 2)))}
    if kind == "overflowing-bound":
        return {"below_max": draw(st.floats(0.01, 0.29))}  # 2C > max: log10 2 = 0.301
    return {}


def _concat(parts) -> AdversarialProblem:
    if len(parts) == 1:
        return parts[0]
    cat = lambda *t: jnp.concatenate(t)  # noqa: E731
    nets = jax.tree_util.tree_map(cat, *[q.nets for q in parts])
    kinds = tuple(k for q in parts for k in q.kinds)
    return AdversarialProblem(nets, cat(*[q.x for q in parts]), cat(*[q.y for q in parts]), parts[0].cost, kinds)


def _feasible(kind, min_layers, max_layers, min_width, max_width) -> bool:
    if kind == "null-space":
        return max_layers >= 2 and max_width >= 3
    return True


def adversarial_problems(
    *,
    kinds: str | Sequence[str] | SearchStrategy | None = None,
    size: int = 8,
    min_layers: int = 1,
    max_layers: int = 3,
    min_width: int = 1,
    max_width: int = 3,
    activations: Sequence[str] | None = None,
    min_log10_sv: float = -12.0,
    max_abs_z: float = 800.0,
    max_log10_g: float = 200.0,
    dtypes: Sequence = (jnp.float64,),
    mix_kinds: bool = False,
) -> SearchStrategy[AdversarialProblem]:
    """Batches of adversarial networks with inputs, targets and a cost (module docstring).

    .. math::

       \\text{ill-conditioned: } W = U\\,\\mathrm{diag}(10^{e})V^T,\\ e ∈ [e_{\\min}, 0];\\quad
       \\text{null-space: } Π_{L-1} = v u^T ≠ 0,\\ u^T g = 0;\\quad
       \\text{cancellation: } z^1_i = C + w_i x − C.

    Args:
      kinds: one of :data:`ADVERSARIAL_KINDS`, a sequence of them, or a
        strategy (default: every kind the width and depth bounds allow;
        ``null-space`` needs ``max_layers >= 2`` and ``max_width >= 3``).
      size: networks per batch (>= 1).
      min_layers: smallest depth L.
      max_layers: largest depth L.
      min_width: smallest width ``n_l``.
      max_width: largest width ``n_l``.
      activations: names the hidden and output activations are drawn from
        (default: per kind, all registered ones; the kinds that need a linear
        or sigmoid layer set it).
      min_log10_sv: smallest ``log10`` of a singular value (ill-conditioned), in [-100, 0].
      max_abs_z: largest ``|b|`` for ``saturated`` (> 0, at most 1e4).
      max_log10_g: largest ``|log10 ‖g‖|`` for the huge/tiny kinds (>= 1),
        capped by the dtype's range.
      dtypes: float32 and/or float64, drawn per batch (float64 needs
        ``jax_enable_x64``).
      mix_kinds: draw one kind (from ``kinds``), build the batch's structure
        (widths, activations, cost) for it, then split the batch among every
        kind of :data:`ADVERSARIAL_KINDS` that structure admits (a linear output admits the huge and tiny
        gradients, two linear last layers the null space, …).  One batch then
        checks several kinds at the cost of one compilation.

    Returns:
      A strategy of :class:`AdversarialProblem`.
    """
    size = _int("size", size, 1)
    min_layers, max_layers = _int("min_layers", min_layers, 1), _int("max_layers", max_layers, 1)
    min_width, max_width = _int("min_width", min_width, 1), _int("max_width", max_width, 1)
    _interval("min_layers", min_layers, "max_layers", max_layers)
    _interval("min_width", min_width, "max_width", max_width)
    min_log10_sv = _real("min_log10_sv", min_log10_sv)
    if not -100 <= min_log10_sv <= 0:
        raise InvalidArgument(f"min_log10_sv: expected a value in [-100, 0], got {min_log10_sv}")
    max_abs_z = _real("max_abs_z", max_abs_z)
    if not 0 < max_abs_z <= 1e4:
        raise InvalidArgument(f"max_abs_z: expected a value in (0, 1e4], got {max_abs_z}")
    max_log10_g = _real("max_log10_g", max_log10_g)
    if max_log10_g < 1:
        raise InvalidArgument(f"max_log10_g: expected a value >= 1, got {max_log10_g}")
    if isinstance(dtypes, (str, type, np.dtype)):
        dtypes = [dtypes]
    dts = [_dtype(d) for d in dtypes]
    if not dts:
        raise InvalidArgument("dtypes: expected float32 and/or float64, got none")
    names = None if activations is None else [_activation_name(a, "activations") for a in activations]
    if names is not None and not names:
        raise InvalidArgument("activations: expected at least one name, got none")
    if not isinstance(mix_kinds, bool):
        raise InvalidArgument(f"mix_kinds: expected a bool, got {mix_kinds!r}")
    feasible = [k for k in ADVERSARIAL_KINDS if _feasible(k, min_layers, max_layers, min_width, max_width)]
    if kinds is None:
        kinds_st = st.sampled_from(feasible)
    else:
        kinds_st = _choice("kinds", kinds, ADVERSARIAL_KINDS)
        if not isinstance(kinds, SearchStrategy):
            for k in [kinds] if isinstance(kinds, str) else kinds:
                if not _feasible(k, min_layers, max_layers, min_width, max_width):
                    raise InvalidArgument(
                        f"kinds: {k!r} needs max_layers >= 2 and max_width >= 3, "
                        f"got max_layers={max_layers}, max_width={max_width}"
                    )

    @st.composite
    def draw(draw):
        dt = draw(st.sampled_from(dts))
        _check_x64(dt)
        kind = draw(kinds_st)
        if not _feasible(kind, min_layers, max_layers, min_width, max_width):
            raise InvalidArgument(f"kinds: {kind!r} is not possible with these widths and depths")
        lo_L = max(min_layers, 2) if kind == "null-space" else min_layers
        L = draw(st.integers(lo_L, max_layers))
        ws = [draw(st.integers(min_width, max_width)) for _ in range(L + 1)]
        if kind == "null-space":
            ws[L] = draw(st.integers(max(3, min_width), max_width))
            ws[L - 1] = draw(st.integers(max(2, min_width), max_width))
        pool = names if names is not None else list(_HIDDEN.get(kind, _ALL))
        acts = [draw(st.sampled_from(pool)) for _ in range(L)]
        if kind == "null-space":
            acts[L - 2] = acts[L - 1] = "linear"
        elif kind in ("huge-gradient", "tiny-gradient"):
            acts[L - 1] = "linear"
        elif kind == "cross-entropy-near-target":
            acts[L - 1] = "sigmoid"
        cost = "cross-entropy" if kind == "cross-entropy-near-target" else "quadratic"
        members = [kind]
        if mix_kinds:  # every requested kind this structure admits contributes networks
            members += [k for k in feasible if k != kind and _compatible(k, ws, acts, cost)]
        params = {k: draw(_params(k, ws, dt, min_log10_sv, max_abs_z, max_log10_g)) for k in members}
        seed = draw(seeds())
        counts = [size // len(members) + (i < size % len(members)) for i in range(len(members))]
        parts = [
            _build(k, tuple(ws), tuple(acts), dt, seed + i, n, params[k])
            for i, (k, n) in enumerate(zip(members, counts))
            if n > 0
        ]
        return _concat(parts)

    return draw()
