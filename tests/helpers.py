"""Small shared helpers for the tests (instead of a testing dependency)."""

import jax
import jax.numpy as jnp
import numpy as np

import gradbounds as gb

SEED_WIDTHS = (784, 30, 30, 30, 30, 10)


def key(seed: int = 0):
    return jax.random.key(seed)


def small_net(seed=0, widths=(5, 4, 4, 3), activation="sigmoid", init="nielsen", **kw):
    return gb.init_network(key(seed), widths, activation=activation, init=init, **kw)


def example(net, seed=1, *, target="uniform"):
    """An input in [0, 1]^n_0 and a target in [0, 1]^n_L drawn from ``seed``."""
    ws = gb.widths(net)
    kx, ky = jax.random.split(key(seed))
    dtype = net[0].W.dtype
    return jax.random.uniform(kx, (ws[0],), dtype), jax.random.uniform(ky, (ws[-1],), dtype)


def assert_close(a, b, *, rtol=1e-12, atol=0.0, err_msg=""):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, err_msg=err_msg)


def f64(x):
    return jnp.asarray(x, jnp.float64)


def check_adapted(net, Ws, bs, acts, x, y, forward_out, bias_grads=None):
    """An adapter's network: equal to the hand-built one (arrays, names, levels), its forward and E to the framework's.

    ``forward_out`` is the framework's own output at ``x``; ``bias_grads`` its autodiff ``∂C/∂b^l`` for the
    quadratic cost ``½‖a^L − y‖²`` (E is their norm, to 1e-10).
    """
    hand = gb.network_from_arrays([np.asarray(W) for W in Ws], [np.asarray(b) for b in bs], list(acts))
    assert [q.activation for q in net] == [q.activation for q in hand]
    for a, b in zip(net, hand):
        assert a.W.dtype == b.W.dtype
        np.testing.assert_array_equal(a.W, b.W)
        np.testing.assert_array_equal(a.b, b.b)
    x, y = jnp.asarray(x, net[0].W.dtype), jnp.asarray(y, net[0].W.dtype)
    np.testing.assert_allclose(gb.forward(net, x).a[-1], np.asarray(forward_out), rtol=1e-12, atol=1e-12)
    h, h_hand = gb.hierarchy(net, x, y), gb.hierarchy(hand, x, y)
    for name in ("lower", "E", "P", "J", "D", "G"):
        np.testing.assert_array_equal(getattr(h.levels, name), getattr(h_hand.levels, name), err_msg=name)
    if bias_grads is not None:
        want = np.array([np.linalg.norm(np.asarray(g, np.float64)) for g in bias_grads])
        np.testing.assert_allclose(np.exp(np.asarray(h.levels.E)), want, rtol=1e-10)
    return h


def need(module: str):
    """``pytest.importorskip(module)``, except under ``GRADBOUNDS_REQUIRE_ADAPTERS=1`` (CI), where a missing one fails."""
    import importlib
    import os

    import pytest

    if os.environ.get("GRADBOUNDS_REQUIRE_ADAPTERS") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module)
