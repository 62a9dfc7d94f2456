"""Tests for gradbounds.training against an independent, Nielsen-style numpy implementation.

The reference (:mod:`gradbounds.testing.reference`) is written the way
``network2.py`` is: column vectors, a Python loop over examples, ``delta = a - y`` for cross-entropy with a sigmoid
output, ``w <- (1 - eta*lmbda/n) w - (eta/m) sum nabla_w``, biases not decayed,
and the speed of layer l is ``list_norm`` of the averaged ``nabla_b`` (the
norm of the mean), as in ``generate_gradient.py``.
"""

from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradbounds as gb
from gradbounds import training
from gradbounds.testing import reference


def nielsen_reference(Ws, bs, X, Y, *, eta, lmbda, steps, batch=None, mu=0.0):
    """Speeds before each step, after the last, and the final weights: in order, no shuffling.

    Runs the shared NumPy reference (:mod:`gradbounds.testing.reference`,
    also the baseline of ``bench/training.py``) over consecutive batches of
    ``batch`` examples (a ragged last batch), epoch after epoch.
    """
    n = len(X)
    m = batch or n
    per_epoch = [np.arange(k, min(k + m, n)) for k in range(0, n, m)]
    batches = [per_epoch[i % len(per_epoch)] for i in range(steps)]
    Ws, bs, rows, final = reference.train(Ws, bs, X, Y, batches, eta=eta, lmbda=lmbda, n=n, mu=mu)
    return rows, final, Ws, bs


def _toy(seed=0, n=24, n_in=6, n_test=5):
    rng = np.random.default_rng(seed)
    lab = rng.integers(0, 10, n)
    return training.Dataset(
        "toy", rng.random((n, n_in)), lab, rng.random((n_test, n_in)), rng.integers(0, 10, n_test), (n_in,)
    )


def _net(seed=0, widths=(6, 5, 4, 10), init="nielsen"):
    return gb.init_network(jax.random.key(seed), widths, init=init)


@pytest.mark.parametrize(
    "change,batch",
    [
        ({}, None),
        ({"batch_size": 10, "shuffle": False, "record_every": 1}, 10),
        ({"momentum": 0.7, "batch_size": 7, "shuffle": False, "record_every": 1}, 7),
    ],
    ids=["full-batch", "mini-batch-ragged", "momentum"],
)
def test_protocol_matches_numpy_reference(change, batch):
    ds, net = _toy(), _net()
    p = replace(training.PRESETS["nielsen-ch5"], hidden=(5, 4), steps=9, n_train=None, levels=False, **change)
    res = training.train(ds, p, net=net)
    ref_rows, ref_final, ref_W, ref_b = nielsen_reference(
        [q.W for q in net],
        [q.b for q in net],
        ds.x_train,
        ds.y_train(),
        eta=0.1,
        lmbda=5.0,
        steps=9,
        batch=batch,
        mu=change.get("momentum", 0.0),
    )
    assert res.steps.tolist() == list(range(9))
    np.testing.assert_allclose(res.speeds, ref_rows, rtol=1e-11)  # row 0 is the initialisation
    np.testing.assert_allclose(res.final["speeds"], ref_final, rtol=1e-11)
    for q, W, b in zip(res.net, ref_W, ref_b):
        np.testing.assert_allclose(np.asarray(q.W), W, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(np.asarray(q.b), b, rtol=1e-11, atol=1e-14)
    assert res.hidden_speeds.shape == (9, 2)
    assert not np.allclose(res.speeds[0], res.speeds[-1])  # training moved the speeds


def test_speed_is_norm_of_mean_error():
    ds, net = _toy(1), _net(1)
    x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train())
    deltas = jax.jit(jax.vmap(lambda a, b: gb.errors(net, a, b, cost="cross-entropy")))(x, y)
    want = [float(jnp.linalg.norm(jnp.mean(d, axis=0))) for d in deltas]
    mean_of_norms = [float(jnp.mean(jnp.linalg.norm(d, axis=1))) for d in deltas]
    got = np.asarray(training.speeds(net, x, y))
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert np.all(got < np.array(mean_of_norms))  # not the mean of the norms (cancellation between examples)


