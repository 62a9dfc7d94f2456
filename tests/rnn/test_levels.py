"""The per-step hierarchy: E <= P <= J (<= G) on generated cells, rigorous enclosures, T = 10^4 in log space."""

import dataclasses

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from hypothesis import given, settings

from gradbounds import rnn
from gradbounds.testing import rnn_cells


@pytest.mark.slow  # one compile per drawn shape
@settings(max_examples=12)
@given(rnn_cells(max_steps=6))
def test_hierarchy_holds_on_generated_cells(case):
    cell, xs, y = case
    res = rnn.bptt(cell, xs, y)
    assert res.verdict != "violated", res.pair_verdicts
    L = res.levels
    tol = 1e-9
    assert np.all(L["E"] <= L["P"] + tol) and np.all(L["P"] <= L["J"] + tol)
    if cell.kind == "rnn":
        assert np.all(L["J"] <= L["G"] + tol)  # Pascanu's bound
    assert res.certified and res.lo is not None and res.hi is not None
    for X in L:  # the point value lies in its enclosure
        fin = np.isfinite(L[X])
        assert np.all(res.lo[X][fin] <= L[X][fin]) and np.all(L[X][fin] <= res.hi[X][fin]), X
    d = res.to_dict()
    assert set(d) >= {"cell", "T", "hidden", "states", "verdict", "pascanu"}
    assert len(d["states"]) == xs.shape[0] + 1


def _mp_levels(cell, xs, y, dps=60):
    """E_k, P_k, J_k of a tanh cell in mpmath (60 digits): the independent reference for the enclosures."""
    with mpmath.workdps(dps):
        Wih, Whh = (mpmath.matrix(np.asarray(a).tolist()) for a in (cell.weight_ih, cell.weight_hh))
        b = mpmath.matrix((np.asarray(cell.bias_ih).astype(object) + 0).tolist())
        b = mpmath.matrix([mpmath.mpf(float(p)) + mpmath.mpf(float(q)) for p, q in zip(cell.bias_ih, cell.bias_hh)])
        h = mpmath.matrix([mpmath.mpf(float(v)) for v in cell.h0])
        Bs = []
        for x in np.asarray(xs):
            z = Wih * mpmath.matrix(x.tolist()) + Whh * h + b
            d = [1 - mpmath.tanh(zi) ** 2 for zi in z]
            Bs.append(Whh.T * mpmath.diag(d))
            h = mpmath.matrix([mpmath.tanh(zi) for zi in z])
        Wo = mpmath.matrix(np.asarray(cell.W_out).tolist())
        r = Wo * h + mpmath.matrix(np.asarray(cell.b_out).tolist()) - mpmath.matrix(np.asarray(y).tolist())
        g = Wo.T * r
        T = len(Bs)
        E, P, J = [mpmath.mpf(0)] * (T + 1), [mpmath.mpf(0)] * (T + 1), [mpmath.mpf(0)] * (T + 1)
        d, Pi, jn = g, mpmath.eye(len(g)), mpmath.mpf(1)
        ng = mpmath.norm(g)
        for k in range(T, -1, -1):
            E[k] = mpmath.log(mpmath.norm(d))
            P[k] = mpmath.log(max(mpmath.svd_r(Pi, compute_uv=False)) * ng)
            J[k] = mpmath.log(jn * ng)
            if k > 0:
                B = Bs[k - 1]
                d, Pi = B * d, B * Pi
                jn *= max(mpmath.svd_r(B, compute_uv=False))
        return [float(v) for v in E], [float(v) for v in P], [float(v) for v in J]


def test_enclosures_contain_the_60_digit_levels():
    key = jax.random.key(7)
    cell = rnn.init_cell(key, "rnn", hidden=3, inputs=2, outputs=2, sw2=2.0, sb2=0.3)
    xs = jax.random.normal(jax.random.key(8), (6, 2), jnp.float64)
    y = jnp.asarray([0.3, -0.2])
    res = rnn.bptt(cell, xs, y)
    assert res.lo is not None and res.hi is not None
    for X, ref in zip("EPJ", _mp_levels(cell, xs, y)):
        ref = np.asarray(ref)
        assert np.all(res.lo[X] <= ref) and np.all(ref <= res.hi[X]), (X, res.lo[X] - ref, res.hi[X] - ref)
        assert np.all(res.hi[X] - res.lo[X] < 1e-9)  # tight for short sequences
    assert res.verdict == "holds"


