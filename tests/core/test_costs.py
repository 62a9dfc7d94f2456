"""δ^L = Σ'(z^L)∇_{a^L}C (BP1) against autodiff and 50-digit arithmetic; σ' cancels for cross-entropy."""

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

from gradbounds import core


@pytest.mark.parametrize("name", core.activation_names())
def test_output_error_equals_autodiff_at_moderate_z(name):
    act = core.get_activation(name)
    z = jnp.linspace(-3.0, 3.0, 7) + 0.123
    a, y = act.fn(z), jnp.linspace(0.1, 0.9, 7)
    out = core.output_error("quadratic", name, z, a, y)
    want = jax.grad(lambda zz: core.get_cost("quadratic").fn(act.fn(zz), y))(z)
    np.testing.assert_allclose(out.delta, want, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(out.g, a - y)
    assert out.start == "grad_a"


@pytest.mark.parametrize(
    ("name", "z"), [("elu", -40.0), ("selu", -60.0), ("sigmoid", 40.0), ("tanh", 25.0), ("gelu", -9.5)]
)
def test_output_error_keeps_tiny_sigma_prime(name, z):
    # autodiff through σ loses these (JAX's expm1 rule gives elu'(−40) = 0); BP1 with σ' in closed form does not
    act = core.get_activation(name)
    zz = jnp.asarray([z])
    y = jnp.asarray([0.5])
    out = core.output_error("quadratic", name, zz, act.fn(zz), y)
    with mpmath.workdps(50):
        t = mpmath.mpf(z)
        want = float(act.mp_deriv(t) * (act.mp_fn(t) - mpmath.mpf(0.5)))
    assert want != 0
    np.testing.assert_allclose(float(out.delta[0]), want, rtol=1e-12)


def test_cross_entropy_with_sigmoid_output_cancels_sigma_prime():
    z = jnp.asarray([-30.0, -1.0, 0.5, 30.0])
    y = jnp.asarray([1.0, 0.0, 1.0, 0.0])
    a = jax.nn.sigmoid(z)
    out = core.output_error("cross-entropy", "sigmoid", z, a, y)
    assert out.start == "delta"
    np.testing.assert_allclose(out.delta, a - y, rtol=1e-15)
    np.testing.assert_array_equal(out.g, out.delta)


def test_unknown_cost_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown cost 'hinge'"):
        core.get_cost("hinge")


# ------------------------------------------------------------------ softmax cross-entropy on logits
def _softmax_ce_mp(z, y):
    with mpmath.workdps(50):
        zs = [mpmath.mpf(float(t)) for t in z]
        lse = mpmath.log(mpmath.fsum(mpmath.exp(t) for t in zs))
        value = -mpmath.fsum(mpmath.mpf(float(u)) * (t - lse) for t, u in zip(zs, y))
        sy = mpmath.fsum(mpmath.mpf(float(u)) for u in y)
        delta = [mpmath.exp(t - lse) * sy - mpmath.mpf(float(u)) for t, u in zip(zs, y)]
        return float(value), np.array([float(d) for d in delta])


@pytest.mark.parametrize(
    ("z", "y"),
    [
        ([0.3, -1.2, 2.0], [0.0, 1.0, 0.0]),  # one-hot
        ([700.0, 699.0, -650.0], [0.2, 0.5, 0.3]),  # a distribution, logits near exp's overflow
        ([-3.0, 4.0], [0.5, 1.5]),  # Σy ≠ 1: δ = softmax(z)Σy − y
    ],
)
def test_softmax_cross_entropy_value_and_delta_against_50_digits(z, y):
    c = core.get_cost("softmax-cross-entropy")
    z, y = jnp.asarray(z), jnp.asarray(y)
    value, delta = _softmax_ce_mp(z, y)
    np.testing.assert_allclose(float(c.fn(z, y)), value, rtol=1e-13, atol=1e-13)
    out = core.output_error(c, "linear", z, z, y)
    assert out.start == "delta"
    np.testing.assert_allclose(out.delta, delta, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(out.g, out.delta)
    # closed form = autodiff (jacrev of the value from logits, and jacfwd)
    np.testing.assert_allclose(jax.grad(c.fn)(z, y), out.delta, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(jax.jacfwd(c.fn)(z, y), out.delta, rtol=1e-12, atol=1e-15)


def test_softmax_is_a_distribution_and_matches_jax():
    z = jnp.asarray([[1.0, 2.0, -800.0], [800.0, 0.0, 799.0]])
    s = core.softmax(z)
    np.testing.assert_allclose(jnp.sum(s, axis=-1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(s, jax.nn.softmax(z, axis=-1), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("alias", ["softmax-cross-entropy", "softmax_cross_entropy", "softmax-ce", "SOFTMAX"])
def test_softmax_cross_entropy_aliases(alias):
    assert core.get_cost(alias).name == "softmax-cross-entropy"


@pytest.mark.parametrize("out", ["sigmoid", "tanh", "relu", "softplus"])
def test_softmax_cross_entropy_needs_a_linear_output(out):
    z = jnp.asarray([0.5, -0.5])
    with pytest.raises(ValueError, match="softmax-cross-entropy.*output activation " + out + ".*linear"):
        core.output_error("softmax-cross-entropy", out, z, z, jnp.asarray([1.0, 0.0]))