def test_full_batch_is_order_free_and_shuffled_minibatches_differ():
    ds, net = _toy(2), _net(2)
    base = replace(training.PRESETS["nielsen-ch5"], hidden=(5, 4), steps=4, n_train=None, levels=False)
    a = training.train(ds, base, net=net, seed=0)
    b = training.train(ds, replace(base, shuffle=False), net=net, seed=5)
    np.testing.assert_allclose(a.speeds, b.speeds, rtol=1e-13)
    mb = replace(base, batch_size=6, steps=8)
    c1 = training.train(ds, mb, net=net, seed=0)
    c2 = training.train(ds, mb, net=net, seed=0)
    c3 = training.train(ds, mb, net=net, seed=1)
    np.testing.assert_array_equal(c1.speeds, c2.speeds)  # same key, same numbers
    assert not np.allclose(c1.speeds[-1], c3.speeds[-1])


@pytest.mark.slow
def test_levels_chain_speed_le_mean_E_le_mean_G():
    ds, net = _toy(3), _net(3)
    p = replace(training.PRESETS["nielsen-ch5"], hidden=(5, 4), steps=6, detail_every=3, n_train=None)
    res = training.train(ds, p, net=net)
    assert [d["step"] for d in res.details] == [0, 3]
    for d in res.details + [res.final]:
        sp, E, G = (np.array(d[k]) for k in ("log10_speed", "log10_E", "log10_G"))
        assert np.all(sp <= E + 1e-12) and np.all(E <= G + 1e-12)
        assert d["verdict"] == "holds"
        assert 0.0 <= d["accuracy"] <= 1.0
    # the detail's speed is the recorded speed, and its E is the mean of the per-example ||delta^l||
    np.testing.assert_allclose(10 ** np.array(res.details[1]["log10_speed"]), res.speeds[3], rtol=1e-12)
    x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train())
    deltas = jax.jit(jax.vmap(lambda a, b: gb.errors(net, a, b, cost="cross-entropy")))(x, y)
    want_E = [float(jnp.mean(jnp.linalg.norm(d, axis=1))) for d in deltas]
    np.testing.assert_allclose(10 ** np.array(res.details[0]["log10_E"]), want_E, rtol=1e-10)


def test_schedule_records_and_epochs():
    p = replace(training.PRESETS["nielsen-ch5-accuracy"], epochs=2, levels=False)
    plan = p.plan(25)
    assert plan == training.Plan(10, 3, 6, 3, 3)  # 3 batches an epoch (10, 10, 5), a record per epoch
    ds = _toy(4, n=25)
    res = training.train(ds, replace(p, hidden=(5, 4)), net=_net(4))
    assert res.steps.tolist() == [0, 3] and res.final["step"] == 6
    assert training.preset("nielsen-ch5", hidden=3).hidden == (30, 30, 30)
    with pytest.raises(ValueError, match="unknown preset"):
        training.preset("nielsen")
    with pytest.raises(TypeError, match="unknown protocol field 'lr'"):
        training.preset("nielsen-ch5", lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        training.Protocol(momentum=1.0)
    with pytest.raises(ValueError, match="widths"):
        training.train(ds, p, net=_net(0, widths=(5, 4, 10)))


@pytest.mark.slow
def test_float32_follows_the_network():
    ds = _toy(5)
    p = replace(training.PRESETS["nielsen-ch5"], hidden=(5, 4), steps=3, n_train=None)
    net = _net(5)
    net32 = tuple(gb.Layer(q.W.astype(jnp.float32), q.b.astype(jnp.float32), q.activation) for q in net)
    res = training.train(ds, p, net=net32)
    assert res.dtype == "float32" and res.net[0].W.dtype == jnp.float32
    assert training.train(ds, p, dtype=jnp.float32).net[0].W.dtype == jnp.float32
    res64 = training.train(ds, p, net=net)
    np.testing.assert_allclose(res.speeds, res64.speeds, rtol=1e-4)


def test_compare_remedies_changes_what_it_says():
    ds = _toy(6)
    p = replace(training.PRESETS["nielsen-ch5"], hidden=(5, 4), steps=3, n_train=None, levels=False)
    out = training.compare_remedies(ds, p, remedies={k: training.REMEDIES[k] for k in ("baseline", "activation=tanh")})
    assert out["baseline"].net[0].activation == "sigmoid" and out["activation=tanh"].net[0].activation == "tanh"
    assert out["activation=tanh"].net[-1].activation == "sigmoid"  # output stays sigmoid for cross-entropy
    s = training.summarize(out["baseline"])
    h = out["baseline"].hidden_speeds
    assert s["initial_ratio_first_last"] == pytest.approx(h[0, 0] / h[0, -1], rel=1e-14)


# --- the shape of the author's curves (Nielsen ch. 5, MNIST) ---------------------------------------


@pytest.mark.parametrize("k", [2, 3, 4])
def test_initial_ratios_like_published(k):
    """At initialisation, hidden layers learn slower the earlier they are, by the published factor.

    The author's numbers are one draw of the network on MNIST.  We draw 16
    networks (the ``nielsen-ch5`` init) on the first 1000 digits and ask that
    (i) the speeds increase with the layer index for every draw, (ii) the
    spread of log10(first/last) across draws is small (sd < 0.25 decades:
    the test is not vacuous), and (iii) the published log10(first/last) is a
    plausible draw of ours: within 3 standard deviations of our mean (the sd
    of a difference between one draw and a 16-draw mean is sd·sqrt(1 + 1/16)).
    The ratio falls by about 0.7 decades per extra hidden layer, so a wrong
    depth, activation or initialisation misses by many sds.
    """
    ds = training.load_dataset("digits").head(1000)
    x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train())
    logs = []
    for seed in range(16):
        net = gb.init_network(jax.random.key(seed), (64,) + (30,) * k + (10,), init="nielsen")
        sp = np.asarray(training.speeds(net, x, y))[:-1]
        assert np.all(np.diff(sp) > 0), f"seed {seed}: speeds {sp} do not increase with the layer index"
        logs.append(np.log10(sp[0] / sp[-1]))
    pub = np.array(training.published_initial_speeds()[k])
    assert np.all(np.diff(pub) > 0)
    mean, sd = np.mean(logs), np.std(logs, ddof=1)
    assert sd < 0.25
    assert abs(mean - np.log10(pub[0] / pub[-1])) < 3 * sd * np.sqrt(1 + 1 / 16)


