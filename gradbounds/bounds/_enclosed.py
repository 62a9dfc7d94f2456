"""The levels of the bound hierarchy with rigorous enclosures ``[lo, hi]`` (natural logs).

For every layer ``l`` and every level ``X ∈ {lower, E, P, J, D, G}`` the exact
value of ``log X_l`` (exact real arithmetic on the given floats: weights,
biases, ``x``, ``y``) lies in ``[lo_X, hi_X]``.  Point values are computed as
before (the same floating-point operations), the enclosures alongside them in
the same pass, by a posteriori bounds with rigorous constants:

* **Forward pass**: :mod:`gradbounds.bounds._forward` (componentwise, normwise
  and, for networks of ``ELLIPSOID_DEPTH`` layers or more, ellipsoidal error
  bounds on ``a^l − â^l``; ``r^l ≥ |z^l − ẑ^l|``).
* **σ'** over ``[ẑ − r, ẑ + r]``: :func:`~gradbounds.core._derivative_bounds.deriv_enclosure`
  (log space: a sigmoid unit at ``|z| = 740`` stays ``e^{−740}``, not 0).
  Every layer's derivatives are scaled by ``2^{-e}`` with ``e`` from the
  largest upper bound, so ``B̃^l = 2^{-e-f}B^l`` has entries at most 1 at any
  depth (``2^f`` scales ``W``); ``|e| ≤ min(2^30, 2^{p−4})``
  (:func:`~gradbounds.core._derivative_bounds.scale_exponent`): past it the
  scaled σ' underflow to their rounded-up bounds, wide and sound.
  An infinite forward radius gives σ' its global enclosure.
* **Factors.**  ``2^{-e-f}B^l_{\\rm exact} = B̃ + ΔB`` with
  ``‖ΔB‖₂ ≤ β = (\\sum_i ρ_i^2 ‖W_{:,i}‖^2)^{1/2} + u‖B̃‖_F``, ``ρ_i`` the
  distance of the computed scaled ``σ'_i`` to the ends of its enclosure.
  ``‖B̃‖`` and ``‖W‖``: :func:`gradbounds.linalg._enclosures.gram_bounds`
  (Gram matrix, a Cholesky certificate, Higham Theorem 10.3), then Weyl:
  ``|‖B‖ − ‖B̃‖| ≤ ‖ΔB‖``.
* **Products** (error amplification).  With ``δ^l = e^{s_l}(v_l + ε_l)``,
  ``‖ε_l‖ ≤ η_l`` and ``ν_l`` the computed norm of ``w = fl(B̃ v_{l+1})``:

  .. math:: η_l ≤ \\frac{γ_{n+2}\\|B̃\\|_F\\|v_{l+1}\\| + β\\|v_{l+1}\\|
             + (\\|B̃\\|_{hi} + β)\\,η_{l+1}}{ν_l} + 2u\\frac{\\|w\\|}{ν_l},

  so an error made at step ``k`` is multiplied by the norm of every later factor,
  not merely added.  That bound widens like ``∏‖B̃‖/ν``; deep networks also
  carry the error as an ellipsoid, ``ε_lε_lᵀ ⪯ T̂_l + τ_lI`` with
  ``T̂_l ⊇ B̃T̂_{l+1}B̃ᵀ/ν_l² ⊕`` a ball of radius
  ``(γ_{n+2}‖B̃‖_F‖v‖ + β(‖v‖ + η_{l+1}))/ν_l + 2u‖w‖/ν_l``
  (:mod:`gradbounds.linalg.ellipsoids`), which grows like the product itself,
  and ``η_l`` is the smaller of the two.  The same recursion with matrices bounds
  ``‖Π_l e^{-c_l} − R_l/s_l‖ ≤ φ_l`` for the rescaled product ``Π_l = B^l⋯B^{L-1}M_L``
  (level P; with ellipsoids ``ΨΨᵀ ⪯ T̂ + τI`` for its error matrix ``Ψ``), and
  ``σ_min(Π_l) ≥ e^{c_l}(σ_{\\min,lo}(R_l)/s_l − φ_l)`` (level lower).
* **Output.**  ``g = a^L − y`` (quadratic; ``σ(z^L) − y`` when the cost cancels
  σ'): ``|g − ĝ| ≤ u|ĝ| + e^L``, so ``a^L ≈ y`` gives an honest wide enclosure of
  ``‖g‖`` (lower end ``−inf`` where ``g`` may be 0).  Every norm is taken of a
  vector scaled by a power of two (no overflow at ``‖g‖ = 1e±300``).
  Softmax cross-entropy (``g = ŝΣy − y``, ``ŝ = exp(ẑ − m)/Σexp(ẑ − m)``):
  each computed ``exp`` is ``e^{t_j}(1 + θ)`` with ``|θ|`` from ``C_FN`` and
  the argument's rounding ``u|t_j|``, the sum within ``γ_n``, so
  ``|ŝ_j − s_j| ≤ A s_j + B`` and ``s_j ≤ (ŝ_j + B)/(1 − A)``; the forward
  error ``r`` of ``z^L`` moves ``softmax_j`` by a factor in ``e^{±(r_j + max r)}``
  (:func:`gradbounds.bounds._softmax.softmax_g_error`).  User costs have no error bound for ``∇_a C``
  here: their enclosures are ``[−inf, +inf]`` and their verdicts inconclusive.
* **Logs and sums.**  ``log`` within ``C_LOG_FN/2`` ulp (assumed, tested), every
  shift ``e log 2`` with its rounding, recursive sums by ``|fl(Σ) − Σ| ≤
  γ_{N}\\sum|x_i|``; every bound is moved one float outward after each rounding.

A proved zero (``−inf`` in ``lo`` and ``hi``) arises only from exact zeros: a
relu unit with ``z ≤ 0`` exactly (``r = 0``), a zero weight matrix, ``g = 0``
with no error, the ``lower`` level where ``n_l < n_L`` (0 by definition).

References:
  Higham 2002, *Accuracy and Stability of Numerical Algorithms*, §2.2, §3.5,
  Theorem 10.3; Kurzhanski & Vályi 1997 (ellipsoidal calculus); Rump 2011, BIT 51 (verified singular-value bounds); Weyl's
  inequality (Horn & Johnson 2013, Corollary 7.3.5); Nielsen, ch. 2 (BP1, BP2).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from gradbounds import core, linalg
from gradbounds.bounds._forward import exact_cast, forward_step, tighter
from gradbounds.bounds._softmax import softmax_g_error
from gradbounds.core import enclosures as db
from gradbounds.linalg import ellipsoids as ell
from gradbounds.linalg import enclosures as enc
from gradbounds.linalg import logspace as ls

LOG2 = math.log(2.0)
SAFETY = 4.0  # the factor of the first-order estimates err_X (point 'lower' as before)
ENCLOSED = ("lower", "E", "P", "J", "D", "G")
GAPS = ("PJ", "JD", "DG")
# Networks at least this deep also carry ellipsoidal error sets (gradbounds.linalg.ellipsoids): the
# step-by-step error bounds widen by about ‖B‖/‖Bv‖ a layer, which a few layers can afford (the seed
# network's enclosures are 1e-10 wide without them, and they would cost 25 % of a sweep).
ELLIPSOID_DEPTH = 8


def weight_stats(W):
    """Per weight matrix (one network): the point log-norm and its first-order error, and its enclosure data.

    Returns ``(log_w, err_w, Ws, f, cn_hi, lw_lo, lw_hi, dw)``: ``‖W − 2^f Ws‖_F ≤ 2^f dw`` (``dw = 0``:
    ``W = 2^f Ws`` exactly), ``cn_hi`` upper bounds on the column norms of ``2^{-f} W``,
    ``[lw_lo, lw_hi] ∋ log‖W‖``.

    ``dw`` is what XLA's flush to zero drops: a subnormal entry of ``W`` (flushed as an input, at most
    ``2^{-f} tiny`` scaled) and an entry that scales below ``tiny`` (flushed as a result, at most ``tiny``).
    """
    dtype = W.dtype
    u = enc.unit_roundoff(dtype)
    tiny = ls.smallest_normal(dtype)
    s1, s2, f = linalg.pow2_scale(jnp.max(jnp.abs(W)))
    Ws = W * s1 * s2
    flushed = ls.subnormal(W) | ((W != 0) & (jnp.abs(W) < jnp.ldexp(jnp.asarray(tiny, dtype), jnp.maximum(f, 0))))
    count = jnp.sum(flushed).astype(dtype)
    dw = jnp.where(count > 0, enc.up(jnp.ldexp(jnp.asarray(tiny, dtype), jnp.maximum(-f, 0)) * jnp.sqrt(count), 2), 0.0)
    log_w, err_w = linalg.log_norm(W, u)  # the point value and its first-order error, as before
    lam_hat = jnp.exp(2 * (log_w - f.astype(dtype) * LOG2))
    s_lo, s_hi = enc.sigma_max_bounds(Ws, lam_hat=lam_hat)
    # Weyl: |σ(2^{-f}W) − σ(Ws)| ≤ dw (the same bits where nothing was flushed)
    s_lo = jnp.where(dw > 0, jnp.maximum(enc.down(s_lo - dw), 0.0), s_lo)
    s_hi = jnp.where(dw > 0, enc.up(s_hi + dw), s_hi)
    sl, sh = enc.shift_log(f, dtype)
    lw_lo = enc.down(enc.log_down(s_lo) + sl)
    lw_hi = enc.up(enc.log_up(s_hi) + sh)
    _, cn_hi = enc.norm2_bounds(Ws, axis=0)
    cn_hi = jnp.where(dw > 0, enc.up(cn_hi + dw), cn_hi)
    return log_w, err_w, Ws, f, cn_hi, lw_lo, lw_hi, dw


def _scaled_deriv(act, z, en, *, M_one=False):
    """σ' of one layer scaled by ``2^{-e}``: point ``dt``, ``ρ ≥ |2^{-e}σ'_exact − dt|``, log bounds of max|σ'|."""
    dtype = z.dtype
    tiny = ls.smallest_normal(dtype)
    s_lo, l_lo, s_hi, l_hi = en
    mig, mag = db.mig_mag(*en)
    Lmax = jnp.max(mag)
    e = db.scale_exponent(Lmax, dtype)
    dlo = db.scaled_value(s_lo, l_lo, e, up=False)
    dhi = db.scaled_value(s_hi, l_hi, e, up=True)
    dhat = act.deriv(z)
    big = tiny * 2.0 ** (jnp.finfo(dtype).nmant + 2)
    normal = jnp.abs(dhat) >= big
    dt = jnp.where(normal, jnp.ldexp(dhat, -e), 0.5 * dlo + 0.5 * dhi)
    rho = enc.up(jnp.maximum(dhi - dt, dt - dlo), 1)
    rho = jnp.maximum(rho, 0.0)
    # point log max|σ'| (as before where it is a normal float; else from log space)
    amax = jnp.max(jnp.abs(dhat))
    mid = jnp.where(jnp.isfinite(mig), 0.5 * mig + 0.5 * mag, mag)
    logS = jnp.where(amax >= big, jnp.log(jnp.where(amax > 0, amax, 1.0)), jnp.max(mid))
    S_lo = jnp.max(mig)
    S_hi = Lmax
    S_min_lo, S_min_hi = jnp.min(mig), jnp.min(mag)
    return dict(dt=dt, rho=rho, e=e, logS=logS, S_lo=S_lo, S_hi=S_hi, Smin_lo=S_min_lo, Smin_hi=S_min_hi, amax=amax)


