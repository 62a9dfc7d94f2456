"""Ellipsoidal error sets (gradbounds.linalg._ellipsoids) against exact arithmetic.

Each step's claim ``X ⪯ T̂' + τ'I`` is checked as ``λ_min(T̂' + τ'I − X) ≥ 0``
with ``X`` formed exactly (50-digit mpmath on the given floats); a long chain
``ε_l = A_l ε_{l+1}/s_l + f_l`` with adversarial ``f_l`` (aligned with the top
singular direction of the rest of the product) stays inside the bound, the
bound is attained to within a small factor (no wrapping), and it is far below
the step-by-step bound ``Σ_r ρ_r ∏‖A‖``, which is what it replaces.
"""

import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

from gradbounds.linalg import _ellipsoids as ell
from gradbounds.linalg import _enclosures as enc


def _mp(A):
    return mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in np.atleast_2d(np.asarray(A, np.float64))])


def _min_eig(M):
    with mpmath.workdps(50):
        S = (M + M.T) / 2
        return min(mpmath.eigsy(S, eigvals_only=True))


def _dominates(T, tau, X):
    """``T̂ + τI − X ⪰ 0`` exactly (X an mpmath matrix)."""
    with mpmath.workdps(50):
        n = X.rows
        M = _mp(T) + mpmath.mpf(float(tau)) * mpmath.eye(n) - X
        return _min_eig(M) >= 0


def _random_psd(rng, n, scale, cond=1.0):
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    return (Q * (scale * np.logspace(0, -np.log10(cond), n))) @ Q.T


@pytest.mark.parametrize("kind", ["gauss", "illcond", "rank1", "wide", "tall"])
@pytest.mark.parametrize("tau", [0.0, 1e-20])
def test_congruence_contains_the_exact_image(kind, tau):
    rng = np.random.default_rng(abs(hash((kind, tau))) % 2**32)
    m, n = {"wide": (3, 7), "tall": (7, 3)}.get(kind, (6, 6))
    A = rng.standard_normal((m, n))
    if kind == "illcond":
        U, _, Vt = np.linalg.svd(A, full_matrices=False)
        A = (U * np.logspace(0, -12, min(m, n))) @ Vt
    if kind == "rank1":
        A = np.outer(rng.standard_normal(m), rng.standard_normal(n))
    T = _random_psd(rng, n, 1e-20, cond=1e8)
    _, a_hi = enc.sigma_max_bounds(jnp.asarray(A / np.max(np.abs(A))))
    a_hi = float(a_hi) * np.max(np.abs(A)) * (1 + 1e-15)
    Tn, tn = ell.congruence(jnp.asarray(T), jnp.asarray(tau), jnp.asarray(A), jnp.asarray(a_hi))
    with mpmath.workdps(50):
        Am = _mp(A)
        X = Am * (_mp(T) + mpmath.mpf(tau) * mpmath.eye(n)) * Am.T
    assert _dominates(np.asarray(Tn), tn, X)
    assert np.allclose(np.asarray(Tn), np.asarray(Tn).T, rtol=0, atol=0)  # symmetric exactly
    # and no looser than needed: from τ = 0, τ' is a rounding term, far below the entries of T̂'
    if tau == 0:
        assert float(tn) < 1e-10 * np.max(np.abs(np.asarray(Tn)))


def test_add_ball_contains_every_sum_and_the_norm_bounds_add():
    rng = np.random.default_rng(3)
    n = 5
    T = _random_psd(rng, n, 1e-10, cond=1e6)
    rho = 3e-6
    Tn, tn = ell.add_ball(jnp.asarray(T), jnp.asarray(1e-25), jnp.asarray(rho))
    w, V = np.linalg.eigh(T)
    # the extreme sums: x on the ellipsoid's axes, f aligned with x
    for i in range(n):
        x = V[:, i] * np.sqrt(max(w[i], 0.0))
        for sgn in (1.0, -1.0):
            e = x + sgn * rho * V[:, i]
            with mpmath.workdps(50):
                em = _mp(e[:, None])
                assert _dominates(np.asarray(Tn), tn, em * em.T)
    lam = float(ell.lam_hi(jnp.asarray(T), jnp.asarray(1e-25)))
    assert float(ell.norm_hi(Tn, tn)) <= (np.sqrt(lam) + rho) * (1 + 1e-12)


