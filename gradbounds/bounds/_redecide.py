"""Re-deciding verdicts and tightening enclosures by proof in ball arithmetic (:func:`ball_levels`).

An example is *open* when a comparison is inconclusive or an enclosure is
vacuous (an infinite end that is not the ``-inf`` of a proved zero).
:func:`redecide` recomputes open examples in ball arithmetic: each
inconclusive code takes the balls' verdict (``X ≤ Y`` holds when
``hi_X ≤ lo_Y``, is violated when ``lo_X > hi_Y``), and each enclosure
becomes the intersection of the float and the ball enclosure:

.. math:: [\\mathrm{lo}, \\mathrm{hi}] = [\\max(\\mathrm{lo}_f, \\mathrm{lo}_b),\\ \\min(\\mathrm{hi}_f, \\mathrm{hi}_b)] \\ni \\log X^{\\rm exact}.

Both contain the exact value, so the intersection does; an empty one is a
bug in one of them and raises.  :func:`redecide_mode` applies the
``exact="auto"|"always"|"never"`` policy of :func:`gradbounds.hierarchy`,
:func:`gradbounds.sweep` and ``gradbounds check --exact``.

References:
  docs/design.md §3.4–3.5; Johansson 2017 (Arb).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
from jax.typing import ArrayLike

from gradbounds import core
from gradbounds.bounds._ball import Unresolved, ball_levels
from gradbounds.bounds._enclosed import ENCLOSED
from gradbounds.bounds._levels import COMPARISONS
from gradbounds.bounds._result import Hierarchy
from gradbounds.bounds._verdicts import identities

__all__ = ["check_exact", "decide", "decided", "open_examples", "redecide", "redecide_mode"]


def decided(ref: dict[str, Any], lo: str, hi: str) -> np.ndarray:
    """Per layer: 1 where ``lo ≤ hi`` is proved by ``ref`` (:func:`ball_levels`), -1 where ``lo > hi`` is, 0 if neither."""
    lo_hi, hi_lo = ref[lo][1], ref[hi][0]
    lo_lo, hi_hi = ref[lo][0], ref[hi][1]
    out = np.where(lo_hi <= hi_lo, 1, np.where(lo_lo > hi_hi, -1, 0))
    by_ratio = ref.get("ratio_decided", {}).get(lo + hi)  # J ≤ D and D ≤ G: common factors cancelled
    if by_ratio is not None:
        out = np.where(out == 0, by_ratio, out)
    tie = ref.get("ties", {}).get(lo + hi)  # equal exactly, by the structure of M_L (see _balls)
    return out if tie is None else np.where((out == 0) & tie, 1, out)


def decide(
    net: Sequence[core.Layer], x: ArrayLike, y: ArrayLike, *, cost: str | Callable = "quadratic", max_work: int = 10**7
) -> np.ndarray:
    """Verdict codes ``(L, 5)`` (0 holds, 1 inconclusive, 2 violated) proved in ball arithmetic.

    ``X ≤ Y`` holds when ``hi_X ≤ lo_Y`` and is violated when ``lo_X > hi_Y``
    (:func:`ball_levels`); identities by construction hold
    (:func:`gradbounds.bounds.identities`).  What the balls cannot separate
    (two sides equal, or a network beyond ``max_work``, a user activation or
    cost without a ball form) stays inconclusive.

    .. math:: \\overline{\\log X} \\le \\underline{\\log Y} \\Rightarrow X \\le Y \\text{ holds}.

    References:
      docs/design.md §3 (verdicts); Johansson 2017 (Arb).
    """
    return _decide_with_balls(net, x, y, cost=cost, max_work=max_work)[0]


def _decide_with_balls(net, x, y, *, cost, max_work):
    """:func:`decide`'s codes and the :func:`ball_levels` they came from (``None`` if unresolved)."""
    net = tuple(net)
    L = len(net)
    widths = (int(np.shape(net[0].W)[1]),) + tuple(int(np.shape(layer.W)[0]) for layer in net)
    codes = np.ones((L, len(COMPARISONS)), dtype=np.int64)
    ref = None
    if isinstance(cost, str):
        try:
            ref = ball_levels(net, x, y, cost=cost, max_work=max_work)
        except Unresolved:
            ref = None
        if ref is not None:
            for j, (a, b) in enumerate(COMPARISONS):
                t = decided(ref, a, b)
                codes[:, j] = np.where(t == 1, 0, np.where(t == -1, 2, 1))
    acts = [core.get_activation(layer.activation) for layer in net]
    c = core.get_cost(cost)
    start = c.start(acts[-1].name)
    return np.where(identities(widths, start), 0, codes), ref