def _step_factory(n_L: int, dtype, act):
    u = enc.unit_roundoff(dtype)
    tiny = ls.smallest_normal(dtype)

    def step(carry, item):
        v, eta, Q, psi, qhi, TE, tE, TP, tP = carry
        z, en, Wst = item
        log_w, err_w, Ws, f, cn_hi, lw_lo, lw_hi, dw = Wst
        sd = _scaled_deriv(act, z, en)
        dt, rho, e = sd["dt"], sd["rho"], sd["e"]
        n_l, n_next = z.shape[-1], Ws.shape[0]
        B = dt[:, None] * Ws.T  # 2^{-e-f} B^l
        ef = e + f.astype(jnp.int32)
        shift = ef.astype(dtype) * LOG2
        sh_lo, sh_hi = enc.shift_log(ef, dtype)
        _, fB_hi = enc.norm2_bounds(B.reshape(-1))
        beta = enc.up(
            jnp.sqrt(enc.up(jnp.sum((rho * cn_hi) ** 2) * (1 + 4 * enc.gamma(n_l + 2, u))))
            + 2 * u * fB_hi
            + (n_l * n_next + 1) * tiny,
            3,
        )
        # flushed weights: ‖diag(dt)(2^{-f}W − Ws)ᵀ‖ ≤ max|dt|·dw (ρ's part is in cn_hi)
        beta = jnp.where(dw > 0, enc.up(beta + enc.up(jnp.max(jnp.abs(dt)) * dw, 2)), beta)
        log_b, err_b = linalg.log_norm_scaled(B, u)  # the point value and its first-order error, as before
        fro2 = jnp.sum(B * B)
        b_lo, b_hi = enc.sigma_max_bounds(B, lam_hat=jnp.exp(2 * log_b))
        J_lo = ls.add_down(enc.log_down(jnp.maximum(enc.down(b_lo - beta), 0.0)), sh_lo)
        J_hi = ls.add_up(enc.log_up(enc.up(b_hi + beta)), sh_hi)
        # E: rescaled backprop with its error recursion
        w = B @ v
        nw = jnp.linalg.norm(w)
        nwp = jnp.where(nw > 0, nw, 1.0)
        v_new = w / nwp
        _, v_hi = enc.norm2_bounds(v)
        _, w_hi = enc.norm2_bounds(w)
        mv = enc.matvec_error(B, v)
        num = enc.up(mv + beta * v_hi + (b_hi + beta) * eta, 3)
        eta_new = enc.up(num / nwp + 2 * u * w_hi / nwp, 3)
        if TE is not None:
            # the same error as an ellipsoid: ε_l = B̃ε_{l+1}/ν + [ΔB(v + ε_{l+1}) + (B̃v − w)]/ν + (w/ν − v_l)
            rho_E = enc.up((mv + beta * (v_hi + eta)) / nwp + 2 * u * w_hi / nwp, 3)
            TE, tE = ell.congruence(TE, tE, B, b_hi)
            TE, tE = ell.scale(TE, tE, enc.up(1.0 / nwp, 2))
            TE, tE = ell.add_ball(TE, tE, rho_E)
            eta_new = tighter(eta_new, ell.norm_hi(TE, tE))
        err_e = jnp.where(nw > 0, (n_next + 2) * u * jnp.sqrt(fro2) / nwp, 0.0) + 2 * u
        inc_E_lo = ls.add_down(enc.log_down(nwp), sh_lo)
        inc_E_hi = ls.add_up(enc.log_up(nwp), sh_hi)
        # P: rescaled product and its error recursion
        R = B @ Q
        tall = n_l >= n_L
        sv, r_lo, r_hi, rsmin_lo, rsmin_hi = enc.svd_bounds(R, want_min=tall)
        s = sv[0]
        sp = jnp.where(s > 0, s, 1.0)
        Q_new = R / sp
        mq = enc.matvec_error(B, Q)
        phi = enc.up((mq + beta * qhi + (b_hi + beta) * psi) / sp, 3)
        _, fR_hi = enc.norm2_bounds(R.reshape(-1))
        qerr = enc.up(2 * u * fR_hi / sp, 2)
        psi_g = jnp.asarray(jnp.inf, dtype)
        if TP is not None:
            # the error matrix Ψ of the stored Q as an ellipsoid, ΨΨᵀ ⪯ T̂ + τI (as for E)
            TP, tP = ell.congruence(TP, tP, B, b_hi)
            TP, tP = ell.scale(TP, tP, enc.up(1.0 / sp, 2))
            TP, tP = ell.add_ball(TP, tP, enc.up((mq + beta * (qhi + psi)) / sp + qerr, 3))
            psi_g = ell.norm_hi(TP, tP)
            phi = tighter(phi, enc.up(psi_g + qerr))
        pn_lo = jnp.maximum(enc.down(r_lo / sp - phi, 2), 0.0)
        pn_hi = enc.up(r_hi / sp + phi, 2)
        smin_lo = jnp.maximum(enc.down(rsmin_lo / sp - phi, 2), 0.0)
        smin_hi = enc.up(rsmin_hi / sp + phi, 2)
        psi_new = tighter(enc.up(phi + qerr), psi_g)
        qhi_new = enc.up(r_hi / sp * (1 + 2 * u) + qerr, 2)
        fQ = jnp.sqrt(jnp.sum(Q * Q))
        svd_r = 2 * max(n_l, n_L) * u
        err_p = jnp.where(s > 0, (n_next + 2) * u * jnp.sqrt(fro2) * fQ / sp, 0.0) + svd_r + 2 * u
        smin = sv[-1] if tall else jnp.zeros((), dtype)
        out = dict(
            inc_E=jnp.where(nw > 0, jnp.log(nwp), -jnp.inf) + shift,
            inc_P=jnp.where(s > 0, jnp.log(sp), -jnp.inf) + shift,
            smin_rel=smin / sp,
            log_B=log_b + shift,
            S=sd["amax"],
            log_S=sd["logS"],
            log_W=log_w,
            err_E=err_e,
            err_P=err_p,
            err_B=err_b,
            err_W=err_w,
            finite=jnp.all(jnp.isfinite(dt)) & jnp.all(jnp.isfinite(z)),
            # enclosure data
            incE_lo=inc_E_lo,
            incE_hi=inc_E_hi,
            incP_lo=ls.add_down(enc.log_down(sp), sh_lo),
            incP_hi=ls.add_up(enc.log_up(sp), sh_hi),
            eta=eta_new,
            vnorm=enc.norm2_bounds(v_new),
            pn_lo=pn_lo,
            pn_hi=pn_hi,
            smin_lo=smin_lo,
            smin_hi=smin_hi,
            J_lo=J_lo,
            J_hi=J_hi,
            S_lo=sd["S_lo"],
            S_hi=sd["S_hi"],
            W_lo=lw_lo,
            W_hi=lw_hi,
        )
        return (v_new, eta_new, Q_new, psi_new, qhi_new, TE, tE, TP, tP), out

    return step


