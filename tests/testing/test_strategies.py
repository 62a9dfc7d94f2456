"""Tests of gradbounds.strategies: bad arguments fail at construction, draws have the promised spectra,
shapes and distributions, they come from jax.random keys, they shrink, and the Hypothesis entry point works.

Monte-Carlo checks use the minimal example of a strategy, which Hypothesis finds deterministically (seed 0,
``derandomize=True``), so each is one fixed draw with a tolerance of six standard deviations.
"""

import math
import subprocess
import sys
from importlib.metadata import entry_points

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import gradbounds as gb
import gradbounds.testing as gs
from gradbounds.testing import _arrays

U = np.finfo(np.float64).eps / 2
FIXED = settings(database=None, derandomize=True, max_examples=50)


def minimal(strategy, condition=lambda _: True):
    """The simplest example (Hypothesis's shrinking target): deterministic, drawn from seed 0."""
    return find(strategy, condition, settings=FIXED)


NET = gb.init_network(jax.random.key(0), (3, 2, 4))


# ------------------------------------------------------------------ bad arguments fail at construction
@pytest.mark.parametrize(
    "make",
    [
        lambda: gs.widths(min_layers=0),
        lambda: gs.widths(min_layers=3, max_layers=2),
        lambda: gs.widths(min_width=0),
        lambda: gs.widths(max_width=2.5),
        lambda: gs.widths(min_layers=True),
        lambda: gs.activations(names=["nope"]),
        lambda: gs.activations(names=[]),
        lambda: gs.init_schemes(names=["xavier"]),
        lambda: gs.init_schemes(names=[]),
        lambda: gs.weights((0, 3)),
        lambda: gs.weights((2,)),
        lambda: gs.weights((2, 3), spectrum="fractal"),
        lambda: gs.weights((2, 3), singular_values=[1.0]),
        lambda: gs.weights((2, 3), singular_values=[-1.0, 1.0]),
        lambda: gs.weights((2, 3), singular_values=[float("nan"), 1.0]),
        lambda: gs.weights((2, 3), min_log10_sv=2.0, max_log10_sv=1.0),
        lambda: gs.weights((2, 3), min_df=0),
        lambda: gs.weights((2, 3), max_log10_scale=1000.0),
        lambda: gs.weights((2, 3), min_log10_scale=float("nan")),
        lambda: gs.weights((2, 3), dtype="int32"),
        lambda: gs.weights((2, 3), dtype="float16"),
        lambda: gs.networks(widths=(3,)),
        lambda: gs.networks(widths=(2, 0, 1)),
        lambda: gs.networks(activations="nope"),
        lambda: gs.networks(activations=()),
        lambda: gs.networks(widths=(2, 3, 4), activations=("relu",)),
        lambda: gs.networks(init="xavier"),
        lambda: gs.networks(sw2=-1.0),
        lambda: gs.networks(sb2=float("inf")),
        lambda: gs.networks(mixed_activations="yes"),
        lambda: gs.networks(output_activation="nope"),
        lambda: gs.networks(min_df=3, max_df=2),
        lambda: gs.network_batches(size=0),
        lambda: gs.network_batches(size=2.5),
        lambda: gs.network_batches(size=4, init=["orthogonal", "kaiming"]),
        lambda: gs.layers(min_width=0),
        lambda: gs.inputs(NET, min_value=1.0, max_value=0.0),
        lambda: gs.inputs(NET, examples=0),
        lambda: gs.inputs(NET, max_value=float("inf")),
        lambda: gs.inputs("not a network"),
        lambda: gs.targets(NET, kind="gaussian"),
        lambda: gs.targets(NET, examples=-1),
    ],
)
def test_bad_arguments_raise_at_construction(make):
    """InvalidArgument when the strategy is built, not when an example is drawn."""
    with pytest.raises(InvalidArgument):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: gs.widths(1, 2),
        lambda: gs.network_batches(8),
        lambda: gs.networks((2, 3)),
        lambda: gs.weights((2, 3), "orthogonal"),
    ],
)
def test_options_are_keyword_only(make):
    with pytest.raises(TypeError):
        make()


def test_unknown_option_is_a_type_error():
    with pytest.raises(TypeError):
        gs.network_batches(size=4, depth=3)


def test_messages_say_expected_and_got():
    with pytest.raises(InvalidArgument, match=r"min_layers.*expected.*>= 1, got 0"):
        gs.widths(min_layers=0)
    with pytest.raises(InvalidArgument, match=r"activations: expected 2 names .* got 1"):
        gs.networks(widths=(2, 3, 4), activations=("relu",))


# ------------------------------------------------------------------ draws
@settings(max_examples=50)
@given(gs.widths(min_layers=2, max_layers=5, min_width=2, max_width=7))
def test_widths_within_bounds(ws):
    assert 3 <= len(ws) <= 6 and all(2 <= n <= 7 for n in ws)


