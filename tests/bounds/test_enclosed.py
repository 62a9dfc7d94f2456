"""The enclosed hierarchy's program structure (gradbounds.bounds._enclosed): one step per distinct layer shape."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradbounds as gb
from gradbounds import core
from gradbounds.bounds import _enclosed


@pytest.mark.parametrize(
    ("widths", "acts", "runs"),
    [
        ((784, 30, 30, 30, 30, 10), ("sigmoid",) * 5, [(3, "sigmoid"), (1, "sigmoid")]),
        (
            (4, 6, 6, 6, 6, 3),
            ("sigmoid", "tanh", "tanh", "sigmoid", "sigmoid"),
            [(1, "sigmoid"), (2, "tanh"), (1, "sigmoid")],
        ),
        ((5, 5, 5, 5), ("tanh",) * 3, [(2, "tanh")]),
        ((3, 7, 2, 7, 2), ("relu",) * 4, [(1, "relu"), (1, "relu"), (1, "relu")]),
        ((3, 4), ("sigmoid",), []),
    ],
)
def test_backward_runs_stack_equal_layers_across_segments(widths, acts, runs):
    """Layer ``l``'s backward item is ``(z^l, its σ' enclosure, the stats of W^{l+1})``; consecutive items of one
    shape and activation form one run (one traced and compiled step) even where the forward segments are cut
    (the seed network: ``W^1`` is its own segment, yet ``l = 1, 2, 3`` are one run).  Each item is the right one:
    ``z^l`` tagged by ``l`` and ``log‖W^{l+1}‖`` from that matrix alone."""
    net = gb.init_network(jax.random.key(0), widths, activation=list(acts), dtype=jnp.float64)
    segs = core.segments(net)
    act_objs = [core.get_activation(seg.activation) for seg in segs]
    starts = np.cumsum([0] + [seg.length for seg in segs])
    zs = [
        jnp.asarray(np.arange(starts[s], starts[s + 1], dtype=np.float64)[:, None] + 1 + 0 * seg.b)
        for s, seg in enumerate(segs)
    ]
    ens = [tuple(z + 0.25 * j for j in range(4)) for z in zs]  # each enclosure array tagged by layer and part
    got = _enclosed._backward_runs(segs, act_objs, zs, ens, _enclosed.all_weight_stats(segs))
    assert [(int(item[0].shape[0]), act.name) for act, item in got] == runs
    layers = np.concatenate([np.asarray(item[0][:, 0]) for _, item in got]) if got else np.zeros(0)
    np.testing.assert_array_equal(layers, np.arange(1, len(net)))  # z^1 .. z^{L-1}, in order
    for j in range(4):  # and each layer's own enclosure, every part in its place
        got_en = np.concatenate([np.asarray(item[1][j][:, 0]) for _, item in got]) if got else np.zeros(0)
        np.testing.assert_array_equal(got_en, np.arange(1, len(net)) + 0.25 * j)
    log_w = np.concatenate([np.asarray(item[2][0]) for _, item in got]) if got else np.zeros(0)
    want = [float(_enclosed.weight_stats(net[l].W)[0]) for l in range(1, len(net))]
    np.testing.assert_allclose(log_w, want, rtol=1e-13)  # batched against one matrix: to rounding


def test_the_quickly_compiled_hierarchy_traces_its_sturm_recurrences_as_loops():
    """The single-network program (XLA level 0) takes the smaller program of :func:`gradbounds.linalg.sturm_loops`
    (more while loops, fewer operations); the optimised one keeps the unrolled recurrences."""
    from gradbounds.bounds import _api

    net = gb.init_network(jax.random.key(1), (4, 6, 6, 3), dtype=jnp.float64)
    segs, x, y = core.segments(net), jnp.ones((1, 4)), jnp.zeros((1, 3))
    c = core.get_cost("quadratic")
    quick = _api._levels_batch.jitted.lower(segs, x, y, cost=c).as_text()
    many = _api._levels_many.jitted.lower(segs, x, y, cost=c).as_text()
    assert quick.count("stablehlo.while") > many.count("stablehlo.while")
    assert quick.count("stablehlo.divide") < many.count("stablehlo.divide")


@pytest.mark.parametrize("depth", (3, 10))  # a square first segment: scanned (2-7 layers were unrolled before)
def test_levels_take_a_narrower_input_type_as_its_exact_cast(depth):
    """``levels`` has no input checks: a float32 or integer ``x`` (or ``y``) into a float64 network gives exactly the
    levels of the cast input, as promotion did, whether the first segment is scanned or not."""
    net = gb.init_network(jax.random.key(2), (3,) * depth + (2,), dtype=jnp.float64)
    want = gb.bounds.levels(net, jnp.asarray([1.0, -2.0, 0.5]), jnp.asarray([0.0, 1.0]))
    for x, y in (
        (jnp.asarray([1.0, -2.0, 0.5], jnp.float32), jnp.asarray([0.0, 1.0])),
        (jnp.asarray([1.0, -2.0, 0.5]), jnp.asarray([0, 1], jnp.int32)),
    ):
        got = gb.bounds.levels(net, x, y)
        for name, a, b in zip(want._fields, got, want):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)
