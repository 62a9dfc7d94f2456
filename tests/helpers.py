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