@pytest.mark.slow
def test_T_10_000_stays_finite_where_plain_bptt_underflows():
    key = jax.random.key(0)
    T = 10_000
    cell = rnn.init_cell(key, "rnn", hidden=4, inputs=1, outputs=1, sw2=0.5)
    xs = jax.random.normal(jax.random.key(1), (T, 1), jnp.float64)
    y = jnp.ones((1,))
    plain = np.asarray(rnn.plain_bptt(cell, xs, y))
    assert np.isneginf(plain[0])  # the float product underflows to 0
    res = rnn.bptt(cell, xs, y)
    for X in rnn.LEVELS:
        assert np.all(np.isfinite(res.levels[X])), X
    assert res.log10("E")[0] < -300  # far below the smallest float64
    assert res.lo is not None and res.hi is not None
    # J and G stay enclosed at any length; J <= G is certified at every step
    assert np.all(np.isfinite(res.lo["J"])) and np.all(np.isfinite(res.hi["G"]))
    assert np.all(res.pair_verdicts["J<=G"] == "holds")
    assert res.pascanu is not None and res.pascanu["exploding_necessary"] in (True, False)
    for kind in ("lstm", "gru"):
        c = rnn.init_cell(key, kind, hidden=4, inputs=1, outputs=1)
        r = rnn.bptt(c, xs, y, enclosures=False)
        assert all(np.all(np.isfinite(r.levels[X])) for X in r.levels)


def test_pascanu_sufficient_condition_certifies_vanishing():
    cell = rnn.init_cell(jax.random.key(3), "rnn", hidden=4, inputs=1, outputs=1, sw2=0.2)
    xs = jax.random.normal(jax.random.key(4), (50, 1), jnp.float64)
    res = rnn.bptt(cell, xs, jnp.ones((1,)))
    assert res.pascanu is not None and res.pascanu["vanishing_sufficient"] is True
    assert res.pascanu["exploding_necessary"] is False
    assert res.decay_per_step < 0 and res.log10("G")[0] < res.log10("G")[-1]


def test_forget_gate_bias_slows_the_decay():
    r0 = rnn.decay_rates(jax.random.key(0), hidden=8, steps=60, cells=("rnn", "lstm"))
    r1 = rnn.decay_rates(jax.random.key(0), hidden=8, steps=60, cells=("rnn", "lstm"), forget_bias=2.0)
    assert r1["rnn"] == r0["rnn"]  # the knob touches the gates only
    assert r1["lstm"] > r0["lstm"]  # a larger forget bias keeps more of the gradient per step


def test_jacobian_singular_values_over_time():
    cell = rnn.init_cell(jax.random.key(5), "lstm", hidden=3, inputs=1, outputs=1)
    xs = jax.random.normal(jax.random.key(6), (5, 1), jnp.float64)
    res = rnn.bptt(cell, xs, jnp.zeros((1,)), svals=True)
    assert res.svals is not None and res.svals.shape == (5, 6)
    J = np.diff(res.levels["J"])  # log‖J_t‖ = J_{t-1} − J_t
    np.testing.assert_allclose(-J, np.log(res.svals[:, 0]), rtol=1e-10)


