"""σ' in closed form equals jax.grad; γ equals a dense numeric maximisation of |σ'|."""

import math

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

from gradbounds import core

NAMES = core.activation_names()
EPS = float(np.finfo(np.float64).eps)
# dense on [-12, 12] (step 1e-4), the kinks, and far points where a sup is approached (softplus' → 1)
GRID = jnp.concatenate([jnp.linspace(-12.0, 12.0, 240_001), jnp.array([-1.0, 0.0, 1.0, -1e3, -40.0, 40.0, 1e3])])


def test_registry_has_the_issue_list():
    want = {
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "softplus",
        "gelu",
        "gelu_tanh",
        "silu",
        "erf",
        "hard_tanh",
        "linear",
    }
    assert want <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_deriv_equals_jax_grad_everywhere_including_kinks(name):
    act = core.get_activation(name)
    grad = jax.vmap(jax.grad(act.fn))(GRID)
    # JAX's own rules (1 − tanh², s(1 − s), expm1 + 1) carry an absolute error of a
    # few ulps of 1 where σ' is small; the relative accuracy is checked against mpmath below
    np.testing.assert_allclose(act.deriv(GRID), grad, rtol=1e-13, atol=16 * EPS)


MP_GRID = np.concatenate([np.linspace(-700.0, 700.0, 1401), np.linspace(-45.0, 45.0, 901), [-1.0, 0.0, 1.0]])


@pytest.mark.parametrize("name", NAMES)
def test_deriv_is_accurate_relative_to_50_digit_arithmetic_where_tiny(name):
    # σ' relative to its exact value wherever that is a normal float64: the closed forms
    # avoid the cancellations (1 − tanh² z, 1 − σ(z), 1 + erf(z/√2)) that zero it early
    act = core.get_activation(name)
    got = np.asarray(act.deriv(jnp.asarray(MP_GRID)))
    with mpmath.workdps(50):
        want = np.array([float(act.mp_deriv(mpmath.mpf(float(t)))) for t in MP_GRID])
    # away from the underflow threshold by 10³ (gelu' = Φ + zφ has the factor φ(z), flushed to 0 first)
    normal = np.abs(want) >= 1e3 * np.finfo(np.float64).tiny
    # gelu_tanh' carries e^{−2u}, 2u = 2√(2/π)(z + 0.044715 z³) up to ~700 before it underflows: a few
    # roundings of 2u (ulp(700) ≈ 1.1e-13) are the relative error of any float64 evaluation there
    rtol = 5e-13 if name == "gelu_tanh" else 1e-13
    np.testing.assert_allclose(got[normal], want[normal], rtol=rtol, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_gamma_is_the_sup_of_the_derivative(name):
    act = core.get_activation(name)
    numeric = float(jnp.max(jnp.abs(act.deriv(GRID))))
    # the grid step is 1e-4; |σ''| <= 1 near the maximiser, so the grid max is within 1e-8 of γ
    assert numeric <= act.gamma * (1 + 1e-12)
    assert numeric >= act.gamma - 1e-8


@pytest.mark.parametrize(
    "name,value",
    [
        ("sigmoid", 0.25),
        ("tanh", 1.0),
        ("relu", 1.0),
        ("selu", core.SELU_LAMBDA * core.SELU_ALPHA),
        ("erf", 2 / math.sqrt(math.pi)),
        ("gelu", 1.1289),
        ("gelu_tanh", 1.1290),
        ("silu", 1.0998),
        ("softplus", 1.0),
        ("hard_tanh", 1.0),
    ],
)
def test_gamma_closed_forms(name, value):
    assert core.get_activation(name).gamma == pytest.approx(value, abs=5e-5)


@pytest.mark.parametrize("name", NAMES)
def test_mpmath_twins_agree_with_jax(name):
    act = core.get_activation(name)
    ts = np.array([-3.1, -1.0, -0.2, 0.0, 0.2, 1.0, 2.5])
    with mpmath.workdps(30):
        f = np.array([float(act.mp_fn(mpmath.mpf(t))) for t in ts])
        d = np.array([float(act.mp_deriv(mpmath.mpf(t))) for t in ts])
    np.testing.assert_allclose(f, act.fn(jnp.asarray(ts)), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(d, act.deriv(jnp.asarray(ts)), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_dtype_is_kept(name):
    act = core.get_activation(name)
    z = jnp.linspace(-2, 2, 5, dtype=jnp.float32)
    assert act.fn(z).dtype == jnp.float32
    assert act.deriv(z).dtype == jnp.float32


def test_unknown_and_bad_names():
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        core.get_activation("nope")
    with pytest.raises(TypeError, match="expected a name"):
        core.get_activation(3)
    assert core.get_activation("swish").name == "silu"


def test_register_validates():
    with pytest.raises(ValueError, match="already registered"):
        core.register_activation(core.get_activation("tanh"))
    with pytest.raises(ValueError, match="gamma"):
        core.register_activation(core.Activation("bad", jnp.tanh, jnp.tanh, float("nan")))


def test_the_two_gelus_are_jax_s_two_gelus():
    z = jnp.linspace(-8.0, 8.0, 4001)
    np.testing.assert_allclose(core.get_activation("gelu").fn(z), jax.nn.gelu(z, approximate=False), atol=1e-15)
    np.testing.assert_allclose(core.get_activation("gelu_tanh").fn(z), jax.nn.gelu(z, approximate=True), atol=1e-14)
    # they are different functions: up to 4.7e-4 apart, far above any rounding
    gap = jnp.max(jnp.abs(core.get_activation("gelu").fn(z) - core.get_activation("gelu_tanh").fn(z)))
    assert 4e-4 < float(gap) < 5e-4


@pytest.mark.parametrize("slope", [0.2, 0.0, 1.5, -0.3])
def test_leaky_relu_with_a_slope_is_a_parameterised_name(slope):
    act = core.get_activation(f"leaky_relu:{slope}")
    assert act.name == f"leaky_relu:{slope!r}" and act.name not in NAMES
    assert core.get_activation(act.name) is act and core.leaky_relu(slope) is act
    z = jnp.linspace(-3.0, 3.0, 601)
    np.testing.assert_array_equal(act.fn(z), jax.nn.leaky_relu(z, slope))
    np.testing.assert_array_equal(act.deriv(z), jax.vmap(jax.grad(act.fn))(z))
    assert act.gamma == max(1.0, abs(slope)) and act.jumps == (pytest.approx(abs(1 - slope)),)
    with mpmath.workdps(30):
        assert float(act.mp_fn(mpmath.mpf(-2))) == pytest.approx(-2 * slope)


def test_the_default_leaky_slope_is_one_record():
    assert core.get_activation("leaky_relu:0.01") is core.get_activation("leaky_relu")
    assert core.leaky_relu() is core.get_activation("leaky_relu")


@pytest.mark.parametrize("name", ["leaky_relu:x", "leaky_relu:inf", "elu:0.5"])
def test_bad_parameterised_names(name):
    with pytest.raises(ValueError, match="activation"):
        core.get_activation(name)