def test_scale_and_absorb():
    rng = np.random.default_rng(5)
    n = 6
    T = _random_psd(rng, n, 1.0, cond=1e10)
    d = rng.standard_normal(n) * np.logspace(0, -200, n)
    Tn, tn = ell.scale(jnp.asarray(T), jnp.asarray(1e-30), jnp.asarray(d))
    with mpmath.workdps(50):
        D = mpmath.diag([mpmath.mpf(float(v)) for v in d])
        X = D * (_mp(T) + mpmath.mpf(1e-30) * mpmath.eye(n)) * D
    assert _dominates(np.asarray(Tn), tn, X)
    Ta, ta = ell.absorb(jnp.asarray(T), jnp.asarray(1e-3))
    with mpmath.workdps(50):
        assert _dominates(np.asarray(Ta), ta, _mp(T) + mpmath.mpf(1e-3) * mpmath.eye(n))
    # an empty set stays exactly empty: no rounding term appears from nothing
    Z, tz = ell.absorb(jnp.zeros((n, n)), jnp.zeros(()))
    assert float(tz) == 0.0 and not np.any(np.asarray(Z))


def test_overflow_is_no_information_not_a_bound():
    T, t = ell.ball(4, 1e200, jnp.float64)
    T, t = ell.congruence(T, t, jnp.full((4, 4), 1e200), jnp.asarray(4e200))
    assert not np.isfinite(float(ell.norm_hi(T, t)))


@pytest.mark.parametrize("k", [None, 3])
def test_a_long_chain_stays_inside_and_does_not_wrap(k):
    """Depth 40, width 8: the error of the composed chain against the ellipsoid and the step-by-step bound."""
    depth, n, rho = 40, 8, 1e-14
    rng = np.random.default_rng(11)
    As = [rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(depth)]
    T, t = ell.ball(n, rho, jnp.float64)
    step_bound = rho
    # exact error, built from the end: f_l aligned with the top direction of A_0⋯A_{l-1}
    P = np.eye(n)
    prods = []
    for A in As:
        prods.append(P.copy())
        P = P @ A
    u_ref = np.linalg.svd(P)[0][:, 0]
    with mpmath.workdps(40):
        E = mpmath.matrix(n, 1 if k is None else k)
        for layer in reversed(range(depth)):
            A = As[layer]
            a_hi = float(np.linalg.norm(A, 2)) * (1 + 1e-12)
            T, t = ell.congruence(T, t, jnp.asarray(A), jnp.asarray(a_hi))
            T, t = ell.add_ball(T, t, jnp.asarray(rho))
            step_bound = a_hi * step_bound + rho
            _, _, Vt = np.linalg.svd(prods[layer])
            f = rho * Vt[0] * 0.999  # the direction the rest of the chain stretches most,
            f = f * np.sign(u_ref @ (prods[layer] @ f))  # with signs that add up at the end
            F = f[:, None] if k is None else np.outer(f, np.eye(k)[0])
            E = _mp(A) * E + _mp(F)
        err = np.array(E.tolist(), dtype=float)
    hi = float(ell.norm_hi(T, t))
    assert np.linalg.norm(err, 2) <= hi
    assert np.all(np.abs(err).max(axis=-1) <= np.asarray(ell.diag_hi(T, t)))
    # attained to within a modest factor: no wrapping effect (√n from ‖T‖_∞ and the ball sums)
    assert hi < 30 * np.linalg.norm(err, 2)
    # the step-by-step bound ∏‖A‖ is far looser at this depth
    assert step_bound > 1e4 * hi
