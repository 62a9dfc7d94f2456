"""XLA's elementwise functions within the accuracy the enclosures assume (gradbounds.core._derivative_bounds).

Each function the enclosures rely on is measured in ulp of the exact result (mpmath at 160 bits) on a fixed
seeded sample of the arguments the code passes it, hard regions included (erfc's large arguments, exp near
overflow and underflow, tiny arguments), in float32 and float64, compiled with XLA's default options and with
``FAST_COMPILE`` (which changes, for example, tanh's and erfc's last bits).  Results below the smallest normal
number (XLA on CPU flushes them to zero) are measured in absolute terms against the ``4·tiny`` the bounds add.
"""

import math

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

from gradbounds.bounds._api import FAST_COMPILE
from gradbounds.core import _derivative_bounds as db
from gradbounds.linalg import _enclosures as enc

FUNCTIONS = {
    "exp": (jnp.exp, mpmath.exp),
    "log": (jnp.log, mpmath.log),
    "log1p": (jnp.log1p, mpmath.log1p),
    "expm1": (jnp.expm1, mpmath.expm1),
    "logistic": (jax.nn.sigmoid, lambda t: 1 / (1 + mpmath.exp(-t))),
    "tanh": (jnp.tanh, mpmath.tanh),
    "erf": (jax.lax.erf, mpmath.erf),
    "erfc": (jax.lax.erfc, mpmath.erfc),
    "sqrt": (jnp.sqrt, mpmath.sqrt),
}
OPTIONS = {"default": None, "fast": FAST_COMPILE}


def sample(name, dtype, n, seed=0):
    """``n`` arguments of ``name`` in ``dtype``: the range the enclosures use, its hard regions, tiny ones."""
    rng = np.random.default_rng([seed, sorted(FUNCTIONS).index(name), np.dtype(dtype).itemsize])
    fi = np.finfo(dtype)
    f64 = dtype == np.float64
    k = n // 4

    def uni(a, b):
        return rng.uniform(a, b, k)

    def tiny_signed():  # |x| log-uniform in [tiny, 1], either sign
        return np.exp(rng.uniform(math.log(fi.tiny), 0.0, k)) * rng.choice([-1.0, 1.0], k)

    lo_exp = math.log(fi.tiny) + math.log(fi.eps)  # results down to the smallest subnormal
    hi_exp = math.log(fi.max) - 1e-3  # no overflow after the cast to dtype
    x = {
        "exp": lambda: [uni(lo_exp - 5, hi_exp), uni(lo_exp - 5, lo_exp + 40), uni(hi_exp - 5, hi_exp), tiny_signed()],
        "log": lambda: [np.exp(uni(math.log(fi.tiny), hi_exp)), uni(0.25, 4), uni(0.999, 1.001), uni(0, 1)],
        "log1p": lambda: [np.exp(uni(math.log(fi.tiny), 0)), uni(0, 1), uni(0, 1e-3), uni(0.9, 1)],
        "expm1": lambda: [uni(-80 if f64 else -20, 2), uni(-1, 1), uni(-0.05, 0.05), tiny_signed()],
        "logistic": lambda: [uni(lo_exp - 5, 40), uni(-40, 40), uni(-4, 4), tiny_signed()],
        "tanh": lambda: [uni(-25, 25), uni(-2, 2), uni(4, 22) * rng.choice([-1.0, 1.0], k), tiny_signed()],
        "erf": lambda: [uni(-7, 7), uni(-1, 1), uni(2, 5), tiny_signed()],
        "erfc": lambda: [
            uni(-7, 27.3 if f64 else 10.1),
            uni(0, 6),
            uni(20 if f64 else 8, 27.3 if f64 else 10.1),
            tiny_signed(),
        ],
        "sqrt": lambda: [np.exp(uni(math.log(fi.tiny), hi_exp)), uni(0.25, 4), uni(0, 1), uni(1, 1e6)],
    }[name]()
    return np.concatenate(x).astype(dtype)


