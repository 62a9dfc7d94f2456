"""Counterexamples print their arrays; st.from_type(Layer) in float32 and float64; the README's st.data() example."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import gradbounds as gb
from gradbounds.testing import inputs, networks, targets

FIXED = settings(database=None, derandomize=True, max_examples=60)


# ------------------------------------------------------------------ the README's example, as written there
@given(networks(widths=[4, 3, 3, 2], activations="sigmoid", init="nielsen"), st.data())
def test_one_step_of_backprop_shrinks_by_at_most_a_quarter(net, data):
    # ‖δ^l‖ = ‖Σ'(z^l) (W^{l+1})ᵀ δ^{l+1}‖ ≤ max σ' · ‖W^{l+1}‖ ‖δ^{l+1}‖ ≤ ¼ ‖W^{l+1}‖ ‖δ^{l+1}‖
    x = data.draw(inputs(net))  # inputs and targets depend on the network: draw them inside
    y = data.draw(targets(net))
    d = gb.errors(net, x, y, cost="quadratic")
    for l in range(len(net) - 1):
        bound = 0.25 * np.linalg.norm(np.asarray(net[l + 1].W), 2) * np.linalg.norm(d[l + 1])
        assert np.linalg.norm(d[l]) <= bound * (1 + 1e-12)


def _falsified(test):
    """The report Hypothesis attaches to a failing test (its notes), as one string."""
    with pytest.raises(AssertionError) as e:
        test()
    return "\n".join(getattr(e.value, "__notes__", []))


def test_a_false_inequality_is_found_and_prints_arrays_not_seeds():
    # a wrong constant (1/40 instead of 1/4) fails; the report shows every array that made it fail
    @FIXED
    @given(networks(widths=[3, 2, 2], activations="sigmoid", init="nielsen"), st.data())
    def wrong(net, data):
        x = data.draw(inputs(net))
        y = data.draw(targets(net, kind="one-hot"))
        d = gb.errors(net, x, y, cost="quadratic")
        assert np.linalg.norm(d[0]) <= 0.025 * np.linalg.norm(np.asarray(net[1].W), 2) * np.linalg.norm(d[1])

    report = _falsified(wrong)
    assert "wrong(" in report  # "Falsifying example:" or "Failing test case:" by Hypothesis version
    assert "W=numpy.array([[" in report and "activation='sigmoid'" in report and "W float64 (2, 3)" in report
    assert "Draw 1: Array([" in report and "Draw 2: Array([" in report
    assert "make(" not in report and "lambda" not in report


def test_layer_repr_reads_back_to_the_same_layer():
    net = gb.init_network(jax.random.key(3), (3, 2, 2), activation="tanh")
    text = repr(net)
    assert "Layer(  # tanh, W float64 (2, 3), b float64 (2,)" in text
    back = eval(text, {"numpy": np, "Layer": gb.Layer})  # noqa: S307 - the repr of our own objects
    for a, b in zip(back, net):
        assert a.activation == b.activation
        np.testing.assert_array_equal(a.W, np.asarray(b.W))  # exactly: shortest round-trip digits
        np.testing.assert_array_equal(a.b, np.asarray(b.b))


def test_layer_repr_inside_jit_does_not_fail():
    seen = []

    @jax.jit
    def f(layer):
        seen.append(repr(layer))
        return layer.W.sum()

    f(gb.init_network(jax.random.key(0), (2, 2))[0])
    assert "Tracer(float64[2,2])" in seen[0] and "activation='sigmoid'" in seen[0]


def test_a_layer_needs_its_activation():
    with pytest.raises(TypeError, match="activation"):
        gb.Layer(jnp.ones((1, 1)), jnp.ones(1))


def test_from_type_layer_in_float64_with_x64():
    layer = find(st.from_type(gb.Layer), lambda _: True, settings=FIXED)
    assert isinstance(layer, gb.Layer) and layer.W.dtype == jnp.float64


def test_from_type_layer_in_float32_without_x64():
    code = (
        "import jax\n"
        "from hypothesis import given, settings, strategies as st\n"
        "from gradbounds import Layer\n"
        "assert not jax.config.read('jax_enable_x64')\n"
        "seen = []\n"
        "@settings(max_examples=5, database=None)\n"
        "@given(st.from_type(Layer))\n"
        "def t(layer):\n"
        "    seen.append(str(layer.W.dtype))\n"
        "t()\n"
        "print(sorted(set(seen)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['float32']"
