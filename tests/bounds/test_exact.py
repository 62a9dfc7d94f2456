"""High-precision re-decision: mpmath levels agree with float64; inconclusive cases get decided."""

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import example, small_net

import gradbounds as gb
from gradbounds.bounds import COMPARISONS, decide, exact_levels, redecide
from gradbounds.core import Layer


@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy"])
@pytest.mark.parametrize("act", ["tanh", "gelu", "relu"])
def test_mpmath_levels_match_float64(cost, act):
    net = small_net(seed=4, widths=(4, 5, 3, 3), activation=[act, act, "sigmoid"], init="gaussian", sw2=2.0)
    x, y = example(net)
    h = gb.hierarchy(net, x, y, cost=cost)
    ex = exact_levels(net, x, y, cost=cost)
    for k in ("E", "P", "J", "D", "G"):
        np.testing.assert_allclose([float(v) for v in ex[k]], h.levels._asdict()[k], rtol=1e-12, atol=1e-13, err_msg=k)
    assert np.all(decide(net, x, y, cost=cost) == 0)


def test_an_inconclusive_float64_verdict_is_decided_in_high_precision():
    # one sigmoid neuron with z = 6e-8: σ'(z) = 1/4 (1 - 2.25e-16...), so D and G differ by ~1e-15 relative,
    # inside float64's margin, but far outside mpmath's 1e-40.
    net = (Layer(jnp.array([[1.0]]), jnp.array([6e-8]), "sigmoid"),)
    x, y = jnp.array([0.0]), jnp.array([0.0])
    h = gb.hierarchy(net, x, y)
    j = COMPARISONS.index(("D", "G"))
    assert h.codes[0, j] == 1 and h.verdict == "inconclusive"
    h2 = redecide(h, net, x, y)
    assert h2.codes[0, j] == 0 and h2.verdict == "holds"


def test_user_cost_has_no_exact_form():
    net = small_net()
    x, y = example(net)
    with pytest.raises(ValueError, match="expected a named cost"):
        exact_levels(net, x, y, cost=lambda a, t: jnp.sum(a - t))
