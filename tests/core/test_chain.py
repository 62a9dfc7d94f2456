"""The one-neuron chain: the product formula against autodiff; vanishing and ×25 exploding."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import key

import gradbounds as gb
from gradbounds.core import chain_gradients, chain_network


@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy"])
def test_chain_formula_equals_autodiff(cost):
    net = chain_network(key(4), 7)
    r = chain_gradients(net, 0.7, 0.2, cost=cost)
    auto = np.array([float(d[0]) for d in gb.errors_autodiff(net, jnp.array([0.7]), jnp.array([0.2]), cost=cost)])
    np.testing.assert_allclose(r.grad_b, auto, rtol=1e-12)
    np.testing.assert_allclose(r.sign_grad_b * 10**r.log10_abs_grad_b, auto, rtol=1e-12)
    assert r.factors.shape == (6,)


def test_vanishing_chain_factors_are_at_most_a_quarter_of_the_weight():
    net = chain_network(key(0), 30)
    r = chain_gradients(net)
    w = np.array([float(layer.W[0, 0]) for layer in net])
    assert np.all(np.abs(r.factors) <= np.abs(w[1:]) / 4 + 1e-15)
    assert r.log10_abs_grad_b[0] < r.log10_abs_grad_b[-1] - 5


def test_exploding_chain_every_factor_is_exactly_25():
    net = chain_network(depth=12, exploding=True, x=0.3)
    r = chain_gradients(net, 0.3, 0.0)
    assert np.all(r.z == 0.0)
    assert np.all(r.factors == 25.0)
    ratios = r.grad_b[:-1] / r.grad_b[1:]
    np.testing.assert_array_equal(ratios, 25.0)


def test_exploding_chain_overflows_in_float_but_not_in_logs():
    L = 300
    r = chain_gradients(chain_network(depth=L, exploding=True), 1.0, 0.0)
    assert np.isinf(r.grad_b[0])
    # ∂C/∂b_1 = σ'(0) · 25^(L-1) · (a_L - y), a_L = σ(0) = 1/2
    want = math.log10(0.25) + (L - 1) * math.log10(25) + math.log10(0.5)
    assert r.log10_abs_grad_b[0] == pytest.approx(want, rel=1e-14)


def test_chain_errors():
    with pytest.raises(ValueError, match="depth: expected an int >= 1"):
        chain_network(key(0), 0)
    with pytest.raises(ValueError, match="pass a jax.random key"):
        chain_network(None, 3)
    with pytest.raises(ValueError, match="layer 1: expected a one-neuron chain"):
        chain_gradients(gb.init_network(key(0), (2, 2)))