@pytest.mark.parametrize("kind", rnn.CELLS)
def test_summed_losses_E_is_jax_grad_and_E_le_J_le_G(kind):
    cell = rnn.init_cell(jax.random.key(0), kind, hidden=3, inputs=2, outputs=2, sb2=0.3)
    T = 6
    xs = jax.random.normal(jax.random.key(1), (T, 2), jnp.float64)
    ys = jax.random.normal(jax.random.key(2), (T, 2), jnp.float64)
    res = rnn.bptt(cell, xs, ys, losses="sum")
    ss = rnn.run(cell, xs)

    def tail(s_k, k):  # Σ_{t ≥ k, t ≥ 1} C_t as a function of s_k
        s, c = s_k, jnp.zeros(())
        if k > 0:
            r = rnn.readout(cell, s) - ys[k - 1]
            c = c + 0.5 * jnp.sum(r * r)
        for t in range(k, T):
            s = rnn.step(cell, s, xs[t])
            r = rnn.readout(cell, s) - ys[t]
            c = c + 0.5 * jnp.sum(r * r)
        return c

    ref = [np.log(np.linalg.norm(np.asarray(jax.grad(tail)(ss[k], k)))) for k in range(T + 1)]
    np.testing.assert_allclose(res.levels["E"], ref, rtol=1e-10, atol=1e-12)
    assert res.verdict == "holds" and "E<=J" in res.pair_verdicts and ("J<=G" in res.pair_verdicts) == (kind == "rnn")


def _mp_step(cell, s, x):
    """One step of a cell in mpmath (PyTorch's equations, written again), ``s`` and ``x`` lists of mpf."""
    H = cell.hidden

    def lin(W, b, v):
        W, b = np.asarray(W), np.asarray(b)
        return [
            sum(mpmath.mpf(float(W[i, j])) * v[j] for j in range(len(v))) + mpmath.mpf(float(b[i]))
            for i in range(len(b))
        ]

    sig = lambda t: 1 / (1 + mpmath.exp(-t))  # noqa: E731
    ai = lin(cell.weight_ih, cell.bias_ih, x)
    ah = lin(cell.weight_hh, cell.bias_hh, s[:H])
    if cell.kind == "lstm":
        a = [p + q for p, q in zip(ai, ah)]
        c = [sig(a[H + j]) * s[H + j] + sig(a[j]) * mpmath.tanh(a[2 * H + j]) for j in range(H)]
        return [sig(a[3 * H + j]) * mpmath.tanh(c[j]) for j in range(H)] + c
    r = [sig(ai[j] + ah[j]) for j in range(H)]
    z = [sig(ai[H + j] + ah[H + j]) for j in range(H)]
    n = [mpmath.tanh(ai[2 * H + j] + r[j] * ah[2 * H + j]) for j in range(H)]
    return [(1 - z[j]) * n[j] + z[j] * s[j] for j in range(H)]