def all_weight_stats(segs):
    """:func:`weight_stats` of every ``W^r``, ``r ≥ 2``, per segment (segment 0 leaves out ``W^1``)."""
    out = []
    for i, seg in enumerate(segs):
        W = seg.W if i > 0 else seg.W[1:]
        out.append(None if W.shape[0] == 0 else jax.vmap(weight_stats)(W))
    return tuple(out)


def _backward_runs(segs, acts, zs, ens, wstats):
    """The backward pass's items ``(z^l, σ'-enclosure^l, stats of W^{l+1})``, ``l = 1..L-1``, as runs.

    Consecutive layers whose items have the same shapes and activation form one run (stacked
    along a leading axis), so each distinct step is traced and compiled once: the seed network's
    ``z^1..z^3`` with ``W^2..W^4`` are one run although ``W^1`` cuts the segments elsewhere.
    Returns ``[(activation, item), ...]`` in layer order.
    """
    runs = []
    for s, seg in enumerate(segs):
        parts = []
        if seg.length > 1:  # the segment's own next weights (segment 0's stats leave out W^1)
            st = wstats[s] if s == 0 else jax.tree_util.tree_map(lambda t: t[1:], wstats[s])
            parts.append((zs[s][:-1], jax.tree_util.tree_map(lambda t: t[:-1], ens[s]), st))
        if s < len(segs) - 1:  # the last layer of the segment, with the next segment's first W
            st = jax.tree_util.tree_map(lambda t: t[:1], wstats[s + 1])
            parts.append((zs[s][-1:], jax.tree_util.tree_map(lambda t: t[-1:], ens[s]), st))
        for item in parts:
            key = (seg.activation, jax.tree_util.tree_map(lambda t: (t.shape[1:], t.dtype), item))
            if runs and runs[-1][0] == key:
                runs[-1][2].append(item)
            else:
                runs.append((key, acts[s], [item]))
    return [
        (act, items[0] if len(items) == 1 else jax.tree_util.tree_map(lambda *t: jnp.concatenate(t), *items))
        for _, act, items in runs
    ]


