"""High precision: mpmath point levels agree with float64 and lie in the ball enclosures; re-decision proves."""

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import example, small_net

import gradbounds as gb
from gradbounds.bounds import COMPARISONS, Unresolved, ball_levels, decide, exact_levels, redecide
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


@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy"])
@pytest.mark.parametrize("act", ["tanh", "gelu", "silu", "selu", "erf", "softplus", "elu", "leaky_relu", "relu"])
def test_ball_enclosures_contain_the_mpmath_values(cost, act):
    """Two methods, no code in common: the 60-digit mpmath point value lies in the arb ball (log10)."""
    net = small_net(seed=7, widths=(3, 4, 4, 2), activation=[act, act, "sigmoid"], init="gaussian", sw2=2.0)
    x, y = example(net)
    ref = ball_levels(net, x, y, cost=cost)
    ex = exact_levels(net, x, y, cost=cost, dps=60)
    for k in ("lower", "E", "P", "J", "D", "G"):
        if k not in ex:
            continue
        v = np.array([float(t) for t in ex[k]]) / np.log(10)
        lo, hi = ref[k]
        ok = (lo <= v + 1e-13 * np.abs(v) + 1e-300) & (v - 1e-13 * np.abs(v) - 1e-300 <= hi)
        assert ok.all(), (k, lo, v, hi)
        finite = np.isfinite(lo)
        assert np.all(hi[finite] - lo[finite] < 1e-15), (k, hi - lo)


def test_ball_levels_refuse_what_they_cannot_enclose():
    net = small_net(seed=1, widths=(3, 4, 2))
    x, y = example(net)
    with pytest.raises(Unresolved, match="max_work"):
        ball_levels(net, x, y, max_work=10)
    with pytest.raises(Unresolved, match="no ball form"):
        ball_levels(net, x, y, cost="cross-entropy") if net[-1].activation != "sigmoid" else ball_levels(
            (*net[:-1], Layer(net[-1].W, net[-1].b, "tanh")), x, y, cost="cross-entropy"
        )


def test_decide_never_turns_a_tie_into_a_verdict():
    """Two sides equal exactly (relu, σ' = 1, a width-1 chain: E = P = J = D = G) stay proved by identity or open."""
    net = (Layer(jnp.array([[2.0]]), jnp.array([1.0]), "relu"), Layer(jnp.array([[0.5]]), jnp.array([0.25]), "relu"))
    codes = decide(net, jnp.array([1.0]), jnp.array([0.0]))
    assert not (codes == 2).any()
