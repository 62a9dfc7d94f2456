"""δ^l: closed-form backprop = jax.grad w.r.t. the biases; ∂C/∂W^l = δ^l (a^{l-1})^T; underflow."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import example, small_net

import gradbounds as gb
from gradbounds import core
from gradbounds.core import Layer


def _user_cost(a, y):
    return jnp.sum(jnp.cosh(a - y))


@pytest.mark.parametrize("name", core.activation_names())
@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy", _user_cost])
def test_backprop_equals_autodiff(name, cost):
    out_act = "sigmoid" if cost == "cross-entropy" else name
    net = small_net(seed=5, widths=(4, 5, 3, 2), activation=[name, name, out_act], init="gaussian", sw2=1.7, sb2=0.2)
    x, y = example(net)
    for l, (bp, ad) in enumerate(zip(gb.errors(net, x, y, cost=cost), gb.errors_autodiff(net, x, y, cost=cost)), 1):
        np.testing.assert_allclose(bp, ad, rtol=1e-12, atol=1e-16, err_msg=f"layer {l}")


def test_cross_entropy_sigmoid_output_error_is_a_minus_y():
    net = small_net(widths=(4, 3, 2))
    x, y = example(net)
    aL = gb.forward(net, x).a[-1]
    np.testing.assert_allclose(gb.errors(net, x, y, cost="cross-entropy")[-1], aL - y, rtol=1e-14)


@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy"])
def test_weight_gradient_is_rank_one_and_its_norm_is_a_product(cost):
    net = small_net(seed=1, widths=(4, 5, 3, 2), activation="tanh")
    net = net[:-1] + (Layer(net[-1].W, net[-1].b, "sigmoid"),)
    x, y = example(net)

    def loss(n):
        fw = gb.forward(n, x)
        return gb.core.get_cost(cost).fn(fw.a[-1], y)

    auto = jax.grad(loss)(net)
    deltas = gb.errors(net, x, y, cost=cost)
    a = gb.forward(net, x).a
    for l, (G, layer_grad) in enumerate(zip(gb.weight_gradients(net, x, y, cost=cost), auto), 1):
        np.testing.assert_allclose(G, layer_grad.W, rtol=1e-12, atol=1e-16, err_msg=f"layer {l}")
        prod = float(jnp.linalg.norm(deltas[l - 1]) * jnp.linalg.norm(a[l - 1]))
        assert float(jnp.linalg.norm(G, 2)) == pytest.approx(prod, rel=1e-13)
        assert float(jnp.linalg.norm(G, "fro")) == pytest.approx(prod, rel=1e-13)


def test_log_error_norms_match_plain_norms_where_representable():
    net = small_net(seed=3, widths=(6,) + (6,) * 40, activation="sigmoid")
    x, y = example(net)
    plain = np.log([float(jnp.linalg.norm(d)) for d in gb.errors(net, x, y)])
    np.testing.assert_allclose(gb.log_error_norms(net, x, y), plain, rtol=1e-12)


def test_depth_10000_finite_logs_where_plain_backprop_is_zero():
    depth = 10_000
    net = small_net(seed=0, widths=(8,) * (depth + 1), activation="sigmoid")
    x, y = example(net)
    logs = np.asarray(gb.log_error_norms(net, x, y))
    assert np.all(np.isfinite(logs))
    # sigmoid's γ = 1/4 and ‖W‖ ≈ 2 (N(0,1/8) entries): roughly a factor ≤ 1/2 a layer
    assert logs[0] / np.log(10) < -1000
    k64 = gb.underflow_depth(net, x, y)
    k32 = gb.underflow_depth(net, x, y, dtype=jnp.float32)
    assert k32 is not None and k64 is not None and k32 < k64 < depth
    # the plain product is zero where the exact value drops below the smallest normal float64
    # (XLA on the CPU flushes subnormals to zero), and not earlier: one layer later it is still above the
    # smallest subnormal, so the exact value is representable as a number that backprop cannot carry
    tiny = np.log(np.finfo(np.float64).tiny)
    assert logs[depth - k64] < tiny + 5
    assert logs[depth - k64 + 1] > np.log(np.finfo(np.float64).smallest_subnormal)


def test_underflow_depth_none_for_shallow_networks():
    net = small_net()
    x, y = example(net)
    assert gb.underflow_depth(net, x, y) is None
    assert gb.underflow_depth(net, x, y, dtype=jnp.float32) is None
