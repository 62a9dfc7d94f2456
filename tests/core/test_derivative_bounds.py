"""Enclosures of σ'(z) over intervals (gradbounds.core._derivative_bounds) against mpmath.

On a dense grid of centres out to |z| = 800 and radii from 0 to 1, the exact σ'
at the centre and both ends (and γ where the interval holds the maximiser) must
lie inside the enclosure; γ bounds must bracket the 60-digit supremum.
"""

import math

import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

from gradbounds.core import _derivative_bounds as db

MP_DERIV = {
    "sigmoid": lambda t: db._mp_sig(t) * db._mp_sig(-t),
    "tanh": lambda t: mpmath.sech(t) ** 2,
    "relu": lambda t: mpmath.mpf(1 if t > 0 else 0),
    "leaky_relu": lambda t: mpmath.mpf(1) if t >= 0 else mpmath.mpf(db.LEAKY_SLOPE),
    "elu": lambda t: mpmath.mpf(1) if t > 0 else mpmath.exp(t),
    "selu": lambda t: mpmath.mpf(db.SELU_LAMBDA) * (1 if t > 0 else mpmath.mpf(db.SELU_ALPHA) * mpmath.exp(t)),
    "softplus": db._mp_sig,
    "gelu": db._mp_gelu_d,
    "silu": db._mp_silu_d,
    "erf": lambda t: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-t * t),
    "hard_tanh": lambda t: mpmath.mpf(0 if (t > 1 or t < -1) else 1),
    "linear": lambda t: mpmath.mpf(1),
}


def _val(s, ell):
    if s == 0:
        return mpmath.mpf(0)
    return s * mpmath.exp(mpmath.mpf(float(ell)))


def _grid():
    rng = np.random.default_rng(0)
    z = np.concatenate(
        [
            np.linspace(-8, 8, 161),
            rng.uniform(-40, 40, 60),
            np.array([-800, -745.5, -740, -710, -40, -2.3993572805154675, -1.4142135623730951, -1, 0, 1e-300]),
            np.array([2.3993572805154675, 1.4142135623730951, 1, 40, 710, 740, 745.5, 800]),
        ]
    )
    return z


@pytest.mark.parametrize("name", db.KNOWN)
@pytest.mark.parametrize("dtype", (np.float64, np.float32))
def test_enclosure_contains_exact_derivative(name, dtype):
    z = _grid().astype(dtype)
    for rad in (0.0, 1e-9, 1e-3, 0.5):
        r = np.full_like(z, rad)
        s_lo, l_lo, s_hi, l_hi = (np.asarray(t) for t in db.deriv_enclosure(name, jnp.asarray(z), jnp.asarray(r)))
        with mpmath.workdps(40):
            for i in range(len(z)):
                lo, hi = _val(s_lo[i], l_lo[i]), _val(s_hi[i], l_hi[i])
                assert lo <= hi
                zc = mpmath.mpf(float(z[i]))
                for t in (zc, zc - mpmath.mpf(float(r[i])), zc + mpmath.mpf(float(r[i]))):
                    ex = MP_DERIV[name](t)
                    assert lo <= ex <= hi, (name, float(z[i]), rad, float(t), lo, ex, hi)


@pytest.mark.parametrize("name", db.KNOWN)
@pytest.mark.parametrize("dtype", (jnp.float64, jnp.float32))
def test_enclosure_keeps_the_input_dtype(name, dtype):
    """All four parts are strongly typed arrays of z's dtype: a weak float64 from Python constants (relu,
    hard_tanh, leaky_relu once returned ``jnp.where(c, 0.0, -inf)``) breaks float32 sweeps under strict
    promotion."""
    z = jnp.asarray(np.array([-3.0, -0.5, 0.0, 0.5, 3.0]), dtype)
    for part in db.deriv_enclosure(name, z, jnp.full_like(z, 1e-3)):
        assert part.dtype == dtype and not part.weak_type, (name, part.dtype, part.weak_type)


@pytest.mark.parametrize("name", db.KNOWN)
def test_tight_for_exact_inputs(name):
    """With r = 0 the enclosure is a few hundred ulp wide in log space (where σ' > 0)."""
    z = jnp.asarray(np.linspace(-30, 30, 601))
    s_lo, l_lo, s_hi, l_hi = db.deriv_enclosure(name, z, jnp.zeros_like(z))
    pos = np.asarray((s_lo > 0) & (s_hi > 0))
    width = np.asarray(l_hi - l_lo)[pos]
    assert np.all(width < 1e-10)


def test_saturated_sigmoid_is_not_zero():
    """σ'(±740) underflows as a float; its log stays finite and exact."""
    z = jnp.asarray([740.0, -740.0, 800.0])
    s_lo, l_lo, s_hi, l_hi = db.deriv_enclosure("sigmoid", z, jnp.zeros_like(z))
    assert np.all(np.asarray(s_lo) == 1)
    with mpmath.workdps(30):
        for i, t in enumerate((740, -740, 800)):
            ex = mpmath.log(MP_DERIV["sigmoid"](mpmath.mpf(t)))
            assert float(l_lo[i]) <= ex <= float(l_hi[i])


