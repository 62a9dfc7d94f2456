"""Typical vs worst case: the mean-field rate of E‖δ^l‖² against networks, and G ≥ ‖δ^l‖."""

import math

import jax
import numpy as np
import pytest

from gradbounds import theory
from gradbounds.theory import typical_vs_worst


@pytest.fixture(scope="module")
def ordered():
    # tanh, σ_w² = 0.8, σ_b² = 0.05 (χ₁ ≈ 0.647), width 64, depth 10, 32 networks from key 0.
    return typical_vs_worst(jax.random.key(0), (64,) * 11, activation="tanh", sw2=0.8, sb2=0.05, n_networks=32)


@pytest.mark.slow
def test_measured_rate_is_chi1(ordered):
    # Fitted log10 of the per-layer factor of mean ‖δ^l‖² over 32 networks against log10 χ₁ = −0.189.
    # Across keys 0..3 (width 64) the fit deviated by ≤ 0.012 (standard deviation ≈ 0.007): tolerance 0.03.
    assert ordered.chi1 == pytest.approx(theory.chi1("tanh", 0.8, 0.05), rel=1e-14)
    assert ordered.measured_rate == pytest.approx(math.log10(ordered.chi1), abs=0.03)
    # every layer within 0.15 (log10 of the rms) of χ₁^{L-l} E‖δ^L‖² (≤ 0.062 across keys 0..3)
    np.testing.assert_allclose(ordered.measured, ordered.predicted, atol=0.15)


@pytest.mark.slow
def test_the_bound_holds_and_its_slack_grows_with_depth(ordered):
    # G ≥ ‖δ^l‖ for every network (slack ≥ 0), and the slack grows as l moves away from the output:
    # per layer by ≈ log10(γ‖W‖/√χ₁) > 0 (‖W‖ ≈ 2σ_w for square Gaussian W).
    assert np.all(ordered.slack >= 0)
    steps = -np.diff(ordered.slack)
    assert np.all(steps > 0)
    # (at width 64, E‖W‖ is ≈ 1.5% below 2σ_w: measured 0.340..0.343 vs 0.347 across keys 0..3)
    assert np.mean(steps) == pytest.approx(math.log10(2 * math.sqrt(0.8) / math.sqrt(ordered.chi1)), abs=0.02)
    d = ordered.to_dict()
    assert d["layers"] == list(range(1, 11)) and "table" not in d
    assert "chi1" in ordered.table()


@pytest.mark.slow
def test_relu_at_criticality_keeps_the_mean_square():
    # relu, σ_w² = 2 (χ₁ = 1 for every q): mean ‖δ^l‖² stays flat; 32 networks of width 64,
    # depth 10, key 1: the fitted rate is within 0.03 of 0 (|rate| ≤ 0.012 across keys 0..3).
    r = typical_vs_worst(jax.random.key(1), (64,) * 11, activation="relu", sw2=2.0, sb2=0.0, n_networks=32)
    assert r.chi1 == 1.0 and r.xi_grad == math.inf
    assert abs(r.measured_rate) < 0.03


def test_bad_arguments():
    with pytest.raises(ValueError, match="init"):
        typical_vs_worst(jax.random.key(0), (4, 4), init="nielsen")
    with pytest.raises(ValueError, match="n_networks"):
        typical_vs_worst(jax.random.key(0), (4, 4), n_networks=0)


def test_typical_rates_are_the_rates_of_independent_draws():
    # draw d of typical_rates is typical_vs_worst at the d-th key of split(key, draws), computed by plain
    # backpropagation instead of the sweep's log-space levels: the same rate to rounding
    kw = dict(activation="tanh", sw2=1.2, sb2=0.05, n_networks=3)
    key = jax.random.key(5)
    rates = theory.typical_rates(key, (12,) * 7, draws=4, **kw)
    ks = jax.random.split(key, 4)
    for d in (0, 3):
        assert rates[d] == pytest.approx(typical_vs_worst(ks[d], (12,) * 7, **kw).measured_rate, rel=1e-9, abs=1e-12)
    assert len(set(rates.tolist())) == 4  # independent draws, not one draw repeated
    with pytest.raises(ValueError, match="draws"):
        theory.typical_rates(key, (4, 4), draws=0)


@pytest.mark.parametrize("activation", ("tanh", "sigmoid"))
def test_light_levels_are_the_sweeps_E_and_G(activation):
    """typical_vs_worst reads E and G from rescaled backprop and log-norms: the sweep's point values, to rounding."""
    import jax.numpy as jnp

    import gradbounds as gb
    from gradbounds.theory import _typical

    # one short run (unrolled), and two segments whose second is long enough to be scanned (core.backward_scan)
    for ws, cost in (((6,) * 8, "readout"), ((6,) * 8, "quadratic"), ((7,) + (6,) * 12, "quadratic")):
        keys = jax.random.split(jax.random.key(3), 3)
        nets = jax.vmap(lambda k, ws=ws: gb.init_network(k, ws, activation=activation, init="gaussian", sw2=1.5))(keys)
        x = jax.random.normal(jax.random.key(4), (3, 1, ws[0]))
        y = jax.random.uniform(jax.random.key(5), (3, 1, 6))
        c = _typical.readout if cost == "readout" else cost
        E, G = _typical._log_error_and_bound(nets, x, y, c)
        h = gb.sweep(nets, x, y, cost=c)
        np.testing.assert_allclose(np.asarray(E), np.asarray(h.levels.E)[:, 0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.asarray(G), np.asarray(h.levels.G)[:, 0], rtol=1e-12, atol=1e-12)
        assert np.all(np.asarray(jnp.isfinite(E)))
