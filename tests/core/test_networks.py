"""Networks: init schemes, forward pass, npz round trip, and clear errors for bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import SEED_WIDTHS, key, small_net

import gradbounds as gb


@pytest.mark.parametrize("init", gb.core.INITS)
def test_init_shapes_dtype_and_determinism(init):
    a = gb.init_network(key(3), (7, 5, 4), init=init, sw2=1.5, sb2=0.1)
    b = gb.init_network(key(3), (7, 5, 4), init=init, sw2=1.5, sb2=0.1)
    assert gb.widths(a) == (7, 5, 4)
    for la, lb in zip(a, b):
        assert la.W.dtype == jnp.float64
        np.testing.assert_array_equal(la.W, lb.W)
        np.testing.assert_array_equal(la.b, lb.b)


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
@pytest.mark.parametrize("init", gb.core.INITS)
def test_init_gives_the_same_bits_inside_jit(init, dtype):
    """`gradbounds check` draws its networks inside one jit: the same numbers as op by op, to the last bit."""
    draw = lambda k: gb.init_network(k, (7, 5, 5, 4), init=init, sw2=1.5, sb2=0.1, dtype=dtype)  # noqa: E731
    for a, b in zip(draw(key(3)), jax.jit(draw)(key(3))):
        assert a.W.dtype == b.W.dtype == dtype
        np.testing.assert_array_equal(a.W, b.W)
        np.testing.assert_array_equal(a.b, b.b)


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_init_draws_each_layer_from_its_own_key(dtype):
    """What a seed means: layer l's ``W`` is ``normal(kw, (n_l, n_{l−1}))/sqrt(n_{l−1})`` and its ``b`` is
    ``normal(kb, (n_l,))`` with ``kw, kb = split(split(key, L)[l])``, to the last bit, eagerly, under ``jit``
    and under ``vmap`` (init_network draws the layers of one shape together)."""
    widths = (7, 5, 5, 5, 4)
    want = []
    for k, n_in, n_out in zip(jax.random.split(key(5), 4), widths[:-1], widths[1:]):
        kw, kb = jax.random.split(k)
        want.append(
            (jax.random.normal(kw, (n_out, n_in), dtype) / math.sqrt(n_in), jax.random.normal(kb, (n_out,), dtype))
        )
    draw = lambda k: gb.init_network(k, widths, dtype=dtype)  # noqa: E731
    batched = jax.vmap(draw)(jnp.stack([key(5), key(6)]))
    for got in (draw(key(5)), jax.jit(draw)(key(5)), [gb.Layer(l.W[0], l.b[0], l.activation) for l in batched]):
        for (W, b), layer in zip(want, got):
            np.testing.assert_array_equal(layer.W, W)
            np.testing.assert_array_equal(layer.b, b)


def test_init_statistics_nielsen_and_gaussian():
    net = gb.init_network(key(0), (400, 300), init="nielsen")
    # W ~ N(0, 1/400): sample variance of 120,000 entries within 2% (≈ 5 standard errors)
    assert float(jnp.var(net[0].W)) * 400 == pytest.approx(1.0, rel=0.02)
    assert float(jnp.var(net[0].b)) == pytest.approx(1.0, rel=0.2)
    net = gb.init_network(key(1), (400, 300), init="gaussian", sw2=2.0, sb2=0.5)
    assert float(jnp.var(net[0].W)) * 400 == pytest.approx(2.0, rel=0.02)
    assert float(jnp.var(net[0].b)) == pytest.approx(0.5, rel=0.2)


def test_orthogonal_init_is_orthogonal_times_sigma_w():
    net = gb.init_network(key(0), (6, 6, 9, 4), init="orthogonal", sw2=2.25)
    for layer in net:
        W = np.asarray(layer.W) / 1.5
        small = W.T @ W if W.shape[0] >= W.shape[1] else W @ W.T
        np.testing.assert_allclose(small, np.eye(small.shape[0]), atol=1e-13)


def test_per_layer_activations_and_forward():
    net = gb.init_network(key(0), (3, 4, 2), activation=["tanh", "relu"])
    assert [lay.activation for lay in net] == ["tanh", "relu"]
    x = jnp.array([0.1, -0.2, 0.3])
    fw = gb.forward(net, x)
    z1 = net[0].W @ x + net[0].b
    np.testing.assert_allclose(fw.z[0], z1, rtol=1e-15)
    np.testing.assert_allclose(fw.a[2], jax.nn.relu(net[1].W @ jnp.tanh(z1) + net[1].b), rtol=1e-15)
    assert len(fw.z) == 2 and len(fw.a) == 3


def test_network_is_a_pytree_for_jit_vmap_grad():
    nets = jax.vmap(lambda k: gb.init_network(k, (3, 2)))(jax.random.split(key(0), 4))
    assert nets[0].W.shape == (4, 2, 3)
    f = jax.jit(lambda n, x: gb.forward(n, x).a[-1].sum())
    g = jax.grad(f)(small_net(widths=(3, 2)), jnp.ones(3))
    assert g[0].W.shape == (2, 3) and g[0].activation == "sigmoid"


def test_npz_round_trip(tmp_path):
    net = gb.init_network(key(0), (5, 3, 2), activation=["tanh", "sigmoid"])
    path = tmp_path / "net.npz"
    gb.save_network(path, net)
    back = gb.load_network(path)
    assert [lay.activation for lay in back] == ["tanh", "sigmoid"]
    for a, b in zip(net, back):
        np.testing.assert_array_equal(a.W, b.W)


def test_npz_without_activations_needs_them_named(tmp_path):
    """Plain arrays do not say their activation: none is assumed (issue 12: tanh read as sigmoid)."""
    path = tmp_path / "n.npz"
    np.savez(path, W1=np.ones((2, 3)), b1=np.zeros(2))
    with pytest.raises(ValueError, match="names no activations"):
        gb.load_network(path)
    assert gb.load_network(path, activation="tanh")[0].activation == "tanh"
    gb.save_network(path, gb.load_network(path, activation="tanh"))
    with pytest.raises(ValueError, match=r"names its activations \(tanh\); expected no activation"):
        gb.load_network(path, activation="sigmoid")


def test_arrays_without_an_activation_are_an_error():
    with pytest.raises(TypeError, match="activation"):
        gb.network_from_arrays([np.ones((2, 2))], [np.zeros(2)])  # pyright: ignore[reportCallIssue]


@pytest.mark.parametrize(
    "arrays,match",
    [
        (dict(W1=np.ones((2, 3)), b1=np.zeros(3)), r"layer 1: expected b of shape \(2,\), got \(3,\)"),
        (
            dict(W1=np.ones((2, 3)), b1=np.zeros(2), W2=np.ones((2, 4)), b2=np.zeros(2)),
            r"layer 2: expected W of shape \(2, 2\)",
        ),
        (dict(W1=np.ones((2, 3)), b1=np.array([0.0, np.nan])), r"layer 1: b: expected finite values, got nan"),
        (
            dict(
                W1=np.ones((2, 3)),
                b1=np.zeros(2),
                W2=np.ones((2, 2)),
                b2=np.zeros(2),
                activations=np.array(["tanh", "x"]),
            ),
            "unknown activation 'x'",
        ),
        (dict(W1=np.ones((0, 3)), b1=np.zeros(0)), "layer 1: expected non-zero widths"),
        (dict(W1=np.ones((2, 3)), b1=np.zeros(2), W2=np.ones((2, 2))), "missing bias arrays b2"),
        (dict(foo=np.ones(2)), "expected arrays W1, b1"),
    ],
)
def test_bad_npz_networks_name_the_layer(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=match):
        gb.load_network(path, activation=None if "activations" in arrays else "sigmoid")


def test_dtype_errors():
    with pytest.raises(TypeError, match="layer 1: expected W of a float dtype, got int64"):
        gb.network_from_arrays([np.ones((2, 2), np.int64)], [np.zeros(2)], "sigmoid")
    with pytest.raises(TypeError, match="layer 2: expected W of dtype float64"):
        gb.network_from_arrays(
            [np.ones((2, 2)), np.ones((2, 2), np.float32)], [np.zeros(2), np.zeros(2, np.float32)], "sigmoid"
        )


def test_init_argument_errors():
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        gb.init_network(key(0), (3, 2), init="xavier")
    with pytest.raises(ValueError, match="layer 1: expected a width >= 1, got 0"):
        gb.init_network(key(0), (3, 0, 2))
    with pytest.raises(ValueError, match="expected 2 \\(one per layer\\)"):
        gb.init_network(key(0), (3, 2, 2), activation=["tanh"])
    with pytest.raises(ValueError, match="variances"):
        gb.init_network(key(0), (3, 2), init="gaussian", sw2=-1.0)


def test_seed_network_widths():
    assert gb.widths(gb.init_network(key(0), SEED_WIDTHS)) == SEED_WIDTHS


def test_a_transposed_kernel_is_named_as_such():
    with pytest.raises(ValueError, match=r"expected b of shape \(3,\), got \(4,\); W looks transposed"):
        gb.network_from_arrays([np.ones((3, 4))], [np.zeros(4)], "tanh")


def test_init_network_takes_activation_callables():
    import functools

    net = gb.init_network(jax.random.key(0), (3, 4, 4, 2), activation=[jax.nn.tanh, jax.nn.sigmoid, "linear"])
    assert [layer.activation for layer in net] == ["tanh", "sigmoid", "linear"]
    leaky = functools.partial(jax.nn.leaky_relu, negative_slope=0.2)
    net = gb.init_network(jax.random.key(0), (3, 4, 2), activation=leaky)
    assert {layer.activation for layer in net} == {gb.core.get_activation("leaky_relu:0.2").name}
    net2 = gb.network_from_arrays([np.ones((2, 3))], [np.zeros(2)], jax.nn.gelu)
    assert net2[0].activation == "gelu_tanh"  # jax.nn.gelu defaults to the tanh approximation


def test_an_unknown_activation_callable_is_a_type_error_naming_the_layer():
    with pytest.raises(TypeError, match="layer 2: activation: cannot tell which activation"):
        gb.init_network(jax.random.key(0), (3, 4, 2), activation=[jax.nn.tanh, lambda t: t**3])
