"""Rigorous log-space arithmetic (gradbounds.linalg.logspace) against exact rational sums."""

from fractions import Fraction

import jax.numpy as jnp
import numpy as np
import pytest

from gradbounds.linalg import logspace as ls


@pytest.mark.parametrize("n", (5, ls.REV_CUMSUM_DIRECT, 200))  # the masked row sums and the scan
@pytest.mark.parametrize("dtype", (jnp.float64, jnp.float32))
def test_rev_cumsum_bounds_contain_the_exact_sums(dtype, n):
    """Reverse running sums of mixed sign and magnitude: the exact rational sum lies inside."""
    rng = np.random.default_rng(0)
    t = (rng.normal(size=n) * 10.0 ** rng.uniform(-8, 8, size=n)).astype(dtype)
    lo, hi = (np.asarray(a) for a in ls.rev_cumsum_bounds(jnp.asarray(t), jnp.asarray(t)))
    for l in range(0, n, 7 if n > 64 else 1):
        exact = sum(Fraction(float(v)) for v in t[l:])
        assert Fraction(float(lo[l])) <= exact <= Fraction(float(hi[l])), l
        assert lo[l] <= hi[l]


@pytest.mark.parametrize("n", (1, 7, ls.REV_CUMSUM_DIRECT, ls.REV_CUMSUM_DIRECT + 1, 300))
def test_rev_cumsum_matches_numpy_with_batch_axes_and_infinities(n):
    """``y_l = Σ_{i≥l} x_i`` on a ``(2, 3, n)`` batch, both paths: to rounding (``4nu Σ|x_i|``) against numpy's
    sequential sums; an infinite term reaches every earlier sum and no later one; ``+inf`` meeting ``−inf`` is NaN."""
    rng = np.random.default_rng(n)
    x = rng.normal(size=(2, 3, n)) * 10.0 ** rng.uniform(-3, 3, size=(2, 3, n))
    x[0, 1, n // 2] = -np.inf
    x[1, 2, n - 1] = np.inf
    if n > 1:
        x[1, 2, 0] = -np.inf
    got = np.asarray(ls.rev_cumsum(jnp.asarray(x)))
    with np.errstate(invalid="ignore"):  # inf + (−inf)
        want = np.flip(np.cumsum(np.flip(x, -1), -1), -1)
    assert got.shape == x.shape
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.array_equal(np.isinf(got), np.isinf(want))
    fin = np.isfinite(want)
    assert np.array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)])
    mag = np.flip(np.cumsum(np.flip(np.where(np.isfinite(x), np.abs(x), 0.0), -1), -1), -1)
    assert np.all(np.abs(got[fin] - want[fin]) <= 4 * n * 2.0**-53 * mag[fin])
    ints = np.asarray(ls.rev_cumsum(jnp.arange(n, dtype=jnp.int32)))
    assert ints.dtype == np.int32 and list(ints) == [sum(range(l, n)) for l in range(n)]


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


def test_a_nan_bound_is_vacuous():
    """``vacuous_if_nan``: NaN (a bound that met ``0·∞`` or ``∞ − ∞``) is ``+inf`` above and ``−inf`` below."""
    x = jnp.asarray([jnp.nan, 1.5, -jnp.inf, jnp.inf])
    np.testing.assert_array_equal(ls.vacuous_if_nan(x), [np.inf, 1.5, -np.inf, np.inf])
    np.testing.assert_array_equal(ls.vacuous_if_nan(x, upper=False), [-np.inf, 1.5, -np.inf, np.inf])


@pytest.mark.parametrize("dtype", (jnp.float32, jnp.float64))
def test_an_overflowed_log_sum_is_the_largest_float_never_a_proved_zero_or_infinity(dtype):
    """Logs of extreme products overflow: an upper bound that reaches −inf from finite terms is −max (a proved zero
    comes only from a −inf term), a lower bound that reaches +inf from finite terms is +max."""
    big = float(jnp.finfo(dtype).max)
    a = jnp.asarray([-0.6 * big, -0.6 * big, 0.0], dtype)
    b = jnp.asarray([-0.6 * big, -jnp.inf, 1.0], dtype)
    up_ab = np.asarray(ls.add_up(a, b))
    assert np.isfinite(up_ab[0]) and up_ab[0] < -0.99 * big and up_ab[1] == -np.inf  # overflow; a proved zero
    down_aa = np.asarray(ls.add_down(-a, -a))[:2]
    assert np.all(np.isfinite(down_aa)) and np.all(down_aa > 0.99 * big)
    d = float(np.asarray(ls.sub_up(a[:1], -a[:1]))[0])
    assert np.isfinite(d) and d < -0.99 * big
    lo, hi = (np.asarray(t) for t in ls.rev_cumsum_bounds(a, a))
    # the sum −1.2·max overflows, and so does its error term γ·Σ|t_i| (+inf): the upper bound is −max + inf = +inf,
    # where an unclamped −inf + inf was NaN, no bound at all; the lower bound is −inf (no information, also sound)
    assert hi[0] == np.inf and lo[0] == -np.inf
    lo1, hi1 = (np.asarray(t)[1:] for t in ls.rev_cumsum_bounds(a, a))
    assert np.all(np.isfinite(lo1)) and np.all(lo1 <= hi1)  # the later sums do not overflow
    _, hi2 = (np.asarray(t) for t in ls.rev_cumsum_bounds(b, b))
    assert hi2[0] == -np.inf and hi2[1] == -np.inf  # a proved zero in the product stays one
