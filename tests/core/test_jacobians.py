"""J^l and B^l: closed form = jacfwd = jacrev, for every activation."""

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import example, small_net

import gradbounds as gb
from gradbounds import core


@pytest.mark.parametrize("name", core.activation_names())
def test_three_methods_agree(name):
    net = small_net(seed=2, widths=(5, 4, 6, 3), activation=name, init="gaussian", sw2=2.0, sb2=0.3)
    x, _ = example(net)
    for l in range(1, 4):
        closed = gb.core.layer_jacobian(net, x, l)
        assert closed.shape == (net[l - 1].W.shape[0], net[l - 1].W.shape[1])
        for method in ("jacfwd", "jacrev"):
            np.testing.assert_allclose(gb.core.layer_jacobian(net, x, l, method=method), closed, rtol=1e-13, atol=1e-15)
    for l in range(1, 3):
        closed = gb.core.error_jacobian(net, x, l)
        assert closed.shape == (net[l - 1].W.shape[0], net[l].W.shape[0])
        for method in ("jacfwd", "jacrev"):
            np.testing.assert_allclose(gb.core.error_jacobian(net, x, l, method=method), closed, rtol=1e-13, atol=1e-15)


def test_closed_form_is_diag_sigma_prime_times_w():
    net = small_net(widths=(3, 4, 2))
    x, _ = example(net)
    z1 = net[0].W @ x + net[0].b
    s1 = jnp.diag(core.get_activation("sigmoid").deriv(z1))
    np.testing.assert_allclose(gb.core.layer_jacobian(net, x, 1), s1 @ net[0].W, rtol=1e-15)
    np.testing.assert_allclose(gb.core.error_jacobian(net, x, 1), s1 @ net[1].W.T, rtol=1e-15)


def test_all_layers_and_input_output_jacobian():
    net = small_net(widths=(4, 5, 5, 3), activation="tanh")
    x, _ = example(net)
    Js = gb.layer_jacobians(net, x)
    assert len(Js) == 3 and len(gb.error_jacobians(net, x)) == 2
    prod = Js[2] @ Js[1] @ Js[0]
    for method in ("closed", "jacfwd", "jacrev"):
        np.testing.assert_allclose(gb.input_output_jacobian(net, x, method=method), prod, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(gb.layer_jacobians(net, x, method="jacrev")[1], Js[1], rtol=1e-13)


def test_bad_layer_and_method():
    net = small_net()
    x, _ = example(net)
    with pytest.raises(ValueError, match="expected a layer index in 1..2, got 3"):
        gb.core.error_jacobian(net, x, 3)
    with pytest.raises(ValueError, match="unknown method 'fd'"):
        gb.core.layer_jacobian(net, x, 1, method="fd")