def _wider_float(t, dtype) -> bool:
    """Whether ``t`` is a float type at least as wide as ``dtype`` (then promotion, not a cast, meets them)."""
    return bool(jnp.issubdtype(t, jnp.floating)) and jnp.finfo(t).bits >= jnp.finfo(dtype).bits


def levels_core(segs, wstats, x, y, *, cost):
    """Point levels, their first-order error estimates and rigorous enclosures for one example.

    Returns a dict of arrays of shape ``(L,)``: the point levels ``lower, E, P, J, D, G``, ``err_X``
    (first-order estimates, as before), ``finite``, ``tight_DG``, ``lo_X``, ``hi_X`` (natural-log
    enclosures), and ``gap_lo_XY``, ``gap_hi_XY`` for (P, J), (J, D), (D, G): bounds on
    ``log Y − log X`` with the common terms (``‖g‖``, ``‖M_L‖``, ``∏‖W‖``) cancelled exactly.
    """
    dtype = segs[0].W.dtype
    u = enc.unit_roundoff(dtype)
    tiny = ls.smallest_normal(dtype)
    acts = [core.get_activation(seg.activation) for seg in segs]
    L = sum(seg.length for seg in segs)
    # an input of a narrower type (float32 or int into a float64 network) in the network's dtype: exactly what
    # promotion made of it in the first product, and a scanned segment needs a carry of one type
    x, y = (jnp.asarray(t) for t in (x, y))
    x, y = (t if _wider_float(t.dtype, dtype) else exact_cast(t, dtype) for t in (x, y))

    # forward pass with a running componentwise error bound
    zs, ens = [], []
    n0 = x.shape[-1]
    square0 = segs[0].W.shape[-1] == segs[0].W.shape[-2]
    # the forward error ellipsoid starts empty (x is exact); a wide first layer is never scanned, so it needs none
    T0 = jnp.zeros((n0, n0), dtype) if square0 else None
    ellipsoids = L >= ELLIPSOID_DEPTH
    carry = (
        x,
        jnp.zeros_like(x),
        jnp.zeros((), dtype),
        T0 if ellipsoids else None,
        jnp.zeros((), dtype) if ellipsoids else None,
    )
    for i, (seg, act) in enumerate(zip(segs, acts)):
        # rigorous upper bounds on ‖W^r‖ from the weight statistics (W^1 needs none: x is exact)
        w_hi = jnp.full((seg.length,), jnp.inf, dtype)
        if wstats[i] is not None:
            wh = enc.up(jnp.exp(wstats[i][6]), 2)
            w_hi = wh if i > 0 else jnp.concatenate([jnp.full((1,), jnp.inf, dtype), wh])
        step = forward_step(act, dtype, exact_input=i == 0 and seg.length == 1)  # x is exact: e^0 = 0
        if seg.length > 1:  # one scan even for short runs: each copy of the step is compiled anew
            carry, (z, en) = jax.lax.scan(step, carry, (seg.W, seg.b, w_hi))
        else:
            carry, (z, en) = core.scan_or_loop(step, carry, (seg.W, seg.b, w_hi))
        zs.append(z)
        ens.append(en)
    a, ea = carry[0], carry[1]
    z_L = zs[-1][-1]
    en_L = jax.tree_util.tree_map(lambda t: t[-1], ens[-1])
    act_L = acts[-1]
    c = core.get_cost(cost)
    out = core.output_error(c, act_L, z_L, a, y)
    n_L = z_L.shape[0]
    grad_a = out.start == "grad_a"

    # g and its error bound
    g = out.g
    if c.name == "softmax-cross-entropy" and out.start == "delta":
        eg = softmax_g_error(z_L, ea, y, g)
    elif out.start == "delta" or c.name == "quadratic":
        eg = enc.up(u * jnp.abs(g) + ea)
    else:
        eg = jnp.full_like(g, jnp.inf)
    # XLA flushes subnormal targets (as inputs: g moves by at most ny·tiny, softmax's Σy included) and a
    # subnormal difference a − y (as a result, at most tiny): a computed g_j near 0 next to a nonzero y_j below
    # 2^{p+1}·tiny (further up, two distinct floats differ by at least tiny).  The same bits where neither holds.
    ny = jnp.sum(ls.subnormal(y)).astype(dtype)
    y_nz = ls.subnormal(y) | (y != 0)
    near = (jnp.abs(g) < 2 * tiny) & y_nz & (jnp.abs(y) < tiny * 2.0 ** (jnp.finfo(dtype).nmant + 2))
    g_flush = jnp.where(near, tiny, 0.0) + jnp.where(ny > 0, (ny + 1) * tiny, 0.0)
    eg = jnp.where(g_flush > 0, enc.up(eg + g_flush, 2), eg)
    s1, s2, e_g = linalg.pow2_scale(jnp.max(jnp.abs(g)))
    gt = g * s1 * s2
    egt = enc.up(eg * s1 * s2 + tiny)
    gn_lo, gn_hi = enc.norm2_bounds(gt)
    _, eg_hi = enc.norm2_bounds(egt)
    sg_lo, sg_hi = enc.shift_log(e_g, dtype)
    g_lo = ls.add_down(enc.log_down(jnp.maximum(enc.down(gn_lo - eg_hi), 0.0)), sg_lo)
    g_hi = ls.add_up(enc.log_up(enc.up(gn_hi + eg_hi)), sg_hi)
    ng = jnp.linalg.norm(gt)
    log_g = jnp.where(ng > 0, jnp.log(jnp.where(ng > 0, ng, 1.0)) + e_g.astype(dtype) * LOG2, -jnp.inf)

    # output factor M_L and δ^L
    if grad_a:
        sd = _scaled_deriv(act_L, z_L, en_L)
        mt, rho_m, e_M = sd["dt"], sd["rho"], sd["e"]
        log_M = sd["logS"]
        M_lo, M_hi = sd["S_lo"], sd["S_hi"]
        Mmin_lo, Mmin_hi = sd["Smin_lo"], sd["Smin_hi"]
        m_pt = act_L.deriv(z_L)
    else:
        mt, rho_m, e_M = jnp.ones_like(z_L), jnp.zeros_like(z_L), jnp.zeros((), jnp.int32)
        log_M = jnp.zeros((), dtype)
        M_lo = M_hi = Mmin_lo = Mmin_hi = jnp.zeros((), dtype)
        m_pt = jnp.ones_like(z_L)
    dL = mt * gt
    ndL = jnp.linalg.norm(dL)
    ndp = jnp.where(ndL > 0, ndL, 1.0)
    v = dL / ndp
    # ρ = 0 (M_L known exactly, or the identity) times an unbounded g error is 0, not NaN
    err_m = jnp.where(rho_m > 0, rho_m * (jnp.abs(gt) + egt), 0.0)
    errL = enc.up(err_m + jnp.abs(mt) * egt + 2 * u * jnp.abs(dL) + tiny, 3)
    _, errL_hi = enc.norm2_bounds(errL)
    eta = enc.up(errL_hi / ndp, 2)
    eM = e_M + e_g
    sL_lo, sL_hi = enc.shift_log(eM, dtype)
    sE_lo = ls.add_down(enc.log_down(ndp), sL_lo)
    sE_hi = ls.add_up(enc.log_up(ndp), sL_hi)
    E_L = jnp.where(ndL > 0, jnp.log(ndp) + eM.astype(dtype) * LOG2, -jnp.inf)
    mx = jnp.max(jnp.abs(mt))
    mxp = jnp.where(mx > 0, mx, 1.0)
    Q = jnp.diag(mt) / mxp
    psi = enc.up(jnp.max(rho_m) / mxp + 2 * u, 2)
    qhi = enc.up(1.0 + 2 * u)
    cL_lo = ls.add_down(enc.log_down(mxp), enc.shift_log(e_M, dtype)[0])
    cL_hi = ls.add_up(enc.log_up(mxp), enc.shift_log(e_M, dtype)[1])
    gamma_L = act_L.gamma if grad_a else 1.0
    glog_L = db.gamma_log_bounds(act_L, dtype) if grad_a else (0.0, 0.0)

    # backward pass
    if ellipsoids:
        carry = (v, eta, Q, psi, qhi, *ell.ball(n_L, eta, dtype), *ell.ball(n_L, psi, dtype))
    else:
        carry = (v, eta, Q, psi, qhi, None, None, None, None)
    pieces = []
    for act, item in reversed(_backward_runs(segs, acts, zs, ens, wstats)):
        step = _step_factory(n_L, dtype, act)
        if jax.tree_util.tree_leaves(item)[0].shape[0] == 1:
            carry, o = step(carry, jax.tree_util.tree_map(lambda t: t[0], item))
            pieces.append(jax.tree_util.tree_map(lambda t: t[None], o))
        else:
            # one scan even for short runs: the step is a large program, compiled once this way
            carry, o = jax.lax.scan(step, carry, item, reverse=True)
            pieces.append(o)
    if pieces:
        per = jax.tree_util.tree_map(lambda *t: jnp.concatenate(t), *reversed(pieces))
    else:
        per = None

    def tail(x_, last):
        last = jnp.reshape(jnp.asarray(last, dtype), (1,))
        return last if x_ is None else jnp.concatenate([x_, last])

    def P_(k):
        return None if per is None else per[k]

    # ---- point levels (as before)
    gammas = [act.gamma for seg, act in zip(segs, acts) for _ in range(seg.length)][:-1]
    log_gamma = jnp.asarray(np.log(gammas), dtype).reshape(-1)
    logQ = ls.rev_cumsum(tail(P_("inc_P"), log_M))
    E = ls.rev_cumsum(tail(P_("inc_E"), E_L))
    P = logQ + log_g
    sumW = ls.rev_cumsum(tail(P_("log_W"), 0.0))
    J = ls.rev_cumsum(tail(P_("log_B"), log_M)) + log_g
    D = ls.rev_cumsum(tail(P_("log_S"), log_M)) + sumW + log_g
    G = ls.rev_cumsum(tail(log_gamma, np.log(gamma_L))) + sumW + log_g
    n_terms = jnp.arange(L, 0, -1, dtype=dtype) + 2
    err0 = (n_L + 2) * u

    def logsum_err(*terms):
        mag = sum(ls.rev_cumsum(jnp.abs(jnp.where(jnp.isfinite(t), t, 0.0))) for t in terms)
        return u * n_terms * (mag + jnp.abs(jnp.where(jnp.isfinite(log_g), log_g, 0.0)))

    err_E = ls.rev_cumsum(tail(P_("err_E"), err0)) + logsum_err(tail(P_("inc_E"), E_L))
    err_P = ls.rev_cumsum(tail(P_("err_P"), err0)) + logsum_err(tail(P_("inc_P"), log_M))
    err_W = ls.rev_cumsum(tail(P_("err_W"), 0.0))
    err_J = ls.rev_cumsum(tail(P_("err_B"), err0)) + logsum_err(tail(P_("log_B"), log_M))
    err_D = err_W + err0 + logsum_err(tail(P_("log_S"), log_M), tail(P_("log_W"), 0.0))
    err_G = err_W + err0 + logsum_err(tail(log_gamma, np.log(gamma_L)), tail(P_("log_W"), 0.0))
    err_lower = tail(None if per is None else err_P[:-1], 2 * err0)

    # ---- enclosures
    def rcs2(lo_last, hi_last, klo, khi):
        return ls.rev_cumsum_bounds(tail(P_(klo), lo_last), tail(P_(khi), hi_last))

    # E: s_l + log(‖v_l‖ ± η_l)
    sE = rcs2(sE_lo, sE_hi, "incE_lo", "incE_hi")
    vn_lo, vn_hi = enc.norm2_bounds(v)
    vl_lo = tail(None if per is None else per["vnorm"][0], vn_lo)
    vl_hi = tail(None if per is None else per["vnorm"][1], vn_hi)
    etas = tail(P_("eta"), eta)
    lo_E = ls.add_down(sE[0], enc.log_down(jnp.maximum(enc.down(vl_lo - etas), 0.0)))
    hi_E = ls.add_up(sE[1], enc.log_up(enc.up(vl_hi + etas)))
    # a proved zero δ^L (g = 0 exactly, or M = 0 exactly) keeps every δ^l = 0
    zero_L = (ndL == 0) & (errL_hi == 0)
    lo_E = jnp.where(zero_L, -jnp.inf, lo_E)
    hi_E = jnp.where(zero_L, -jnp.inf, hi_E)
    # P: c_l + log‖Π_l e^{-c_l}‖ + log‖g‖ (at L: ‖M_L‖‖g‖ directly)
    sP = rcs2(cL_lo, cL_hi, "incP_lo", "incP_hi")
    pn_lo = tail(P_("pn_lo"), 1.0)
    pn_hi = tail(P_("pn_hi"), 1.0)
    Pg_lo = ls.add_down(sP[0], enc.log_down(pn_lo))
    Pg_hi = ls.add_up(sP[1], enc.log_up(pn_hi))
    Pg_lo = Pg_lo.at[-1].set(M_lo)
    Pg_hi = Pg_hi.at[-1].set(M_hi)
    lo_P, hi_P = ls.add_down(Pg_lo, g_lo), ls.add_up(Pg_hi, g_hi)
    # lower: σ_min(Π_l)‖g‖ where n_l ≥ n_L, 0 by definition elsewhere
    smin_lo = tail(P_("smin_lo"), 1.0)
    smin_hi = tail(P_("smin_hi"), 1.0)
    low_lo = ls.add_down(sP[0], enc.log_down(smin_lo), g_lo)
    low_hi = ls.add_up(sP[1], enc.log_up(smin_hi), g_hi)
    low_lo = low_lo.at[-1].set(ls.add_down(Mmin_lo, g_lo))
    low_hi = low_hi.at[-1].set(ls.add_up(Mmin_hi, g_hi))
    widths_l = [seg.W.shape[-2] for seg in segs for _ in range(seg.length)]
    tall = jnp.asarray([n >= n_L for n in widths_l])
    low_lo = jnp.where(tall, low_lo, -jnp.inf)
    low_hi = jnp.where(tall, low_hi, -jnp.inf)
    # J: Σ log‖B^r‖ + log‖M_L‖ + log‖g‖
    Jg = rcs2(M_lo, M_hi, "J_lo", "J_hi")
    lo_J, hi_J = ls.add_down(Jg[0], g_lo), ls.add_up(Jg[1], g_hi)
    # D: Σ log max|σ'_r| + log‖M‖ + Σ log‖W^{r+1}‖ + log‖g‖
    Sg = rcs2(M_lo, M_hi, "S_lo", "S_hi")
    Wg = rcs2(0.0, 0.0, "W_lo", "W_hi")
    lo_D, hi_D = ls.add_down(Sg[0], Wg[0], g_lo), ls.add_up(Sg[1], Wg[1], g_hi)
    # G: Σ log γ_r (+ log γ_L) + Σ log‖W‖ + log‖g‖
    gl = [db.gamma_log_bounds(act, dtype) for seg, act in zip(segs, acts) for _ in range(seg.length)][:-1]
    gam_lo = jnp.asarray([t[0] for t in gl] + [glog_L[0]], dtype)
    gam_hi = jnp.asarray([t[1] for t in gl] + [glog_L[1]], dtype)
    Gg = ls.rev_cumsum_bounds(gam_lo, gam_hi)
    lo_G, hi_G = ls.add_down(Gg[0], Wg[0], g_lo), ls.add_up(Gg[1], Wg[1], g_hi)
    # gaps with the common terms cancelled
    gap_PJ = (ls.sub_down(Jg[0], Pg_hi), ls.sub_up(Jg[1], Pg_lo))
    dJD_lo = tail(None if per is None else ls.sub_down(ls.add_down(per["S_lo"], per["W_lo"]), per["J_hi"]), 0.0)
    dJD_hi = tail(None if per is None else ls.sub_up(ls.add_up(per["S_hi"], per["W_hi"]), per["J_lo"]), 0.0)
    gap_JD = ls.rev_cumsum_bounds(dJD_lo, dJD_hi)
    dDG_lo = ls.sub_down(gam_lo, tail(P_("S_hi"), M_hi))
    dDG_hi = ls.sub_up(gam_hi, tail(P_("S_lo"), M_lo))
    gap_DG = ls.rev_cumsum_bounds(dDG_lo, dDG_hi)

    # the point 'lower' as before: σ_min(Π_l)/‖Π_l‖ (SVD) minus SAFETY times its first-order error
    if per is None:
        lower = jnp.reshape(ls.add_down(Mmin_lo, g_lo) if grad_a else log_g, (1,)).astype(dtype)
    else:
        ratio = per["smin_rel"] - SAFETY * err_P[:-1]
        lower_L = (jnp.log(jnp.min(jnp.abs(m_pt))) if grad_a else jnp.zeros((), dtype)) + log_g
        lower = tail(logQ[:-1] + jnp.log(jnp.where(ratio > 0, ratio, 0.0)) + log_g, lower_L)

    zfin = jnp.concatenate([jnp.all(jnp.isfinite(zz), axis=-1) for zz in zs])
    last_ok = jnp.all(jnp.isfinite(m_pt)) & jnp.all(jnp.isfinite(out.delta))
    fin_l = last_ok[None] if per is None else jnp.concatenate([per["finite"], last_ok[None]])
    finite = zfin & fin_l
    sat = jnp.concatenate(
        [
            (P_("S") == jnp.asarray(gammas, dtype).reshape(-1)) if per is not None else jnp.zeros((0,), bool),
            (jnp.max(jnp.abs(m_pt)) == gamma_L)[None],
        ]
    )
    tight_DG = ls.rev_cumsum((~sat).astype(jnp.int32)) == 0
    return dict(
        lower=lower,
        E=E,
        P=P,
        J=J,
        D=D,
        G=G,
        err_lower=err_lower,
        err_E=err_E,
        err_P=err_P,
        err_J=err_J,
        err_D=err_D,
        err_G=err_G,
        finite=finite,
        tight_DG=tight_DG,
        lo_lower=low_lo,
        hi_lower=low_hi,
        lo_E=lo_E,
        hi_E=hi_E,
        lo_P=lo_P,
        hi_P=hi_P,
        lo_J=lo_J,
        hi_J=hi_J,
        lo_D=lo_D,
        hi_D=hi_D,
        lo_G=lo_G,
        hi_G=hi_G,
        gap_lo_PJ=gap_PJ[0],
        gap_hi_PJ=gap_PJ[1],
        gap_lo_JD=gap_JD[0],
        gap_hi_JD=gap_JD[1],
        gap_lo_DG=gap_DG[0],
        gap_hi_DG=gap_DG[1],
    )
