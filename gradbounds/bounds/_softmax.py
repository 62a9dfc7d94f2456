"""The error of the output vector ``g`` of softmax cross-entropy, for the enclosures.

``g = softmax(z^L)Σ_j y_j − y`` with the softmax evaluated as
``ŝ = exp(ẑ − m)/Σ_k exp(ẑ_k − m)`` (:func:`gradbounds.core.softmax`).  With
``t_j = fl(ẑ_j − m)`` (relative rounding ``u|t_j|``), each ``exp`` within
``C_FN`` ulp (the assumption of :mod:`gradbounds.core._derivative_bounds`,
tested there) and flushed subnormals, every computed term is
``e^{ẑ_j − m}(1 + θ_j) + β_j`` with ``|θ_j| ≤ η = e^{u\\max|t| + C_FN u} − 1``
and ``|β_j| ≤ tiny``; the computed sum is within ``η_S = η + γ_n(1 + η) + 2n·tiny``
relative (it contains ``e^0 = 1``, so it is at least 1).  Hence

.. math:: |ŝ_j − s_j| ≤ A s_j + B,\\quad A = \\frac{η + η_S}{1 − η_S} + 2u,\\quad
   B = \\frac{2\\,tiny}{1 − η_S},\\qquad s_j ≤ \\frac{ŝ_j + B}{1 − A},

for ``s = softmax(ẑ)``, and any other evaluation of the same formula obeys the same
bound.  The exact ``z^L`` differs from ``ẑ^L`` by at most ``r`` componentwise
(the forward pass's bound), and ``softmax(z)_j/softmax(ẑ)_j ∈ e^{±(r_j + \\max r)}``.
The rest (``Σy`` within ``γ_{n+1}Σ|y|``, one product, one subtraction) is Higham's
model.  Every bound is rounded outward.

References:
  Higham 2002, *Accuracy and Stability of Numerical Algorithms*, §2.2, §3.1 (γ_n);
  Goodfellow, Bengio & Courville 2016, *Deep Learning*, §6.2.2.3 (softmax).
"""

from __future__ import annotations

import jax.numpy as jnp

from gradbounds import core
from gradbounds.core import enclosures as db
from gradbounds.linalg import enclosures as enc

__all__ = ["softmax_g_error"]


def _expm1_up(x):
    """An upper bound on ``e^x − 1`` for ``x ≥ 0`` (``expm1`` within ``C_FN`` ulp, then outward)."""
    u = enc.unit_roundoff(jnp.result_type(x))
    return enc.up(jnp.expm1(x) * (1 + 2 * db.C_FN * u), 2)


def softmax_g_error(z, ea, y, g):
    """Componentwise ``|g − ĝ|`` for softmax cross-entropy, ``g = softmax(z^L)Σy − y`` (:mod:`gradbounds.bounds._enclosed`).

    ``ea ≥ |z^L − ẑ^L|`` is the forward pass's error bound (a linear output
    layer: ``a^L = z^L``); ``g`` the computed ``softmax(ẑ)Σy − y``; ``inf`` where the bound would not be small.
    """
    dtype = z.dtype
    u, tiny, n = enc.unit_roundoff(dtype), float(jnp.finfo(dtype).tiny), z.shape[-1]
    s = core.softmax(z)
    t = z - jnp.max(z)
    eta = _expm1_up(enc.up(jnp.max(jnp.abs(t)) * u * (1 + 2 * u) + db.C_FN * u))  # each exp, relative
    eta_S = enc.up(eta + enc.gamma(n, u) * (1 + eta) + 2 * n * tiny, 3)  # the sum (≥ 1 exactly: e^0 is a term)
    ok = eta_S < 0.25
    den = jnp.where(ok, enc.down(1 - eta_S), 1.0)
    A = enc.up((eta + eta_S) / den * (1 + 4 * u) + 2 * u, 3)
    B = enc.up(2 * tiny / den)
    ok = ok & (A < 0.25)
    delta = enc.up(A * (s + B) / jnp.where(ok, enc.down(1 - A), 1.0) + B, 3)  # |ŝ − softmax(ẑ)|
    pert = _expm1_up(enc.up(ea + jnp.max(ea), 2))  # softmax(z) / softmax(ẑ) ∈ e^{±(r_j + max r)}
    err_s = enc.up(delta + (s + delta) * pert, 3)
    sy = jnp.sum(y)
    gy = enc.up(enc.gamma(n + 1, u) * jnp.sum(jnp.abs(y)), 2)  # |fl(Σy) − Σy|
    s_mag = enc.up(s + 2 * delta)
    eg = enc.up(err_s * (jnp.abs(sy) + gy) + s_mag * gy + 2 * u * s_mag * jnp.abs(sy) + 2 * u * jnp.abs(g), 4)
    return jnp.where(ok & jnp.all(jnp.isfinite(ea)), eg + tiny, jnp.inf)
