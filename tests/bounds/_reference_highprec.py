"""An independent high-precision reference for the bound hierarchy, in ball arithmetic (tests only).

Shares no code with gradbounds (neither its mpmath module nor its activations):
every quantity is an arb ball (python-flint, Johansson's Arb) that provably
contains the exact real number for the given floats, which convert to balls
exactly.  For layers ``l = 1..L`` (Nielsen's notation, ``W^l`` of shape
``(n_l, n_{l-1})``):

.. math::

   z^l = W^l a^{l-1} + b^l,\\quad a^l = σ_l(z^l),\\quad
   B^l = Σ'_l(z^l)(W^{l+1})^T,\\quad Π_l = B^l ⋯ B^{L-1} M_L,\\quad δ^l = Π_l g,

   \\text{lower}_l = σ_{n_L}(Π_l)\\|g\\|\\ (n_l ≥ n_L,\\ \\text{else } 0),\\quad
   E_l = \\|δ^l\\|,\\quad P_l = \\|Π_l\\|\\|g\\|,\\quad
   J_l = \\textstyle∏_{r=l}^{L-1}\\|B^r\\|\\,\\|M_L\\|\\,\\|g\\|,

   D_l = \\textstyle∏_{r=l}^{L-1}\\max|σ_r'(z^r)|\\,\\|M_L\\|∏_{r=l+1}^{L}\\|W^r\\|\\,\\|g\\|,\\quad
   G_l = \\textstyle∏_{r=l}^{L-1}γ_r\\,γ_L^{[M_L = Σ']}∏_{r=l+1}^{L}\\|W^r\\|\\,\\|g\\|,

with ``g = a^L − y`` and ``M_L = Σ'_L(z^L)`` for the quadratic cost, and
``g = σ(z^L) − y``, ``M_L = I`` for cross-entropy with a sigmoid output.
Spectral norms and ``σ_{n_L}`` are square roots of the extreme eigenvalues of
the smaller Gram matrix, enclosed by ``acb_mat.eig`` (closed forms for 1×1 and
2×2, where ``λ_min = det/λ_max``).  ``γ`` comes from its closed form in ball
arithmetic (silu: ``t^*`` with ``t\\tanh(t/2) = 2`` is enclosed by a sign
change, and silu' is evaluated on that ball), never from a stored float.

Activations follow their mathematical definitions, with the library's
conventions at kinks (``σ'`` equals ``jax.grad`` of σ there: relu'(0) = 0,
leaky_relu'(0) = 1, elu'(0) = 1, selu'(0) = λα, hard_tanh'(±1) = 1) and the
library's constants as the float64 numbers it multiplies by, taken exactly
(selu's λ and α, the leaky slope 0.01): the exact network is the one the
library evaluates, so ``γ_selu`` is the exact product of those two floats.  A pre-activation whose ball straddles a kink is recomputed at higher
precision; if it still does, :class:`Unresolved` is raised.

Results are log10 intervals ``[lo, hi]`` as floats rounded outwards (one
``nextafter`` step beyond the nearest float of each exact endpoint), so the
exact value lies inside; ``lo = -inf`` where the ball reaches 0 (an exact zero
cannot be told from a tiny value by a ball, unless the ball is exactly 0).  The
precision starts at 128 bits and is raised (512, 2048) while some level's ball
is wider than ``2^-60`` relative and does not reach 0.

Cost: a few hundred ball operations and at most ``3L`` eigenvalue enclosures of
size ≤ 4 per network of widths ≤ 4, about 1–3 ms (measured by
``tests/bounds/test_soundness.py``).

References:
  Johansson, "Arb: efficient arbitrary-precision midpoint-radius interval
  arithmetic", IEEE Trans. Comput. 66 (2017); python-flint (``arb``,
  ``arb_mat``, ``acb_mat.eig``); Nielsen, *Neural Networks and Deep
  Learning*, ch. 2 and 5; Klambauer et al. 2017 (selu's λ, α).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from flint import acb_mat, arb, arb_mat, ctx

LEVELS = ("lower", "E", "P", "J", "D", "G")
COMPARISONS = (("lower", "E"), ("E", "P"), ("P", "J"), ("J", "D"), ("D", "G"))
# The constants of the library's functions, as the float64 numbers it multiplies by (exact in a ball):
# the exact network is the one the library evaluates, so γ_selu = λα is the product of these two floats.
SELU_ALPHA = float("1.6732632423543772848170429916717")
SELU_LAMBDA = float("1.0507009873554804934193349852946")
LEAKY_SLOPE = 0.01
PRECISIONS = (128, 512, 2048)
REL_BITS = 60


class Unresolved(ArithmeticError):
    """A pre-activation's ball straddles a kink of σ' at the highest precision."""


class _Straddle(Exception):
    """A kink straddled or an eigenvalue not isolated: retry at a higher precision."""


# ------------------------------------------------------------------ activations in ball arithmetic
def _sig(t):
    return 1 / (1 + (-t).exp())


def _side(t, kink):
    """-1, 0 or 1: ``t`` below, exactly at, or above ``kink``; raises _Straddle if undecided."""
    if t > kink:
        return 1
    if t < kink:
        return -1
    if t.is_exact() and t == kink:
        return 0
    raise _Straddle


def _relu(t, d):
    s = _side(t, 0)
    if d:
        return arb(1) if s > 0 else arb(0)
    return t if s > 0 else arb(0)


def _leaky(t, d):
    s = _side(t, 0)
    if d:
        return arb(1) if s >= 0 else arb(LEAKY_SLOPE)
    return t if s >= 0 else arb(LEAKY_SLOPE) * t


def _elu(t, d):
    s = _side(t, 0)
    if d:
        return arb(1) if s > 0 else t.exp()
    return t if s > 0 else t.expm1()


def _selu(t, d):
    s, lam, alpha = _side(t, 0), arb(SELU_LAMBDA), arb(SELU_ALPHA)
    if d:
        return lam if s > 0 else lam * alpha * t.exp()
    return lam * t if s > 0 else lam * alpha * t.expm1()


def _hard_tanh(t, d):
    hi, lo = _side(t, 1), _side(t, -1)
    if d:
        return arb(0) if (hi > 0 or lo < 0) else arb(1)
    return arb(1) if hi > 0 else (arb(-1) if lo < 0 else t)


def _phi_cdf(t):
    return (-t / arb(2).sqrt()).erfc() / 2


def _phi_pdf(t):
    return (-t * t / 2).exp() / (2 * arb.pi()).sqrt()


def _smooth(fn, deriv):
    return lambda t, d: deriv(t) if d else fn(t)


ACTIVATIONS = {
    "sigmoid": _smooth(_sig, lambda t: _sig(t) * _sig(-t)),
    "tanh": _smooth(lambda t: t.tanh(), lambda t: t.sech() * t.sech()),
    "relu": _relu,
    "leaky_relu": _leaky,
    "elu": _elu,
    "selu": _selu,
    "softplus": _smooth(lambda t: t.exp().log1p(), _sig),
    "gelu": _smooth(lambda t: t * _phi_cdf(t), lambda t: _phi_cdf(t) + t * _phi_pdf(t)),
    "silu": _smooth(lambda t: t * _sig(t), lambda t: _sig(t) * (1 + t * _sig(-t))),
    "erf": _smooth(lambda t: t.erf(), lambda t: 2 / arb.pi().sqrt() * (-t * t).exp()),
    "hard_tanh": _hard_tanh,
    "linear": lambda t, d: arb(1) if d else t,
}


def _silu_argmax():
    """A ball containing the root ``t^*`` of ``t tanh(t/2) = 2`` (sign change at its ends)."""
    f = lambda t: t * (t / 2).tanh() - 2  # noqa: E731
    t = arb(2.3993572805154675)
    for _ in range(8):  # Newton on the midpoint; f'(t) = tanh(t/2) + t/(2 cosh²(t/2))
        t = arb((t - f(t) / ((t / 2).tanh() + t / (2 * (t / 2).cosh() * (t / 2).cosh()))).mid())
    eps = arb(2) ** (-(ctx.prec - 8))
    lo, hi = t - eps * t, t + eps * t
    if not (f(arb(lo.lower())) < 0 < f(arb(hi.upper()))):
        raise AssertionError("silu: t* is not enclosed")
    return arb(lo.lower()).union(arb(hi.upper()))


@cache
def _gamma(name: str, prec: int) -> arb:
    """γ = sup_t |σ'(t)| from its closed form, as a ball (cached per precision)."""
    with ctx.workprec(prec):
        if name == "sigmoid":
            return arb(1) / 4
        if name == "selu":
            return arb(SELU_LAMBDA) * arb(SELU_ALPHA)
        if name == "gelu":
            r = arb(2).sqrt()
            return _phi_cdf(r) + r * _phi_pdf(r)
        if name == "silu":
            return ACTIVATIONS["silu"](_silu_argmax(), True)
        if name == "erf":
            return 2 / arb.pi().sqrt()
        if name in ACTIVATIONS:
            return arb(1)
    raise KeyError(f"reference: no activation {name!r}")


