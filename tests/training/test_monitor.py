"""Tests for gradbounds.monitoring: speeds, levels and warnings for users' own training loops."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradbounds as gb
from gradbounds import training
from gradbounds import training as mon


def _setup(seed=0, widths=(8, 6, 6, 6, 6, 3), n=16):
    net = gb.init_network(jax.random.key(seed), widths)
    kx, ky = jax.random.split(jax.random.key(seed + 100))
    x = jax.random.uniform(kx, (n, widths[0]), jnp.float64)
    y = jax.nn.one_hot(jax.random.randint(ky, (n,), 0, widths[-1]), widths[-1], dtype=jnp.float64)
    return net, x, y


def _ratios(net, x, y):
    deltas = jax.jit(jax.vmap(lambda a, b: gb.errors(net, a, b, cost="cross-entropy")))(x, y)
    sp = np.array([float(jnp.linalg.norm(jnp.mean(d, axis=0))) for d in deltas])
    return sp, sp / sp[-1]


def test_monitor_warns_exactly_for_slow_layers():
    net, x, y = _setup()
    sp, ratios = _ratios(net, x, y)
    assert np.all(np.diff(ratios) > 0)  # a deep sigmoid network: earlier layers are slower
    fraction = float(np.sqrt(ratios[1] * ratios[2]))  # between layers 2 and 3
    with pytest.warns(mon.SlowLayerWarning, match=r"layer 1 .*layer 2 .*speed of layer 5") as rec:
        rep = mon.monitor(net, x, y, fraction=fraction, step=7, levels=False)
    assert len(rec) == 1 and "at step 7" in str(rec[0].message) and "layer 3" not in str(rec[0].message)
    assert rep.slow_layers == (1, 2)
    np.testing.assert_allclose(rep.speeds, sp, rtol=1e-12)
    np.testing.assert_allclose(rep.ratios, ratios, rtol=1e-12)
    assert "slow" in str(rep)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = mon.monitor(net, x, y, fraction=0.5 * ratios[0], levels=False)
    assert quiet.slow_layers == () and quiet.statistics is None


def test_monitor_accepts_plain_arrays():
    net, x, y = _setup(1, widths=(5, 4, 3))
    pairs = [(np.asarray(q.W), np.asarray(q.b)) for q in net]
    dicts = [{"w": np.asarray(q.W), "bias": np.asarray(q.b)} for q in net]
    a = mon.monitor(pairs, x, y, warn=False, activation="sigmoid")
    b = mon.monitor(dicts, x, y, levels=False, warn=False, activation="sigmoid")
    np.testing.assert_array_equal(a.speeds, b.speeds)
    st = a.statistics  # s <= mean E <= mean G, and the hierarchy holds
    assert st["verdict"] == "holds"
    assert np.all(np.array(st["log10_speed"]) <= np.array(st["log10_E"]) + 1e-12)
    assert np.all(np.array(st["log10_E"]) <= np.array(st["log10_G"]) + 1e-12)
    assert "log10 E" in str(a)
    np.testing.assert_allclose(a.speeds, _ratios(net, x, y)[0], rtol=1e-12)
    with pytest.raises(TypeError, match="layer 1: expected a dict"):
        mon.monitor([{"kernel": 1}], x, y, activation="sigmoid")
    # no silent default: plain arrays do not say their activation, layers do (and take none)
    with pytest.raises(ValueError, match="activation: expected the activation of plain"):
        mon.monitor(pairs, x, y)
    with pytest.raises(ValueError, match="activation: the layers carry their own"):
        mon.monitor(net, x, y, activation="tanh")
    tanh = mon.monitor(pairs, x, y, activation="tanh", levels=False, warn=False)
    assert tanh.activations == ("tanh", "tanh") and not np.array_equal(tanh.speeds, a.speeds)
    # a callable is recognised by identity (jnp.tanh is tanh), an unknown one refused
    by_fn = mon.monitor(pairs, x, y, activation=[jnp.tanh, "tanh"], levels=False, warn=False)
    np.testing.assert_array_equal(by_fn.speeds, tanh.speeds)
    with pytest.raises(TypeError, match="layer 2: activation: cannot tell which activation"):
        mon.monitor(pairs, x, y, activation=["tanh", lambda z: z], levels=False, warn=False)
    assert a.cost == "cross-entropy" and "cost cross-entropy" in str(a) and "activations sigmoid" in str(a)
    with pytest.raises(ValueError, match="fraction"):
        mon.monitor(net, x, y, fraction=2.0)


def test_speed_monitor_transformation_in_a_jitted_loop():
    net, x, y = _setup(2)
    _, ratios = _ratios(net, x, y)
    fraction = float(np.sqrt(ratios[0] * ratios[1]))  # layer 1 is slow, the others are not
    tx = optax.chain(mon.speed_monitor(fraction=fraction, every=3), optax.sgd(1e-9))

    def cross_entropy(p, a, b):  # from z^L: -[y ln σ(z) + (1-y) ln(1-σ(z))]
        z = gb.forward(p, a).z[-1]
        return jnp.sum(b * jax.nn.softplus(-z) + (1 - b) * jax.nn.softplus(z))

    def loss(p):
        return jnp.mean(jax.vmap(lambda a, b: cross_entropy(p, a, b))(x, y))

    @jax.jit
    def step(p, s):
        g = jax.grad(loss)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    state = tx.init(net)
    with pytest.warns(mon.SlowLayerWarning) as rec:
        p = net
        for _ in range(7):
            p, state = step(p, state)
        jax.effects_barrier()
    msgs = [str(r.message) for r in rec if issubclass(r.category, mon.SlowLayerWarning)]
    assert [m.split("at step ")[1].split(":")[0] for m in msgs] == ["0", "3", "6"]
    assert all("layer 1 " in m and "layer 2 " not in m for m in msgs)
    assert int(state[0].count) == 7
    # the state's speeds are the norms of the mean errors (η = 1e-9 leaves the parameters all but unchanged)
    np.testing.assert_allclose(np.asarray(state[0].speeds), training.speeds(net, x, y), rtol=1e-6)


def test_monitor_report_to_dict_and_dataframe():
    import json

    net, x, y = _setup(3, widths=(5, 4, 4, 3))
    rep = mon.monitor(net, x, y, step=2, warn=False, fraction=0.5)
    d = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
    assert d["step"] == 2 and d["fraction"] == 0.5 and d["slow_layers"] == list(rep.slow_layers)
    assert d["speeds"] == rep.speeds.tolist() and d["statistics"]["log10_E"] == rep.statistics["log10_E"]
    df = rep.to_dataframe()
    assert list(df.layer) == [1, 2, 3] and list(df.step) == [2, 2, 2]
    np.testing.assert_array_equal(df.speed.to_numpy(), rep.speeds)
    np.testing.assert_array_equal(df.ratio.to_numpy(), rep.ratios)
    assert list(df.slow) == [i + 1 in rep.slow_layers for i in range(3)]
    assert list(df.verdict) == rep.statistics["verdicts"]
    # a last layer that does not learn: ratios are inf or nan, still strict JSON
    zero = mon.MonitorReport(np.array([1.0, 0.0]), np.array([np.inf, np.nan]), (), 0.01)
    assert json.loads(json.dumps(zero.to_dict(), allow_nan=False))["ratios"] == ["inf", None]
