"""The forward pass with rigorous error bounds: componentwise, normwise and ellipsoidal.

With ``e^{l-1}`` bounding ``a^{l-1} − â^{l-1}`` (``e^0 = 0``: ``x`` is exact), the
exact ``z^l = W^l a^{l-1} + b^l`` satisfies (Higham 2002, §3.5)

.. math:: |z^l − \\hat z^l| ≤ r^l = |W^l| e^{l-1} + λ^l,\\qquad
          λ^l = γ_{n+2}(|W^l||\\hat a^{l-1}| + |b^l|),

or normwise ``‖z^l − ẑ^l‖ ≤ ‖W^l‖‖e^{l-1}‖ + ‖λ^l‖``; then, by the mean value
theorem with ``ξ ∈ [ẑ − r, ẑ + r]``,

.. math:: a^l − \\hat a^l = σ'(ξ)\\,(W^l e^{l-1} + λ^l) + φ^l,\\qquad |φ^l| ≤ ε_σ,

``ε_σ`` the evaluation error of σ.  Both bounds widen like ``∏‖diag(σ')W‖``,
exponentially faster than the errors themselves.  For deep networks the error
is also carried as an ellipsoid (:mod:`gradbounds.linalg.ellipsoids`):
``e^{l-1}(e^{l-1})ᵀ ⪯ T̂ + τI`` gives ``|(W e)_i| ≤ ((W T̂ Wᵀ)_ii + τ')^{1/2}``,
and with ``D̂`` the midpoint of σ' over ``[ẑ − r, ẑ + r]`` and ``ρ_i`` its radius,

.. math:: a^l − \\hat a^l = \\hat D W^l e^{l-1} + \\big[(σ'(ξ) − \\hat D)W^l e^{l-1} + σ'(ξ)λ^l + φ^l\\big],

the first term an exact linear image of the ellipsoid, the bracket a ball of
radius ``‖ρ ⊙ |We|‖ + ‖\\sup|σ'|\\,λ‖ + ‖ε_σ‖``.  Every bound kept is the
smallest of the three, each rigorous.

References:
  Higham 2002, *Accuracy and Stability of Numerical Algorithms*, §3.5;
  Kurzhanski & Vályi 1997, *Ellipsoidal Calculus for Estimation and Control*.
"""

from __future__ import annotations

import jax.numpy as jnp

from gradbounds import linalg
from gradbounds.core import enclosures as db
from gradbounds.linalg import ellipsoids as ell
from gradbounds.linalg import enclosures as enc
from gradbounds.linalg import logspace as ls


def _flushed(W, b, a, ea, tiny):
    """A bound on what XLA's flush of subnormal *inputs* drops from ``z = W a + b`` (0 where there are none).

    A subnormal ``W_ij`` (``|W_ij| < tiny``) drops ``W_ij a_j``: at most ``tiny·Σ_j(|â_j| + e_j)`` in a row
    that has one; a subnormal ``a_j`` (an input ``x``; computed activations are never subnormal) drops at most
    ``max_j |W_ij|·tiny`` each; a subnormal ``b_i``, at most ``tiny``.  Not rounded: ``local`` rounds it up.
    """
    row = jnp.any(ls.subnormal(W), axis=-1)
    # tiny·s for s < 1 would itself flush to 0: tiny·max(s, 1) (a power of two times a normal float: exact)
    wa = jnp.where(row, tiny * jnp.maximum(enc.sum_up(enc.up(jnp.abs(a) + ea)), 1.0), 0.0)
    nx = jnp.sum(ls.subnormal(a)).astype(W.dtype)  # a count (exact below 2^p; the up() below covers the rest)
    xa = jnp.where(nx > 0, enc.up(nx * tiny * jnp.maximum(jnp.max(jnp.abs(W), axis=-1), 1.0)), 0.0)
    tot = wa + xa + jnp.where(ls.subnormal(b), tiny, 0.0)
    return jnp.where(tot > 0, enc.up(tot, 2), 0.0)


def exact_cast(t, dtype):
    """``t`` in the wider ``dtype``, exactly: XLA's convert flushes a subnormal of ``t``'s type to 0 (1e-40 in
    float32 is a normal float64), so those are rebuilt from their bits as ``±m·2^{emin−p}`` (exact: ``m`` has
    at most ``p`` bits and the power of two is normal in ``dtype``)."""
    if not jnp.issubdtype(t.dtype, jnp.floating):
        return t.astype(dtype)
    fs = jnp.finfo(t.dtype)
    scale = 2.0 ** (fs.minexp - fs.nmant)
    if scale < float(jnp.finfo(dtype).tiny):
        raise ValueError(
            f"x and y: expected {jnp.dtype(dtype).name} (the network's dtype) or a type whose subnormals are normal in "
            f"it, got {jnp.dtype(t.dtype).name}: cast it with NumPy first (XLA would flush its subnormals to 0)"
        )
    man = ls.mantissa(t)
    exact = jnp.where(jnp.signbit(t), -1.0, 1.0).astype(dtype) * man.astype(dtype) * jnp.asarray(scale, dtype)
    return jnp.where(ls.subnormal(t), exact, t.astype(dtype))


def tighter(old, new):
    """The smaller of two rigorous upper bounds; a non-finite ``new`` (an ellipsoid that overflowed) is no information."""
    return jnp.where(jnp.isfinite(new), jnp.minimum(old, new), old)


