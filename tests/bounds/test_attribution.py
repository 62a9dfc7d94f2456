"""Shapley attribution of the slack (docs/design.md §2.4): the 16 coalition values recomputed from the
explicit chain of factors, the 24 orders enumerated by brute force, efficiency, symmetry, and a network
where the sequential split and the Shapley values differ."""

from itertools import permutations
from math import factorial

import jax
import numpy as np
import pytest

import gradbounds as gb
from gradbounds.bounds import PLAYERS, shapley

jax.config.update("jax_enable_x64", True)

A, M, S, C = 1, 2, 4, 8  # bit of alignment, submultiplicativity, split, activation


def chain_values(net, x, y, cost):
    """v(S) for the 16 coalitions at every layer, from the literal chain of factors (numpy, float64).

    The chain for layer l is Σ'_l, W_{l+1}ᵀ, Σ'_{l+1}, …, W_Lᵀ[, Σ'_L], g; each joint has a kind
    (s inside a layer, m between layers, a before g); the coalition breaks the joints of its kinds
    and v is the sum of the log-norms of the pieces, plus Σ log(γ_r/‖Σ'_r‖) when c is in it.
    """
    fw = gb.forward(net, x)
    zs = [np.asarray(z) for z in fw.z]
    L = len(net)
    d = [np.asarray(layer.act.deriv(z)) for layer, z in zip(net, zs)]
    Ws = [np.asarray(layer.W) for layer in net]
    aL = np.asarray(fw.a[-1])
    if cost == "quadratic":
        g, out_factor = aL - np.asarray(y), True
    else:  # cross-entropy with a sigmoid output: σ' cancels, g = δ^L
        g, out_factor = aL - np.asarray(y), False
    vals = np.zeros((L, 16))
    for l in range(1, L + 1):
        factors, kinds, gammas = [], [], []  # kinds[i]: the joint between factors[i] and factors[i+1] (or g)
        for r in range(l, L + 1):
            if r < L or out_factor:
                factors.append(np.diag(d[r - 1]))
                kinds.append("s" if r < L else "a")
                gammas.append((net[r - 1].act.gamma, np.max(np.abs(d[r - 1]))))
            if r < L:
                factors.append(Ws[r].T)
                kinds.append("m" if (r + 1 < L or out_factor) else "a")
        for code in range(16):
            broken = {k for k, bit in (("a", A), ("m", M), ("s", S)) if code & bit}
            total, piece = 0.0, None
            for F, kind in zip(factors, kinds):
                piece = F if piece is None else piece @ F
                if kind in broken:
                    total += np.log(np.linalg.norm(piece, 2))
                    piece = None
            vec = g if piece is None else piece @ g
            total += np.log(np.linalg.norm(vec))
            if code & C:
                total += sum(np.log(gm / mx) for gm, mx in gammas)
            vals[l - 1, code] = total
    return vals


def brute_force_shapley(v):
    """Average of the marginal contributions over all 24 orders of the four steps."""
    phi = np.zeros(4)
    orders = list(permutations(range(4)))
    assert len(orders) == factorial(4)
    for order in orders:
        S = 0
        for i in order:
            phi[i] += v[S | 1 << i] - v[S]
            S |= 1 << i
    return phi / len(orders)


NETS = [
    ((6, 5, 7, 4, 3), "sigmoid", "quadratic"),
    ((6, 5, 7, 4, 3), "tanh", "quadratic"),
    ((6, 5, 7, 4, 3), "sigmoid", "cross-entropy"),
    ((5, 4), "sigmoid", "quadratic"),
    ((5, 4, 3), "sigmoid", "cross-entropy"),
]


@pytest.mark.parametrize("widths,act,cost", NETS)
def test_coalitions_match_the_literal_chain_and_brute_force(widths, act, cost):
    net = gb.init_network(jax.random.key(3), widths, activation=act, init="nielsen", dtype="float64")
    x, y = gb.core.draw_examples(jax.random.key(4), 3, widths[0], widths[-1], "float64")
    h = gb.hierarchy(net, x, y, cost=cost, coalitions=True)
    seq = h.slack_log10()
    shp = h.slack_log10(attribution="shapley")
    for e in range(3):
        ref = chain_values(net, x[e], y[e], cost)
        np.testing.assert_allclose(h.coalitions[e], ref, rtol=1e-9, atol=1e-9)
        # the sequential chain is E, P, J, D, G
        for code, k in zip((0, 1, 3, 7, 15), "EPJDG"):
            np.testing.assert_allclose(ref[:, code], h.levels._asdict()[k][e], rtol=1e-9, atol=1e-9)
        for l in range(len(widths) - 1):
            bf = brute_force_shapley(ref[l]) / np.log(10)
            got = np.array([shp[k][e, l] for k in PLAYERS])
            np.testing.assert_allclose(got, bf, atol=1e-9)
            assert got.sum() == pytest.approx(seq["total"][e, l], abs=1e-9)  # efficiency
            assert np.all(got > -1e-12)  # a monotone game: every share >= 0
            # every coalition value is an upper bound on log E (each step is an inequality)
            assert np.all(ref[l] >= ref[l, 0] - 1e-9)