def test_training_curves_like_published():
    """During the 500 steps the layers stay ordered and every speed drops by over a decade, most of
    it in the first 50 steps (the author's curves: ordered at all 500 steps, drops of 1.3-2.8 decades,
    1.8-2.5 decades by step 50)."""
    ds = training.load_dataset("digits")
    res = training.train(ds, training.preset("nielsen-ch5", hidden=3, levels=False), seed=0)
    h = res.hidden_speeds
    assert h.shape == (500, 3)
    assert np.all(np.diff(h, axis=1) > 0)
    assert np.all(np.log10(h[-1] / h[0]) < -1)
    assert np.all(np.log10(h[50] / h[0]) < -1)
    assert np.all(np.abs(np.log10(h[-1] / h[50])) < np.abs(np.log10(h[50] / h[0])))


def test_full_batch_speeds_from_the_step_gradient_equal_the_plain_speeds():
    """Fast path: with full batches over the evaluation set, the recorded speeds are the step's own
    bias gradients (no second backward pass); they equal :func:`training.speeds` of the same networks."""
    ds, net = _toy(n=30), _net(seed=3)
    p = replace(training.PRESETS["nielsen-ch5"], hidden=(5, 4), steps=3, n_train=None, levels=False)
    X, Y = ds.x_train, ds.y_train()
    res = training.train(ds, p, net=net)
    assert res.speeds.shape == (3, 3)
    np.testing.assert_allclose(res.speeds[0], training.speeds(net, X, Y), rtol=1e-13)
    for k in (1, 2):
        net_k = training.train(ds, replace(p, steps=k), net=net).net
        np.testing.assert_allclose(res.speeds[k], training.speeds(net_k, X, Y), rtol=1e-13)
    # a mini-batch protocol records through the plain path, inside the same scan
    pm = replace(p, batch_size=10, shuffle=False, record_every=2, steps=4)
    rm = training.train(ds, pm, net=net)
    assert rm.steps.tolist() == [0, 2]
    net_2 = training.train(ds, replace(pm, steps=2), net=net).net
    np.testing.assert_allclose(rm.speeds[1], training.speeds(net_2, X, Y), rtol=1e-13)
