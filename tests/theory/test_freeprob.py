"""Free-probability Jacobian spectra: exact cases (Fuss–Catalan, orthogonal linear, relu,
hard_tanh in closed form) and Monte-Carlo on finite networks."""

import math

import numpy as np
import pytest
from scipy import optimize, special

from gradbounds import theory
from gradbounds.theory import sample_jacobian_spectrum


@pytest.mark.parametrize("L", (1, 2, 3, 10))
def test_gaussian_linear_network_is_fuss_catalan(L):
    # Product of L Ginibre matrices: S = (σ_w²(1+m))^{-L}; moments m1 = σ_w^{2L},
    # m2 = (L+1) σ_w^{4L}; edge σ_w^{2L} (L+1)^{L+1}/L^L (Penson & Życzkowski 2011).
    sw2 = 1.3
    mean, var, _ = theory.jacobian_moments("linear", sw2, 0.0, L, init="gaussian")
    assert mean == pytest.approx(sw2**L, rel=1e-14)
    assert var == pytest.approx(L * sw2 ** (2 * L), rel=1e-14)
    edge = theory.jacobian_edge("linear", sw2, 0.0, L, init="gaussian")
    assert edge == pytest.approx(sw2**L * (L + 1) ** (L + 1) / L**L, rel=1e-10)


@pytest.mark.parametrize("L", (1, 5, 40))
def test_orthogonal_linear_network_is_an_isometry_times_sw(L):
    sw2 = 0.9
    mean, var, _ = theory.jacobian_moments("linear", sw2, 0.0, L, init="orthogonal")
    assert mean == pytest.approx(sw2**L, rel=1e-14) and var == 0.0
    assert theory.jacobian_edge("linear", sw2, 0.0, L, init="orthogonal") == pytest.approx(sw2**L, rel=1e-12)


def _min_log(fn):
    """min over m > 0 of a function of log m, by a grid and bounded Brent."""
    s = np.linspace(-20, 10, 3001)
    i = int(np.argmin([fn(v) for v in s]))
    return optimize.minimize_scalar(
        fn, bounds=(s[max(i - 1, 0)], s[min(i + 1, s.size - 1)]), method="bounded", options={"xatol": 1e-12}
    ).fun


@pytest.mark.parametrize("init", ("orthogonal", "gaussian"))
def test_relu_at_criticality_in_closed_form(init):
    # relu, σ_w² = 2: D² is Bernoulli(1/2), S_{D²} = 2(1+m)/(1+2m), so
    # M^{-1}(m) = (1+m)/m ((1+2m)/(1+m))^L (orthogonal) or (1+m)/m (1+2m)^L (Gaussian);
    # variance L (orthogonal) and 2L (Gaussian) (Pennington et al. 2017, §2.4).
    L = 16
    mean, var, _ = theory.jacobian_moments("relu", 2.0, 0.0, L, init=init)
    assert mean == pytest.approx(1.0, rel=1e-14)
    assert var == pytest.approx(L if init == "orthogonal" else 2 * L, rel=1e-14)

    def log_minv(s):
        m = math.exp(s)
        extra = math.log1p(2 * m) if init == "gaussian" else math.log1p(2 * m) - math.log1p(m)
        return math.log1p(m) - s + L * extra

    assert math.log(theory.jacobian_edge("relu", 2.0, 0.0, L, init=init)) == pytest.approx(_min_log(log_minv), abs=1e-8)


def test_hard_tanh_gaussian_moments_in_closed_form():
    # D² ∈ {0, 1} with p = erf(1/√(2q*)): m1 = (σ_w² p)^L, m2 = m1² (L + p)/p.
    sw2, sb2, L = 1.4, 0.1, 7
    q = theory.q_star("hard_tanh", sw2, sb2)
    p = special.erf(1 / math.sqrt(2 * q))
    mean, var, _ = theory.jacobian_moments("hard_tanh", sw2, sb2, L, init="gaussian")
    assert mean == pytest.approx((sw2 * p) ** L, rel=1e-12)
    assert var + mean**2 == pytest.approx(mean**2 * (L + p) / p, rel=1e-12)


def test_mean_is_chi1_to_the_depth_and_log_mean_survives_depth():
    sw2, sb2 = 1.2, 0.05
    x = theory.chi1("tanh", sw2, sb2)
    mean, _, log_mean = theory.jacobian_moments("tanh", sw2, sb2, 12, init="orthogonal")
    assert mean == pytest.approx(x**12, rel=1e-12)
    _, _, log_deep = theory.jacobian_moments("tanh", sw2, sb2, 100_000, init="orthogonal")
    assert log_deep == pytest.approx(100_000 * math.log(x), rel=1e-12)


def test_per_layer_variances_reduce_to_the_fixed_point():
    q = theory.q_star("tanh", 1.2, 0.05)
    a = theory.jacobian_moments("tanh", 1.2, 0.05, 5, init="gaussian")
    b = theory.jacobian_moments("tanh", 1.2, 0.05, 5, init="gaussian", q=np.full(5, q))
    assert a == pytest.approx(b, rel=1e-14)


def test_bad_input():
    with pytest.raises(ValueError, match="init"):
        theory.jacobian_moments("tanh", 1.0, 0.0, 3, init="glorot")
    with pytest.raises(ValueError, match="depth"):
        theory.jacobian_edge("tanh", 1.0, 0.0, 0)
    with pytest.raises(ValueError, match="q"):
        theory.jacobian_moments("tanh", 1.0, 0.0, 3, q=[0.1, 0.2])


@pytest.mark.slow
def test_orthogonal_tanh_at_criticality_matches_a_finite_network():
    # Pennington et al. 2017's critical tanh (σ_w² = 1.05, σ_b² = 2.01e-5), orthogonal weights,
    # width 200, depth 8, seed 0.  Over seeds 0..5 the measured mean, variance and edge were
    # within 0.6%, 5.8% and 0.5% of the prediction (standard deviations ≈ 0.3%, 3.5%, 0.4%):
    # tolerances 2%, 12%, 2% (≥ 3σ).
    p = theory.jacobian_spectrum("tanh", 1.05, 2.01e-5, 8, init="orthogonal")
    m = sample_jacobian_spectrum("tanh", "orthogonal", 1.05, 2.01e-5, 8, 200, seed=0)
    assert m["mean"] == pytest.approx(p.mean, rel=0.02)
    assert m["variance"] == pytest.approx(p.variance, rel=0.12)
    assert m["edge"] == pytest.approx(p.edge, rel=0.02)
    # dynamical isometry: orthogonal weights give a spectrum ~ 200x narrower than Gaussian ones
    assert theory.jacobian_spectrum("tanh", 1.05, 2.01e-5, 8, init="gaussian").variance > 100 * p.variance


@pytest.mark.slow
def test_gaussian_tanh_matches_finite_networks_on_average():
    # Gaussian weights, width 400, depth 4, seeds 0..3: one network's mean and variance had
    # standard deviations ≈ 2% and 4% around the prediction; the average of 4 is within 5% and 10%.
    p = theory.jacobian_spectrum("tanh", 1.05, 2.01e-5, 4, init="gaussian")
    ms = [sample_jacobian_spectrum("tanh", "gaussian", 1.05, 2.01e-5, 4, 400, seed=s) for s in range(4)]
    assert np.mean([m["mean"] for m in ms]) == pytest.approx(p.mean, rel=0.05)
    assert np.mean([m["variance"] for m in ms]) == pytest.approx(p.variance, rel=0.10)
