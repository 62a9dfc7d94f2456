"""Mean-field theory: quadrature vs scipy.integrate.quad, closed forms vs quadrature,
exact facts, the critical line, and Monte-Carlo on wide random networks."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

import gradbounds as gb
from gradbounds import core, theory
from gradbounds.theory import _correlation, _gauss

SMOOTH = ("sigmoid", "tanh", "softplus", "gelu", "silu", "erf")
KINKED = ("relu", "leaky_relu", "elu", "selu", "hard_tanh", "linear")


def _quad_reference(f, q, kinks):
    """E_z[f(√q z)] by adaptive quadrature, split at the kinks and at |u| = 1, 3."""
    s = math.sqrt(q)
    cuts = {-40.0, 40.0, 0.0}
    cuts |= {k / s for k in kinks if abs(k / s) < 40} | {v / s for v in (-3, -1, 1, 3) if abs(v / s) < 40}
    pts = sorted(cuts)

    def h(z):
        return float(f(np.array(s * z))) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    return sum(quad(h, a, b, epsabs=0, epsrel=1e-13, limit=400)[0] for a, b in zip(pts[:-1], pts[1:]))


@pytest.mark.parametrize("name", SMOOTH + KINKED)
def test_quadrature_matches_scipy_quad_to_1e10(name):
    # q ≤ 2 uses Gauss–Hermite for smooth σ; larger q and kinks the composite rule.
    act = _gauss.np_activation(name)
    for q in (1e-3, 0.5, 2.0, 7.0, 300.0):
        got = theory.gaussian_moments(name, q, closed=False)
        for fn, val in ((lambda u: act.fn(u) ** 2, got.phi2), (lambda u: act.deriv(u) ** 2, got.dphi2)):
            ref = _quad_reference(fn, q, act.kinks)
            assert abs(float(val) - ref) <= 1e-10 * abs(ref), (name, q, float(val), ref)


@pytest.mark.parametrize("name", SMOOTH + KINKED)
def test_numpy_twins_equal_the_registry(name):
    u = np.linspace(-6, 6, 1001)
    act, tw = core.get_activation(name), _gauss.np_activation(name)
    np.testing.assert_allclose(tw.fn(u), np.asarray(act.fn(jnp.asarray(u))), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(tw.deriv(u), np.asarray(act.deriv(jnp.asarray(u))), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", ("erf", "hard_tanh", "relu", "leaky_relu", "linear"))
def test_closed_forms_match_quadrature(name):
    q = np.array([1e-3, 0.1, 1.0, 3.0, 30.0, 1e3])
    for a, b in zip(theory.gaussian_moments(name, q), theory.gaussian_moments(name, q, closed=False)):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    if name == "hard_tanh":
        return
    act = _gauss.np_activation(name)
    c = np.array([-0.9, -0.3, 0.5, 0.99, 1.0])
    for qq in (0.1, 2.0, 30.0):
        for a, b in zip(
            _correlation._cmap_integrals(act, qq, c), _correlation._cmap_integrals(act, qq, c, closed=False)
        ):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13 * qq)


def test_relu_at_sw2_2_has_chi1_one_for_every_q():
    qs = np.geomspace(1e-6, 1e6, 13)
    np.testing.assert_array_equal(theory.chi1("relu", 2.0, 0.0, q=qs), np.ones_like(qs))
    # the same by quadrature, without the closed form
    np.testing.assert_allclose(2.0 * theory.gaussian_moments("relu", qs, closed=False).dphi2, 1.0, rtol=1e-12)


@pytest.mark.parametrize("name", SMOOTH + KINKED)
def test_q_star_is_a_fixed_point(name):
    sw2 = np.array([0.5, 1.2, 1.5, 3.0])
    sb2 = np.array([0.05, 0.0, 0.3, 0.1])
    q = theory.q_star(name, sw2, sb2)
    for i in range(sw2.size):
        assert theory.q_star(name, float(sw2[i]), float(sb2[i])) == pytest.approx(q[i], rel=1e-12, abs=1e-300)
        if np.isfinite(q[i]):
            v = theory.length_map(name, q[i], sw2=sw2[i], sb2=sb2[i])
            assert v == pytest.approx(q[i], rel=1e-12, abs=1e-15)


def test_q_star_closed_forms():
    # relu: q* = σ_b²/(1 − σ_w²/2); linear: σ_b²/(1 − σ_w²); diverges past the critical σ_w².
    assert theory.q_star("relu", 1.0, 0.3) == pytest.approx(0.6, rel=1e-15)
    assert theory.q_star("linear", 0.5, 0.3) == pytest.approx(0.6, rel=1e-15)
    assert theory.q_star("relu", 2.5, 0.1) == math.inf
    assert theory.q_star("tanh", 0.9, 0.0) == 0.0  # q = 0 is stable when σ_w² σ'(0)² ≤ 1
    assert theory.q_star("tanh", 2.0, 0.0) > 0.1


def test_slope_of_the_length_map_equals_a_finite_difference():
    for name, sw2, sb2 in (("tanh", 1.5, 0.05), ("elu", 1.2, 0.1), ("hard_tanh", 1.3, 0.2), ("gelu", 2.0, 0.1)):
        q = theory.q_star(name, sw2, sb2)
        h = 1e-5 * q
        fd = (theory.length_map(name, q + h, sw2=sw2, sb2=sb2) - theory.length_map(name, q - h, sw2=sw2, sb2=sb2)) / (
            2 * h
        )
        assert theory.mean_field(name, sw2, sb2, correlation=False).slope_q == pytest.approx(float(fd), rel=1e-7)


@pytest.mark.parametrize("name", ("tanh", "erf", "sigmoid", "hard_tanh", "elu", "selu"))
@pytest.mark.parametrize("sb2", (0.0, 0.01, 0.3))
def test_critical_line_has_chi1_equal_one(name, sb2):
    sw2c, qc = theory.critical_sw2(name, sb2)
    assert theory.q_star(name, sw2c, sb2) == pytest.approx(qc, rel=1e-8, abs=1e-12)
    assert theory.chi1(name, sw2c, sb2) == pytest.approx(1.0, abs=1e-9)
    assert theory.mean_field(name, sw2c * 0.95, sb2, correlation=False).phase == "ordered"
    assert theory.mean_field(name, sw2c * 1.05, sb2, correlation=False).phase == "chaotic"


def test_gelu_critical_point_only_where_the_fixed_point_is_stable():
    # At σ_b² = 0.3 gelu crosses χ₁ = 1 at its stable fixed point; at σ_b² = 0.01 the root of
    # χ₁ = 1 is an unstable fixed point of the length map (q* jumps instead), so there is none.
    sw2c, qc = theory.critical_sw2("gelu", 0.3)
    assert theory.chi1("gelu", sw2c, 0.3) == pytest.approx(1.0, abs=1e-9)
    sw2u = 1.0 / theory.gaussian_moments("gelu", 0.18348319310704853).dphi2  # the unstable root
    assert theory.q_star("gelu", sw2u, 0.01) < 0.1 and theory.chi1("gelu", sw2u, 0.01) < 0.9
    with pytest.raises(ValueError, match="stable fixed point"):
        theory.critical_sw2("gelu", 0.01)


def test_critical_line_parametrised_by_q_star():
    q = np.geomspace(0.01, 3.0, 9)
    for name in ("tanh", "erf", "hard_tanh", "elu"):
        sw2, sb2 = theory.critical_line(name, q)
        ok = sb2 > 1e-4 * q  # realisable, away from the degenerate σ_b² → 0 end
        assert ok.sum() >= 5, name
        # q is a fixed point with χ₁ = 1 (the defining equations) ...
        np.testing.assert_allclose(theory.length_map(name, q[ok], sw2=sw2[ok], sb2=sb2[ok]), q[ok], rtol=1e-13)
        np.testing.assert_allclose(theory.chi1(name, sw2[ok], sb2[ok], q=q[ok]), 1.0, rtol=1e-13)
        # ... and it is the fixed point q_star finds (ill-conditioned as the slope dq/dq → 1 at small q)
        np.testing.assert_allclose(theory.q_star(name, sw2[ok], sb2[ok]), q[ok], rtol=1e-6)


def test_critical_points_known_exactly():
    assert theory.critical_sw2("tanh", 0.0) == (1.0, 0.0)  # σ_w = 1, σ_b = 0
    assert theory.critical_sw2("relu", 0.1) == (2.0, math.inf)  # He: σ_w² = 2
    assert theory.critical_sw2("linear", 0.0)[0] == 1.0
    # erf: χ₁ = σ_w² 4/(π√(1+4q)) = 1 and q = σ_w² (2/π) arcsin(2q/(1+2q)) + σ_b², in closed form
    sw2, q = theory.critical_sw2("erf", 0.2)
    assert sw2 * 4 / (math.pi * math.sqrt(1 + 4 * q)) == pytest.approx(1.0, rel=1e-12)
    assert sw2 * 2 / math.pi * math.asin(2 * q / (1 + 2 * q)) + 0.2 == pytest.approx(q, rel=1e-12)


def test_correlation_fixed_point_and_depth_scales():
    ordered = theory.mean_field("tanh", 1.2, 0.05)
    assert ordered.phase == "ordered" and ordered.c_star == 1.0
    assert ordered.xi_c == pytest.approx(ordered.xi_grad, rel=1e-14)  # χ_c = χ₁ at c* = 1
    assert ordered.xi_grad == pytest.approx(-1 / math.log(ordered.chi1), rel=1e-14)
    chaotic = theory.mean_field("tanh", 2.5, 0.05)
    assert chaotic.phase == "chaotic" and chaotic.xi_grad < 0 and 0 < chaotic.c_star < 1
    c_map = theory.correlation_map("tanh", chaotic.c_star, sw2=2.5, sb2=0.05)
    assert float(c_map) == pytest.approx(chaotic.c_star, abs=1e-12)
    assert 0 < chaotic.chi_c < 1 and chaotic.xi_c == pytest.approx(-1 / math.log(chaotic.chi_c), rel=1e-14)
    # odd σ without bias: the chaotic fixed point is c* = 0 exactly
    assert theory.c_star("tanh", 2.0, 0.0) == pytest.approx(0.0, abs=1e-10)
    # ξ_c diverges approaching the critical line from the chaotic side
    sw2c, _ = theory.critical_sw2("tanh", 0.05)
    xs = [theory.mean_field("tanh", sw2c * (1 + e), 0.05).xi_c for e in (0.2, 0.05, 0.01)]
    assert xs[0] < xs[1] < xs[2]


def test_bad_variances_raise():
    with pytest.raises(ValueError, match="variances"):
        theory.q_star("tanh", -1.0, 0.0)
    with pytest.raises(ValueError, match="variances"):
        theory.mean_field("tanh", 1.0, float("nan"))
    with pytest.raises(ValueError, match="unknown activation"):
        theory.q_star("nope", 1.0, 0.0)


def test_grid_is_vectorised_and_matches_scalars():
    sw2, sb2 = np.meshgrid(np.linspace(0.5, 3.0, 7), np.linspace(0.0, 0.4, 5))
    mf = theory.mean_field("tanh", sw2, sb2, correlation=False)
    assert mf.q_star.shape == sw2.shape and mf.phase.shape == sw2.shape
    for i, j in ((0, 0), (2, 3), (4, 6)):
        one = theory.mean_field("tanh", float(sw2[i, j]), float(sb2[i, j]), correlation=False)
        assert one.q_star == pytest.approx(mf.q_star[i, j], rel=1e-13, abs=1e-300)
        assert one.chi1 == pytest.approx(mf.chi1[i, j], rel=1e-13)


def test_c_star_series_equals_two_dimensional_quadrature():
    """Fast path: c* and χ_c from the Mehler series (vectorised) against brentq on 2-D quadratures."""
    from gradbounds.theory._gauss import np_activation

    act = np_activation("tanh")
    pts = [(2.5, 0.05), (4.0, 0.5), (1.8, 0.01), (3.0, 1e-4), (3.5, 0.3), (15.0, 1.0)]  # chaotic (χ₁ > 1), q* ≤ 13
    sw2 = np.array([p[0] for p in pts])
    sb2 = np.array([p[1] for p in pts])
    q = theory.q_star("tanh", sw2, sb2)
    c, chi_c, ok = _correlation._c_star_series(act, sw2, sb2, q)
    assert ok.all()
    for i, (a, b) in enumerate(pts):
        chi = theory.chi1("tanh", a, b)
        ref = _correlation._c_star_one(act, a, b, q[i], chi)
        assert abs(c[i] - ref) <= 1e-11, (a, b, c[i], ref)
        ref_chi = a * _correlation._cmap_integrals(act, q[i], ref)[1]
        assert chi_c[i] == pytest.approx(ref_chi, rel=1e-11)
    # the grid and single points agree; a kinked σ (hard_tanh) takes the 2-D quadrature fallback
    grid = theory.mean_field("tanh", sw2, sb2)
    for i, (a, b) in enumerate(pts):
        assert theory.c_star("tanh", a, b) == pytest.approx(grid.c_star[i], abs=1e-13)
    ht = theory.c_star("hard_tanh", np.array([3.0, 4.0]), np.array([0.05, 0.3]))
    for i, (a, b) in enumerate(((3.0, 0.05), (4.0, 0.3))):
        qq, xx = theory.q_star("hard_tanh", a, b), theory.chi1("hard_tanh", a, b)
        # the same quadrature on a batch and on one point: equal up to the summation order of a dot
        # product (a few ulps; einsum over batches of different sizes may vectorise differently)
        assert ht[i] == pytest.approx(_correlation._c_star_one(np_activation("hard_tanh"), a, b, qq, xx), rel=8e-16)


def _wide_forward(key, n, depth, sw2, sb2, x):
    net = gb.init_network(key, (n,) * (depth + 1), activation="tanh", init="gaussian", sw2=sw2, sb2=sb2)
    return jax.vmap(lambda xx: gb.forward(net, xx))(x)


def test_length_map_matches_wide_networks():
    # Width n = 1000, depth 8, 6 networks (keys 0..5) x 2 inputs, compared with the length-map
    # iterates started from each measured q^1.  Over 10 networks the per-network relative
    # deviation had standard deviation ≤ 0.042 at every layer, so the mean of 6 has σ ≤ 0.017:
    # tolerance 0.07 ≈ 4σ.
    n, depth, sw2, sb2 = 1000, 8, 1.5, 0.05
    meas, pred = [], []
    for s in range(6):
        x = jax.random.normal(jax.random.key(100 + s), (2, n))
        fw = _wide_forward(jax.random.key(s), n, depth, sw2, sb2, x)
        qs = np.array([np.mean(np.asarray(z) ** 2, -1) for z in fw.z])  # (depth, 2)
        meas.append(qs)
        pred.append(np.stack([theory.length_map_iterates("tanh", q1, depth, sw2=sw2, sb2=sb2) for q1 in qs[0]], 1))
    meas, pred = np.mean(meas, axis=(0, 2)), np.mean(pred, axis=(0, 2))
    np.testing.assert_allclose(meas, pred, rtol=0.07)
    # the iterates contract towards q* with slope ≈ 0.55 per layer (|q^1 − q*| ≈ 1.2 → ≤ 0.02 by l = 8)
    assert pred[-1] == pytest.approx(theory.q_star("tanh", sw2, sb2), abs=0.02)


def test_correlation_map_matches_wide_networks():
    # Chaotic tanh (σ_w² = 2.5, σ_b² = 0.05), width 1000, depth 8, 6 networks (keys 50..55), one
    # pair of inputs each: the measured correlation c^l against the correlation map iterated from
    # the measured c^1.  Over 10 networks the deviation had standard deviation ≤ 0.057 per layer,
    # so the mean of 6 has σ ≤ 0.023: tolerance 0.09 ≈ 4σ (c runs from 0.07 to 0.3 here).
    n, depth, sw2, sb2 = 1000, 8, 2.5, 0.05
    q = theory.q_star("tanh", sw2, sb2)
    meas, pred = [], []
    for s in range(6):
        x = jax.random.normal(jax.random.key(200 + s), (2, n)) * math.sqrt((q - sb2) / sw2)
        fw = _wide_forward(jax.random.key(50 + s), n, depth, sw2, sb2, x)
        cs = [float(jnp.dot(z[0], z[1]) / jnp.linalg.norm(z[0]) / jnp.linalg.norm(z[1])) for z in fw.z]
        c, it = cs[0], [cs[0]]
        for _ in range(depth - 1):
            c = float(theory.correlation_map("tanh", c, sw2=sw2, sb2=sb2))
            it.append(c)
        meas.append(cs)
        pred.append(it)
    np.testing.assert_allclose(np.mean(meas, 0), np.mean(pred, 0), atol=0.09)