def measure(name, dtype, n=2000, seed=0):
    """``{option set: (max ulp / assumed ulp, argument there, max ulp, max subnormal error / tiny)}``."""
    fn, mp_fn = FUNCTIONS[name]
    x = sample(name, dtype, n, seed)
    p = np.finfo(dtype).nmant + 1
    tiny = mpmath.mpf(float(np.finfo(dtype).tiny))
    allowed = db.elementary_ulp(name, x)
    with mpmath.workprec(160):
        ref = [mp_fn(mpmath.mpf(float(t))) for t in x]
        scale = [mpmath.ldexp(1, mpmath.frexp(r)[1] - p) if abs(r) >= tiny else None for r in ref]
        out = {}
        xa, one = jnp.asarray(x), jnp.ones(len(x), dtype)
        for opt, options in OPTIONS.items():
            # alone, and fused with other elementwise work (a runtime factor 1, exact): XLA emits a
            # function's code per fusion, and the programs use it inside fusions; the worst of the two
            alone = jax.jit(fn, compiler_options=options)(xa)
            fused = jax.jit(lambda a, s: fn(a * s) * s, compiler_options=options)(xa, one)  # noqa: B023
            ulps = np.zeros(len(x))
            sub = np.zeros(len(x))
            for y in (np.asarray(alone), np.asarray(fused)):
                for i, (yi, r, s) in enumerate(zip(y, ref, scale, strict=True)):
                    d = abs(mpmath.mpf(float(yi)) - r)
                    if s is None:
                        sub[i] = max(sub[i], float(d / tiny))
                    else:
                        ulps[i] = max(ulps[i], float(d / s))
            j = int(np.argmax(ulps / allowed))
            out[opt] = (float(ulps[j] / allowed[j]), float(x[j]), float(ulps.max()), float(sub.max()))
    return out


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_within_the_assumed_ulp(name):
    """Every relied-on function within :data:`ELEMENTARY_ULP` (erfc: its growing bound), both option sets."""
    for dtype in (np.float32, np.float64):
        for opt, (ratio, at, worst, sub) in measure(name, dtype).items():
            assert ratio <= 1.0, (name, np.dtype(dtype).name, opt, f"{worst:.3g} ulp at {at!r}")
            assert sub <= 4.0, (name, np.dtype(dtype).name, opt, f"subnormal result off by {sub:.3g} tiny")
    jax.clear_caches()


def test_erfc_loses_accuracy_with_its_argument():
    """The reason erfc has its own bound: far beyond 16 ulp at large arguments (476 measured, float64)."""
    x = np.array([23.34, 24.05], np.float64)
    y = np.asarray(jax.jit(jax.lax.erfc)(jnp.asarray(x)))
    with mpmath.workprec(160):
        ref = [mpmath.erfc(mpmath.mpf(float(t))) for t in x]
        ulps = [
            float(abs(mpmath.mpf(float(yi)) - r) / mpmath.ldexp(1, mpmath.frexp(r)[1] - 53))
            for yi, r in zip(y, ref, strict=True)
        ]
    assert max(ulps) <= db.elementary_ulp("erfc", x).min()


def test_assumptions_fit_the_constants():
    """The composite allowances cover the per-function assumptions (module docstring of _derivative_bounds).

    k ulp is at most a relative error 2ku.  fn_error (``C_FN·u·(|σ̂| + γ|ẑ|)``): tanh, erf, expm1 (elu, selu)
    have ``|σ| ≤ γ|z|``, so k ≤ C_FN; logistic (sigmoid) only has ``|σ̂|``, so k ≤ C_FN/2.  Softmax: each exp and
    expm1 within C_FN ulp.  A computed exp enters ``scaled_value`` and the forward Lipschitz factor times
    ``1 + C_LOG·u`` (k ≤ C_LOG/2) and linalg's σ_max times ``1 + 4·C_LOG_FN·u`` (k ≤ 2·C_LOG_FN); linalg's log
    is within ``C_LOG_FN·u·(1 + |ℓ|)``, 4 ulp times a safety factor 2; sqrt is moved by one ``up``.
    """
    ulp = db.ELEMENTARY_ULP
    assert max(ulp["tanh"], ulp["erf"], ulp["expm1"], ulp["exp"]) <= db.C_FN
    assert ulp["logistic"] <= db.C_FN / 2
    assert ulp["exp"] <= min(db.C_LOG / 2, 2 * enc.C_LOG_FN)
    assert ulp["log"] <= enc.C_LOG_FN / 2
    assert ulp["sqrt"] <= 1.0


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_composites_within_their_allowance_under_both_option_sets(dtype):
    """σ(ẑ) within fn_error, and gelu's and silu's float σ' within their C_LOG bound, compiled either way."""
    from gradbounds import core

    rng = np.random.default_rng(5)
    big = 800 if dtype == np.float64 else 100
    z = np.concatenate(
        [rng.uniform(-big, big, 80), rng.uniform(-40, 40, 120), rng.uniform(-6, 6, 140), np.linspace(-34, -4, 60)]
    ).astype(dtype)
    u = float(np.finfo(dtype).eps) / 2
    tiny = float(np.finfo(dtype).tiny)
    with mpmath.workprec(160):
        zm = [mpmath.mpf(float(t)) for t in z]
        for options in OPTIONS.values():
            for name in (*db.KNOWN, "gelu_tanh"):
                act = core.get_activation(name)
                a = np.asarray(jax.jit(act.fn, compiler_options=options)(jnp.asarray(z)))
                bound = np.asarray(db.fn_error(jnp.asarray(z), jnp.asarray(a), db.gamma_hi(act, dtype)))
                for i in range(len(z)):
                    assert abs(mpmath.mpf(float(a[i])) - act.mp_fn(zm[i])) <= bound[i], (name, float(z[i]), options)
            for name, fn_err in (("gelu", db._gelu_d_err), ("silu", db._silu_d_err)):
                v, e = jax.jit(lambda t, f=fn_err: f(t, u, tiny), compiler_options=options)(jnp.asarray(z))
                mp_deriv = core.get_activation(name).mp_deriv
                for i in range(len(z)):
                    assert abs(mpmath.mpf(float(v[i])) - mp_deriv(zm[i])) <= float(e[i]), (name, float(z[i]), options)
    jax.clear_caches()
