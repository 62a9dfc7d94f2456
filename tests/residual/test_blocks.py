"""Residual blocks: the closed-form block Jacobian against jacfwd and jacrev, autodiff errors, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import key

import gradbounds as gb
from gradbounds import residual


def _block(seed=0, n=5, acts=("tanh", "silu", "softplus"), scale=0.7):
    layers = gb.init_network(key(seed), (n,) * (len(acts) + 1), activation=list(acts), init="gaussian", sb2=0.1)
    return gb.Residual(tuple(gb.Layer(q.W * scale, q.b, q.activation) for q in layers))


def _net(seed=0):
    """A plain input layer, two residual blocks, a sigmoid read-out: widths 4 -> 6 -> 6 -> 6 -> 3."""
    k = jax.random.split(key(seed), 4)
    first = gb.init_network(k[0], (4, 6), activation="tanh", init="glorot")
    blocks = residual.init_residual(k[1], 6, 2, block_layers=2, activation=["tanh", "silu"], branch_scale=0.8)
    out = gb.init_network(k[2], (6, 3), activation="sigmoid", init="glorot")
    x = jax.random.uniform(k[3], (4,), jnp.float64)
    return (*first, *blocks, *out), x, jnp.array([0.0, 1.0, 0.5])


@pytest.mark.parametrize("acts", [("tanh",), ("tanh", "silu", "softplus"), ("relu", "linear")])
def test_block_jacobian_closed_form_is_jacfwd_and_jacrev(acts):
    blk = _block(1, acts=acts)
    h = jax.random.normal(key(2), (5,), jnp.float64)
    closed = residual.block_jacobian(blk, h)
    fwd = jax.jacfwd(lambda v: residual.block_forward(blk, v))(h)
    rev = jax.jacrev(lambda v: residual.block_forward(blk, v))(h)
    np.testing.assert_allclose(closed, fwd, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(closed, rev, rtol=1e-13, atol=1e-14)
    # the identity path: with the branch switched off the Jacobian is I
    off = gb.Residual(tuple(gb.Layer(0 * q.W, 0 * q.b, q.activation) for q in blk.layers))
    np.testing.assert_array_equal(residual.block_jacobian(off, h), np.eye(5))


def test_plain_layer_block_jacobian_is_the_layer_jacobian():
    (layer,) = gb.init_network(key(3), (4, 6), activation="tanh")
    h = jax.random.normal(key(4), (4,), jnp.float64)
    np.testing.assert_allclose(
        residual.block_jacobian(layer, h), gb.layer_jacobians((layer,), h, method="jacrev")[0], rtol=1e-13
    )


def test_forward_and_autodiff_errors_of_a_plain_network_are_the_core_ones():
    net = gb.init_network(key(5), (4, 5, 5, 3), activation="sigmoid")
    x, y = jax.random.uniform(key(6), (4,), jnp.float64), jnp.array([0.0, 1.0, 0.0])
    np.testing.assert_allclose(residual.forward_blocks(net, x)[-1], gb.forward(net, x).a[-1], rtol=1e-15)
    for a, b in zip(residual.block_errors_autodiff(net, x, y), gb.errors_autodiff(net, x, y)):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_the_error_of_a_residual_block_is_the_stream_gradient():
    net, x, y = _net()
    errs = residual.block_errors_autodiff(net, x, y)
    hs = residual.forward_blocks(net, x)

    def cost_from(k, h):  # C as a function of h^k, the rest of the network after block k
        for blk in net[k:]:
            h = residual.block_forward(blk, h)
        return 0.5 * jnp.sum((h - y) ** 2)

    for k in (2, 3):  # the residual blocks
        np.testing.assert_allclose(errs[k - 1], jax.grad(lambda h, k=k: cost_from(k, h))(hs[k]), rtol=1e-12)
    assert residual.block_widths(net) == (4, 6, 6, 6, 3) == residual.validate_blocks(net)


def test_residual_is_a_pytree():
    blk = _block()
    leaves = jax.tree_util.tree_leaves(blk)
    assert len(leaves) == 6
    again = jax.tree_util.tree_map(lambda a: a, blk)
    assert isinstance(again, gb.Residual) and again.layers[1].activation == "silu"
    h = jnp.ones((5,))
    np.testing.assert_allclose(jax.jit(residual.block_forward)(blk, h), residual.block_forward(blk, h), rtol=1e-14)


def test_bad_blocks_say_which_block_and_what_was_expected():
    net, x, y = _net()
    wide = gb.Residual(gb.init_network(key(7), (6, 5), activation="tanh"))
    with pytest.raises(ValueError, match=r"block 2: expected a residual branch from width 6 back to width 6, got"):
        residual.validate_blocks((net[0], wide))
    with pytest.raises(TypeError, match=r"block 2: expected a Layer or a Residual, got tuple"):
        residual.validate_blocks((net[0], (1, 2)))
    with pytest.raises(ValueError, match=r"block 2: expected a residual branch of at least one layer, got 0"):
        residual.validate_blocks((net[0], gb.Residual(())))
    with pytest.raises(ValueError, match=r"block 2: expected input width 6 \(block 1's output\), got 5"):
        residual.validate_blocks((net[0], _block(n=5)))
    bad = gb.Residual((gb.Layer(net[1].layers[0].W.at[0, 0].set(jnp.nan), net[1].layers[0].b, "tanh"),))
    with pytest.raises(ValueError, match=r"block 2: residual branch, layer 1: W: expected finite values"):
        residual.validate_blocks((net[0], bad))
    f32 = gb.Residual(gb.init_network(key(8), (6, 6), activation="tanh", dtype=jnp.float32))
    with pytest.raises(TypeError, match=r"block 2: expected dtype float64 \(as block 1\), got float32"):
        residual.validate_blocks((net[0], f32))
    with pytest.raises(ValueError, match=r"block 3: cost cross-entropy needs"):
        residual.block_errors_autodiff(net[:3], x, jnp.zeros(6), cost="cross-entropy")


@pytest.mark.parametrize("fn", [residual.block_errors_autodiff, residual.residual_hierarchy])
def test_a_cost_undefined_for_the_plain_output_layer_names_the_last_block(fn):
    # cross-entropy after a tanh read-out: autodiff would give NaN gradients silently
    net, x, y = _net()
    tanh_out = gb.Layer(net[-1].W, net[-1].b, "tanh")
    with pytest.raises(ValueError, match=r"^block 4: cost cross-entropy: not defined for output activation tanh"):
        fn((*net[:-1], tanh_out), x, y, cost="cross-entropy")


def test_init_residual_scales_the_branch():
    (zero,) = residual.init_residual(key(9), 4, 1, branch_scale=0.0)
    h = jnp.arange(4.0)
    np.testing.assert_array_equal(residual.block_forward(zero, h), h)
    with pytest.raises(ValueError, match="blocks and block_layers: expected ints >= 1"):
        residual.init_residual(key(9), 4, 0)
