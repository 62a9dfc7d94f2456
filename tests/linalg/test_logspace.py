"""Rigorous log-space arithmetic (gradbounds.linalg.logspace) against exact rational sums."""

from fractions import Fraction

import jax.numpy as jnp
import numpy as np
import pytest

from gradbounds.linalg import logspace as ls


@pytest.mark.parametrize("dtype", (jnp.float64, jnp.float32))
def test_rev_cumsum_bounds_contain_the_exact_sums(dtype):
    """Reverse running sums of 200 terms of mixed sign and magnitude: the exact rational sum lies inside."""
    rng = np.random.default_rng(0)
    t = (rng.normal(size=200) * 10.0 ** rng.uniform(-8, 8, size=200)).astype(dtype)
    lo, hi = (np.asarray(a) for a in ls.rev_cumsum_bounds(jnp.asarray(t), jnp.asarray(t)))
    for l in range(0, 200, 7):
        exact = sum(Fraction(float(v)) for v in t[l:])
        assert Fraction(float(lo[l])) <= exact <= Fraction(float(hi[l])), l
        assert lo[l] <= hi[l]


def test_a_proved_zero_wins_over_an_unbounded_factor():
    """log 0 + log ∞ is log 0 (a dead output times an unbounded ‖g‖), in both directions; never NaN."""
    a, b = jnp.array([-jnp.inf, 1.0, -jnp.inf]), jnp.array([jnp.inf, jnp.inf, 2.0])
    for f in (ls.add_down, ls.add_up):
        out = np.asarray(f(a, b))
        assert out[0] == -np.inf and out[1] == np.inf and out[2] == -np.inf


def test_products_round_outward():
    """Sums of logs bracket the exact sum; a difference of two −inf is the vacuous bound, not NaN."""
    a, b, c = (jnp.array([v]) for v in (0.1, 0.2, 0.3))
    exact = Fraction(0.1) + Fraction(0.2) + Fraction(0.3)
    assert Fraction(float(ls.add_down(a, b, c)[0])) <= exact <= Fraction(float(ls.add_up(a, b, c)[0]))
    ninf = jnp.array([-jnp.inf])
    assert float(ls.sub_down(ninf, ninf)[0]) == -np.inf and float(ls.sub_up(ninf, ninf)[0]) == np.inf
    d_lo, d_hi = float(ls.sub_down(a, b)[0]), float(ls.sub_up(a, b)[0])
    assert Fraction(d_lo) <= Fraction(0.1) - Fraction(0.2) <= Fraction(d_hi)