def _mp_gated_levels(cell, xs, y, dps=50):
    """E_k, P_k, J_k with Jacobians by central differences in 50 digits (independent of the closed forms)."""
    with mpmath.workdps(dps):
        s = [mpmath.mpf(float(v)) for v in np.asarray(cell.initial_state())]
        Js = []
        h = mpmath.mpf(10) ** -20
        for x in np.asarray(xs):
            xv = [mpmath.mpf(float(v)) for v in x]
            cols = []
            for j in range(len(s)):
                sp, sm = list(s), list(s)
                sp[j] += h
                sm[j] -= h
                fp, fm = _mp_step(cell, sp, xv), _mp_step(cell, sm, xv)
                cols.append([(a - b) / (2 * h) for a, b in zip(fp, fm)])
            Js.append(mpmath.matrix(cols))  # rows of this matrix are columns of J_t: it is J_t^T
            s = _mp_step(cell, s, xv)
        H = cell.hidden
        Wo = mpmath.matrix(np.asarray(cell.W_out).tolist())
        r = (
            Wo * mpmath.matrix(s[:H])
            + mpmath.matrix(np.asarray(cell.b_out).tolist())
            - mpmath.matrix(np.asarray(y).tolist())
        )
        gh = Wo.T * r
        g = mpmath.matrix(list(gh) + ([0] * H if cell.kind == "lstm" else []))
        T = len(Js)
        E, P, J = [mpmath.mpf(0)] * (T + 1), [mpmath.mpf(0)] * (T + 1), [mpmath.mpf(0)] * (T + 1)
        d, Pi, jn, ng = g, mpmath.eye(len(g)), mpmath.mpf(1), mpmath.norm(g)
        for k in range(T, -1, -1):
            E[k] = mpmath.log(mpmath.norm(d))
            P[k] = mpmath.log(max(mpmath.svd_r(Pi, compute_uv=False)) * ng)
            J[k] = mpmath.log(jn * ng)
            if k > 0:
                B = Js[k - 1]
                d, Pi = B * d, B * Pi
                jn *= max(mpmath.svd_r(B, compute_uv=False))
        return [float(v) for v in E], [float(v) for v in P], [float(v) for v in J]


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gated_enclosures_contain_the_50_digit_levels(kind):
    cell = rnn.init_cell(jax.random.key(7), kind, hidden=2, inputs=2, outputs=2, sw2=2.0, sb2=0.3, forget_bias=1.0)
    xs = jax.random.normal(jax.random.key(8), (4, 2), jnp.float64)
    y = jnp.asarray([0.3, -0.2])
    res = rnn.bptt(cell, xs, y)
    assert res.certified and res.lo is not None and res.hi is not None
    for X, ref in zip("EPJ", _mp_gated_levels(cell, xs, y)):
        ref = np.asarray(ref)
        assert np.all(res.lo[X] <= ref) and np.all(ref <= res.hi[X]), (X, res.lo[X] - ref, res.hi[X] - ref)
        assert np.all(res.hi[X] - res.lo[X] < 1e-9)
    assert res.verdict == "holds"


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_enclosures_refuse_subnormal_weights_and_inputs(kind):
    """XLA on CPU reads a subnormal input as 0 and the recurrent enclosures have no term for it (a plain tanh cell
    with weight_ih = 1e-39 against x = 1e35 in float32 enclosed log10 E below -18, exactly -4.0): a clear error,
    naming the array, instead of an enclosure; the point levels still come back."""
    cell = rnn.init_cell(jax.random.key(0), kind, hidden=1, inputs=1, outputs=1, dtype=jnp.float32)
    cell = dataclasses.replace(cell, weight_ih=jnp.full_like(cell.weight_ih, 1e-39))
    xs, y = jnp.full((2, 1), 1e35, jnp.float32), jnp.zeros(1, jnp.float32)
    with pytest.raises(ValueError, match="weight_ih: expected no subnormal entries"):
        rnn.bptt(cell, xs, y)
    assert np.asarray(rnn.bptt(cell, xs, y, enclosures=False).levels["E"]).size == 3  # T + 1 levels
    ok = dataclasses.replace(cell, weight_ih=jnp.full_like(cell.weight_ih, 0.5))
    with pytest.raises(ValueError, match="xs: expected no subnormal entries"):
        rnn.bptt(ok, jnp.full((2, 1), 1e-40, jnp.float32), y)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_public_enclosures_are_vacuous_on_subnormal_data(kind):
    """The public enclosure functions run under ``jit`` (no host check): a subnormal weight or input makes every
    enclosure ``[−inf, inf]`` and ``subnormal`` true, where the plain cell was enclosed below the exact
    ``log10 E = −4`` before; normal data keeps finite, flagged-false enclosures."""
    cell = rnn.init_cell(jax.random.key(0), kind, hidden=1, inputs=1, outputs=1, dtype=jnp.float32)
    f = jax.jit(rnn.plain_enclosures if kind == "rnn" else rnn.gated_enclosures)
    xs, y = jnp.full((2, 1), 1e35, jnp.float32), jnp.zeros(1, jnp.float32)
    ok = dataclasses.replace(cell, weight_ih=jnp.full_like(cell.weight_ih, 0.5))
    base = f(ok, jnp.full((2, 1), 0.5, jnp.float32), y)
    assert not bool(base["subnormal"]) and np.all(np.isfinite(np.asarray(base["hi_E"])))
    bad = dataclasses.replace(cell, weight_ih=jnp.full_like(cell.weight_ih, 1e-39))
    for c, x in ((bad, xs), (ok, jnp.full((2, 1), 1e-40, jnp.float32))):
        out = f(c, x, y)
        assert bool(out["subnormal"]) and not bool(out["finite"])
        for k, v in out.items():
            if "lo" in k.split("_"):
                assert np.all(np.asarray(v) == -np.inf), k
            elif "hi" in k.split("_"):
                assert np.all(np.asarray(v) == np.inf), k