def _ln_outward(log10_bound: np.ndarray, dtype, *, up: bool) -> np.ndarray:
    """A natural-log bound of ``dtype`` from a log10 bound: ``× ln 10`` rounded outward, then cast outward."""
    # a finite log10 past max/ln 10 (log10 erf' ≈ -4e399 at z = 1e200 is -max in the reference) overflows here
    # to ∓inf: the outward steps below take it back to ∓max, never the -inf of a proved zero
    with np.errstate(over="ignore"):
        v = np.asarray(log10_bound, np.float64) * math.log(10.0)
    toward = np.inf if up else -np.inf
    for _ in range(2):  # the rounding of ln 10 and of the product, each under half an ulp
        v = np.nextafter(v, toward)
    with np.errstate(over="ignore"):  # beyond float32's range: ±inf, moved back to ±max below when outward
        out = v.astype(dtype)
    moved = (out < v) if up else (out > v)
    return np.where(moved, np.nextafter(out, np.asarray(toward, dtype)), out)


def _tightened(lv, i: int, ref: dict[str, Any], where: str):
    """``lv`` with example ``i`` (flat over the batch axes) of every enclosure cut to its intersection with ``ref``.

    Both are rigorous, so the intersection is; an empty one means one of them is wrong, and is an error.
    The point value of each level is clipped into its new enclosure.
    """
    L = np.shape(lv.E)[-1]
    fields = {}
    for k in ENCLOSED:
        lo = np.array(getattr(lv, "lo_" + k)).reshape(-1, L)
        hi = np.array(getattr(lv, "hi_" + k)).reshape(-1, L)
        # a NaN ball (arb's σ' far out in a tail, at 128 bits) says nothing: the float enclosure stands
        b_lo = np.where(np.isnan(ref[k][0]), -np.inf, _ln_outward(ref[k][0], lo.dtype, up=False))
        b_hi = np.where(np.isnan(ref[k][1]), np.inf, _ln_outward(ref[k][1], hi.dtype, up=True))
        new_lo, new_hi = np.maximum(lo[i], b_lo), np.minimum(hi[i], b_hi)
        if (new_lo > new_hi).any():
            l = int(np.flatnonzero(new_lo > new_hi)[0]) + 1
            raise RuntimeError(
                f"{where}: layer {l}: the float enclosure of {k} [{lo[i][l - 1]!r}, {hi[i][l - 1]!r}] (ln) and the "
                f"ball enclosure [{b_lo[l - 1]!r}, {b_hi[l - 1]!r}] are disjoint: a soundness bug, please report it"
            )
        lo[i], hi[i] = new_lo, new_hi
        # the point value moves into its (now tighter) enclosure: deep in a network the float point errs by more
        pt = np.array(getattr(lv, k)).reshape(-1, L)
        pt[i] = np.clip(pt[i], new_lo, new_hi)
        shape = np.shape(getattr(lv, "lo_" + k))
        fields["lo_" + k], fields["hi_" + k], fields[k] = lo.reshape(shape), hi.reshape(shape), pt.reshape(shape)
    return lv._replace(**fields)


def open_examples(h: Hierarchy) -> np.ndarray:
    """Per example (flat over the batch axes): an inconclusive verdict, or an enclosure with an infinite end.

    An infinite end is vacuous unless it is the ``-inf`` of a proved zero, so a
    lower end of ``-inf`` counts only where the point level is finite.
    """
    codes = np.asarray(h.codes)
    L = codes.shape[-2]
    out = np.any(codes.reshape(-1, L, codes.shape[-1]) == 1, axis=(1, 2))
    for k in ENCLOSED:
        lo = np.asarray(getattr(h.levels, "lo_" + k)).reshape(-1, L)
        hi = np.asarray(getattr(h.levels, "hi_" + k)).reshape(-1, L)
        pt = np.asarray(getattr(h.levels, k)).reshape(-1, L)
        out |= np.any((hi == np.inf) | ((lo == -np.inf) & (pt > -np.inf)), axis=1)
    return out