def gamma_ball(name: str, prec: int = 256) -> arb:
    """A ball around γ of activation ``name`` (compare a float ``f`` as ``arb(f) >= ball``)."""
    return _gamma(name, prec)


# ------------------------------------------------------------------ norms and spectra of balls
def _nonneg(x: arb) -> arb:
    """``x`` ∩ [0, ∞) for a quantity known to be >= 0 (a ball may reach below 0)."""
    lo = x.lower()
    if lo < 0:
        return arb(0).union(arb(x.upper()))
    return x


def _sqrt(x: arb) -> arb:
    """√x for x >= 0; a ball reaching below 0 gives [0, √upper] (arb's sqrt would give NaN)."""
    if x.lower() < 0:
        return arb(0).union(arb(arb(x.upper()).sqrt().upper()))
    return x.sqrt()


def _vnorm(v) -> arb:
    return _sqrt(sum((t * t for t in v), arb(0)))


def _eig_extremes(G: arb_mat) -> tuple[arb, arb]:
    """Balls around the largest and smallest eigenvalue of a symmetric PSD matrix."""
    k = G.nrows()
    if k == 1:
        g = _nonneg(G[0, 0])
        return g, g
    if k == 2:
        a, b, c = G[0, 0], G[0, 1], G[1, 1]
        big = _nonneg((a + c + _sqrt((a - c) * (a - c) + 4 * b * b)) / 2)
        det = _nonneg(a * c - b * b)  # λ_min = det/λ_max, without the cancellation of (a + c − √…)/2
        small = _nonneg(det / big) if big > 0 else arb(0).union(arb(big.upper()))
        return big, small
    keep = [i for i in range(k) if not all(G[i, j].is_zero() for j in range(k))]
    if len(keep) < k:  # an exactly zero row and column: eigenvalue 0, deflated (eig cannot isolate it)
        if not keep:
            return arb(0), arb(0)
        big, small = _eig_extremes(arb_mat([[G[i, j] for j in keep] for i in keep]))
        return big, arb(0)
    if all(G[i, j].is_zero() for i in range(k) for j in range(k) if i != j):
        return _gershgorin(G)  # diagonal: exact (eig cannot isolate equal entries)
    try:
        eigs = [e.real for e in acb_mat(G).eig(multiple=True)]
    except ValueError:  # a multiple eigenvalue eig cannot isolate: an exact similarity, then Gershgorin
        return _similar_gershgorin(G)
    if any(e.is_nan() for e in eigs):
        return _similar_gershgorin(G)
    lo_max = max(e.lower() for e in eigs)
    hi_max = max(e.upper() for e in eigs)
    lo_min = min(e.lower() for e in eigs)
    hi_min = min(e.upper() for e in eigs)
    return _nonneg(arb(lo_max).union(arb(hi_max))), _nonneg(arb(lo_min).union(arb(hi_min)))


