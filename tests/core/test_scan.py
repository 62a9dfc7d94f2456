"""core._scan._stack: the stacked layers equal jnp.stack's; one JAX array is not copied, NumPy input is."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradbounds.core import _scan


@pytest.mark.parametrize("axis", [0, 1])
def test_stack_equals_jnp_stack(axis):
    arrs = [jax.random.normal(jax.random.key(i), (4, 3, 5)) for i in range(3)]
    for run in (arrs[:1], arrs):
        got = _scan._stack(run, axis)
        assert isinstance(got, jax.Array)
        assert np.array_equal(np.asarray(got), np.asarray(jnp.stack(run, axis=axis)))


def test_one_jax_array_is_a_view_and_numpy_input_is_copied():
    a = jax.random.normal(jax.random.key(0), (8, 3, 5))
    got = _scan._stack([a], 1)
    assert got.shape == (8, 1, 3, 5)
    assert got.unsafe_buffer_pointer() == a.unsafe_buffer_pointer()  # no copy of a 3.8 GB first layer
    host = np.asarray(a).copy()
    got = _scan._stack([host], 1)
    host[0, 0, 0] = 123.0  # a caller's later write to its NumPy array does not reach the stacked layer
    assert float(got[0, 0, 0, 0]) == float(a[0, 0, 0])