@settings(max_examples=20)
@given(gs.weights(st.tuples(st.integers(1, 6), st.integers(1, 6)), spectrum="singular-values"))
def test_prescribed_singular_values(W):
    """W = U diag(s) V^T with s = 10^e, e in [-2, 2]: the SVD returns s (relative error ~ n u κ)."""
    s = np.linalg.svd(np.asarray(W), compute_uv=False)
    assert np.all(s >= 1e-2 * (1 - 1e-12)) and np.all(s <= 1e2 * (1 + 1e-12))


@settings(max_examples=20)
@given(st.data())
def test_singular_values_are_the_given_ones(data):
    n_out, n_in = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    k = min(n_out, n_in)
    sv = data.draw(st.lists(st.floats(1e-3, 1e3), min_size=k, max_size=k))
    W = np.asarray(data.draw(gs.weights((n_out, n_in), spectrum="singular-values", singular_values=sv)))
    got = np.linalg.svd(W, compute_uv=False)
    # |σ_i(fl(W)) − s_i| ≤ ‖fl(W) − W‖ ≤ c n u max s (Weyl), with c covering the two Haar factors' rounding
    np.testing.assert_allclose(got, np.sort(sv)[::-1], rtol=0, atol=16 * max(n_out, n_in) * U * max(sv))


@settings(max_examples=20)
@given(gs.weights(st.tuples(st.integers(1, 7), st.integers(1, 7)), spectrum="orthogonal"))
def test_orthogonal_weights(W):
    """W^T W = I (tall) or W W^T = I (wide), to rounding."""
    W = np.asarray(W)
    G = W.T @ W if W.shape[0] >= W.shape[1] else W @ W.T
    np.testing.assert_allclose(G, np.eye(G.shape[0]), rtol=0, atol=16 * max(W.shape) * U)


def test_orthogonal_is_haar_not_a_fixed_matrix():
    """Different seeds give different orthogonal matrices, with both signs on the diagonal of R (Mezzadri)."""
    Ws = minimal(gs.network_batches(size=200, widths=(3, 3), init="orthogonal", sw2=1.0, sb2=0.0))[0].W
    Ws = np.asarray(Ws)
    assert len({tuple(np.round(w.ravel(), 12)) for w in Ws}) == 200
    # Haar: E[W_11] = 0 and E[W_11²] = 1/3; 200 draws, six standard deviations (Var W_11 = 1/3, Var W_11² <= 1/9)
    assert abs(Ws[:, 0, 0].mean()) <= 6 * math.sqrt(1 / 3 / 200)
    assert abs((Ws[:, 0, 0] ** 2).mean() - 1 / 3) <= 6 * math.sqrt(1 / 9 / 200)


def test_heavy_tailed_is_student_t():
    """df = 1 (Cauchy): the median of |t| is 1 (√n_in W_ij = t); seed 0, 40,000 entries, six SDs."""
    W = np.asarray(minimal(gs.weights((200, 200), spectrum="heavy-tailed", min_df=1, max_df=1)))
    t = np.abs(W * math.sqrt(200)).ravel()
    # sample median of |t|: density of |t| at 1 is 1/π, SD = 1/(2 f √n) = π/(2·200)
    assert abs(np.median(t) - 1.0) <= 6 * math.pi / 400
    assert np.max(t) > 1e3  # the tail: P(|t| > 1000) ≈ 6.4e-4, so ~25 such entries expected


@pytest.mark.parametrize("c", [-30.0, 0.0, 12.0])
def test_scaled_weights_span_orders_of_magnitude(c):
    """W = 10^c g/√n_in: mean of (√n_in W/10^c)² is 1 (seed 0, 40,000 entries, six SDs of √(2/n))."""
    W = np.asarray(minimal(gs.weights((200, 200), spectrum="scaled", min_log10_scale=c, max_log10_scale=c)))
    m = np.mean((W * math.sqrt(200) / 10.0**c) ** 2)
    assert abs(m - 1) <= 6 * math.sqrt(2 / 40_000)


@pytest.mark.parametrize(
    "init, var_w, var_b",
    [
        ("nielsen", lambda i, o: 1 / i, 1.0),
        ("standard-normal", lambda i, o: 1.0, 1.0),
        ("glorot", lambda i, o: 2 / (i + o), 0.0),
        ("he", lambda i, o: 2 / i, 0.0),
        ("gaussian", lambda i, o: 2.0 / i, 0.5),
        ("orthogonal", lambda i, o: 2.0 / i, 0.5),  # semi-orthogonal, scaled by σ_w: entries have mean square σ_w²/n_in
    ],
)
def test_init_schemes_follow_the_formulas_of_init_network(init, var_w, var_b):
    """The same formulas as gradbounds.init_network (the table in gradbounds/core/_networks.py), checked on 64 networks."""
    nets = minimal(gs.network_batches(size=64, widths=(60, 40), init=init, sw2=2.0, sb2=0.5))
    W, b = np.asarray(nets[0].W), np.asarray(nets[0].b)
    n_w, n_b = W.size, b.size
    assert abs(np.mean(W**2) / var_w(60, 40) - 1) <= 6 * math.sqrt(2 / n_w)
    if var_b == 0:
        assert np.all(b == 0)
    else:
        assert abs(np.mean(b**2) / var_b - 1) <= 6 * math.sqrt(2 / n_b)
    ref = gb.init_network(jax.random.key(1), (60, 40), init=init, sw2=2.0, sb2=0.5)  # same law, other numbers
    assert abs(np.mean(np.asarray(ref[0].W) ** 2) / var_w(60, 40) - 1) <= 6 * math.sqrt(2 / 2400)