def test_relu_straddling_zero_is_honest():
    s_lo, l_lo, s_hi, l_hi = db.deriv_enclosure("relu", jnp.asarray([0.1, 0.1, 0.0]), jnp.asarray([0.2, 0.0, 0.0]))
    assert list(np.asarray(s_lo)) == [0, 1, 0] and list(np.asarray(s_hi)) == [1, 1, 0]


@pytest.mark.parametrize("name", db.KNOWN)
def test_gamma_bounds_bracket_the_supremum(name):
    lo, hi = db.gamma_bounds(name)
    g = db.gamma_mp(name)
    assert mpmath.mpf(lo) <= g <= mpmath.mpf(hi)
    assert hi == lo or math.nextafter(lo, math.inf) == hi


def test_silu_class_one_point_is_below_gamma():
    """The issue's silu example: σ'(2.3993572805154675) < γ exactly, and both bounds say so."""
    z = 2.3993572805154675
    with mpmath.workdps(80):
        assert MP_DERIV["silu"](mpmath.mpf(z)) < db.gamma_mp("silu")
        assert mpmath.mpf(db.gamma_bounds("silu")[1]) >= db.gamma_mp("silu")


@pytest.mark.parametrize("dtype", (np.float64, np.float32))
def test_fn_error_bounds_sigma_evaluation(dtype):
    import jax

    from gradbounds import core

    z = _grid().astype(dtype)
    for name in db.KNOWN:
        act = core.get_activation(name)
        a = np.asarray(act.fn(jnp.asarray(z)))
        bound = np.asarray(db.fn_error(jnp.asarray(z), jnp.asarray(a), db.gamma_bounds(name)[1]))
        with mpmath.workdps(40):
            for i in range(len(z)):
                ex = act.mp_fn(mpmath.mpf(float(z[i])))
                assert abs(mpmath.mpf(float(a[i])) - ex) <= bound[i], (name, float(z[i]))
    jax.clear_caches()


def test_scaled_value_rounds_outward():
    ell = jnp.asarray([-740.0, -1.0, 0.0, 3.5, -700.0])
    e = jnp.asarray([-1060, -2, 0, 5, -1000])
    for s in (1.0, -1.0):
        sv = jnp.full_like(ell, s)
        lo = np.asarray(db.scaled_value(sv, ell, e, up=False))
        hi = np.asarray(db.scaled_value(sv, ell, e, up=True))
        with mpmath.workdps(40):
            for i in range(5):
                ex = s * mpmath.exp(mpmath.mpf(float(ell[i]))) * mpmath.mpf(2) ** (-int(e[i]))
                assert lo[i] <= ex <= hi[i]


@pytest.mark.parametrize("name", db.KNOWN)
@pytest.mark.parametrize("dtype", (np.float64, np.float32))
def test_an_infinite_radius_gives_a_global_enclosure_never_a_zero(name, dtype):
    """``r = inf`` (the forward error bound overflowed): the enclosure holds σ' over the whole real line. gelu and
    silu evaluated σ' at ±inf (0·inf = NaN), and NaN bounds became (NaN, −inf): σ' = 0, proved."""
    z = np.asarray([1e29, -1e29, 0.0, 3.0], dtype)
    s_lo, l_lo, s_hi, l_hi = (
        np.asarray(t) for t in db.deriv_enclosure(name, jnp.asarray(z), jnp.full(4, np.inf, dtype))
    )
    assert not (np.isnan(s_lo).any() or np.isnan(s_hi).any() or np.isnan(l_lo).any() or np.isnan(l_hi).any())
    f = MP_DERIV[name.split(":")[0]]
    for t in (-50.0, -2.3993572805154675, -1.0, 0.5, 2.3993572805154675, 50.0):
        v = f(mpmath.mpf(t))
        for i in range(4):
            assert _val(s_lo[i], l_lo[i]) <= v <= _val(s_hi[i], l_hi[i]), (name, t, i)


def test_a_nan_float_bound_is_no_bound():
    """The signed-log form of a NaN float bound: ``+inf`` above, ``−inf`` below (never ``(NaN, −inf)``)."""
    s_lo, l_lo, s_hi, l_hi = (
        np.asarray(t) for t in db._signed_from_float(jnp.asarray([np.nan]), jnp.asarray([np.nan]), 2.0**-53, 2.0**-1022)
    )
    assert (s_lo[0], l_lo[0], s_hi[0], l_hi[0]) == (-1.0, np.inf, 1.0, np.inf)


@pytest.mark.parametrize("name", db.KNOWN)
def test_a_nan_radius_is_no_radius(name):
    """A NaN error radius (``0·∞`` upstream) encloses σ' as an infinite one does, never as an exact ``z``."""
    z = jnp.asarray([-1.0, 0.0, 2.0])
    got = [np.asarray(t) for t in db.deriv_enclosure(name, z, jnp.full(3, jnp.nan))]
    want = [np.asarray(t) for t in db.deriv_enclosure(name, z, jnp.full(3, jnp.inf))]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