def redecide(
    h: Hierarchy,
    net: Sequence[core.Layer] | Callable[[int], Sequence[core.Layer]],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable = "quadratic",
    max_work: int = 10**7,
    batched: bool = False,
) -> Hierarchy:
    """Settles a :class:`~gradbounds.Hierarchy`'s open examples in ball arithmetic (:func:`ball_levels`).

    ``x``, ``y`` are those ``h`` was computed at (one example or a batch;
    ``batched``: ``net`` has a leading network axis and ``x``, ``y`` are
    ``(N, n, ·)``, as for :func:`gradbounds.sweep`; or ``net`` is a function
    ``k ↦`` network ``k``, as for :func:`gradbounds.bounds.sweep_drawn`).  Only the examples of
    :func:`open_examples` are recomputed: their inconclusive codes take
    :func:`decide`'s, and every enclosure becomes its intersection with the
    ball enclosure (both rigorous), so that a deep network whose float
    enclosures are vacuous gets finite ones, and each point value is clipped
    into its enclosure.  Returns a new Hierarchy.
    """
    import jax

    codes = np.array(h.codes)
    L = codes.shape[-2]
    flat = codes.reshape(-1, L, codes.shape[-1])
    xs, ys = np.asarray(x), np.asarray(y)
    xs2, ys2 = xs.reshape(-1, xs.shape[-1]), ys.reshape(-1, ys.shape[-1])
    per_net = flat.shape[0] // codes.shape[0] if batched else flat.shape[0]
    lv = h.levels
    for i in np.flatnonzero(open_examples(h)):
        if batched:
            k = int(i) // per_net
            net_i = net(k) if callable(net) else jax.tree_util.tree_map(lambda t, k=k: t[k], tuple(net))
            where = f"network {k}, example {int(i) % per_net}"
        else:
            net_i, where = tuple(cast(Sequence[core.Layer], net)), f"example {i}"
        new, ref = _decide_with_balls(net_i, xs2[i], ys2[i], cost=cost, max_work=max_work)
        flat[i] = np.where(flat[i] == 1, new, flat[i])
        if ref is not None:
            lv = _tightened(lv, int(i), ref, where)
    return dataclasses.replace(h, codes=flat.reshape(codes.shape), levels=lv)


EXACT_MODES = ("auto", "always", "never")
AUTO_EXAMPLES = 16
"""``exact="auto"`` re-decides when at most this many examples are open (:func:`open_examples`)."""


def check_exact(exact: str) -> None:
    """Raises ``ValueError`` unless ``exact`` is one of :data:`EXACT_MODES`."""
    if exact not in EXACT_MODES:
        raise ValueError(f"exact: expected one of {', '.join(map(repr, EXACT_MODES))}, got {exact!r}")


def redecide_mode(
    h: Hierarchy,
    net: Sequence[core.Layer] | Callable[[int], Sequence[core.Layer]],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable = "quadratic",
    exact: str = "auto",
    batched: bool = False,
    max_work: int = 10**7,
) -> Hierarchy:
    """:func:`redecide` as ``exact`` asks: ``"never"``, ``"always"``, or ``"auto"`` (the CLI's default).

    ``"auto"`` re-decides when at most :data:`AUTO_EXAMPLES` examples (over
    every network of a sweep) are open (:func:`open_examples`: an inconclusive
    comparison or a vacuous enclosure), ``"always"`` whatever their number; each network is
    then re-decided only within ``max_work`` ball operations (about
    ``Σ n_l³``; Nielsen's network about 0.5 s).  ``batched``: ``net`` has a
    leading network axis and ``x``, ``y`` are ``(N, n, ·)`` (:func:`gradbounds.sweep`).
    A user (callable) cost has no ball form: its verdicts stay as they are.
    """
    check_exact(exact)
    n_open = int(np.sum(open_examples(h)))
    if exact == "never" or not isinstance(cost, str) or n_open == 0:
        return h
    if exact == "auto" and n_open > AUTO_EXAMPLES:
        return h
    return redecide(h, net, x, y, cost=cost, max_work=max_work, batched=batched)