def _gershgorin(G: arb_mat) -> tuple[arb, arb]:
    """Coarse rigorous enclosures of λ_max and λ_min of a symmetric matrix (Rayleigh quotients, Gershgorin)."""
    k = G.nrows()
    diag = [G[i, i] for i in range(k)]
    radii = [sum((abs(G[i, j]) for j in range(k) if j != i), arb(0)) for i in range(k)]
    lo_max = max(t.lower() for t in diag)
    hi_max = max((d + r).upper() for d, r in zip(diag, radii))
    lo_min = min((d - r).lower() for d, r in zip(diag, radii))
    hi_min = min(t.upper() for t in diag)
    return _nonneg(arb(lo_max).union(arb(hi_max))), _nonneg(arb(lo_min).union(arb(hi_min)))


def _similar_gershgorin(G: arb_mat) -> tuple[arb, arb]:
    """λ_max, λ_min of symmetric G from ``A = X^{-1} G X`` (X: float64 eigenvectors, exact in arb).

    A has G's eigenvalues and is nearly diagonal, so its Gershgorin discs are
    small; the Rayleigh quotients of X's columns bound λ_max from below and
    λ_min from above.  Accurate to about ``u‖G‖`` absolutely.
    """
    k = G.nrows()
    mid = np.array([[float(G[i, j].mid()) for j in range(k)] for i in range(k)])
    _, vecs = np.linalg.eigh((mid + mid.T) / 2)
    X = arb_mat(vecs.tolist())
    A = X.inv() * G * X
    radii = [sum((abs(A[i, j]) for j in range(k) if j != i), arb(0)) for i in range(k)]
    cols = [arb_mat([[X[i, j]] for i in range(k)]) for j in range(k)]
    rq = [(c.transpose() * G * c)[0, 0] / (c.transpose() * c)[0, 0] for c in cols]
    lo_max = max(t.lower() for t in rq)
    hi_max = max((A[i, i] + radii[i]).upper() for i in range(k))
    lo_min = min((A[i, i] - radii[i]).lower() for i in range(k))
    hi_min = min(t.upper() for t in rq)
    return _nonneg(arb(lo_max).union(arb(hi_max))), _nonneg(arb(lo_min).union(arb(hi_min)))