def forward_step(act, dtype, *, exact_input: bool = False):
    """The step ``(a, e, ‖e‖, T̂, τ) ↦ …`` of the forward pass with its error bounds, for ``core.scan_or_loop``.

    ``T̂, τ`` are ``None`` without ellipsoids, and ``T̂`` alone is ``None`` before the first layer (``x`` exact).
    ``exact_input``: the step's ``e`` is exactly zero (the first layer, ``a^0 = x``), so ``|W|e = 0`` is not
    computed: one column of ``|W|[·]`` instead of two, half the cost of the widest product of a sweep.
    Returns ``(carry, (z, enclosure of σ'(z)))``.
    """
    u = enc.unit_roundoff(dtype)
    tiny = ls.smallest_normal(dtype)
    gam_hi = db.gamma_hi(act, dtype)
    zero_e = jnp.zeros((), jnp.int32)

    def fstep(carry, wb):
        a, ea, en2, T, tau = carry
        W, b, w_hi = wb
        n, m = W.shape[-1], W.shape[-2]
        z = W @ a + b
        g1 = enc.gamma(n + 2, u)
        # |W||â| and |W|e in one product, |W| never stored for the whole batch (linalg.abs_matmul)
        if exact_input:
            t = jnp.stack([linalg.abs_matmul(W, (g1 * jnp.abs(a))[:, None])[:, 0], jnp.zeros_like(z)], axis=-1)
        else:
            t = linalg.abs_matmul(W, jnp.stack([g1 * jnp.abs(a), ea], axis=-1))
        t = ls.vacuous_if_nan(t)  # 0·inf (a zero weight against an unbounded error): no bound, not NaN
        local = enc.up(
            (t[:, 0] + g1 * jnp.abs(b)) * (1 + 2 * enc.gamma(n + 3, u)) + (n + 2) * tiny
        )  # |W â + b − ẑ|, rounded up
        fl = _flushed(W, b, a, ea, tiny)
        local = jnp.where(fl > 0, enc.up(local + fl), local)  # the same bits where nothing was flushed
        r = t[:, 1] + local
        r = enc.up(r * (1 + 2 * enc.gamma(n + 3, u)) + (n + 2) * tiny)
        # normwise alternative: ‖δz‖ ≤ ‖W‖‖e‖ + ‖local‖ (each |δz_i| ≤ ‖δz‖); the smaller bound wins
        _, nloc = enc.norm2_bounds(local)
        _, nr = enc.norm2_bounds(r)
        nz = ls.vacuous_if_nan(jnp.where(en2 > 0, enc.up(w_hi * en2 + nloc, 2), nloc))
        nz = jnp.minimum(nz, nr)
        r = jnp.minimum(r, nz)
        # ellipsoidal alternative: e ∈ E(T̂ + τI) gives |(We)_i| ≤ ((W T Wᵀ)_ii + τ')^{1/2}
        if T is None:  # a^0 = x is exact, or no ellipsoids
            rW = jnp.zeros_like(z)
            U = None
        else:
            U, tU = ell.congruence(T, tau, W, w_hi)
            rW = enc.up(t[:, 1] * (1 + 2 * enc.gamma(n + 3, u)) + (n + 2) * tiny)  # |W|e, rounded up
            rW = tighter(rW, ell.diag_hi(U, tU))
            r = tighter(r, enc.up((rW + local) * (1 + 2 * u) + tiny))
        r = ls.vacuous_if_nan(r)
        en = db.activation_enclosure(act, z, r)
        a_new = act.fn(z)
        _, mag = db.mig_mag(*en)
        lip = enc.up(jnp.exp(mag) * (1 + db.C_LOG * u) + tiny)
        ferr = db.fn_error(z, a_new, gam_hi)
        ea_new = enc.up((lip * r + ferr) * (1 + 4 * u) + tiny)
        _, nea = enc.norm2_bounds(ea_new)
        _, nf = enc.norm2_bounds(ferr)
        en2_new = jnp.minimum(nea, enc.up(jnp.max(lip) * nz + nf, 2))
        if tau is None:  # no ellipsoids (a shallow network)
            return (a_new, ea_new, en2_new, None, None), (z, en)
        # the new error a − â = σ'(ξ)(We + λ) + φ = D̂We + [(σ'(ξ) − D̂)We + σ'(ξ)λ + φ]:
        # the ellipsoid through D̂ = mid of σ' over [ẑ − r, ẑ + r], the bracket as a ball
        dlo = db.scaled_value(en[0], en[1], zero_e, up=False)
        dhi = db.scaled_value(en[2], en[3], zero_e, up=True)
        dmid = 0.5 * dlo + 0.5 * dhi
        rad = enc.up(jnp.maximum(dhi - dmid, dmid - dlo), 2)
        _, n1 = enc.norm2_bounds(rad * rW)
        _, n2 = enc.norm2_bounds(lip * local)
        rho = enc.up(n1 + n2 + nf, 4)
        if U is None:
            T1, t1 = jnp.zeros((m, m), dtype), jnp.zeros((), dtype)
        else:
            T1, t1 = ell.scale(U, tU, dmid)
        T_new, tau_new = ell.add_ball(T1, t1, rho)
        ea_new = tighter(ea_new, ell.diag_hi(T_new, tau_new))
        en2_new = tighter(en2_new, ell.norm_hi(T_new, tau_new))
        return (a_new, ea_new, en2_new, T_new, tau_new), (z, en)

    return fstep
