"""Free-probability spectrum of the input-output Jacobian of a wide random network.

For ``J = ∂a^L/∂x = D^L W^L ⋯ D^1 W^1`` with ``D^l = Σ'(z^l)`` and pre-activations
``z^l ~ N(0, q*)`` (the input at the length map's fixed point), the matrices
``W^l W^{lT}`` and ``D^{l2}`` are asymptotically free, so S-transforms multiply:

.. math::

   S_{JJ^T}(m) = S_{D^2}(m)^L\\,S_{WW^T}(m)^L,\\qquad
   S_{WW^T}(m) = \\begin{cases} σ_w^{-2}/(1+m) & \\text{Gaussian } W \\\\ σ_w^{-2} & \\text{orthogonal } W\\end{cases}

with ``S(m) = (1+m)/(m M^{-1}(m))`` and ``M(x) = Σ_k m_k x^k`` (here in the
variable ``x = 1/z`` of the papers' ``M(z) = Σ_k m_k z^{-k}``).  Expanding
``S(m) = m_1^{-1}(1 - v m + O(m²))`` with ``v = (m_2 - m_1²)/m_1²`` the
normalised variance, which adds over free factors, gives the exact
(infinite-width) moments of the squared singular values ``λ`` of ``J``:

.. math::

   E[λ] = (σ_w^2 μ_1)^L = χ_1^L,\\qquad
   \\mathrm{Var}[λ] = E[λ]^2\\,L\\Big(\\frac{μ_2}{μ_1^2} - 1 - s_1\\Big),\\quad
   μ_k = E[σ'(\\sqrt{q^*}z)^{2k}],

``s_1 = -1`` (Gaussian) or ``0`` (orthogonal).  The edge of the spectrum is
where ``M^{-1}`` turns: ``λ_max = min_{m>0} M^{-1}_{JJ^T}(m)``.  Arguments
``sw2``, ``sb2`` are the variances σ_w², σ_b².

References:
  Pennington, Schoenholz & Ganguli 2017, "Resurrecting the sigmoid in deep
  learning through dynamical isometry", eqs. (7)–(12) (transforms and the
  product S_{JJ^T} = S_{WW^T}^L S_{D^2}^L), §2.5 (m_1 = χ^L and
  σ²_{JJ^T} = L(μ_2/μ_1² − 1 − s_1) at χ = 1);
  Pennington, Schoenholz & Ganguli 2018, "The emergence of spectral
  universality in deep networks", §3 (λ_max from the S-transform).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradbounds import core, spectra
from gradbounds.core import Activation
from gradbounds.theory._gauss import expect, np_activation
from gradbounds.theory._meanfield import _homogeneous, _variances, chi1, gaussian_moments, length_map_iterates, q_star

__all__ = [
    "JacobianSpectrum",
    "WEIGHT_INITS",
    "jacobian_moments",
    "jacobian_edge",
    "jacobian_spectrum",
    "s1",
    "sample_jacobian_spectrum",
]

WEIGHT_INITS = ("gaussian", "orthogonal")


def s1(init: str) -> float:
    """First S-transform coefficient of ``W Wᵀ/σ_w²``: ``-1`` (Gaussian, Marchenko–Pastur) or ``0`` (orthogonal).

    References:
      Pennington et al. 2017, §2.4 (``S_{WW^T} = σ_w^{-2}(1 + s_1 m + …)``).
    """
    if init not in WEIGHT_INITS:
        raise ValueError(f"init: expected one of {', '.join(WEIGHT_INITS)}, got {init!r}")
    return -1.0 if init == "gaussian" else 0.0


def _depth(depth) -> int:
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth: expected an int >= 1, got {depth!r}")
    return int(depth)


def _layer_q(activation, sw2, sb2, depth, q):
    if _homogeneous(np_activation(activation)) is not None:  # σ'(√q z)² has the same law for every q > 0
        return np.ones(depth)
    if q is None:
        qs = float(q_star(activation, sw2, sb2))
        return np.full(depth, 1e30 if math.isinf(qs) else qs)
    q = np.asarray(q, float).reshape(-1)
    if q.size == 1:
        q = np.full(depth, float(q[0]))
    if q.size != depth or np.any(q < 0) or not np.all(np.isfinite(q)):
        raise ValueError(f"q: expected {depth} finite variances >= 0 (one per layer), got {q}")
    return q


def jacobian_moments(
    activation: str | Activation, sw2: float, sb2: float, depth: int, *, init: str = "gaussian", q: float | None = None
) -> tuple[float, float, float]:
    """Mean and variance of the squared singular values of ``∂a^L/∂x`` (infinite width).

    ``sw2``, ``sb2`` are the variances σ_w², σ_b²; ``q`` (default ``q*`` in every
    layer) may give each layer's pre-activation variance ``q^l`` instead.

    .. math::

       E[λ] = \\prod_{l=1}^L σ_w^2 μ_1(q^l),\\qquad
       \\mathrm{Var}[λ] = E[λ]^2 \\sum_{l=1}^L \\Big(\\frac{μ_2(q^l)}{μ_1(q^l)^2} - 1 - s_1\\Big).

    Returns:
      ``(mean, variance, log_mean)``; ``log_mean = log E[λ]`` stays finite at any depth.

    References:
      Pennington et al. 2017, eq. (12) and §2.5; the free product of
      S-transforms with ``S(m) = m_1^{-1}(1 - v m + …)``.
    """
    sw2_, _ = _variances(sw2, sb2)
    L = _depth(depth)
    qs = _layer_q(activation, sw2, sb2, L, q)
    m = gaussian_moments(activation, qs)
    log_mean = float(np.sum(np.log(float(sw2_) * m.dphi2)))
    v = float(np.sum(m.dphi4 / m.dphi2**2 - 1.0 - s1(init)))
    return math.exp(log_mean), math.exp(2 * log_mean) * v, log_mean


def _log_minv(act, sw2, q, L, init, t):
    """``log M^{-1}_{JJ^T}`` at ``x = t/γ²`` (vectorised over t), via ``m = ψ_{D²}(x)``."""
    g2 = core.get_activation(act.name).gamma ** 2
    x = np.asarray(t, float) / g2
    d = act.deriv

    def fn(u, z, xx):
        lam = d(u) ** 2
        return lam * xx / (1.0 - lam * xx)

    m = expect(fn, act, 0.0, math.sqrt(q), params=(x,), fine=True)
    with np.errstate(divide="ignore"):
        r = np.log1p(m) - np.log(m)  # log((1+m)/m)
    out = (1 - L) * r - L * np.log(x) + L * math.log(sw2)
    if init == "gaussian":
        out = out + L * np.log1p(m)
    return out


_T_GRID = np.concatenate([np.geomspace(1e-12, 0.5, 60), 1.0 - np.geomspace(0.5, 1e-14, 80)[1:]])


def jacobian_edge(activation: str | Activation, sw2: float, sb2: float, depth: int, *, init: str = "gaussian") -> float:
    """Largest squared singular value ``λ_max`` of ``∂a^L/∂x`` in the infinite-width limit.

    ``sw2``, ``sb2`` are the variances σ_w², σ_b²; pre-activations at ``q*``.

    .. math::

       λ_{\\max} = \\min_{m > 0} M^{-1}_{JJ^T}(m) = \\min_{m>0} \\frac{1+m}{m\\,S_{D^2}(m)^L S_{WW^T}(m)^L},

    parametrised by ``x ∈ (0, 1/γ²)`` with ``m = ψ_{D²}(x) = E[λx/(1-λx)]``,
    ``λ = σ'(\\sqrt{q^*}z)²`` and ``S_{D²}(m) = x(1+m)/m``: a grid in x, then
    bounded Brent refinement.  When the minimum is the limit ``x → 1/γ²``
    (e.g. linear orthogonal networks, ``λ_max = σ_w^{2L}``) the value at
    ``x = (1 - 10⁻¹⁴)/γ²`` is returned.  Checks: Gaussian linear networks give
    the Fuss–Catalan edge ``σ_w^{2L}(L+1)^{L+1}/L^L``.

    References:
      Pennington et al. 2018, §3 (edge from ``dM^{-1}/dm = 0``);
      Pennington et al. 2017, eqs. (8)–(10) (M, S); Penson & Życzkowski 2011
      (Fuss–Catalan distributions).
    """
    return float(np.exp(_log_edge(activation, sw2, sb2, depth, init=init)))


def _log_edge(activation, sw2, sb2, depth, *, init):
    act = np_activation(activation)
    sw2_, _ = _variances(sw2, sb2)
    L = _depth(depth)
    s1(init)
    qs = float(_layer_q(activation, sw2, sb2, L, None)[0])
    vals = _log_minv(act, float(sw2_), qs, L, init, _T_GRID)
    vals = np.where(np.isnan(vals), np.inf, vals)
    i = int(np.argmin(vals))
    if 0 < i < _T_GRID.size - 1:
        from scipy import optimize

        res = optimize.minimize_scalar(
            lambda t: float(_log_minv(act, float(sw2_), qs, L, init, np.array([t]))[0]),
            bounds=(_T_GRID[i - 1], _T_GRID[i + 1]),
            method="bounded",
            options={"xatol": 1e-13},
        )
        return min(float(res.fun), float(vals[i]))  # pyright: ignore[reportAttributeAccessIssue]  (OptimizeResult)
    return float(vals[i])


class JacobianSpectrum(NamedTuple):
    """Free-probability prediction for the squared singular values of ``∂a^L/∂x``."""

    mean: float
    variance: float
    edge: float
    log_mean: float
    chi1: float
    q_star: float
    mu1: float
    mu2: float
    s1: float

    def to_dict(self) -> dict:
        return dict(self._asdict())


def jacobian_spectrum(
    activation: str | Activation, sw2: float, sb2: float, depth: int, *, init: str = "gaussian"
) -> JacobianSpectrum:
    """Mean, variance and edge of the spectrum of ``JJᵀ`` at variances ``sw2 = σ_w²``, ``sb2 = σ_b²``.

    .. math::

       E[λ] = χ_1^L,\\quad \\mathrm{Var}[λ] = χ_1^{2L} L\\Big(\\frac{μ_2}{μ_1^2} - 1 - s_1\\Big),\\quad
       λ_{\\max} = \\min_{m>0} M^{-1}_{JJ^T}(m).

    References:
      Pennington et al. 2017, eq. (12), §2.5; Pennington et al. 2018, §3.
    """
    mean, var, log_mean = jacobian_moments(activation, sw2, sb2, depth, init=init)
    qs = float(q_star(activation, sw2, sb2))
    m = gaussian_moments(activation, _layer_q(activation, sw2, sb2, 1, None)[0])
    return JacobianSpectrum(
        mean=mean,
        variance=var,
        edge=jacobian_edge(activation, sw2, sb2, depth, init=init),
        log_mean=log_mean,
        chi1=float(chi1(activation, sw2, sb2)),
        q_star=qs,
        mu1=float(m.dphi2),
        mu2=float(m.dphi4),
        s1=s1(init),
    )


#: the stages of :func:`sample_jacobian_spectrum` that its ``progress`` counts.
SPECTRUM_STAGES = 4


def sample_jacobian_spectrum(
    activation: str | Activation,
    init: str,
    sw2: float,
    sb2: float,
    depth: int,
    width: int,
    *,
    seed: int = 0,
    bins: int = 20,
    progress: Callable[[int], Any] | None = None,
) -> dict:
    """Measured spectrum of ``JJᵀ``, ``J = ∂a^L/∂x``, for one random network and input from ``seed``.

    The network has ``depth`` layers of ``width`` units (input included),
    ``init`` ``"gaussian"`` (``W ~ N(0, σ_w²/n)``) or ``"orthogonal"``
    (``σ_w`` · Haar), ``b ~ N(0, σ_b²)``; ``sw2``, ``sb2`` are the variances.
    The input has ``‖x‖²/n = (q* − σ_b²)/σ_w²`` so that ``z^1`` starts at the
    length map's fixed point (the setting of the free-probability
    prediction, :func:`jacobian_spectrum`).

    .. math::  λ_j = σ_j(J)^2,\\quad \\text{mean} = \\frac1n\\sum_j λ_j,\\quad
               \\text{variance} = \\frac1n\\sum_j (λ_j - \\text{mean})^2 .

    Returns:
      dict with ``mean``, ``variance``, ``edge`` (largest λ), ``min``, ``median``,
      ``log10_mean``, ``n``, ``histogram`` (``edges``, ``counts``) and
      ``per_layer`` (measured ``q^l = ‖z^l‖²/n``, the length map's ``q^l`` from the
      measured ``q^1``, and ``log10 ‖J^l‖``).

    ``progress``, when given, is called with 1 after each of the ``SPECTRUM_STAGES``
    stages (the network and input, the spectrum of ``J``, the forward pass, the
    per-layer singular values): a progress bar's ``update``.

    References:
      Pennington et al. 2017, §3 (experiments at the fixed point q*).
    """
    import math

    from scipy.special import logsumexp

    kn, kx = jax.random.split(jax.random.key(seed))
    net = core.init_network(kn, (width,) * (depth + 1), activation=activation, init=init, sw2=sw2, sb2=sb2)
    q = float(q_star(activation, sw2, sb2))
    scale = math.sqrt((q - sb2) / sw2) if (math.isfinite(q) and q > sb2) else 1.0
    g = jax.random.normal(kx, (width,), net[0].W.dtype)
    x = scale * math.sqrt(width) * g / jnp.linalg.norm(g)
    step = progress if progress is not None else (lambda k: None)
    step(1)
    sp = spectra.input_output_spectrum(net, x, method="svd")
    log_lam = 2 * np.asarray(sp.log_sv, float)
    step(1)
    lam = np.exp(log_lam)
    counts, edges = np.histogram(lam, bins=bins, range=(0.0, float(lam.max())))
    fw = core.forward(net, x)
    q1 = sw2 * float(jnp.mean(x * x)) + sb2
    step(1)
    top = [float(np.log10(s[0])) if s[0] > 0 else -math.inf for s in spectra.layer_singular_values(net, x)]
    step(1)
    return {
        "mean": float(np.mean(lam)),
        "variance": float(np.var(lam)),
        "edge": float(lam.max()),
        "min": float(lam.min()),
        "median": float(np.median(lam)),
        "log10_mean": float(logsumexp(log_lam) - math.log(lam.size)) / math.log(10),
        "n": int(lam.size),
        "histogram": {"edges": edges, "counts": counts},
        "per_layer": {
            "q_measured": [float(jnp.mean(z * z)) for z in fw.z],
            "q_length_map": length_map_iterates(activation, q1, depth, sw2=sw2, sb2=sb2),
            "log10_norm_J": top,
        },
    }