def _svals(A: arb_mat, *, smallest_of: int | None = None) -> tuple[arb, arb | None]:
    """``σ_1(A)`` and, with ``smallest_of = k`` (A has k columns, ``rows >= k``), ``σ_k(A)``."""
    m, n = A.nrows(), A.ncols()
    if smallest_of is not None:
        G = A.transpose() * A
        big, small = _eig_extremes(G)
        return _sqrt(big), _sqrt(small)
    if m == 1 or n == 1:
        return _vnorm(A.entries()), None
    G = A * A.transpose() if m <= n else A.transpose() * A
    return _sqrt(_eig_extremes(G)[0]), None


def _diag(v) -> arb_mat:
    n = len(v)
    M = arb_mat(n, n)
    for i, t in enumerate(v):
        M[i, i] = t
    return M


# ------------------------------------------------------------------ the levels
def _mat(a) -> arb_mat:
    a = np.asarray(a, np.float64)
    return arb_mat([[arb(float(t)) for t in row] for row in a])


def _balls(layers, x, y, cost: str):
    """The six levels as balls, per layer (index l-1), at the current precision."""
    acts = [ACTIVATIONS[act] for _, _, act in layers]
    Ws = [_mat(W) for W, _, _ in layers]
    a = [arb(float(t)) for t in np.asarray(x, np.float64)]
    zs = []
    for (_, b, _), Wm, act in zip(layers, Ws, acts):
        bb = np.asarray(b, np.float64)
        z = [sum((Wm[i, j] * a[j] for j in range(len(a))), arb(0)) + arb(float(bb[i])) for i in range(Wm.nrows())]
        zs.append(z)
        a = [act(t, False) for t in z]
    yv = [arb(float(t)) for t in np.asarray(y, np.float64)]
    n_L, L = len(zs[-1]), len(layers)
    out_act = layers[-1][2]
    if cost == "quadratic":
        g = [s - t for s, t in zip(a, yv)]
        m = [acts[-1](t, True) for t in zs[-1]]
        gamma_L = _gamma(out_act, ctx.prec)
    elif cost == "cross-entropy" and out_act == "sigmoid":
        g = [_sig(t) - u for t, u in zip(zs[-1], yv)]
        m = [arb(1)] * n_L
        gamma_L = arb(1)
    else:
        raise ValueError(f"reference: cost {cost!r} with output activation {out_act!r} is not defined here")
    ng = _vnorm(g)
    M = _diag(m)
    normM = arb(max(abs(t).lower() for t in m)).union(arb(max(abs(t).upper() for t in m)))
    delta = arb_mat([[s * t] for s, t in zip(m, g)])
    Pi = M
    prodB = normM
    prodS = normM
    prodW = arb(1)
    prodGam = gamma_L
    res = {k: [None] * L for k in LEVELS}
    widths = [Wm.ncols() for Wm in Ws[:1]] + [Wm.nrows() for Wm in Ws]
    for l in range(L, 0, -1):
        if l < L:
            d = [acts[l - 1](t, True) for t in zs[l - 1]]
            B = _diag(d) * Ws[l].transpose()
            delta = B * delta
            Pi = B * Pi
            prodB = prodB * _svals(B)[0]
            absd = [abs(t) for t in d]
            prodS = prodS * arb(max(t.lower() for t in absd)).union(arb(max(t.upper() for t in absd)))
            prodW = prodW * _svals(Ws[l])[0]
            prodGam = prodGam * _gamma(layers[l - 1][2], ctx.prec)
        tall = widths[l] >= n_L
        top, small = _svals(Pi, smallest_of=n_L if tall else None)
        res["E"][l - 1] = _vnorm(delta.entries())
        res["P"][l - 1] = top * ng
        res["lower"][l - 1] = small * ng if tall else arb(0)
        res["J"][l - 1] = prodB * ng
        res["D"][l - 1] = prodS * prodW * ng
        res["G"][l - 1] = prodGam * prodW * ng
    return res


