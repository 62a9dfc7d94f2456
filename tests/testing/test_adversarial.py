"""The adversarial strategies: argument checks, shapes, and that each kind builds what it promises."""

from __future__ import annotations

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import gradbounds as gb
from gradbounds.testing import ADVERSARIAL_KINDS, adversarial_problems


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(size=0), "size: expected an int >= 1"),
        (dict(min_layers=3, max_layers=2), "expected min_layers <= max_layers"),
        (dict(max_width=0), "max_width: expected an int >= 1"),
        (dict(kinds="nonsense"), "kinds: expected one of"),
        (dict(kinds="null-space", max_width=2), "'null-space' needs max_layers >= 2 and max_width >= 3"),
        (dict(min_log10_sv=5.0), "min_log10_sv: expected a value in [-100, 0]"),
        (dict(max_abs_z=float("inf")), "max_abs_z: expected a finite real number"),
        (dict(max_log10_g=0.5), "max_log10_g: expected a value >= 1"),
        (dict(dtypes=("float16",)), "dtype: expected float32 or float64"),
        (dict(activations=["nope"]), "unknown activation 'nope'"),
        (dict(mix_kinds="yes"), "mix_kinds: expected a bool"),
    ],
)
def test_bad_arguments_raise_at_once(kwargs, message):
    with pytest.raises(InvalidArgument, match=message.replace("[", r"\[").replace("]", r"\]")):
        adversarial_problems(**kwargs)


@settings(max_examples=len(ADVERSARIAL_KINDS) * 2)
@given(
    st.booleans().flatmap(
        lambda mix: adversarial_problems(
            size=3, max_layers=4, max_width=4, dtypes=(jnp.float64, jnp.float32), mix_kinds=mix
        )
    )
)
def test_shapes_and_dtypes(p):
    ws = gb.core.widths(jax.tree_util.tree_map(lambda t: t[0], p.nets))
    assert p.x.shape == (3, 1, ws[0]) and p.y.shape == (3, 1, ws[-1])
    assert {lay.W.dtype for lay in p.nets} == {p.x.dtype} == {p.y.dtype}
    assert len(p.kinds) == 3 and set(p.kinds) <= set(ADVERSARIAL_KINDS) and p.cost in ("quadratic", "cross-entropy")
    for lay in p.nets:
        assert np.all(np.isfinite(np.asarray(lay.W))) and np.all(np.isfinite(np.asarray(lay.b)))


@settings(max_examples=6)
@given(adversarial_problems(kinds="null-space", size=4, max_layers=4, max_width=4, dtypes=(jnp.float64, jnp.float32)))
def test_null_space_is_exact(p):
    """a^L = s u exactly in floating point, u^T g = 0 exactly (g = a^L − y), and W^L = u v^T exactly of rank one."""
    WL = np.asarray(p.nets[-1].W)
    for i in range(WL.shape[0]):
        net = jax.tree_util.tree_map(lambda t, i=i: t[i], p.nets)
        aL = np.asarray(gb.forward(net, p.x[i, 0]).a[-1])
        y = np.asarray(p.y[i, 0])
        g = [Fraction(float(a)) - Fraction(float(t)) for a, t in zip(aL, y)]
        assert all(float(v) == v for v in g), "g = a^L − y must be exact in the dtype"
        # u is the column of W^L at the unit k that layer L-1 switches on (a^{L-1} = s e_k)
        a_prev = np.asarray(gb.forward(net, p.x[i, 0]).a[-2])
        k = int(np.flatnonzero(a_prev)[0])
        u = [Fraction(float(t)) for t in WL[i][:, k]]
        assert sum(ui * gi for ui, gi in zip(u, g)) == 0
        assert np.linalg.matrix_rank(WL[i].astype(np.float64)) == 1
        assert any(v != 0 for v in g)


@settings(max_examples=4)
@given(adversarial_problems(kinds="ill-conditioned", size=64, max_layers=3, max_width=4, mix_kinds=True))
def test_mixed_batches_keep_one_structure(p):
    """With mix_kinds a batch holds the drawing kind and any kind its structure admits, in one stack of arrays."""
    assert p.kinds[0] == "ill-conditioned" and len(p.kinds) == 64
    assert {"cancellation", "quadratic-near-target"} <= set(p.kinds), "a quadratic-cost structure admits these"
    assert p.x.shape[0] == p.y.shape[0] == p.nets[0].W.shape[0] == 64
