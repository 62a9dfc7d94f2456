"""The bound hierarchy E ≤ P ≤ J ≤ D ≤ G, in log space, with verdicts.

For every layer ``l = 1..L`` (DESIGN.md §2), with ``g`` the vector
backpropagation starts from and ``M_L`` the output factor (``Σ'(z^L)`` when
``g = ∇_{a^L}C``; the identity when σ' cancels against the cost and
``g = δ^L``, see :mod:`gradbounds.costs`):

.. math::

   E_l &= \\|δ^l\\| \\\\
   P_l &= \\|B^l B^{l+1} ⋯ B^{L-1} M_L\\|\\,\\|g\\| \\\\
   J_l &= \\textstyle∏_{r=l}^{L-1}\\|B^r\\|\\,\\|M_L\\|\\,\\|g\\| \\\\
   D_l &= \\textstyle∏_{r=l}^{L-1}\\|Σ'(z^r)\\|\\,\\|M_L\\|\\,∏_{r=l+1}^{L}\\|W^r\\|\\,\\|g\\| \\\\
   G_l &= \\textstyle∏_{r=l}^{L-1}γ_r\\,γ_L^{[M_L=Σ']}\\,∏_{r=l+1}^{L}\\|W^r\\|\\,\\|g\\|

and ``E_l ≤ P_l ≤ J_l ≤ D_l ≤ G_l``.  With one activation and the quadratic
cost, ``G_l = γ^{L-l+1} ∏_{r>l}‖W^r‖ ‖a^L − y‖``, the seed answer's bound
(**), and ``D_l`` the line (*) before it.  Below ``E``, the lower bound

.. math::  L_l = σ_{\\min}(B^l ⋯ B^{L-1} M_L)\\,\\|g\\| \\le E_l,

valid when ``n_l ≥ n_L`` (the product is tall, so ``‖Πg‖ ≥ σ_{n_L}(Π)‖g‖``);
for ``n_l < n_L`` it is the trivial bound 0.  It certifies an exploding
gradient as firmly as ``G`` certifies a vanishing one.

Numerics (DESIGN.md §3).  All levels are natural logarithms, products are sums
of logs, ``E`` is computed by rescaled backpropagation (a unit vector is
propagated and the log of its scale kept) and ``P`` by rescaled products, so
depth 10,000 gives finite logs where plain backprop returns 0.  Each level
carries a first-order rounding-error bound (Higham 2002, *Accuracy and
Stability of Numerical Algorithms*, §3.5 for ``fl(Bv)``: error
``≤ (n+2)u ‖B‖_F ‖v‖``; Weyl's inequality with the backward stability of the
SVD for ``σ_max``: relative error ``≤ 2 max(m, n) u``; ``u·(#terms)·Σ|log|``
for sums of logs).  A comparison ``X ≤ Y`` *holds* when the computed gap
exceeds ``SAFETY·(err_X + err_Y)``, is *violated* when it is below minus that,
and is *inconclusive* in between (re-decide it with
:func:`gradbounds.exact.decide`).  Comparisons that are identities by
construction (``P_L ≡ J_L ≡ D_L``; ``E_L ≡ P_L`` when ``g = δ^L``) hold.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 5 ("What's causing the
  vanishing gradient problem?"), and the seed answer's bounds (*) and (**);
  Higham 2002, §3.5; Pascanu, Mikolov & Bengio 2013, §2 (per-layer norms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradbounds import _norms, activations, costs
from gradbounds._segments import scan_or_loop, segments
from gradbounds.networks import check_finite, check_input, validate_network

__all__ = [
    "LEVELS",
    "COMPARISONS",
    "SLACK_PARTS",
    "VERDICTS",
    "SAFETY",
    "Levels",
    "Hierarchy",
    "levels",
    "levels_segments",
    "hierarchy",
    "sweep",
    "shard_networks",
    "verdict_codes",
    "identities",
]

LEVELS = ("E", "P", "J", "D", "G")
COMPARISONS = (("lower", "E"), ("E", "P"), ("P", "J"), ("J", "D"), ("D", "G"))
SLACK_PARTS = ("alignment", "submultiplicativity", "split", "activation")
VERDICTS = ("holds", "inconclusive", "violated")
SAFETY = 4.0


class Levels(NamedTuple):
    """Natural-log levels per layer (arrays of shape ``(..., L)``) and their error bounds."""

    lower: jax.Array
    E: jax.Array
    P: jax.Array
    J: jax.Array
    D: jax.Array
    G: jax.Array
    err_lower: jax.Array
    err_E: jax.Array
    err_P: jax.Array
    err_J: jax.Array
    err_D: jax.Array
    err_G: jax.Array
    finite: jax.Array  # z^l and σ'(z^l) finite, per layer
    tight_DG: jax.Array  # max|σ_r'(z^r)| == γ_r for every r >= l: D and G are the same sum


def _rcumsum(x):
    return jnp.flip(jnp.cumsum(jnp.flip(x, -1), -1), -1)


def _safe_log(x):
    return jnp.log(jnp.where(x > 0, x, 0.0))


def _weight_stats(segs, u: float):
    """Per segment: ``log ‖W^r‖``, its error bound and the column maxima ``max_j |W^r_{ji}|``.

    One network's weights, shared by all its examples.  Segment 0 leaves out
    ``W^1``, which no level uses.
    """
    out = []
    for i, seg in enumerate(segs):
        W = seg.W if i > 0 else seg.W[1:]
        if W.shape[0] == 0:
            out.append(None)
            continue
        lw, ew = jax.vmap(lambda w: _norms.log_norm(w, u))(W)
        out.append((lw, ew, jnp.max(jnp.abs(W), axis=-2)))
    return tuple(out)


def _step_factory(n_L: int, u: float):
    """One backward step at layer l: item (σ'(z^l), W^{l+1}, its stats); carry (v, Q̃).

    ``B^l = Σ'(z^l)(W^{l+1})^T`` is formed scaled by ``2^{-e}`` (exactly), with
    ``2^e ≈ max|B^l_{ij}| = max_i |σ'(z^l_i)| max_j |W^{l+1}_{ji}|``, so that
    the products below neither over- nor underflow; ``e log 2`` is added back
    to every log.
    """
    log2 = float(np.log(2.0))

    def step(carry, item):
        v, Q = carry
        d, Wn, (log_w, err_w, cmax) = item
        n_l, n_next = d.shape[-1], Wn.shape[0]
        s1, s2, e = _norms.pow2_scale(jnp.max(jnp.abs(d) * cmax))
        shift = e.astype(d.dtype) * log2
        B = (d * s1 * s2)[:, None] * Wn.T  # 2^{-e} B^l
        fB = jnp.sqrt(jnp.sum(B * B))
        # E: rescaled backprop, δ^l ∝ B^l v
        w = B @ v
        nw = jnp.linalg.norm(w)
        v_new = w / jnp.where(nw > 0, nw, 1)
        err_e = jnp.where(nw > 0, (n_next + 2) * u * fB / jnp.where(nw > 0, nw, 1), 0.0) + 2 * u
        # P: rescaled product Π_l = B^l Π_{l+1}; σ_min needs the SVD's absolute accuracy
        R = B @ Q
        sv = _norms.svdvals(R)  # one matrix a LAPACK call under vmap (see _norms.one_at_a_time)
        s = sv[0]
        smin = sv[-1] if n_l >= n_L else jnp.zeros((), R.dtype)
        Q_new = R / jnp.where(s > 0, s, 1)
        fQ = jnp.sqrt(jnp.sum(Q * Q))
        svd_r = 2 * max(n_l, n_L) * u
        err_p = jnp.where(s > 0, (n_next + 2) * u * fB * fQ / jnp.where(s > 0, s, 1), 0.0) + svd_r + 2 * u
        # J: ‖B^l‖ from the Gram matrix (see gradbounds._norms)
        log_b, err_b = _norms.log_norm_scaled(B, u)
        out = dict(
            inc_E=_safe_log(nw) + shift,
            inc_P=_safe_log(s) + shift,
            smin_rel=smin / jnp.where(s > 0, s, 1),
            log_B=log_b + shift,
            S=jnp.max(jnp.abs(d)),
            log_S=_safe_log(jnp.max(jnp.abs(d))),
            log_W=log_w,
            err_E=err_e,
            err_P=err_p,
            err_B=err_b,
            err_W=err_w,
            finite=jnp.all(jnp.isfinite(d)),
        )
        return (v_new, Q_new), out

    return step


def levels(net, x, y, *, cost="quadratic") -> Levels:
    """The five levels, the lower bound and their rounding-error bounds, for one example.

    Pure and traceable: ``jax.jit`` (with ``cost`` static) and ``jax.vmap``
    over networks and examples apply.  No input validation; use
    :func:`hierarchy` for checked inputs, verdicts and summaries.

    Args:
      net: tuple of :class:`~gradbounds.Layer`.
      x: input ``(n_0,)``.
      y: target ``(n_L,)``.
      cost: ``"quadratic"``, ``"cross-entropy"`` or a callable ``C(a, y)``.

    Returns:
      :class:`Levels` with arrays of shape ``(L,)`` (natural logs).

    References:
      DESIGN.md §2; Nielsen ch. 2 (BP1, BP2) and ch. 5; the seed answer's (*), (**).
    """
    return levels_segments(segments(tuple(net)), x, y, cost=cost)


def levels_segments(segs, x, y, *, cost="quadratic") -> Levels:
    """:func:`levels` on a network already cut by :func:`gradbounds._segments.segments`."""
    u = float(jnp.finfo(segs[0].W.dtype).eps) / 2
    return _levels_core(segs, _weight_stats(segs, u), x, y, cost=cost)


def _levels_core(segs, wstats, x, y, *, cost) -> Levels:
    """:func:`levels_segments` given :func:`_weight_stats`, which depend on the network only."""
    dtype = segs[0].W.dtype
    u = float(jnp.finfo(dtype).eps) / 2
    acts = [activations.get(seg.activation) for seg in segs]
    L = sum(seg.length for seg in segs)

    # forward pass, segment by segment
    zs, a = [], x
    for seg, act in zip(segs, acts):

        def fstep(a_prev, wb, act=act):
            z = wb[0] @ a_prev + wb[1]
            return act.fn(z), z

        a, z = scan_or_loop(fstep, a, (seg.W, seg.b))
        zs.append(z)
    z_L = zs[-1][-1]
    act_L = acts[-1]
    out = costs.output_error(cost, act_L, z_L, a, y)
    n_L = z_L.shape[0]

    # output layer
    m = act_L.deriv(z_L) if out.start == "grad_a" else jnp.ones_like(z_L)
    log_g = _safe_log(jnp.linalg.norm(out.g))
    log_M = _safe_log(jnp.max(jnp.abs(m)))
    nd = jnp.linalg.norm(out.delta)
    E_L = _safe_log(nd)
    v = out.delta / jnp.where(nd > 0, nd, 1)
    Q = jnp.diag(m) / jnp.where(log_M > -jnp.inf, jnp.exp(log_M), 1)
    gamma_L = act_L.gamma if out.start == "grad_a" else 1.0
    lower_L = (_safe_log(jnp.min(jnp.abs(m))) if out.start == "grad_a" else jnp.zeros((), dtype)) + log_g

    # backward pass over items (σ'(z^l), W^{l+1}), l = L-1..1
    step = _step_factory(n_L, u)
    carry = (v, Q)
    pieces = []
    for s in reversed(range(len(segs))):
        seg, act = segs[s], acts[s]
        if s < len(segs) - 1:  # last layer of segment s paired with first W of s+1
            stats = jax.tree_util.tree_map(lambda t: t[0], wstats[s + 1])
            carry, o = step(carry, (act.deriv(zs[s][-1]), segs[s + 1].W[0], stats))
            pieces.append(jax.tree_util.tree_map(lambda t: t[None], o))
        if seg.length > 1:  # W^{l+1} for the layers l of segment s but its last
            stats = wstats[s] if s == 0 else jax.tree_util.tree_map(lambda t: t[1:], wstats[s])
            carry, o = scan_or_loop(step, carry, (act.deriv(zs[s][:-1]), seg.W[1:], stats), reverse=True)
            pieces.append(o)
    keys = ("inc_E", "inc_P", "smin_rel", "log_B", "S", "log_S", "log_W", "err_E", "err_P", "err_B", "err_W")
    if pieces:
        per = {k: jnp.concatenate([p[k] for p in reversed(pieces)]) for k in keys + ("finite",)}
    else:
        per = {k: jnp.zeros((0,), dtype) for k in keys}
        per["finite"] = jnp.zeros((0,), bool)

    def tail(x_, last):  # append the value of layer L
        return jnp.concatenate([x_, jnp.reshape(jnp.asarray(last, dtype), (1,))])

    gammas = [act.gamma for seg, act in zip(segs, acts) for _ in range(seg.length)][:-1]
    log_gamma = jnp.asarray(np.log(gammas), dtype).reshape(-1)
    logQ = _rcumsum(tail(per["inc_P"], log_M))
    E = _rcumsum(tail(per["inc_E"], E_L))
    P = logQ + log_g
    sumW = _rcumsum(tail(per["log_W"], 0.0))
    J = _rcumsum(tail(per["log_B"], log_M)) + log_g
    D = _rcumsum(tail(per["log_S"], log_M)) + sumW + log_g
    G = _rcumsum(tail(log_gamma, np.log(gamma_L))) + sumW + log_g

    # rounding-error bounds (natural-log units), see the module docstring
    n_terms = jnp.arange(L, 0, -1, dtype=dtype) + 2
    err0 = (n_L + 2) * u

    def logsum_err(*terms):
        mag = sum(_rcumsum(jnp.abs(jnp.where(jnp.isfinite(t), t, 0.0))) for t in terms)
        return u * n_terms * (mag + jnp.abs(jnp.where(jnp.isfinite(log_g), log_g, 0.0)))

    err_E = _rcumsum(tail(per["err_E"], err0)) + logsum_err(tail(per["inc_E"], E_L))
    err_P = _rcumsum(tail(per["err_P"], err0)) + logsum_err(tail(per["inc_P"], log_M))
    # certified lower bound: σ_min(Π_l)/‖Π_l‖ minus its rounding error, floored at 0
    ratio = per["smin_rel"] - SAFETY * err_P[:-1]
    lower = tail(logQ[:-1] + _safe_log(ratio) + log_g, lower_L)
    err_lower = tail(err_P[:-1], 2 * err0)
    err_W = _rcumsum(tail(per["err_W"], 0.0))
    err_J = _rcumsum(tail(per["err_B"], err0)) + logsum_err(tail(per["log_B"], log_M))
    err_D = err_W + err0 + logsum_err(tail(per["log_S"], log_M), tail(per["log_W"], 0.0))
    err_G = err_W + err0 + logsum_err(tail(log_gamma, np.log(gamma_L)), tail(per["log_W"], 0.0))

    zfin = jnp.concatenate([jnp.all(jnp.isfinite(zz), axis=-1) for zz in zs])
    last_ok = jnp.all(jnp.isfinite(m)) & jnp.all(jnp.isfinite(out.delta))
    finite = zfin & jnp.concatenate([per["finite"], last_ok[None]])
    # D and G are the same sum where every actual max σ' equals γ (relu, linear, ...): D ≡ G there
    sat = jnp.concatenate([per["S"] == jnp.asarray(gammas, dtype).reshape(-1), (jnp.max(jnp.abs(m)) == gamma_L)[None]])
    tight_DG = _rcumsum((~sat).astype(jnp.int32)) == 0
    return Levels(lower, E, P, J, D, G, err_lower, err_E, err_P, err_J, err_D, err_G, finite, tight_DG)


def identities(widths, start: str) -> np.ndarray:
    """Mask ``(L, 5)`` of comparisons whose two sides are equal in exact arithmetic.

    The computed sides agree only to rounding, so without this mask such a
    comparison would always be *inconclusive*.  With factors
    ``B^l, ..., B^{L-1}, M_L`` (shapes ``n_r × n_{r+1}``):

    * ``E ≡ P`` and ``lower ≡ E`` when ``n_L = 1`` (``Π_l`` is a column, so
      ``‖Π_l g‖ = ‖Π_l‖|g| = σ_min(Π_l)|g|``), or at ``l = L`` when ``M_L = I``;
    * ``P ≡ J`` when every inner dimension ``n_{l+1}, ..., n_L`` is 1 (a
      product of rank-one factors through scalars), at ``l = L`` (no factor
      but ``M_L``), and at ``l = L-1`` when ``M_L = I``;
    * ``J ≡ D`` when every ``n_r = 1`` for ``r = l..L-1`` (``Σ'(z^r)`` is a
      scalar), and at ``l = L``;
    * ``D ≡ G`` at ``l = L`` when ``M_L = I`` (both are ``‖g‖``).
    """
    ws = tuple(int(n) for n in widths)
    L = len(ws) - 1
    idx = {c: j for j, c in enumerate(COMPARISONS)}
    mask = np.zeros((L, len(COMPARISONS)), bool)
    delta = start == "delta"
    for l in range(1, L + 1):
        row = mask[l - 1]
        if ws[L] == 1 or (delta and l == L):
            row[idx["E", "P"]] = row[idx["lower", "E"]] = True
        if l == L or all(n == 1 for n in ws[l + 1 : L + 1]) or (delta and l == L - 1):
            row[idx["P", "J"]] = True
        if l == L or all(n == 1 for n in ws[l:L]):
            row[idx["J", "D"]] = True
        if delta and l == L:
            row[idx["D", "G"]] = True
    return mask


def verdict_codes(lv: Levels, *, start: str, widths=None) -> jax.Array:
    """Verdict codes per layer and comparison: 0 holds, 1 inconclusive, 2 violated.

    Shape ``(..., L, 5)`` in the order of :data:`COMPARISONS`.  ``X ≤ Y``
    holds when ``log Y − log X > SAFETY·(err_X + err_Y)`` or ``X = 0``, is
    violated when the gap is below minus that, and inconclusive otherwise;
    comparisons that are identities in exact arithmetic (:func:`identities`)
    hold, and so does ``D ≤ G`` where every computed ``max|σ_r'|`` equals
    ``γ_r`` (the two sides are then the same sum of the same numbers, and the
    true ``σ'`` cannot exceed its supremum).  Without ``widths`` only the identities that hold for every width
    are applied (as if every ``n_l > 1``).
    """
    if widths is None:
        widths = (2,) * (lv.E.shape[-1] + 1)
    codes = []
    for lo, hi in COMPARISONS:
        x, y = getattr(lv, lo), getattr(lv, hi)
        margin = SAFETY * (getattr(lv, "err_" + lo) + getattr(lv, "err_" + hi))
        gap = jnp.where(x == -jnp.inf, jnp.inf, y - x)
        c = jnp.where(gap > margin, 0, jnp.where(gap < -margin, 2, 1))
        if (lo, hi) == ("D", "G"):
            c = jnp.where(lv.tight_DG, 0, c)
        codes.append(c)
    codes = jnp.stack(codes, -1)
    return jnp.where(identities(widths, start), 0, codes)


def _levels_examples(segs, x, y, cost):
    """Levels of one network at examples ``x`` ``(n, n_0)``: the weight norms once, then vmap."""
    u = float(jnp.finfo(segs[0].W.dtype).eps) / 2
    ws = _weight_stats(segs, u)
    return jax.vmap(lambda xx, yy: _levels_core(segs, ws, xx, yy, cost=cost))(x, y)


@partial(jax.jit, static_argnames=("cost",))
def _levels_batch(segs, x, y, cost):
    return _levels_examples(segs, x, y, cost)


@partial(jax.jit, static_argnames=("cost",))
def _levels_sweep(segs, x, y, cost):
    return jax.vmap(lambda sg, xx, yy: _levels_examples(sg, xx, yy, cost))(segs, x, y)


def _start(net, cost) -> str:
    c = costs.get_cost(cost)
    return "delta" if (net[-1].activation in c.cancels_with and c.from_z is not None) else "grad_a"


@dataclass
class Hierarchy:
    """Result of :func:`hierarchy`: levels (natural log), verdicts and summaries.

    Attributes:
      levels: :class:`Levels` with arrays of shape ``(*batch, L)``.
      codes: verdict codes ``(*batch, L, 5)`` (see :func:`verdict_codes`).
      widths, dtype, cost, start: what was computed.
      batch: names of the leading axes, e.g. ``("example",)``.
    """

    levels: Levels
    codes: np.ndarray
    widths: tuple
    dtype: str
    cost: str
    start: str
    batch: tuple = field(default_factory=tuple)

    def log10(self, level: str) -> np.ndarray:
        """log10 of a level (``"E"``, ..., ``"G"``, ``"lower"``), shape ``(*batch, L)``."""
        return np.asarray(getattr(self.levels, level)) / np.log(10)

    def slack_log10(self) -> dict[str, np.ndarray]:
        """``log10 G − log10 E`` split into its four steps (see :data:`SLACK_PARTS`).

        alignment = P − E (vector vs the product's top direction);
        submultiplicativity = J − P; split = D − J (‖Σ'W‖ vs ‖Σ'‖‖W‖);
        activation = G − D (γ vs the actual max σ').
        """
        lv = {k: self.log10(k) for k in LEVELS}
        with np.errstate(invalid="ignore"):
            return {
                "alignment": lv["P"] - lv["E"],
                "submultiplicativity": lv["J"] - lv["P"],
                "split": lv["D"] - lv["J"],
                "activation": lv["G"] - lv["D"],
                "total": lv["G"] - lv["E"],
            }

    def layer_verdicts(self) -> list[str]:
        """Worst verdict per layer over the batch and the five comparisons."""
        worst = np.max(self.codes.reshape(-1, self.codes.shape[-2], self.codes.shape[-1]), axis=(0, 2))
        return [VERDICTS[int(c)] for c in worst]

    @property
    def verdict(self) -> str:
        """The worst verdict over everything."""
        return VERDICTS[int(np.max(self.codes))]

    def to_dict(self) -> dict:
        """JSON-ready summary; with a batch, each level is the median of log10 (min, max beside it).

        Medians, not means: a dead relu network has ``E = 0`` exactly
        (``log10 = -inf``), which would swallow a mean.
        """
        L = len(self.widths) - 1
        slack = self.slack_log10()
        batched = self.codes.ndim > 2
        layers = []
        verdicts = self.layer_verdicts()
        for i in range(L):
            entry = {"layer": i + 1}
            vals = {k: self.log10(k)[..., i] for k in LEVELS}
            entry["log10"] = {k: _num(np.median(v)) for k, v in vals.items()}
            entry["log10_lower"] = _num(np.median(self.log10("lower")[..., i]))
            entry["slack_log10"] = {k: _median_slack(v[..., i]) for k, v in slack.items()}
            if batched:
                entry["log10_min"] = {k: _num(np.min(v)) for k, v in vals.items()}
                entry["log10_max"] = {k: _num(np.max(v)) for k, v in vals.items()}
            codes = self.codes[..., i, :].reshape(-1, len(COMPARISONS))
            entry["comparisons"] = {
                f"{lo}<={hi}": VERDICTS[int(np.max(codes[:, j]))] for j, (lo, hi) in enumerate(COMPARISONS)
            }
            entry["verdict"] = verdicts[i]
            layers.append(entry)
        out = {
            "widths": list(self.widths),
            "cost": self.cost,
            "dtype": self.dtype,
            "start": self.start,
            "layers": layers,
            "verdict": self.verdict,
        }
        if batched:
            out["summary"] = (
                f"log10 values are medians over {' x '.join(self.batch)} "
                f"({int(np.prod(self.codes.shape[:-2]))} in all); log10_min/log10_max beside them; "
                "verdicts are the worst case"
            )
        return out


def _median_slack(v):
    """Median of the slack over the examples where it is defined (E > 0)."""
    v = np.asarray(v).reshape(-1)
    v = v[np.isfinite(v)]
    return _num(np.median(v)) if v.size else None


def _num(v):
    v = float(v)
    return v if np.isfinite(v) else (None if np.isnan(v) else ("inf" if v > 0 else "-inf"))


def _check_levels(lv: Levels) -> None:
    fin = np.asarray(lv.finite).reshape(-1, np.shape(lv.finite)[-1])
    bad_layers = np.where(~np.all(fin, axis=0))[0]
    if bad_layers.size:
        l = int(bad_layers[0]) + 1
        raise ValueError(f"layer {l}: z^{l} or σ'(z^{l}) is not finite (overflow in the forward pass?)")
    for name in ("lower",) + LEVELS:
        arr = np.asarray(getattr(lv, name))
        bad = np.isnan(arr) | (arr == np.inf)
        if bad.any():
            l = int(np.argwhere(bad)[0][-1]) + 1
            raise ValueError(
                f"layer {l}: level {name} is {arr[tuple(np.argwhere(bad)[0])]} (a norm overflowed or was NaN)"
            )


def _prepare(net, x, y):
    widths = validate_network(net)
    x, y = jnp.asarray(x), jnp.asarray(y)
    check_input(net, x, "x")
    check_input(net, y, "y", n=widths[-1])
    if x.shape[:-1] != y.shape[:-1]:
        raise ValueError(f"x and y: expected the same batch shape, got {x.shape[:-1]} and {y.shape[:-1]}")
    return widths, x, y


def hierarchy(net, x, y, *, cost="quadratic") -> Hierarchy:
    """The bound hierarchy for one network at one or many examples, with verdicts.

    .. math::  L_l \\le E_l \\le P_l \\le J_l \\le D_l \\le G_l, \\quad l = 1..L.

    Args:
      net: tuple of :class:`~gradbounds.Layer`.
      x: ``(n_0,)`` or ``(n, n_0)``.
      y: ``(n_L,)`` or ``(n, n_L)``.
      cost: ``"quadratic"``, ``"cross-entropy"`` or a callable ``C(a, y)``.

    Returns:
      :class:`Hierarchy`.

    Raises:
      ValueError, TypeError: bad shapes, dtypes, NaN or inf (naming the layer).

    References:
      DESIGN.md §2; Nielsen ch. 5; the seed answer's bounds (*) and (**).
    """
    widths, x, y = _prepare(net, x, y)
    net = tuple(net)
    single = x.ndim == 1
    lv = _levels_batch(segments(net), x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1]), costs.get_cost(cost))
    if single:
        lv = jax.tree_util.tree_map(lambda t: t[0], lv)
    _check_levels(lv)
    start = _start(net, cost)
    codes = np.array(verdict_codes(lv, start=start, widths=widths))
    return Hierarchy(
        jax.tree_util.tree_map(np.asarray, lv),
        codes,
        widths,
        str(net[0].W.dtype),
        costs.get_cost(cost).name,
        start,
        () if single else ("example",),
    )


def shard_networks(tree, devices=None):
    """Puts every array of ``tree`` on a 1-D device mesh, split along its leading (network) axis.

    The leading axis N is padded to a multiple of the number of devices by
    repeating the last entry (the padding is computed and dropped: every
    network's numbers are computed exactly as without sharding).  With one
    device the arrays are returned as they are.  ``devices`` defaults to
    ``jax.devices()`` (every GPU or TPU of the host, or the CPU devices that
    ``XLA_FLAGS=--xla_force_host_platform_device_count=K`` creates).

    .. math::  N \\mapsto \\lceil N / d \\rceil d,\\qquad \\text{shard } i = \\text{networks } [i N/d, (i+1) N/d).

    References:
      JAX documentation, "Distributed arrays and automatic parallelization"
      (``jax.sharding.NamedSharding`` over a ``Mesh``).
    """
    devices = list(jax.devices() if devices is None else devices)
    if len(devices) == 1:
        return tree
    leaves = jax.tree_util.tree_leaves(tree)
    n = leaves[0].shape[0]
    pad = -n % len(devices)
    if pad:
        tree = jax.tree_util.tree_map(lambda t: jnp.concatenate([t, jnp.repeat(t[-1:], pad, axis=0)]), tree)
    mesh = jax.sharding.Mesh(np.array(devices), ("network",))
    spec = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("network"))
    return jax.device_put(tree, spec)


def sweep(nets, x, y, *, cost="quadratic") -> Hierarchy:
    """The hierarchy for a stack of networks (leading axis N) at examples ``x``, ``y``.

    ``nets`` is a network whose arrays have a leading axis N (for example
    ``jax.vmap(init_network)`` over keys); ``x`` is ``(N, n, n_0)``; ``y``
    ``(N, n, n_L)``.  The computation is one ``jit(vmap(vmap(levels)))``,
    sharded over the network axis across every device of the host
    (:func:`shard_networks`): the same call runs on one CPU or on all GPUs,
    with the same numbers.
    """
    nets = tuple(nets)
    first = jax.tree_util.tree_map(lambda t: t[0], nets)
    widths, _, _ = _prepare(first, x[0], y[0])
    for l, layer in enumerate(nets, start=1):
        check_finite(f"layer {l}: W", layer.W)
        check_finite(f"layer {l}: b", layer.b)
    check_finite("x", x)
    check_finite("y", y)
    n = x.shape[0]
    segs, x, y = shard_networks((segments(nets, batched=True), x, y))
    lv = _levels_sweep(segs, x, y, costs.get_cost(cost))
    lv = jax.tree_util.tree_map(lambda t: t[:n], lv)
    _check_levels(lv)
    start = _start(first, cost)
    codes = np.array(verdict_codes(lv, start=start, widths=widths))
    return Hierarchy(
        jax.tree_util.tree_map(np.asarray, lv),
        codes,
        widths,
        str(first[0].W.dtype),
        costs.get_cost(cost).name,
        start,
        ("network", "example"),
    )