def _ok(ball: arb) -> bool:
    """Accurate enough: contains 0 (possibly an exact zero) or relative width below 2^-REL_BITS."""
    if ball.lower() <= 0:
        return True
    return ball.rel_accuracy_bits() >= REL_BITS


def _down(v: arb) -> float:
    f = float(v)
    return float(np.nextafter(f, -np.inf)) if math.isfinite(f) else f


def _up(v: arb) -> float:
    f = float(v)
    return float(np.nextafter(f, np.inf)) if math.isfinite(f) else f


def _log10_interval(ball: arb) -> tuple[float, float]:
    lo, hi = ball.lower(), ball.upper()
    ln10 = arb(10).log()
    lo10 = -math.inf if lo <= 0 else _down((arb(lo).log() / ln10).lower())
    hi10 = -math.inf if hi <= 0 else _up((arb(hi).log() / ln10).upper())
    return lo10, hi10


def reference_levels(layers, x, y, *, cost: str = "quadratic") -> dict:
    """log10 enclosures of the six levels of one network at one example.

    Args:
      layers: sequence of ``(W, b, activation_name)`` with float arrays
        (float32 or float64: each value converts to a ball exactly).
      x: input ``(n_0,)``; y: target ``(n_L,)``.
      cost: ``"quadratic"`` or ``"cross-entropy"`` (sigmoid output only).

    Returns:
      ``{level: (lo, hi)}`` with float arrays of shape ``(L,)`` (log10,
      rounded outwards; ``lo = -inf`` where the ball reaches 0), and
      ``"precision"``: the bits used.

    Raises:
      Unresolved: a pre-activation at a kink of σ' that 2048 bits cannot decide.
    """
    layers = [(np.asarray(W), np.asarray(b), str(act)) for W, b, act in layers]
    for prec in PRECISIONS:
        with ctx.workprec(prec):
            try:
                res = _balls(layers, x, y, cost)
            except _Straddle:
                continue
            if prec != PRECISIONS[-1] and not all(_ok(b) for k in LEVELS for b in res[k]):
                continue
            out = {k: tuple(np.array(v) for v in zip(*(_log10_interval(b) for b in res[k]))) for k in LEVELS}
            out["precision"] = prec
            return out
    raise Unresolved("a pre-activation lies on a kink of σ' within 2048 bits")


def decided(ref: dict, lo: str, hi: str) -> np.ndarray:
    """Per layer: 1 where ``lo ≤ hi`` is proved by the reference, -1 where ``lo > hi`` is, 0 if undecided."""
    lo_hi, hi_lo = ref[lo][1], ref[hi][0]
    lo_lo, hi_hi = ref[lo][0], ref[hi][1]
    return np.where(lo_hi <= hi_lo, 1, np.where(lo_lo > hi_hi, -1, 0))
