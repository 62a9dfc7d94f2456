"""The adding problem at T = 20: gated cells learn it, the data are what the problem says."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradbounds import rnn

pytest.importorskip("optax")


def test_adding_batch_markers_and_target():
    x, y = rnn.adding_batch(jax.random.key(0), 256, 20)
    assert x.shape == (256, 20, 2) and y.shape == (256, 1)
    m = np.asarray(x[..., 1])
    assert np.all(m.sum(axis=1) == 2) and np.all(m[:, :10].sum(axis=1) == 1)
    np.testing.assert_allclose(np.sum(np.asarray(x[..., 0]) * m, axis=1), np.asarray(y[:, 0]))
    # answering 1 always: MSE ≈ Var(u1 + u2) = 1/6
    assert abs(float(jnp.mean((y - 1.0) ** 2)) - 1 / 6) < 0.03


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["lstm", "gru"])
def test_gated_cells_learn_the_adding_problem_at_T_20(variant):
    r = rnn.train_adding(variant, T=20, hidden=16, steps=500, seed=0)
    assert r.final_mse < 0.05 < 1 / 6  # far below the always-1 baseline
    assert r.log10_E.shape == (len(r.steps), 21) and np.all(np.isfinite(r.log10_E))
    assert set(r.to_dict()) >= {"variant", "T", "test_mse", "log10_E", "final_mse", "seconds"}


def test_unknown_variant_is_a_one_line_error():
    with pytest.raises(ValueError, match="variant: expected one of"):
        rnn.train_adding("tree", T=5, steps=1)
