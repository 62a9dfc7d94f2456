"""The hierarchy over blocks: E is autodiff, P is the literal product, the chain of inequalities on generated
networks, a plain network gives gb.hierarchy's levels, the residual bound's closed forms, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import example, key, small_net
from hypothesis import given, settings
from hypothesis import strategies as st

import gradbounds as gb
from gradbounds import residual

ACTS = ("tanh", "sigmoid", "relu", "silu", "softplus", "linear")


def _mixed(seed=0, width=5, blocks=3, out="sigmoid", scale=0.6, first_act="tanh"):
    k = jax.random.split(key(seed), 4)
    first = gb.init_network(k[0], (4, width), activation=first_act, init="glorot")
    res = residual.init_residual(k[1], width, blocks, activation=["tanh", "silu"], branch_scale=scale, sb2=0.1)
    last = gb.init_network(k[2], (width, 3), activation=out, init="glorot") if out else ()
    x = jax.random.uniform(k[3], (4,), jnp.float64)
    net = (*first, *res, *last)
    y = jnp.array([0.0, 1.0, 0.5]) if out else jax.random.uniform(k[3], (width,), jnp.float64)
    return net, x, y


def _literal(net, x, y, cost="quadratic"):
    """E, P, J from the dense factors A_k = S_k (T^{k+1})^T, multiplied out in float64 without rescaling."""
    hs = residual.forward_blocks(net, x)
    S, T = [], []
    for blk, h in zip(net, hs[:-1]):
        T.append(residual.block_jacobian(blk, h) if isinstance(blk, gb.Residual) else blk.W)
        S.append(None if isinstance(blk, gb.Residual) else blk.act.deriv(blk.W @ h + blk.b))
    last = net[-1]
    if isinstance(last, gb.Residual):
        g, M = hs[-1] - y, jnp.eye(hs[-1].size)
    else:
        out = gb.core.output_error(cost, last.act, last.W @ hs[-2] + last.b, hs[-1], y)
        g, M = out.g, jnp.diag(S[-1]) if out.start == "grad_a" else jnp.eye(out.g.size)
    prod, E, P, J, logJ = M, [], [], [], math.log(np.linalg.norm(M, 2))
    lg = math.log(np.linalg.norm(g))
    for k in range(len(net) - 1, -1, -1):
        if k < len(net) - 1:
            A = T[k + 1].T if S[k] is None else S[k][:, None] * T[k + 1].T
            prod = A @ prod
            logJ += math.log(np.linalg.norm(A, 2))
        E.append(math.log(np.linalg.norm(prod @ g)))
        P.append(math.log(np.linalg.norm(prod, 2)) + lg)
        J.append(logJ + lg)
    return [np.array(v[::-1]) for v in (E, P, J)]


@pytest.mark.parametrize("out", ["sigmoid", "linear", None])
def test_levels_are_autodiff_and_the_literal_product(out):
    net, x, y = _mixed(out=out)
    h = residual.residual_hierarchy(net, x, y)
    assert h.start == ("stream" if out is None else "grad_a")
    auto = residual.block_errors_autodiff(net, x, y)
    np.testing.assert_allclose(np.exp(h.levels["E"]), [np.linalg.norm(e) for e in auto], rtol=1e-12)
    for X, want in zip("EPJ", _literal(net, x, y)):
        np.testing.assert_allclose(h.levels[X], want, rtol=1e-11, atol=1e-11, err_msg=X)
    assert h.verdict == "holds", h.pair_holds()
    assert h.kinds == ("layer", "residual", "residual", "residual") + (("layer",) if out else ())


def test_cross_entropy_starts_from_delta():
    net, x, y = _mixed(out="sigmoid")
    h = residual.residual_hierarchy(net, x, y, cost="cross-entropy")
    assert h.start == "delta"
    auto = residual.block_errors_autodiff(net, x, y, cost="cross-entropy")
    np.testing.assert_allclose(np.exp(h.levels["E"]), [np.linalg.norm(e) for e in auto], rtol=1e-12)
    assert h.verdict == "holds"


@pytest.mark.parametrize(("name", "cost"), [("tanh", "quadratic"), ("sigmoid", "cross-entropy")])
def test_a_plain_network_gives_the_levels_of_gb_hierarchy(name, cost):
    # the network of tests/bounds/test_bounds.py::test_levels_equal_direct_computation (its programs are compiled)
    net = small_net(seed=7, widths=(5, 6, 4, 4, 3), activation=[name] * 4, init="gaussian", sw2=2.0, sb2=0.1)
    x, y = example(net)
    mine, theirs = residual.residual_hierarchy(net, x, y, cost=cost), gb.hierarchy(net, x, y, cost=cost)
    assert mine.start == theirs.start
    for X in ("E", "P", "J", "D", "G"):
        np.testing.assert_allclose(mine.levels[X], np.asarray(getattr(theirs.levels, X)), rtol=1e-12, atol=1e-12)
    lower = np.asarray(theirs.levels.lower)  # bounds' lower is certified (its margin subtracted): at most ours
    assert np.all(lower <= mine.levels["lower"] + 1e-12)
    well = mine.levels["lower"] > mine.levels["P"] + math.log(1e-6)
    np.testing.assert_allclose(mine.levels["lower"][well], lower[well], atol=1e-9)
    assert mine.verdict == "holds"


def _branch_norms(blk, hin):
    """``(1 + ∏γ‖W‖, 1 + ∏‖Σ'‖‖W‖, 1 − ∏‖Σ'‖‖W‖)`` of a residual block at its input, from its own forward pass."""
    norms = [np.linalg.norm(q.W, 2) for q in blk.layers]
    zs, a = [], hin
    for q in blk.layers:
        zs.append(q.W @ a + q.b)
        a = q.act.fn(zs[-1])
    sd = [float(np.max(np.abs(q.act.deriv(z)))) for q, z in zip(blk.layers, zs)]
    g_prod = np.prod([q.act.gamma * n for q, n in zip(blk.layers, norms)])
    d_prod = np.prod([s * n for s, n in zip(sd, norms)])
    return 1 + g_prod, 1 + d_prod, 1 - d_prod


def test_the_residual_bounds_in_closed_form():
    # a sigmoid input layer (γ = 1/4, max σ' ≠ min σ'), then two residual blocks, the cost on the stream
    net, x, y = _mixed(out=None, blocks=2, scale=0.3, first_act="sigmoid")
    h = residual.residual_hierarchy(net, x, y)
    hs = residual.forward_blocks(net, x)
    g = np.asarray(hs[-1] - y)
    (cg2, cd2, f2), (cg3, cd3, f3) = (_branch_norms(b, hin) for b, hin in zip(net[1:], hs[1:-1]))
    s1 = np.asarray(net[0].act.deriv(net[0].W @ x + net[0].b))
    assert 0 < f2 < 1 and 0 < f3 < 1 and s1.min() < s1.max() < 0.25
    lg = math.log(np.linalg.norm(g))
    # block 3 (the last, M = I) has empty products; block 2 block 3's branch; block 1 (sigmoid) its σ' or γ too
    want = {
        "G": [lg + math.log(0.25) + math.log(cg2) + math.log(cg3), lg + math.log(cg3), lg],
        "D": [lg + math.log(s1.max()) + math.log(cd2) + math.log(cd3), lg + math.log(cd3), lg],
        "floor": [lg + math.log(s1.min()) + math.log(f2) + math.log(f3), lg + math.log(f3), lg],
    }
    for X, w in want.items():
        np.testing.assert_allclose(h.levels[X], w, rtol=1e-12, err_msg=X)
    assert h.verdict == "holds"


def test_the_floor_and_lower_where_the_width_changes():
    # widths 6 -> 3 -> 3 -> 5 -> 5: a plain layer, a residual block, a widening plain layer, a residual block
    k = jax.random.split(key(21), 5)
    net = (
        *gb.init_network(k[0], (6, 3), activation="sigmoid", init="glorot"),
        *residual.init_residual(k[1], 3, 1, activation="tanh", branch_scale=0.3),
        *gb.init_network(k[2], (3, 5), activation="tanh", init="glorot"),
        *residual.init_residual(k[3], 5, 1, activation="tanh", branch_scale=0.3),
    )
    x, y = jax.random.uniform(k[4], (6,), jnp.float64), jnp.zeros(5)
    h = residual.residual_hierarchy(net, x, y)
    assert h.widths == (6, 3, 3, 5, 5)
    hs = residual.forward_blocks(net, x)
    lg = math.log(np.linalg.norm(hs[-1] - y))
    # n_1 = n_2 = 3 < n_K = 5: no lower (A_k ⋯ M is wide), no floor (σ_min(W^3ᵀ) with n_2 < n_3 is 0)
    for X in ("lower", "floor"):
        assert np.all(np.isneginf(h.levels[X][:2])), X
    s3 = np.asarray(net[2].act.deriv(net[2].W @ hs[2] + net[2].b))
    f4 = _branch_norms(net[3], hs[3])[2]
    assert 0 < f4 < 1
    np.testing.assert_allclose(h.levels["floor"][2:], [lg + math.log(s3.min()) + math.log(f4), lg], rtol=1e-12)
    A3 = s3[:, None] * np.asarray(residual.block_jacobian(net[3], hs[3])).T
    lower3 = math.log(np.linalg.svd(A3, compute_uv=False)[-1]) + lg
    np.testing.assert_allclose(h.levels["lower"][2:], [lower3, lg], rtol=1e-12)
    assert h.verdict == "holds"


def test_the_floor_of_a_narrowing_plain_layer():
    # widths 4 -> 5 -> 5 -> 3, sigmoid read-out (M = Σ'(z^3)): n_2 = 5 >= n_3 = 3, so σ_min(W^3ᵀ) > 0 counts
    net, x, y = _mixed(blocks=1, scale=0.3, first_act="sigmoid")
    h = residual.residual_hierarchy(net, x, y)
    assert h.widths == (4, 5, 5, 3) and h.start == "grad_a"
    hs = residual.forward_blocks(net, x)
    last = net[-1]
    m = np.asarray(last.act.deriv(last.W @ hs[2] + last.b))
    g = np.asarray(hs[-1] - y)
    s1 = np.asarray(net[0].act.deriv(net[0].W @ x + net[0].b))
    f2 = _branch_norms(net[1], hs[1])[2]
    w3min = np.linalg.svd(np.asarray(last.W), compute_uv=False)[-1]
    base = math.log(m.min()) + math.log(np.linalg.norm(g))
    want = [base + math.log(w3min) + math.log(f2) + math.log(s1.min()), base + math.log(w3min), base]
    np.testing.assert_allclose(h.levels["floor"], want, rtol=1e-12)
    assert h.verdict == "holds"


def test_a_branch_bound_of_one_or_more_makes_the_floor_zero_below_it():
    # blocks 1, 2, 4, 5 small; block 3 scaled by 2 (∏‖Σ'‖‖W‖ >= 1): floor_k = 0 for every k < 3
    k = jax.random.split(key(5), 4)
    n = 5
    small = residual.init_residual(k[0], n, 4, activation="tanh", branch_scale=0.1)
    big = residual.init_residual(k[1], n, 1, activation="tanh", branch_scale=2.0)
    net = (*small[:2], *big, *small[2:])
    x, y = jax.random.uniform(k[2], (n,), jnp.float64), jnp.zeros(n)
    h = residual.residual_hierarchy(net, x, y)
    assert h.log_branch[2] >= 0 and np.all(h.log_branch[[0, 1, 3, 4]] < 0)
    assert np.all(np.isneginf(h.levels["floor"][:2]))
    assert np.all(np.isfinite(h.levels["floor"][2:]))
    assert np.all(np.isfinite(h.levels["lower"])) and h.verdict == "holds"


@pytest.mark.slow  # one compile per drawn block structure
@settings(max_examples=8)
@given(
    seed=st.integers(0, 2**16),
    width=st.just(3),
    kinds=st.lists(st.sampled_from(("layer", "residual")), min_size=1, max_size=4),
    acts=st.lists(st.sampled_from(ACTS), min_size=3, max_size=3),
    depth=st.integers(1, 3),
    scale=st.sampled_from((0.1, 0.5, 1.0, 2.0)),
    cost=st.sampled_from(("quadratic", "cross-entropy")),
)
def test_the_chain_of_inequalities_holds_on_generated_networks(seed, width, kinds, acts, depth, scale, cost):
    ks = iter(jax.random.split(key(seed), len(kinds) + 3))
    net = [*gb.init_network(next(ks), (2, width), activation=acts[0], init="glorot")]
    for kind in kinds:
        if kind == "residual":
            net += residual.init_residual(
                next(ks), width, 1, block_layers=depth, activation=acts[1], branch_scale=scale
            )
        else:
            net += gb.init_network(next(ks), (width, width), activation=acts[2], init="gaussian", sw2=scale, sb2=0.1)
    net += gb.init_network(next(ks), (width, 2), activation="sigmoid", init="glorot")
    x = jax.random.normal(next(ks), (2,), jnp.float64)
    y = jnp.array([0.0, 1.0])
    h = residual.residual_hierarchy(net, x, y, cost=cost)
    assert h.verdict == "holds", {p: v for p, v in h.pair_holds().items() if not v.all()}
    auto = residual.block_errors_autodiff(net, x, y, cost=cost)
    np.testing.assert_allclose(np.exp(h.levels["E"]), [np.linalg.norm(e) for e in auto], rtol=1e-10, atol=1e-300)
    sl = h.slack_log10()
    parts = sl["alignment"] + sl["submultiplicativity"] + sl["split"] + sl["activation"]
    fin = np.isfinite(h.levels["E"])  # a dead relu unit can make E exactly 0: no slack to split there
    np.testing.assert_allclose(parts[fin], sl["total"][fin], atol=1e-12)


def test_depth_in_log_space_and_residual_does_not_vanish():
    k = jax.random.split(key(11), 3)
    n, blocks = 5, 100
    res = residual.init_residual(k[0], n, blocks, block_layers=2, branch_scale=1 / math.sqrt(blocks))
    plain = gb.init_network(k[1], (n,) * (2 * blocks + 1), activation="sigmoid")
    x, y = jax.random.uniform(k[2], (n,), jnp.float64), jnp.zeros(n)
    hr = residual.residual_hierarchy(res, x, y)
    hp = residual.residual_hierarchy(plain, x, y)
    assert np.all(np.isfinite(hr.levels["E"])) and np.all(np.isfinite(hp.levels["E"]))
    assert hp.ratio_log10 < -30  # plain sigmoid at depth 200: vanishing
    assert abs(hr.ratio_log10) < 3 and np.isfinite(hr.levels["floor"][0])
    assert hr.verdict == "holds" and hp.verdict == "holds"
    # 1/√K keeps E but not Σc: G and the floor drift apart (23.5 and 31 nats here); 1/K keeps them (2.6, 2.7)
    hk = residual.residual_hierarchy(residual.init_residual(k[0], n, blocks, branch_scale=1 / blocks), x, y)
    for h, lo, hi in ((hr, 15, math.inf), (hk, 0, 4)):
        G, floor = h.levels["G"], h.levels["floor"]
        assert lo < G[0] - G[-1] < hi and lo < floor[-1] - floor[0] < hi
    assert abs(hk.ratio_log10) < 1 and hk.verdict == "holds"


def test_bad_input_names_the_block():
    net, x, y = _mixed()
    with pytest.raises(ValueError, match=r"x: expected shape \(4,\), got \(5,\)"):
        residual.residual_hierarchy(net, jnp.zeros(5), y)
    with pytest.raises(TypeError, match=r"y: expected dtype float64 \(the network's\), got float32"):
        residual.residual_hierarchy(net, x, y.astype(jnp.float32))
    huge = gb.init_network(key(12), (5, 5, 5), activation="linear")
    big = gb.Residual(tuple(gb.Layer(q.W * 1e200, q.b, q.activation) for q in huge))
    with pytest.raises(ValueError, match=r"block 3: h\^3 or σ' in block 3 is not finite"):
        residual.residual_hierarchy((net[0], net[1], big, *net[2:]), x, y)
    with pytest.raises(ValueError, match=r"level: expected one of floor"):
        residual.residual_hierarchy(net, x, y).log10("Q")


def test_a_float32_network_is_computed_in_float32():
    net64, x64, y64 = _mixed()
    net, x, y = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), (net64, x64, y64))
    h = residual.residual_hierarchy(net, x, y)
    assert h.dtype == "float32" and h.verdict == "holds"
    auto = residual.block_errors_autodiff(net, x, y)
    np.testing.assert_allclose(np.exp(h.levels["E"]), [np.linalg.norm(e) for e in auto], rtol=1e-5)
    np.testing.assert_allclose(h.levels["E"], residual.residual_hierarchy(net64, x64, y64).levels["E"], atol=1e-5)


def test_P_is_the_norm_of_the_jacrev_product_on_a_residual_stack():
    net, x, y = _mixed(out=None, blocks=3)
    stack = net[1:]  # three residual blocks, the output after a residual block: M = I, g = h^K - y
    h0 = residual.forward_blocks(net[:1], x)[-1]
    h = residual.residual_hierarchy(stack, h0, y)
    hs = residual.forward_blocks(stack, h0)
    lg = math.log(np.linalg.norm(hs[-1] - y))

    def tail(k, v):
        for blk in stack[k:]:
            v = residual.block_forward(blk, v)
        return v

    for k in range(1, len(stack) + 1):  # P_k = ‖∂h^K/∂h^k‖ ‖g‖, the Jacobian of the rest of the stack by jacrev
        jac = jax.jacrev(lambda v, k=k: tail(k, v))(hs[k])
        assert h.levels["P"][k - 1] == pytest.approx(math.log(np.linalg.norm(jac, 2)) + lg, abs=1e-12)
        # lower_k = σ_min(A_k ⋯ A_{K-1}) ‖g‖, and A_k ⋯ A_{K-1} = (∂h^K/∂h^k)ᵀ
        smin = np.linalg.svd(np.asarray(jac), compute_uv=False)[-1]
        assert h.levels["lower"][k - 1] == pytest.approx(math.log(smin) + lg, abs=1e-11)


def test_a_float32_gradient_past_1e19_gives_finite_levels_not_a_verdict_from_nan():
    # three blocks h ↦ h + h = 2h at x = 3e18: h^3 = 2.4e19, finite in float32, but its norm's square is not
    eye = jnp.eye(2, dtype=jnp.float32)
    double = gb.Residual((gb.Layer(eye, jnp.zeros(2, jnp.float32), "linear"),))
    x, y = jnp.full(2, 3e18, jnp.float32), jnp.zeros(2, jnp.float32)
    h = residual.residual_hierarchy((double,) * 3, x, y)
    lg = math.log(math.sqrt(2) * 2.4e19)  # ‖g‖ = ‖h^3 − y‖
    want = lg + np.log(2.0) * np.array([2, 1, 0])
    for X in ("lower", "E", "P", "J", "D", "G"):
        np.testing.assert_allclose(h.levels[X], want, rtol=1e-6, err_msg=X)
    assert np.all(np.isneginf(h.levels["floor"][:2])) and h.levels["floor"][2] == pytest.approx(lg, rel=1e-6)
    assert h.verdict == "holds" and h.dtype == "float32"
    assert all(v.dtype == np.float64 for v in h.levels.values())  # float64 logs, documented


def test_a_float32_backward_factor_past_the_range_gives_the_float64_levels():
    # σ' = 10 (leaky relu, z < 0) times W^2 = 3e38 I overflows float32, though every level's log is finite
    f32 = jnp.float32
    first = gb.Layer(jnp.eye(2, dtype=f32), jnp.zeros(2, f32), "leaky_relu:10")
    big = gb.Layer(jnp.eye(2, dtype=f32) * f32(3e38), jnp.zeros(2, f32), "linear")
    blk = gb.Residual((gb.Layer(0.1 * jnp.eye(2, dtype=f32), jnp.zeros(2, f32), "tanh"),))
    net, x, y = (first, blk, big), jnp.full(2, -1e-30, f32), jnp.zeros(2, f32)
    h = residual.residual_hierarchy(net, x, y)
    h64 = residual.residual_hierarchy(*jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), (net, x, y)))
    for X in ("lower", "E", "P", "J", "D", "G", "floor"):
        assert np.all(np.isfinite(h.levels[X])), X
        np.testing.assert_allclose(h.levels[X], h64.levels[X], rtol=1e-5, err_msg=X)
    assert h.verdict == "holds"


def test_a_nan_level_is_an_error_naming_the_block_never_a_verdict(monkeypatch):
    # the guard after the backward loop: a step that returns NaN (as an unscaled overflow once did) must raise
    from gradbounds.residual import _levels

    real = _levels._step

    def nan_step(A, v, Q):
        v2, Q2, _, top, log_A, rel = real(A, v, Q)
        return v2, Q2, math.nan, top, log_A, rel

    monkeypatch.setattr(_levels, "_step", nan_step)
    net, x, y = _mixed(out=None, blocks=2)
    with pytest.raises(ValueError, match=r"^block 2: level E is not finite \(nan\)"):
        residual.residual_hierarchy(net, x, y)