def test_shapley_axioms_on_synthetic_games():
    rng = np.random.default_rng(0)
    # additive game: Shapley = each player's own contribution, whatever the order
    w = rng.normal(size=4)
    v = np.array([sum(w[k] for k in range(4) if S >> k & 1) for S in range(16)])
    np.testing.assert_allclose(shapley(v), w, atol=1e-12)
    # symmetry: a game that depends on players 1 and 2 only through their count gives them equal shares
    base = rng.normal(size=(2, 3, 2))  # [player 0 in?][how many of {1,2}][player 3 in?]
    v = np.array([base[S & 1, (S >> 1 & 1) + (S >> 2 & 1), S >> 3 & 1] for S in range(16)])
    phi = shapley(v)
    assert phi[1] == pytest.approx(phi[2], abs=1e-12)
    np.testing.assert_allclose(phi, brute_force_shapley(v), atol=1e-12)
    assert phi.sum() == pytest.approx(v[15] - v[0], abs=1e-12)
    # a null player (v does not depend on it) gets 0
    v = np.array([base[S & 1, S >> 1 & 1, S >> 3 & 1] for S in range(16)])
    assert shapley(v)[2] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="2\\^n"):
        shapley(np.zeros(5))


def test_sequential_and_shapley_differ_on_the_seed_network():
    net = gb.init_network(jax.random.key(0), (784, 30, 30, 30, 30, 10), activation="sigmoid", dtype="float64")
    x, y = gb.core.draw_examples(jax.random.key(1), 2, 784, 10, "float64")
    h = gb.hierarchy(net, x, y, coalitions=True)
    seq, shp = h.slack_log10(), h.slack_log10(attribution="shapley")
    diff = max(float(np.max(np.abs(seq[k][:, 0] - shp[k][:, 0]))) for k in PLAYERS)
    assert diff > 0.01  # the order matters: the steps interact
    np.testing.assert_allclose(shp["activation"], seq["activation"], atol=1e-9)  # c rescales: additive
    d = h.to_dict()
    assert set(d["layers"][0]["slack_log10_shapley"]) == set(PLAYERS) | {"total"}


def test_shapley_needs_coalitions():
    net = gb.init_network(jax.random.key(0), (4, 3, 2), dtype="float64")
    x, y = gb.core.draw_examples(jax.random.key(1), 1, 4, 2, "float64")
    h = gb.hierarchy(net, x[0], y[0])
    with pytest.raises(ValueError, match="coalitions=True"):
        h.slack_log10(attribution="shapley")
    with pytest.raises(ValueError, match="attribution"):
        h.slack_log10(attribution="banzhaf")
    h = gb.hierarchy(net, x[0], y[0], coalitions=True)
    assert h.coalitions.shape == (2, 16)
    assert "slack_log10_shapley" in h.to_dict()["layers"][0]


def test_sweep_coalitions_match_hierarchy():
    keys = jax.random.split(jax.random.key(5), 2)
    nets = jax.vmap(lambda k: gb.init_network(k, (5, 4, 4, 3), activation="tanh", dtype="float64"))(keys)
    x, y = gb.core.draw_examples(jax.random.key(6), 2, 5, 3, "float64")
    X, Y = np.broadcast_to(x, (2, *x.shape)), np.broadcast_to(y, (2, *y.shape))
    hs = gb.sweep(nets, X, Y, coalitions=True)
    for i in range(2):
        net = jax.tree_util.tree_map(lambda t, i=i: t[i], nets)
        h = gb.hierarchy(net, x, y, coalitions=True)
        np.testing.assert_allclose(hs.coalitions[i], h.coalitions, rtol=1e-9, atol=1e-9)
