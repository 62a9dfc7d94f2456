"""The levels of the hierarchy in ball arithmetic (python-flint's arb): re-deciding verdicts by proof.

Every quantity is an arb ball (Johansson's Arb: midpoint and radius) that
provably contains the exact real number for the given floats, which convert
to balls exactly.  For layers ``l = 1..L`` (Nielsen's notation, ``W^l`` of
shape ``(n_l, n_{l-1})``):

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
the smaller Gram matrix, enclosed by ``acb_mat.eig`` (closed forms for 1×1
and 2×2, where ``λ_min = det/λ_max``; an exact similarity by float
eigenvectors and Gershgorin discs where eigenvalues are not isolated).  σ,
σ' and ``γ`` come from the activation's ball twins
(:attr:`gradbounds.core.Activation.ball`, ``ball_gamma``: closed forms, never
a rounded float).  A pre-activation whose ball straddles a kink is
recomputed at higher precision.

Results are log10 intervals ``[lo, hi]`` as floats rounded outwards, so the
exact value lies inside; ``lo = -inf`` where the ball reaches 0 (an exact
zero cannot be told from a tiny value by a ball, unless the ball is exactly
0).  The precision starts at 128 bits (more for deep networks: a pass at
128 bits measures the bits the forward pass loses) and is raised (512, 2048,
up to ``2^15``) while some level's ball is wider than ``2^-60`` relative and
does not reach 0; eigenvalues are enclosed at 192 bits from balls computed at
the chain's precision (the chain needs the bits, a norm of a tight ball does
not).

This is how :func:`gradbounds.bounds.decide` (``_redecide.py``) settles a verdict the float enclosures leave
inconclusive (:func:`gradbounds.hierarchy` with ``exact="auto"``): ``X ≤ Y``
holds when ``hi_X ≤ lo_Y``, is violated when ``lo_X > hi_Y``, and stays
inconclusive otherwise.  The limit is the work: about ``Σ_l n_l^3`` ball
operations per precision (``max_work``, default ``10^7``: a few seconds; the
seed network [784, 30, 30, 30, 30, 10] takes about 0.5 s).  The tests use it
as the reference for the float enclosures (an independent method: no code in
common with :mod:`gradbounds.bounds._enclosed`) and check it against the
mpmath point values of :func:`gradbounds.bounds.exact_levels`.

References:
  Johansson, "Arb: efficient arbitrary-precision midpoint-radius interval
  arithmetic", IEEE Trans. Comput. 66 (2017); python-flint (``arb``,
  ``arb_mat``, ``acb_mat.eig``); Rump 2011, BIT 51 (verified eigenvalue
  bounds); Nielsen, *Neural Networks and Deep Learning*, ch. 2 and 5.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from jax.typing import ArrayLike

from gradbounds import core
from gradbounds.bounds._enclosed import ENCLOSED

if TYPE_CHECKING:
    from flint import arb, arb_mat

__all__ = ["ball_levels", "Unresolved"]

PRECISIONS = (128, 512, 2048)  # tried in turn; deep networks start higher (see _start_precision)
MAX_PREC = 1 << 15
EIG_PREC = 192  # eigenvalue enclosures work at this precision, whatever the chain's (their inputs are balls)
REL_BITS = 60


class Unresolved(ArithmeticError):
    """The levels cannot be enclosed: a kink straddled at the highest precision, or no ball twin."""


# ------------------------------------------------------------------ norms and spectra of balls
def _nonneg(x: arb) -> arb:
    """``x`` ∩ [0, ∞) for a quantity known to be >= 0 (a ball may reach below 0)."""
    from flint import acb_mat, arb, arb_mat  # noqa: F401  (lazy: import gradbounds stays light)

    lo = x.lower()
    if lo < 0:
        return arb(0).union(arb(x.upper()))
    return x


def _sqrt(x: arb) -> arb:
    """√x for x >= 0; a ball reaching below 0 gives [0, √upper] (arb's sqrt would give NaN)."""
    from flint import acb_mat, arb, arb_mat  # noqa: F401  (lazy: import gradbounds stays light)

    if x.lower() < 0:
        return arb(0).union(arb(arb(x.upper()).sqrt().upper()))
    return x.sqrt()


def _max_abs(balls):
    """A ball containing ``max_i |b_i|``; NaN if any ball is (Python's ``max`` would drop a NaN that came second)."""
    from flint import arb  # lazy: import gradbounds stays light

    absd = [abs(t) for t in balls]
    if any(t.is_nan() for t in absd):
        return arb("nan")
    return arb(max(t.lower() for t in absd)).union(arb(max(t.upper() for t in absd)))


def _vnorm(v) -> arb:
    from flint import arb

    return _sqrt(sum((t * t for t in v), arb(0)))


def _eig_extremes(G: arb_mat) -> tuple[arb, arb]:
    """Balls around the largest and smallest eigenvalue of a symmetric PSD matrix."""
    from flint import acb_mat, arb, arb_mat  # noqa: F401  (lazy: import gradbounds stays light)

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
        from flint import ctx

        with ctx.workprec(min(ctx.prec, EIG_PREC)):
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
    from flint import acb_mat, arb, arb_mat  # noqa: F401  (lazy: import gradbounds stays light)

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
    from flint import acb_mat, arb, arb_mat  # noqa: F401  (lazy: import gradbounds stays light)

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


def _diag(v):
    from flint import arb_mat

    n = len(v)
    M = arb_mat(n, n)
    for i, t in enumerate(v):
        M[i, i] = t
    return M


# ------------------------------------------------------------------ the levels
def _column(v):
    from flint import arb_mat

    return arb_mat([[t] for t in v])


def _entries(col) -> list:
    return [col[i, 0] for i in range(col.nrows())]


def _balls(net: Sequence[core.Layer], x: np.ndarray, y: np.ndarray, cost: str) -> dict:
    """The six levels as balls, per layer (index l-1), at the current precision."""
    from flint import arb, arb_mat

    acts = [core.get_activation(layer.activation) for layer in net]
    twins: list[Callable[[Any, bool], Any]] = []
    gammas: list[Callable[[], Any]] = []
    for l, act in enumerate(acts, start=1):
        if act.ball is None or act.ball_gamma is None:
            raise Unresolved(f"layer {l}: activation {act.name!r} has no ball twin (Activation.ball)")
        twins.append(act.ball)
        gammas.append(act.ball_gamma)
    Ws = [arb_mat(np.asarray(layer.W, np.float64).tolist()) for layer in net]
    a = _column([arb(float(t)) for t in x])
    zs = []
    for layer, Wm, twin in zip(net, Ws, twins):
        z = _entries(Wm * a)
        z = [t + arb(float(c)) for t, c in zip(z, np.asarray(layer.b, np.float64))]
        zs.append(z)
        a = _column([twin(t, False) for t in z])
    a_L = _entries(a)
    yv = [arb(float(t)) for t in y]
    n_L, L = len(zs[-1]), len(net)
    if cost == "quadratic":
        g = [s - t for s, t in zip(a_L, yv)]
        m = [twins[-1](t, True) for t in zs[-1]]
        gamma_L = gammas[-1]()
    elif cost == "cross-entropy" and acts[-1].name == "sigmoid":
        g = [twins[-1](t, False) - u for t, u in zip(zs[-1], yv)]
        m = [arb(1)] * n_L
        gamma_L = arb(1)
    elif cost == "softmax-cross-entropy" and acts[-1].name == "linear":
        # δ^L = softmax(z^L) Σy − y; exp(z_j − max) keeps the balls small at |z| ~ 700
        top = arb(max(float(t.mid()) for t in zs[-1]))
        ex = [(t - top).exp() for t in zs[-1]]
        tot, sy = sum(ex[1:], ex[0]), sum(yv[1:], yv[0])
        g = [e / tot * sy - u for e, u in zip(ex, yv)]
        m = [arb(1)] * n_L
        gamma_L = arb(1)
    else:
        raise Unresolved(f"cost {cost!r} with output activation {acts[-1].name!r}: no ball form")
    ng = _vnorm(g)
    normM = _max_abs(m)
    delta = _column([s * t for s, t in zip(m, g)])
    Pi = _diag(m)
    prodB, prodS, prodW, prodGam = normM, normM, arb(1), gamma_L
    res: dict[str, Any] = {k: [None] * L for k in (*ENCLOSED, "JD", "DG")}
    widths = [int(np.shape(net[0].W)[1])] + [int(np.shape(layer.W)[0]) for layer in net]
    # M_L = m·(diagonal of ±1), m exact (relu, linear, all active; or M_L = I): then exactly
    # σ_min(M_L) = ‖M_L‖ and ‖M_L g‖ = ‖M_L‖‖g‖ (lower = E = P at l = L), and ‖B M_L‖ = ‖B‖‖M_L‖ (P = J at L − 1)
    absm = [abs(t) for t in m]
    scalar_M = all(t.is_exact() for t in absm) and all(t == absm[0] for t in absm)
    ties = {k: np.zeros(L, bool) for k in ("lowerE", "EP", "PJ")}
    if scalar_M:
        ties["lowerE"][L - 1] = widths[L] >= n_L
        ties["EP"][L - 1] = True
        if L >= 2:
            ties["PJ"][L - 2] = True
    ratio_JD: Any = arb(1)  # J/D = ∏ ‖B^r‖/(S_r‖W^{r+1}‖) (None once undefined: S_r or ‖W‖ may be 0)
    for l in range(L, 0, -1):
        if l < L:
            d = [twins[l - 1](t, True) for t in zs[l - 1]]
            B = _diag(d) * Ws[l].transpose()
            delta = B * delta
            Pi = B * Pi
            norm_B, norm_W = _svals(B)[0], _svals(Ws[l])[0]
            prodB = prodB * norm_B
            absd = [abs(t) for t in d]
            S = _max_abs(d)
            prodS = prodS * S
            prodW = prodW * norm_W
            prodGam = prodGam * gammas[l - 1]()
            if ratio_JD is not None and S.lower() > 0 and norm_W.lower() > 0:
                # ‖diag(d)Wᵀ‖ = S‖W‖ exactly when every |d_i| is the same exact number (relu, linear, all active)
                tie = all(t.is_exact() for t in absd) and all(t == absd[0] for t in absd)
                ratio_JD = ratio_JD * (arb(1) if tie else norm_B / (S * norm_W))
            else:
                ratio_JD = None
        tall = widths[l] >= n_L
        top, small = _svals(Pi, smallest_of=n_L if tall else None)
        res["E"][l - 1] = _vnorm(_entries(delta))
        res["P"][l - 1] = top * ng
        res["lower"][l - 1] = small * ng if (tall and small is not None) else arb(0)
        res["J"][l - 1] = prodB * ng
        res["D"][l - 1] = prodS * prodW * ng
        res["G"][l - 1] = prodGam * prodW * ng
        res["JD"][l - 1] = ratio_JD
        res["DG"][l - 1] = prodS / prodGam  # D/G with ‖W‖ and ‖g‖ cancelled
    res["ties"] = ties
    return res


def _le_one(ratio) -> int:
    """1 if the ball ``ratio`` is proved ≤ 1, -1 if proved > 1, 0 otherwise (or undefined)."""
    if ratio is None or not ratio.is_finite():
        return 0
    return 1 if ratio.upper() <= 1 else (-1 if ratio.lower() > 1 else 0)


def _accuracy(ball) -> int:
    """Relative accuracy in bits; a ball that reaches 0 counts as accurate (it may be an exact zero)."""
    return 10**6 if ball.lower() <= 0 else int(ball.rel_accuracy_bits())


def _down(v) -> float:
    """A float ``≤ v`` (an exact arb number); past the float range ``+max``, never ``+inf``."""
    f = float(v)
    if f == math.inf and v.is_finite():
        return float(np.finfo(np.float64).max)
    return float(np.nextafter(f, -np.inf)) if math.isfinite(f) else f


def _up(v) -> float:
    """A float ``≥ v``; past the float range ``−max``, never the ``−inf`` of a proved zero (``log10 σ'`` at
    ``|z| = 1e300`` is about ``−4e299·|z|``)."""
    f = float(v)
    if f == -math.inf and v.is_finite():
        return -float(np.finfo(np.float64).max)
    return float(np.nextafter(f, np.inf)) if math.isfinite(f) else f


def _log10_interval(ball) -> tuple[float, float]:
    from flint import arb

    lo, hi = ball.lower(), ball.upper()
    ln10 = arb(10).log()
    lo10 = -math.inf if lo <= 0 else _down((arb(lo).log() / ln10).lower())
    hi10 = -math.inf if hi <= 0 else _up((arb(hi).log() / ln10).upper())
    return lo10, hi10


def _work(net: Sequence[core.Layer]) -> int:
    widths = [int(np.shape(net[0].W)[1])] + [int(np.shape(layer.W)[0]) for layer in net]
    return sum(max(n, 2) ** 3 for n in widths[1:]) + sum(a * b for a, b in zip(widths, widths[1:]))


def ball_levels(
    net: Sequence[core.Layer], x: ArrayLike, y: ArrayLike, *, cost: str = "quadratic", max_work: int = 10**7
) -> dict[str, Any]:
    """log10 enclosures of the six levels of one network at one example, proved in ball arithmetic.

    .. math:: \\log_{10} X_l \\in [lo_l, hi_l],\\quad X ∈ \\{\\text{lower}, E, P, J, D, G\\}.

    Args:
      net: the network (float32 or float64: each value converts to a ball exactly).
      x: one input ``(n_0,)``; y: one target ``(n_L,)``.
      cost: ``"quadratic"``, ``"cross-entropy"`` (sigmoid output) or
        ``"softmax-cross-entropy"`` (linear output, on logits).
      max_work: refuse networks with more than this many ball operations per
        precision (about ``Σ n_l^3``).

    Returns:
      ``{level: (lo, hi)}`` with float arrays of shape ``(L,)`` (log10, rounded
      outwards; ``lo = -inf`` where the ball reaches 0), ``"precision"``:
      the bits used, ``"positive"``: ``{level: bool array}``, true where the level is
      proved > 0 (``lo`` can be ``-inf`` there too, a log10 below the float range),
      and ``"ratio_decided"``: ``{"JD": ..., "DG": ...}``, per
      layer 1 where ``J/D`` (``D/G``) is proved ≤ 1 with the common factors
      cancelled (``‖W‖``, ``‖g‖``; ``‖B^r‖ = S_r‖W^{r+1}‖`` exactly where every
      ``|σ'_r|`` is the same exact number), -1 where proved > 1, else 0; and
      ``"ties"``: ``{"lowerE", "EP", "PJ"}`` boolean arrays, true where the two
      sides are equal exactly because ``M_L`` is an exact multiple of a
      diagonal of ±1 (relu or linear output, all units active).

    Raises:
      Unresolved: a pre-activation on a kink of σ' that 2048 bits cannot
        decide, an activation without a ball twin, a cost without a ball form,
        or more work than ``max_work``.

    References:
      Johansson 2017 (Arb); Nielsen, ch. 2 (BP1, BP2).
    """
    from flint import ctx

    net = tuple(net)
    cost = core.get_cost(cost).name  # "ce", "softmax-ce", ... → the registered name
    if _work(net) > max_work:
        raise Unresolved(f"the network needs about {_work(net)} ball operations, above max_work={max_work}")
    xs, ys = np.asarray(x, np.float64).reshape(-1), np.asarray(y, np.float64).reshape(-1)
    start = _start_precision(net, xs)
    ladder = [p for p in PRECISIONS if p > start] or [start]
    ladder = sorted({start, *ladder})
    while ladder[-1] < MAX_PREC:
        ladder.append(min(MAX_PREC, 2 * ladder[-1]))
    best = -1
    for prec in ladder:
        with ctx.workprec(prec):
            try:
                res = _balls(net, xs, ys, cost)
            except core.Straddle:
                continue
            # lower and P are left out: where eigenvalues are not isolated their accuracy is that of the
            # Gershgorin fallback (about u‖G‖), which more bits do not improve; and a pass that gains
            # fewer than 8 bits over the last one ends the climb (the rest is not the chain's precision)
            worst = min(_accuracy(b) for k in ("E", "J", "D", "G") for b in res[k])
            if prec != ladder[-1] and worst < REL_BITS and worst >= best + 8:
                best = worst
                continue
            out: dict[str, Any] = {
                k: tuple(np.array(v) for v in zip(*(_log10_interval(b) for b in res[k]))) for k in ENCLOSED
            }
            # where a level is proved nonzero (its log10 may still be below the float range, lo = -inf)
            out["positive"] = {k: np.array([bool(b.lower() > 0) for b in res[k]]) for k in ENCLOSED}
            out["ratio_decided"] = {k: np.array([_le_one(b) for b in res[k]]) for k in ("JD", "DG")}
            out["ties"] = res["ties"]
            out["precision"] = prec
            return out
    raise Unresolved(f"a pre-activation lies on a kink of σ' within {MAX_PREC} bits")


def _start_precision(net: Sequence[core.Layer], x: np.ndarray) -> int:
    """The precision at which the forward pass keeps ``≥ 2·REL_BITS`` bits: a cheap pass at 128 bits first.

    A deep network loses bits in every layer (the balls widen like the product
    of ``‖|W^l|‖``); the backward pass loses about as many again, so the full
    computation starts at ``128 + 2·lost + 2·REL_BITS``, rounded up to a power of 2,
    plus ``k·log2|z|`` for a twin whose ``exp`` has an exponent of degree ``k`` in ``z``
    (far out in a tail, ``e^{-z}`` needs ``z`` to 2^-128 absolute, not relative).
    """
    from flint import arb, arb_mat, ctx

    with ctx.workprec(128):
        a = _column([arb(float(t)) for t in x])
        worst, done, far = 128, 0, 0
        try:
            for layer in net:
                done += 1
                act = core.get_activation(layer.activation)
                twin = act.ball
                if twin is None:
                    return 128
                W = arb_mat(np.asarray(layer.W, np.float64).tolist())
                z = [t + arb(float(c)) for t, c in zip(_entries(W * a), np.asarray(layer.b, np.float64))]
                worst = min([worst] + [t.rel_accuracy_bits() for t in z if not t.is_zero()])
                # exp(±z^k) needs z to about 2^-128 absolute: k·log2|z| more bits (sigmoid' at z = -1.5e306 + 0.1)
                extra = getattr(twin, "extra_bits", None)
                far = max([far] + ([extra(t) for t in z] if extra else []))
                if worst < 16:  # the rest is lost anyway: extrapolate from the layers so far
                    break
                a = _column([twin(t, False) for t in z])
        except core.Straddle:
            pass
        lost = (128 - max(worst, 0)) * len(net) / max(1, done)
    need = int(128 + 2 * lost + 2 * REL_BITS + far)
    return min(MAX_PREC, 1 << max(7, (need - 1).bit_length()))