def test_arrays_come_from_jax_random_key_of_the_seed():
    """The minimal draw has seed 0: W = normal(key(0))[:n_out·n_in] / √n_in, at the strategy's draw length."""
    W = np.asarray(minimal(gs.weights((2, 3), spectrum="gaussian")))
    g = jax.vmap(lambda k: jax.random.normal(k, (_arrays._bucket(6),), jnp.float64))(jax.random.key(0)[None])
    np.testing.assert_allclose(W, np.asarray(g)[0, :6].reshape(2, 3) / math.sqrt(3), rtol=8 * U, atol=0)


def test_same_choices_same_arrays_and_batches_differ_inside():
    a = minimal(gs.network_batches(size=8, widths=(3, 4, 2), init="he"), lambda n: True)
    b = minimal(gs.network_batches(size=8, widths=(3, 4, 2), init="he"), lambda n: True)
    for la, lb in zip(a, b):
        np.testing.assert_array_equal(np.asarray(la.W), np.asarray(lb.W))
    W = np.asarray(a[0].W)
    assert len({w.tobytes() for w in W}) == 8


@settings(max_examples=20)
@given(gs.networks(widths=gs.widths(max_layers=4), mixed_activations=True, output_activation="sigmoid"))
def test_networks_are_valid_with_the_requested_activations(net):
    ws = gb.core.validate_network(net)
    assert len(ws) >= 2 and net[-1].activation == "sigmoid"
    assert all(layer.W.dtype == jnp.float64 for layer in net)


@settings(max_examples=10)
@given(gs.networks(widths=(2, 3, 3, 1), activations=("tanh", "relu", "linear"), init="scaled", dtype="float32"))
def test_fixed_activations_and_float32(net):
    assert [layer.activation for layer in net] == ["tanh", "relu", "linear"]
    assert gb.widths(net) == (2, 3, 3, 1) and all(layer.W.dtype == jnp.float32 for layer in net)


@settings(max_examples=10)
@given(gs.networks(widths=(3, 3, 3), activations="elu", mixed_activations=False))
def test_one_activation_everywhere(net):
    assert {layer.activation for layer in net} == {"elu"}


@settings(max_examples=10)
@given(st.data())
def test_batches_inputs_and_targets(data):
    nets = data.draw(gs.network_batches(size=5, widths=gs.widths(max_layers=2)))
    ws = gb.widths(jax.tree_util.tree_map(lambda t: t[0], nets))
    assert all(layer.W.shape[0] == 5 for layer in nets)
    x = data.draw(gs.inputs(nets, examples=3, min_value=-2.0, max_value=0.5))
    y = data.draw(gs.targets(nets, kind="one-hot"))
    assert x.shape == (5, 3, ws[0]) and y.shape == (5, ws[-1])
    assert np.all((-2.0 <= x) & (x <= 0.5)) and x.dtype == jnp.float64
    assert np.all(np.sum(y, -1) == 1) and set(np.unique(y)) <= {0.0, 1.0}
    yu = data.draw(gs.targets(nets, examples=2))
    assert yu.shape == (5, 2, ws[-1]) and np.all((0 <= yu) & (yu <= 1))


# ------------------------------------------------------------------ shrinking
def test_shrinks_to_the_smallest_network():
    """The simplest network is one layer of width 1 (sigmoid, the first scheme); widths shrink to (1, 1)."""
    net = minimal(gs.networks())
    assert gb.widths(net) == (1, 1) and net[0].activation == gb.core.activation_names()[0]
    assert minimal(gs.widths()) == (1, 1)
    deep = minimal(gs.networks(), lambda n: len(n) >= 3)
    assert gb.widths(deep) == (1, 1, 1, 1)


def test_shrinks_spectrum_towards_unit_singular_values():
    W = np.asarray(minimal(gs.weights((3, 3), spectrum="singular-values")))
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False), 1.0, rtol=0, atol=32 * U)


# ------------------------------------------------------------------ the entry point
def test_entry_point_is_declared():
    eps = [
        e for e in entry_points(group="hypothesis") if e.value == "gradbounds.testing._plugin:_hypothesis_setup_hook"
    ]
    assert len(eps) == 1


def test_from_type_layer_after_the_entry_point_ran():
    layer = minimal(st.from_type(gb.Layer))
    assert isinstance(layer, gb.Layer) and layer.W.shape == (1, 1)


def test_entry_point_when_strategies_is_imported_first():
    """Importing gradbounds.testing first makes Hypothesis run its entry points on a half-initialised module."""
    code = (
        "import gradbounds.testing as gs, jax\n"
        "jax.config.update('jax_enable_x64', True)\n"
        "from hypothesis import find, strategies as st\n"
        "from gradbounds import Layer\n"
        "print(type(find(st.from_type(Layer), lambda l: True)).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Layer"
