"""The hierarchy over blocks, floor ≤ lower ≤ E ≤ P ≤ J ≤ D ≤ G, for networks with residual blocks.

With the block errors ``e^k`` (``δ^k = ∂C/∂b^k`` for a plain layer,
``∂C/∂h^k`` for a residual block: :mod:`gradbounds.residual._blocks`),
backpropagation over blocks is ``e^k = A_k e^{k+1}``, ``e^K = M g``, with the
block factor

.. math::

   A_k = S_k\\,(T^{k+1})^T,\\qquad
   S_k = \\begin{cases} Σ'(z^k) & \\text{block } k \\text{ plain}\\\\ I & \\text{residual}\\end{cases},\\qquad
   T^{k+1} = \\begin{cases} W^{k+1} & \\text{block } k{+}1 \\text{ plain}\\\\ I + J_{F_{k+1}} & \\text{residual}\\end{cases}

(on a network of plain layers ``A_k = B^k`` and everything below is
:func:`gradbounds.hierarchy`'s hierarchy).  ``g`` and ``M`` are as there for a
plain output layer; after a residual output block ``g = ∇_{h^K} C`` and
``M = I``.  For every block ``k = 1..K`` (docs/design.md §2.5):

.. math::

   \\mathrm{floor}_k &= \\textstyle∏_{r=k}^{K-1} s_r\\; σ_{\\min}(M)\\,\\|g\\| \\\\
   \\mathrm{lower}_k &= σ_{\\min}(A_k ⋯ A_{K-1} M)\\,\\|g\\| \\quad (n_k ≥ n_K) \\\\
   E_k &= \\|e^k\\| \\\\
   P_k &= \\|A_k ⋯ A_{K-1} M\\|\\,\\|g\\| \\\\
   J_k &= \\textstyle∏_{r=k}^{K-1}\\|A_r\\|\\,\\|M\\|\\,\\|g\\| \\\\
   D_k &= \\textstyle∏_{r=k}^{K-1}\\|S_r\\|\\,∏_{r=k+1}^{K} d_r\\,\\|M\\|\\,\\|g\\|,\\quad
      d_r = \\|W^r\\| \\text{ or } 1 + ∏_{i=1}^{m_r}\\|Σ'(z_{r,i})\\|\\,\\|W_{r,i}\\| \\\\
   G_k &= \\textstyle∏_{r=k}^{K-1}γ(S_r)\\,γ_K^{[M = Σ']}∏_{r=k+1}^{K} \\hat c_r\\,\\|g\\|,\\quad
      \\hat c_r = \\|W^r\\| \\text{ or } 1 + c_r,\\quad c_r = ∏_{i=1}^{m_r}γ_{r,i}\\|W_{r,i}\\|

with ``γ(S_r) = γ_r`` (plain) or 1 (residual), and the floor's factor
``s_r = min|σ_r'(z^r)| σ_min((W^{r+1})^T)`` (plain ``r+1``; 0 unless ``n_r ≥ n_{r+1}``)
or ``min|σ_r'| (1 − ∏_i‖Σ'(z_{r+1,i})‖‖W_{r+1,i}‖)_+`` (residual ``r+1``), using
``σ_min(I + J_F) ≥ 1 − ‖J_F‖``: where every branch has ``‖J_F‖ < 1`` the gradient
cannot vanish below ``E_k ≥ ∏_r(1 − ‖J_{F_r}‖)‖g‖``; and it cannot explode faster than
``G_k ≤ exp(Σ_r c_r)‖g‖``, since ``1 + c ≤ e^c``.  Both bounds are bounded in depth
only while ``Σ_r c_r`` is: branches scaled by ``1/K`` keep it O(1), branches scaled by
``1/√K`` (Fixup) make it O(√K), and G and the floor drift apart like ``exp(±c√K)``
though the gradient itself typically stays O(1) (docs/design.md §2.5).

Numerics: natural logs, products over depth as sums of logs (``log(1 + e^c)``
by ``logaddexp``), ``E`` by a rescaled backpropagated vector and ``P`` and
``lower`` by a rescaled product (docs/design.md §3.2–3.3), in the network's
dtype, every norm and SVD of an array scaled by a power of two (``‖Mg‖`` too: unscaled,
its square overflows float32 past ``1.8e19``); a level that is NaN or ``+inf`` all the
same is a ``ValueError`` naming the block, never a verdict.  The levels are returned as
float64 logs whatever the network's dtype (the arithmetic that produced them is the
network's).  These are *point values*, not rigorous enclosures: the verdicts compare
them with a rounding tolerance (``64(K − k + 2) n u (1 + |log Y|)``, ``n`` the
largest width), and are meant for float64.

References:
  He, Zhang, Ren & Sun 2016, CVPR; He, Zhang, Ren & Sun 2016b, ECCV, eq. (4)–(5);
  Hardt & Ma 2017, "Identity matters in deep learning", ICLR (``‖J_F‖ = O(1/K)`` keeps
  ``I + J_F`` well conditioned); Zhang, Dauphin & Ma 2019, "Fixup initialization", ICLR
  (the ``1/√K`` scaling); Balduzzi et al. 2017, "The shattered gradients problem", ICML
  (resnet gradients shatter too, sublinearly in depth); Nielsen, ch. 5 (the textbook bound);
  Horn & Johnson 2013, *Matrix Analysis*, §7.3 (σ_min(I + X) ≥ 1 − ‖X‖, Weyl).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from gradbounds import core
from gradbounds.residual._blocks import Block, Residual, _branch, _check_cost, block_jacobian, validate_blocks

__all__ = ["LEVELS", "PAIRS", "ResidualHierarchy", "residual_hierarchy"]

LEVELS = ("floor", "lower", "E", "P", "J", "D", "G")
PAIRS = tuple(zip(LEVELS[:-1], LEVELS[1:]))
LOG10E = 1.0 / math.log(10.0)
LOG2 = math.log(2.0)


def _u(dtype) -> float:
    return float(jnp.finfo(dtype).eps) / 2


def _pow2(a: np.ndarray) -> tuple[np.ndarray, int]:
    """``a / 2^e`` with ``max|a_ij|`` in ``[1/2, 1)`` (exact: a power of two) and ``e``; a zero ``a`` as is.

    Every norm and SVD below is taken of such a scaled array, so that squares neither overflow (float32
    past ``‖a‖ ≈ 1.8e19``) nor underflow, and its log is shifted back by ``e log 2`` (docs/design.md §3.2);
    the exponents are added as integers, so ``log‖M g‖`` is exactly ``log‖g‖`` where ``M = I``.
    """
    m = float(np.max(np.abs(a))) if a.size else 0.0
    if m == 0.0 or not math.isfinite(m):
        return a, 0
    e = math.frexp(m)[1]
    return np.ldexp(a, -e).astype(a.dtype, copy=False), e


def _svals(A: np.ndarray) -> tuple[np.ndarray, float]:
    """Singular values of ``A / 2^e`` (``max|a_ij|`` in ``[1/2, 1)``) and ``e log 2``: no over- or underflow."""
    As, e = _pow2(A)
    return np.linalg.svd(As, compute_uv=False), e * LOG2


def _logs(sv: np.ndarray, shift: float, i: int) -> float:
    """``log σ_i + shift`` (``−inf`` for a zero singular value)."""
    return math.log(sv[i]) + shift if sv.size and sv[i] > 0 else -math.inf


def _w_stats(W) -> tuple[float, float]:
    """``log‖W‖`` and, where ``W^T`` is tall (``n_in ≥ n_out``), ``log σ_min(W)`` (else ``−inf``)."""
    sv, shift = _svals(np.asarray(W))
    n_out, n_in = W.shape
    return _logs(sv, shift, 0), (_logs(sv, shift, -1) if n_in >= n_out else -math.inf)


@jax.jit
def _plain_forward(layer: core.Layer, h):
    """``(σ(z), z, σ'(z))`` of a plain block: one compiled program a shape and activation."""
    z = layer.W @ h + layer.b
    return layer.act.fn(z), z, layer.act.deriv(z)


@jax.jit
def _residual_forward(block: Residual, h):
    """``(h + F(h), I + J_F, (σ'(z_i))_i)`` of a residual block: one compiled program a block structure."""
    zs, a = _branch(block, h)
    return h + a, block_jacobian(block, h), tuple(q.act.deriv(z) for q, z in zip(block.layers, zs))


def _finite(*arrays) -> bool:
    return all(bool(np.all(np.isfinite(a))) for a in arrays)


def _log_max(a: np.ndarray, f=np.max) -> float:
    m = float(f(np.abs(a)))
    return math.log(m) if m > 0 else -math.inf


def _plain_stats(layer: core.Layer, h):
    """A plain block at its input ``h``: its output, σ', and the logs its levels use."""
    out, z, d = _plain_forward(layer, h)
    d = np.asarray(d)
    log_w, log_wmin = _w_stats(layer.W)
    return dict(h=out, z=z, d=d, log_w=log_w, log_smax=_log_max(d), log_smin=_log_max(d, np.min),
                log_wmin=log_wmin, ok=_finite(out, z, d))  # fmt: skip


def _residual_stats(block: Residual, h):
    """A residual block at its input ``h``: its output, ``T = I + J_F`` and the branch's log-norm products."""
    out, T, ds = _residual_forward(block, h)
    T, ds = np.asarray(T), [np.asarray(d) for d in ds]
    log_d = log_g = 0.0
    for layer, d in zip(block.layers, ds):
        log_w = _w_stats(layer.W)[0]
        gam = layer.act.gamma
        log_d += _log_max(d) + log_w
        log_g += (math.log(gam) if gam > 0 else -math.inf) + log_w
    return dict(h=out, T=T, log_branch_D=log_d, log_branch_G=log_g, ok=_finite(out, T, *ds))


def _step(A: np.ndarray, v: np.ndarray, Q: np.ndarray):
    """One step back: ``A v`` and ``A Q`` renormalised, with the logs of the scales, ``log‖A‖`` and ``σ_min/σ_max``.

    ``A``, ``A v`` and ``A Q`` are scaled by powers of two before their norms and SVDs (:func:`_pow2`).
    numpy in the network's dtype (LAPACK's SVD): no compile per shape, which a Python loop over blocks of
    changing widths would otherwise pay at every new shape.
    """
    As, ea = _pow2(A)
    ws, ew = _pow2(As @ v)
    nw = float(np.linalg.norm(ws))
    Rs, er = _pow2(As @ Q)
    sv = np.linalg.svd(Rs, compute_uv=False)
    asv = np.linalg.svd(As, compute_uv=False)
    log_A = _logs(asv, ea * LOG2, 0)
    top = _logs(sv, (ea + er) * LOG2, 0)
    rel = _logs(sv, 0.0, -1) - _logs(sv, 0.0, 0) if (Rs.shape[0] >= Rs.shape[1] and np.isfinite(top)) else -math.inf
    v2 = ws / (nw if nw > 0 else 1.0)
    Q2 = Rs / (sv[0] if sv[0] > 0 else 1.0)
    return v2, Q2, (math.log(nw) + (ea + ew) * LOG2 if nw > 0 else -math.inf), top, log_A, rel


@dataclasses.dataclass(frozen=True)
class ResidualHierarchy:
    """The hierarchy over the blocks of one network and one example (numpy arrays, natural logs).

    .. math:: \\mathrm{floor}_k ≤ \\mathrm{lower}_k ≤ E_k ≤ P_k ≤ J_k ≤ D_k ≤ G_k,\\quad k = 1..K.

    Attributes:
      kinds: ``"layer"`` or ``"residual"`` per block ``k = 1..K``.
      widths: the stream widths ``(n_0, …, n_K)``.
      levels: :data:`LEVELS` → ``(K,)`` float64 natural logs (entry ``k − 1`` for block ``k``), float64
        whatever ``dtype``: the logs of the computed quantities, not rounded again to a float32.
      start: ``"grad_a"`` (``M = Σ'(z^K)``), ``"delta"`` (σ' cancelled) or ``"stream"`` (residual output, ``M = I``).
      dtype: the dtype of the arithmetic.
      log_branch: per block, ``log ∏_i ‖Σ'(z_i)‖‖W_i‖`` of its branch (``nan`` for a plain layer): the
        data-split bound on ``log ‖J_F‖``.

    References:
      docs/design.md §2.3 (slack) and §2.5; He et al. 2016b, ECCV.
    """

    kinds: tuple[str, ...]
    widths: tuple[int, ...]
    levels: dict[str, np.ndarray]
    start: str
    dtype: str
    log_branch: np.ndarray

    def log10(self, level: str) -> np.ndarray:
        """``log10`` of a level, ``(K,)``."""
        if level not in self.levels:
            raise ValueError(f"level: expected one of {', '.join(LEVELS)}, got {level!r}")
        return self.levels[level] * LOG10E

    def slack_log10(self) -> dict[str, np.ndarray]:
        """``log10 G − log10 E`` per block (``total``) and its four steps, as in docs/design.md §2.3."""
        lv = {X: self.log10(X) for X in ("E", "P", "J", "D", "G")}
        with np.errstate(invalid="ignore"):  # E = 0 exactly (a dead relu layer): inf − inf is nan, no slack to split
            return {
                "total": lv["G"] - lv["E"],
                "alignment": lv["P"] - lv["E"],
                "submultiplicativity": lv["J"] - lv["P"],
                "split": lv["D"] - lv["J"],
                "activation": lv["G"] - lv["D"],
            }

    @property
    def ratio_log10(self) -> float:
        """``log10(E_1 / E_K)``: the first block's gradient against the last's (negative: vanishing)."""
        E = self.log10("E")
        return float(E[0] - E[-1])

    def pair_holds(self) -> dict[str, np.ndarray]:
        """Per pair ``"X<=Y"`` of :data:`PAIRS`: ``X ≤ Y`` within the rounding tolerance, per block (point values).

        The tolerance is relative, ``64(K − k + 2) n u (1 + |log Y|)`` on the logs; the comparisons with
        ``lower`` also allow the absolute error of a computed ``σ_min``, ``e^{J_k}`` times the same factor.
        """
        K = len(self.kinds)
        u = _u(self.dtype)
        tol_n = 64 * (np.arange(K, 0, -1) + 2) * max(self.widths) * u
        # σ_min of the computed product is within ‖ΔΠ‖ ≲ steps·n·u·∏‖A_r‖ of the exact one (Weyl): an absolute
        # error e^{J}·tol_n, which the comparisons with `lower` (floor ≤ lower ≤ E) allow on top of the relative one
        lv = self.levels
        with np.errstate(invalid="ignore"):
            abs_lower = np.where(np.isfinite(lv["J"]), lv["J"] + np.log(tol_n), -np.inf)
        out = {}
        for X, Y in PAIRS:
            x, y = lv[X], lv[Y]
            tol = tol_n * (1 + np.abs(np.where(np.isfinite(y), y, 0)))
            if "lower" in (X, Y):
                y = np.logaddexp(y, abs_lower)
            out[f"{X}<={Y}"] = (x <= y + tol) | np.isneginf(x)
        return out

    @property
    def verdict(self) -> str:
        """``"holds"`` when every pair holds at every block (point values, float64 meant), else ``"violated"``."""
        return "holds" if all(np.all(v) for v in self.pair_holds().values()) else "violated"


def _check_example(net, widths, x, y):
    first = net[0].layers[0] if isinstance(net[0], Residual) else net[0]
    dtype = first.W.dtype
    for name, v, n in (("x", x, widths[0]), ("y", y, widths[-1])):
        if not (hasattr(v, "dtype") and jnp.issubdtype(v.dtype, jnp.floating)):
            raise TypeError(
                f"{name}: expected a float array of dtype {dtype}, got {getattr(v, 'dtype', type(v).__name__)}"
            )
        if v.shape != (n,):
            raise ValueError(f"{name}: expected shape ({n},), got {tuple(v.shape)}")
        if v.dtype != dtype:
            raise TypeError(f"{name}: expected dtype {dtype} (the network's), got {v.dtype}")
        core.check_finite(name, v)
    return dtype


def residual_hierarchy(
    net: Sequence[Block],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "quadratic",
) -> ResidualHierarchy:
    """The levels floor ≤ lower ≤ E ≤ P ≤ J ≤ D ≤ G at every block of a network with residual blocks.

    .. math:: E_k = \\|e^k\\| ≤ P_k = \\|A_k⋯A_{K-1}M\\|\\|g\\| ≤ J_k = ∏\\|A_r\\|\\|M\\|\\|g\\|
       ≤ D_k ≤ G_k = ∏γ(S_r)\\,γ_K^{[M=Σ']}∏_{r>k}\\big(1 + γ^{m_r}∏\\|W_{r,i}\\|\\big)\\|g\\|

    (the plain-layer factors of ``G`` are ``γ_r`` and ``‖W^r‖`` as in the textbook bound; the module
    docstring and docs/design.md §2.5 give every level).  Point values in the network's dtype (meant for
    float64), not rigorous enclosures; on a network without residual blocks the levels E, P, J, D, G are
    those of :func:`gradbounds.hierarchy`.

    Args:
      net: a tuple of :class:`~gradbounds.Layer` and :class:`Residual` blocks (:func:`validate_blocks`).
      x: input ``(n_0,)``; y: target ``(n_K,)``, both of the network's dtype.
      cost: a named cost or a callable ``C(a, y)``; after a residual output block a cost that needs a
        particular output activation (cross-entropy) is refused.

    Raises:
      TypeError, ValueError: a bad block, width, dtype or example (``block k: expected …, got …``);
        a cost not defined for the last block's output (``block K: …``); NaN or inf in the forward
        pass, in a backward factor or in a level (naming the block).

    References:
      He et al. 2016, CVPR; He et al. 2016b, ECCV, eq. (5); Hardt & Ma 2017, ICLR; Balduzzi et al. 2017, ICML;
      docs/design.md §2.5.
    """
    net = tuple(net)
    widths = validate_blocks(net)
    x, y = jnp.asarray(x), jnp.asarray(y)
    dtype = _check_example(net, widths, x, y)
    c = _check_cost(net, cost)
    K = len(net)
    st, h = [], x
    for k, blk in enumerate(net, start=1):
        s = _residual_stats(blk, h) if isinstance(blk, Residual) else _plain_stats(blk, h)
        if not bool(s["ok"]):
            raise ValueError(
                f"block {k}: h^{k} or σ' in block {k} is not finite (an overflow in the forward pass?); "
                "expected finite values"
            )
        st.append(s)
        h = s["h"]
    last = net[-1]
    log_gam_m = 0.0  # log γ_K where M = Σ'(z^K), else no factor
    if isinstance(last, Residual):
        g = jax.grad(c.fn)(h, y)
        m_diag, start = np.ones_like(np.asarray(g)), "stream"
    else:
        out = core.output_error(c, last.act, st[-1]["z"], jnp.asarray(h), y)
        g, start = out.g, out.start
        m_diag = st[-1]["d"] if start == "grad_a" else np.ones_like(np.asarray(g))
        if start == "grad_a":
            log_gam_m = math.log(last.act.gamma) if last.act.gamma > 0 else -math.inf
    core.check_finite(f"block {K}: the output gradient g", g)
    g = np.asarray(g)
    am = np.abs(np.asarray(m_diag))
    with np.errstate(divide="ignore"):
        log_m, log_mmin = float(np.log(am.max())), float(np.log(am.min()))
    # ‖g‖ and ‖M g‖ of the power-of-two-scaled factors: unscaled, a square overflows float32 past 1.8e19
    (ms, em), (gs, eg) = _pow2(np.asarray(m_diag)), _pow2(g)
    mg, emg = _pow2(ms * gs)
    ng, nmg = float(np.linalg.norm(gs)), float(np.linalg.norm(mg))
    lg = math.log(ng) + eg * LOG2 if ng > 0 else -math.inf
    lv = {X: np.empty(K) for X in LEVELS}  # float64 logs whatever the dtype (ResidualHierarchy.levels)
    lv["E"][-1] = math.log(nmg) + (em + eg + emg) * LOG2 if nmg > 0 else -math.inf
    lv["P"][-1] = lv["J"][-1] = lv["D"][-1] = log_m + lg
    lv["G"][-1] = log_gam_m + lg
    lv["lower"][-1] = lv["floor"][-1] = log_mmin + lg
    v = mg / (nmg if nmg > 0 else 1.0)
    Q = np.diag(m_diag / (am.max() if am.max() > 0 else 1.0))
    for r in range(K - 1, 0, -1):  # block r = 1..K-1 (0-based index r - 1); the next block is r + 1
        blk, nxt, s, sn = net[r - 1], net[r], st[r - 1], st[r]
        T = sn["T"] if isinstance(nxt, Residual) else np.asarray(nxt.W)
        plain = isinstance(blk, core.Layer)
        # A_r = S_r T^T of the power-of-two-scaled factors (σ' times W can overflow where neither does), and the shift
        Ts, et = _pow2(T)
        ds, ed = _pow2(s["d"]) if plain else (np.ones(1, Ts.dtype), 0)
        A = ds[:, None] * Ts.T if plain else Ts.T
        v, Q, inc_E, inc_P, log_A, rel = _step(A, v, Q)
        k, shift = r - 1, (et + ed) * LOG2
        lv["E"][k] = lv["E"][k + 1] + float(inc_E) + shift
        lv["P"][k] = lv["P"][k + 1] + float(inc_P) + shift
        lv["J"][k] = lv["J"][k + 1] + float(log_A) + shift
        lv["lower"][k] = lv["P"][k] + float(rel)
        log_s = log_gs = log_smin = 0.0  # a residual block: S_r = I
        if isinstance(blk, core.Layer):
            log_s, log_smin = float(s["log_smax"]), float(s["log_smin"])
            log_gs = math.log(blk.act.gamma) if blk.act.gamma > 0 else -math.inf
        if isinstance(nxt, Residual):
            bd, bg = float(sn["log_branch_D"]), float(sn["log_branch_G"])
            d_next, c_next = float(np.logaddexp(0.0, bd)), float(np.logaddexp(0.0, bg))
            f_next = float(np.log(-np.expm1(bd))) if bd < 0 else -math.inf
        else:
            d_next = c_next = float(sn["log_w"])
            f_next = float(sn["log_wmin"])
        lv["D"][k] = lv["D"][k + 1] + log_s + d_next
        lv["G"][k] = lv["G"][k + 1] + log_gs + c_next
        lv["floor"][k] = lv["floor"][k + 1] + log_smin + f_next
    for k in range(K, 0, -1):  # the first block, going back, where a level is NaN or +inf: an error, not a verdict
        bad = [X for X in LEVELS if math.isnan(lv[X][k - 1]) or lv[X][k - 1] == math.inf]
        if bad:
            raise ValueError(
                f"block {k}: {'levels' if len(bad) > 1 else 'level'} {', '.join(bad)} "
                f"{'are' if len(bad) > 1 else 'is'} not finite "
                f"({', '.join(str(lv[X][k - 1]) for X in bad)}); expected finite logs or −inf (an exact 0)"
            )
    branch = np.array([float(s["log_branch_D"]) if isinstance(b, Residual) else np.nan for b, s in zip(net, st)])
    kinds = tuple("residual" if isinstance(b, Residual) else "layer" for b in net)
    return ResidualHierarchy(kinds, widths, lv, start, jnp.dtype(dtype).name, branch)
