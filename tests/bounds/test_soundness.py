"""Soundness of the enclosures and verdicts on adversarial networks, against an independent ball-arithmetic reference.

Issue 10's promise: for every level X ∈ {lower, E, P, J, D, G} at every layer,
``Hierarchy.enclosure(X)`` gives ``[lo, hi]`` (log10) containing the exact value
for the given floats; a verdict ``X ≤ Y`` is 'holds' only where it is true and
'violated' only where it is false; the certified lower bound (``lo`` of
``lower``) never exceeds the exact E.

The exact values come from :func:`gradbounds.bounds.ball_levels` (python-flint
arb balls: a different method from the float enclosures, sharing no code
with :mod:`gradbounds.bounds._enclosed`; itself checked against mpmath point
values in ``test_exact.py``): log10 intervals ``[rlo, rhi]`` that contain
them.  An enclosure is wrong when it misses the reference interval
(``hi < rlo`` or ``lo > rhi``); a verdict is false when the reference proves
the opposite.  The check can therefore only miss an error smaller than the
reference's width (below 2^-60 relative, plus one float step of the log10).

Count.  ``test_enclosures_and_verdicts_on_adversarial_networks`` runs, for
each of the 9 kinds of :func:`gradbounds.testing.adversarial_problems` as the
kind that sets a batch's structure (widths 1–4, depth 1–5, float32 or
float64; ``mix_kinds``: the batch is shared with every other kind that
structure admits) and for each error propagation (step by step, and with
ellipsoidal error sets forced on), ``share(0.01)`` Hypothesis examples (1 in
the derandomised ``ci`` profile) of ``BATCH = 630`` networks: 9 × 2 × 630 =
11,340 adversarial networks per ``make test``; ``test_count`` asserts the number.  The cost is
one jitted :func:`gradbounds.sweep` compilation per batch (18 in all; compiling
dominates, so batches are large and few) and the reference per network (about
1.6 ms of CPU each, 18 s in all).  Then one test per class of issue 10 with its
concrete input.

References:
  Issue 10 (classes 1–5); Johansson 2017 (Arb); Higham 2002, §3.5.
"""

from __future__ import annotations

import collections
import math

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from flint import arb, ctx
from hypothesis import given, settings
from hypothesis import strategies as st

import gradbounds as gb
from gradbounds.bounds import COMPARISONS, _enclosed, ball_levels, decided
from gradbounds.linalg import logspace as ls
from gradbounds.testing import ADVERSARIAL_KINDS, AdversarialProblem, adversarial_problems

LEVELS = ("lower", "E", "P", "J", "D", "G")


def reference_levels(layers, x, y, *, cost="quadratic"):
    """:func:`gradbounds.bounds.ball_levels` of ``(W, b, activation)`` triples (each array as given, no cast)."""
    net = tuple(gb.Layer(np.asarray(W), np.asarray(b), act) for W, b, act in layers)
    return ball_levels(net, x, y, cost=cost)


def gamma_ball(name):
    with ctx.workprec(256):
        return gb.core.get_activation(name).ball_gamma()


BATCH = 630
EXAMPLES = 0.01  # of the profile's max_examples, per kind and ellipsoid mode: 1 in ci
CHECKED: collections.Counter = collections.Counter()


def share(fraction: float) -> int:
    """Examples for a test: a fraction of the profile's ``max_examples`` (100 in ``ci``), at least 1."""
    return max(1, round(settings().max_examples * fraction))


def _layers(nets, i):
    return [(np.asarray(lay.W[i]), np.asarray(lay.b[i]), lay.activation) for lay in nets]


def describe(nets, x, y, cost, i) -> str:
    one = [(W.tolist(), b.tolist(), act) for W, b, act in _layers(nets, i)]
    return f"cost {cost}, dtype {x.dtype}, layers (W, b, activation) {one}, x {np.asarray(x[i]).tolist()}, y {np.asarray(y[i]).tolist()}"


def check_against_reference(h, refs, what) -> list[str]:
    """Every way the hierarchy ``h`` (batch axes ``(N, 1)`` or none) contradicts the references; [] if none.

    ``refs[i]`` is :func:`reference_levels` of network ``i``.
    """
    problems = []
    encl = {k: h.enclosure(k) for k in LEVELS}
    codes = np.asarray(h.codes)
    N = len(refs)
    for i, ref in enumerate(refs):
        idx = (i, 0) if N > 1 or np.ndim(encl["E"][0]) > 1 else ()
        for k in LEVELS:
            lo, hi = (np.asarray(a)[idx] if idx else np.asarray(a) for a in encl[k])
            rlo, rhi = ref[k]
            for l in np.flatnonzero(np.isnan(rlo) | np.isnan(rhi)):  # `hi < nan` is False: it would pass unchecked
                problems.append(f"{what(i)}: layer {l + 1}: the reference of {k} is NaN, so it checks nothing")
            # a proved zero (hi = -inf) where the reference proves the level positive is wrong even when the
            # reference's own log10 is below the float range (rlo = -inf too)
            bad = np.isnan(lo) | np.isnan(hi) | (hi < rlo) | (lo > rhi) | ((hi == -np.inf) & ref["positive"][k])
            for l in np.flatnonzero(bad):
                problems.append(
                    f"{what(i)}: layer {l + 1}: exact log10 {k} in [{rlo[l]!r}, {rhi[l]!r}] "
                    f"is outside the enclosure [{lo[l]!r}, {hi[l]!r}]"
                )
        lo_lower = np.asarray(encl["lower"][0])[idx] if idx else np.asarray(encl["lower"][0])
        for l in np.flatnonzero(lo_lower > ref["E"][1]):
            problems.append(
                f"{what(i)}: layer {l + 1}: certified lower bound 10^{lo_lower[l]!r} exceeds the exact E "
                f"(log10 E <= {ref['E'][1][l]!r})"
            )
        c = codes[idx] if idx else codes
        for j, (a, b) in enumerate(COMPARISONS):
            truth = decided(ref, a, b)
            for l in np.flatnonzero((c[:, j] == 2) & (truth == 1)):
                problems.append(f"{what(i)}: layer {l + 1}: '{a} <= {b}' reported violated, but it holds exactly")
            for l in np.flatnonzero((c[:, j] == 0) & (truth == -1)):
                problems.append(f"{what(i)}: layer {l + 1}: '{a} <= {b}' reported holds, but it is false exactly")
    return problems


def check_batch(problem) -> None:
    """Sweeps a batch of adversarial networks and checks every network against the reference."""
    nets, x, y, cost = problem.nets, problem.x, problem.y, problem.cost
    h = gb.sweep(nets, x, y, cost=cost)
    refs = [reference_levels(_layers(nets, i), x[i, 0], y[i, 0], cost=cost) for i in range(x.shape[0])]
    found = check_against_reference(h, refs, lambda i: f"{problem.kinds[i]} network {i}")
    if found:
        i = int(found[0].split("network ")[1].split(":")[0])
        raise AssertionError(
            f"{len(found)} contradiction(s) in a batch of {x.shape[0]} networks; first: {found[0]}\n"
            f"network: {describe(nets, x[:, 0], y[:, 0], cost, i)}"
        )


# ------------------------------------------------------------------ the property test
@pytest.fixture(params=[False, True], ids=["stepwise", "ellipsoids"])
def ellipsoids(request, monkeypatch):
    """Both error propagations: step by step only (as for shallow networks), or with ellipsoidal error sets.

    The adversarial networks are shallow (1–5 layers), below ``ELLIPSOID_DEPTH``; the second mode lowers it
    to 1, so every network of the batch also carries ellipsoids (gradbounds.linalg.ellipsoids).  The
    compiled sweeps are dropped on both sides: the depth rule is read when a sweep is traced.
    """
    monkeypatch.setattr(_enclosed, "ELLIPSOID_DEPTH", 1 if request.param else _enclosed.ELLIPSOID_DEPTH)
    jax.clear_caches()
    yield request.param
    jax.clear_caches()


@pytest.mark.parametrize("kind", ADVERSARIAL_KINDS)
def test_enclosures_and_verdicts_on_adversarial_networks(kind, ellipsoids):
    """Every exact level inside its enclosure, no false verdict, certified lower <= E: 630 networks a batch."""

    @settings(max_examples=share(EXAMPLES))
    @given(
        adversarial_problems(
            kinds=kind,
            size=BATCH,
            max_layers=5,
            max_width=4,
            dtypes=(jnp.float64, jnp.float32),
            mix_kinds=True,
        )
    )
    def check(problem):
        check_batch(problem)
        CHECKED.update(problem.kinds)

    check()


def test_checker_catches_a_shrunken_enclosure(monkeypatch):
    """The check can fail: an E enclosure moved just above the exact value (by 1e-9 in log10) is caught."""
    layers = [(np.array([[0.5, -1.25]]), np.array([0.25]), "sigmoid")]
    x, y = np.array([0.5, 0.75]), np.array([0.0])
    net = gb.network_from_arrays([W for W, _, _ in layers], [b for _, b, _ in layers], "sigmoid")
    h = gb.hierarchy(net, x, y)
    ref = reference_levels(layers, x, y)
    assert check_against_reference(h, [ref], lambda i: "net") == []
    real = type(h).enclosure

    def shifted(self, level):
        lo, hi = real(self, level)
        if level == "E":
            lo = np.maximum(lo, ref["E"][1] + 1e-9)
            hi = np.maximum(hi, lo)
        return lo, hi

    monkeypatch.setattr(type(h), "enclosure", shifted)
    found = check_against_reference(h, [ref], lambda i: "net")
    assert found and "exact log10 E" in found[0] and "outside the enclosure" in found[0]


def test_count(request, record_property):
    """At least 10,000 adversarial networks were checked (when every kind's property test ran in this session)."""
    ran = sum(item.name.startswith("test_enclosures_and_verdicts_on_adversarial") for item in request.session.items)
    total = sum(CHECKED.values())
    kinds = ", ".join(f"{k}: {v}" for k, v in sorted(CHECKED.items()))
    record_property("summary", f"test_soundness: {total} adversarial networks checked ({kinds})")
    want = BATCH * share(EXAMPLES) * len(ADVERSARIAL_KINDS) * 2
    if ran == 2 * len(ADVERSARIAL_KINDS) and settings().max_examples >= 100:
        assert want >= 10_000 and total >= want, f"{total} adversarial networks checked, expected at least {want}"


# ------------------------------------------------------------------ one test per class of issue 10
def _net(Ws, bs, acts, dtype=np.float64):
    return gb.network_from_arrays([np.asarray(W, dtype) for W in Ws], [np.asarray(b, dtype) for b in bs], acts)


def _check_one(Ws, bs, acts, x, y, *, cost="quadratic", dtype=np.float64):
    """Hierarchy of one network at one example, checked against the reference; returns (h, ref)."""
    net = _net(Ws, bs, acts, dtype)
    acts = [acts] * len(Ws) if isinstance(acts, str) else acts
    x, y = np.asarray(x, dtype), np.asarray(y, dtype)
    h = gb.hierarchy(net, jnp.asarray(x), jnp.asarray(y), cost=cost)
    ref = reference_levels(
        [(np.asarray(W, dtype), np.asarray(b, dtype), a) for W, b, a in zip(Ws, bs, acts)], x, y, cost=cost
    )
    found = check_against_reference(h, [ref], lambda i: "network")
    assert not found, "\n".join(found)
    return h, ref


def test_class1_stored_gamma_is_an_upper_bound():
    """γ as stored is >= the true supremum of |σ'| (silu, selu and erf were rounded down by up to 1.4e-16)."""
    for name in ("silu", "selu", "erf", "gelu", "sigmoid", "tanh"):
        stored = gb.core.get_activation(name).gamma
        assert arb(stored) >= gamma_ball(name), f"{name}: γ = {stored!r} is below the supremum {gamma_ball(name)}"


def test_class1_silu_next_to_its_argmax_holds():
    """silu, W1 = [[1]], b1 = [2.3993572805154675], x = y = 0: z is next to argmax σ', and D <= G holds."""
    h, _ = _check_one([[[1.0]]], [[2.3993572805154675]], "silu", [0.0], [0.0])
    assert not (h.codes == 2).any(), h.codes  # never a false 'violated'
    # D = σ'(z)|g| ≤ γ|g| = G is a theorem, the gap ~1e-33 relative: below float64's enclosures, so the float
    # verdict may be open; the ball re-decision (γ in closed form) proves it
    net = _net([[[1.0]]], [[2.3993572805154675]], "silu")
    h2 = gb.hierarchy(net, jnp.asarray([0.0]), jnp.asarray([0.0]), exact="auto")
    assert h2.verdict == "holds", h2.codes


def test_class1_silu_next_to_its_argmax_holds_in_the_cli(tmp_path, capsys):
    """The same network and example through ``gradbounds check``: exit code 0 (holds), not 1 (violated)."""
    from gradbounds.cli import main

    gb.io.save_network(tmp_path / "net.npz", _net([[[1.0]]], [[2.3993572805154675]], "silu"))
    np.savez(tmp_path / "data.npz", x=np.zeros((1, 1)), y=np.zeros((1, 1)))
    code = main(["check", "--network", str(tmp_path / "net.npz"), "--data", str(tmp_path / "data.npz")])
    out = capsys.readouterr().out
    assert code == 0, out


def test_class2_chain_of_ill_conditioned_linear_layers():
    """Five linear 3x3 layers with singular values (1, 1e-6, 1e-12): E, P and lower inside their enclosures."""
    rng = np.random.default_rng(7)
    Ws = []
    for _ in range(5):
        u, _ = np.linalg.qr(rng.standard_normal((3, 3)))
        v, _ = np.linalg.qr(rng.standard_normal((3, 3)))
        Ws.append(u @ np.diag([1.0, 1e-6, 1e-12]) @ v.T)
    bs = [rng.standard_normal(3) for _ in Ws]
    h, ref = _check_one(Ws, bs, "linear", rng.uniform(-1, 1, 3), rng.uniform(0, 1, 3))
    lo, hi = h.enclosure("E")
    assert np.all(np.isfinite(lo)) and np.all(hi - lo < 1.0), (lo, hi)


def test_class2_rank_one_product_with_g_in_its_null_space():
    """Π_1 = v u^T ≠ 0 with u^T g = 0 exactly: E_1 = 0 and σ_min(Π_1) = 0, so lo of E and of lower is -inf."""
    v = [1.0, 0.7071067811865476, -1.7320508075688772]
    u = [1.0, 1.0, -2.0]
    W2 = np.outer(u, v)  # exact: u_i are ±1, ±2
    g = np.array([0.375, -0.125, 0.125])  # u^T g = 0.375 - 0.125 - 0.25 = 0
    y = np.asarray(u) - g  # a^2 = W2 e_1 = u exactly; y exact
    h, ref = _check_one([np.zeros((3, 1)), W2], [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], "linear", [0.5], y)
    assert ref["E"][0][0] == -np.inf and ref["lower"][0][0] == -np.inf
    assert h.enclosure("E")[0][0] == -np.inf, "E_1 is exactly 0: its enclosure must reach 0"
    assert h.enclosure("lower")[0][0] == -np.inf, "σ_min(Π_1) is exactly 0: the certified lower bound is 0"
    assert np.isfinite(h.enclosure("P")[0][0]), "P_1 = ‖v‖‖u‖‖g‖ > 0"


def test_class3_cancellation_in_z():
    """z = 1e16·1 + 1·1 − 1e16·1 = 1 exactly (floating point gives 0 or 2)."""
    h, ref = _check_one([[[1e16, 1.0, -1e16]]], [[0.0]], "sigmoid", [1.0, 1.0, 1.0], [0.0])
    assert h.verdict != "violated"


def test_class3_cross_entropy_with_sigmoid_near_its_target():
    """Cross-entropy, z = 20, y = 1: δ = σ(20) − 1 = −2.06e-9, relative to σ's rounding 1e-16·(1/2e-9)."""
    h, ref = _check_one([[[0.0]]], [[20.0]], "sigmoid", [0.0], [1.0], cost="cross-entropy")
    assert ref["E"][0][0] == pytest.approx(math.log10(2.0611536181902037e-09), abs=1e-12)


def test_class3_quadratic_cost_with_a_near_y():
    """Quadratic cost, tanh output, y the float nearest a^L: the exact g is a^L's rounding error."""
    net = _net([[[0.3]], [[1.7]]], [[0.1], [-0.2]], "tanh")
    aL = np.asarray(gb.forward(net, jnp.asarray([0.9])).a[-1])
    _check_one([[[0.3]], [[1.7]]], [[0.1], [-0.2]], "tanh", [0.9], aL)


def test_class4_saturated_sigmoid_is_vanishing_not_zero():
    """Sigmoid z = ±744: σ' ≈ e^-744 underflows float64, yet log10 E ≈ −322.96 and is finite."""
    h, ref = _check_one([np.zeros((2, 1))], [[744.0, -744.0]], "sigmoid", [0.0], [0.0, 1.0])
    assert ref["E"][0][0] == pytest.approx(-322.96, abs=0.01)
    lo, hi = h.enclosure("E")
    assert np.isfinite(lo[0]) and np.isfinite(hi[0])
    assert h.verdict != "violated"


@pytest.mark.parametrize("scale", [1e160, 1e-160])
def test_class5_huge_and_tiny_output_error(scale):
    """a^L ≈ 1e160 (‖g‖² overflows) and g ≈ 1e-160 (‖g‖² is subnormal): finite levels inside their enclosures."""
    h, ref = _check_one([np.zeros((2, 1))], [[scale, -scale]], "linear", [0.0], [0.0, 0.0])
    assert ref["E"][0][0] == pytest.approx(math.log10(scale * math.sqrt(2)), abs=1e-12)
    lo, hi = h.enclosure("lower")
    assert np.isfinite(lo[0]) and np.isfinite(hi[0])


def test_class_float32_network():
    """A float32 network: the exact values for the float32 inputs lie inside the enclosures."""
    rng = np.random.default_rng(3)
    Ws = [rng.standard_normal((3, 2)), rng.standard_normal((2, 3))]
    bs = [rng.standard_normal(3), rng.standard_normal(2)]
    _check_one(Ws, bs, ["tanh", "sigmoid"], rng.uniform(size=2), rng.uniform(size=2), dtype=np.float32)


# ------------------------------------------------------------------ softmax cross-entropy on logits
SOFTMAX_BATCH = 150
SOFTMAX_HIDDEN = ("tanh", "sigmoid", "relu", "silu", "linear")


@st.composite
def softmax_problems(draw):
    """A batch of networks with a linear output layer under softmax cross-entropy.

    Logits scaled by 1, 30 or 400 (softmax saturated: entries down to e^-800),
    ``y`` one-hot, a distribution, or the network's own softmax (``δ^L`` near 0),
    float64 or float32.
    """
    depth = draw(st.integers(1, 4))
    widths = [draw(st.integers(1, 4)) for _ in range(depth)] + [draw(st.integers(2, 4))]
    acts = tuple(draw(st.sampled_from(SOFTMAX_HIDDEN)) for _ in range(depth - 1)) + ("linear",)
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    scale = draw(st.sampled_from([1.0, 30.0, 400.0]))
    target = draw(st.sampled_from(["one-hot", "distribution", "own"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    N = SOFTMAX_BATCH
    Ws = [rng.standard_normal((N, m, n)) / np.sqrt(n) for n, m in zip(widths[:-1], widths[1:])]
    Ws[-1] = Ws[-1] * scale
    bs = [rng.standard_normal((N, m)) * 0.5 for m in widths[1:]]
    nets = tuple(gb.Layer(jnp.asarray(W, dtype), jnp.asarray(b, dtype), a) for W, b, a in zip(Ws, bs, acts))
    x = jnp.asarray(rng.uniform(-1, 1, (N, 1, widths[0])), dtype)
    n_L = widths[-1]
    if target == "one-hot":
        y = np.eye(n_L)[rng.integers(0, n_L, N)]
    elif target == "distribution":
        y = rng.dirichlet(np.ones(n_L), N)
    else:  # y = softmax of the network's own logits: g = softmax(z) − y cancels to rounding
        z = np.stack(
            [
                np.asarray(gb.forward(tuple(gb.Layer(l.W[i], l.b[i], l.activation) for l in nets), x[i, 0]).z[-1])
                for i in range(N)
            ]
        )
        y = np.asarray(gb.core.softmax(jnp.asarray(z)))
    y = jnp.asarray(y[:, None, :], dtype)
    return AdversarialProblem(nets, x, y, "softmax-cross-entropy", (f"softmax ({target}, x{scale:g})",) * N)


def test_enclosures_and_verdicts_under_softmax_cross_entropy():
    """Softmax cross-entropy on logits: every exact level inside its enclosure, no false verdict (2 × 150 networks)."""

    @settings(max_examples=share(EXAMPLES))
    @given(softmax_problems())
    def check(problem):
        check_batch(problem)
        CHECKED.update(["softmax-cross-entropy"] * SOFTMAX_BATCH)

    check()


def test_exact_auto_decides_from_python_what_floats_leave_open(monkeypatch):
    """Depth 60 (tanh, linear logits, softmax cross-entropy): floats with ellipsoids decide every comparison;
    the step-by-step float enclosures leave comparisons open, and ``exact="auto"`` proves them in ball
    arithmetic, in ``hierarchy`` and in ``sweep``, as the CLI does."""
    depth = 60
    acts = ["tanh"] * (depth - 1) + ["linear"]
    keys = jax.random.split(jax.random.key(1), 2)
    nets = jax.vmap(lambda k: gb.init_network(k, (6,) * depth + (3,), activation=acts, init="gaussian", sw2=1.0))(keys)
    net = jax.tree_util.tree_map(lambda t: t[0], nets)
    x = jax.random.uniform(jax.random.key(2), (2, 1, 6))
    y = jnp.broadcast_to(jnp.asarray([0.0, 1.0, 0.0]), (2, 1, 3))
    assert (gb.hierarchy(net, x[0, 0], y[0, 0], cost="softmax-cross-entropy").codes == 0).all()
    monkeypatch.setattr(_enclosed, "ELLIPSOID_DEPTH", 10**9)  # the step-by-step bounds alone
    jax.clear_caches()  # the depth rule is read when the hierarchy is traced
    h = gb.hierarchy(net, x[0, 0], y[0, 0], cost="softmax-cross-entropy")
    assert (h.codes == 1).sum() > 50  # left open by the float enclosures
    assert gb.bounds.open_examples(h).all()
    h2 = gb.hierarchy(net, x[0, 0], y[0, 0], cost="softmax-cross-entropy", exact="auto")
    assert (h2.codes == 0).all() and h2.verdict == "holds"
    s = gb.sweep(nets, x, y, cost="softmax-cross-entropy", exact="auto")
    assert (s.codes == 0).all()

    def rows(start, stop, size):  # sweep_drawn draws each open network again to re-decide it
        drawn.append((start, stop, size))
        i = np.minimum(np.arange(start, start + size), stop - 1)
        return jax.tree_util.tree_map(lambda t: t[i], tuple(nets)), x[i], y[i]

    drawn = []
    s2 = gb.bounds.sweep_drawn(rows, 2, cost="softmax-cross-entropy", exact="auto")
    assert drawn == [(0, 2, 2), (0, 1, 2), (1, 2, 2)]
    assert (s2.codes == 0).all()
    for k in s.levels._fields:
        np.testing.assert_array_equal(getattr(s2.levels, k), getattr(s.levels, k), err_msg=k)
    # the enclosures are the intersection with the ball ones: finite, and as tight as the balls (1e-13 in log10)
    for r in (h2, s):
        assert not gb.bounds.open_examples(r).any()
        for k in LEVELS:
            lo, hi = r.enclosure(k)
            assert np.all(hi - lo < 1e-13), (k, np.max(hi - lo))
            assert np.all((lo <= r.log10(k)) & (r.log10(k) <= hi)), k  # the point value lies in its enclosure
    for k in LEVELS:  # the intersection is never wider than the float enclosure (network 0 alone)
        (lo0, hi0), (lo2, hi2) = h.enclosure(k), h2.enclosure(k)
        assert np.all(lo2 >= lo0) and np.all(hi2 <= hi0), k
    assert (gb.sweep(nets, x, y, cost="softmax-cross-entropy").codes == 1).any()
    with pytest.raises(ValueError, match="exact: expected one of"):
        gb.hierarchy(net, x[0, 0], y[0, 0], exact="sometimes")
    jax.clear_caches()


def test_a_proved_zero_times_an_unbounded_factor_is_zero_not_nan():
    """A relu output unit with z < 0 exactly (σ_min(M_L) = 0 proved) and a user cost (‖g‖ without an error
    bound): the exact lower bound σ_min(M_L)‖g‖ at layer L is 0, so its enclosure is [−inf, ~−inf], not NaN."""
    net = _net([[[1.0, 0.5], [-1.0, -0.5]]], [[0.25, -0.25]], "relu")
    x, y = jnp.asarray([0.5, 0.5]), jnp.asarray([0.3, 0.1])
    h = gb.hierarchy(net, x, y, cost=lambda a, t: 0.5 * jnp.sum((a - t) ** 2))
    lo, hi = h.enclosure("lower")
    assert lo[-1] == -np.inf and hi[-1] < -1e300  # an upper bound of 10^(-1e300): zero, not NaN
    assert not (h.codes == 2).any()


def test_deep_float_enclosures_stay_tight_and_contain_the_exact_values():
    """Depth 40, width 6 (tanh, σ_w² = 1), float64, no re-decision: with ellipsoidal error sets the float
    enclosures of E, P, J, D and G stay about 1e-10 wide (step by step they widen by ‖B‖/‖Bv‖ a layer and
    are vacuous here) and contain the exact values of the ball-arithmetic reference."""
    depth = 40
    keys = jax.random.split(jax.random.key(4), 3)
    nets = jax.vmap(lambda k: gb.init_network(k, (6,) * (depth + 1), activation="tanh", init="gaussian", sw2=1.0))(keys)
    x = jax.random.normal(jax.random.key(5), (3, 1, 6))
    y = jnp.zeros((3, 1, 6))
    h = gb.sweep(nets, x, y, exact="never")
    refs = [reference_levels(_layers(nets, i), x[i, 0], y[i, 0]) for i in range(3)]
    found = check_against_reference(h, refs, lambda i: f"network {i}")
    assert not found, "\n".join(found[:5])
    for k in ("E", "P", "J", "D", "G"):
        lo, hi = h.enclosure(k)
        assert np.all(hi - lo < 1e-8), (k, float(np.max(hi - lo)))
    # and the comparisons that do not involve 'lower' are decided from floats alone
    assert (np.asarray(h.codes)[..., [COMPARISONS.index(c) for c in COMPARISONS if "lower" not in c]] == 0).all()


# ------------------------------------------------------------------ an unbounded output error (found in session 12)
# g's error bound is +inf where softmax's error analysis gives up, where the forward error bound overflows, and
# for a user cost; times an exactly known M_L (ρ = 0) that was 0·inf = NaN, and log_up(NaN) was −inf: the
# enclosure of E claimed a proved zero (hi = −inf, every comparison 'holds') while E was about 1.
@pytest.mark.parametrize(("dtype", "spread"), [(np.float32, 1e7), (np.float64, 1e15)])
def test_softmax_logits_spread_past_the_error_analysis_never_prove_a_zero(dtype, spread):
    h, _ = _check_one(
        [[[0.5, -0.25], [0.75, 1.0]], [[spread, 0.0], [0.0, 1.0]]],
        [[0.1, -0.2], [0.0, 0.0]],
        ["tanh", "linear"],
        [1.0, 0.5],
        [0.0, 1.0],
        cost="softmax-cross-entropy",
        dtype=dtype,
    )
    assert np.all(np.asarray(h.enclosure("E")[1]) > -np.inf)  # never a proved zero: E is about 1


def test_softmax_after_cancellation_in_z_float32():
    """x = (1e8, 1, −1e8, …) into a float32 linear layer: z is computed with an absolute error of about 6."""
    W = [
        [1, 1, 1, 0.07779993, -0.74722683],
        [1, 1, 1, 0.285211, 0.5891261],
        [1, 1, 1, 1.284204, 0.39366361],
        [1, 1, 1, -0.6952969, 0.07541381],
    ]
    x = [1e8, 1.0, -1e8, 1.6810587e-01, 5.4840547e-01]
    h, ref = _check_one(
        [W], [[-2.0, -2.0, -1.0, 0.0]], ["linear"], x, [0, 0, 1, 0], cost="softmax-cross-entropy", dtype=np.float32
    )
    assert ref["E"][0][0] > -0.1 and h.enclosure("E")[1][0] == np.inf


@pytest.mark.parametrize(
    ("Ws", "bs", "acts", "y", "cost"),
    [
        ([[[1e308, 1e308]]], [[0.5]], ["sigmoid"], [0.0], "cross-entropy"),
        ([[[1e308, 1e308]]], [[0.5]], ["linear"], [0.0], "quadratic"),
        ([[[1e308, 1e308], [1.0, 1.0]]], [[0.5, 0.25]], ["linear"], [0.0, 1.0], "softmax-cross-entropy"),
        ([[[1e308, 1e308], [1.0, 1.0]], [[1.0, 2.0]]], [[0.5, 0.25], [0.1]], ["tanh", "linear"], [0.0], "quadratic"),
    ],
)
def test_an_overflowing_forward_error_bound_never_proves_a_zero(Ws, bs, acts, y, cost):
    """A row (1e308, 1e308) at x = (1, −1): z = b exactly in floats, but the bound |W||x| overflows."""
    h, _ = _check_one(Ws, bs, acts, [1.0, -1.0], y, cost=cost)
    assert np.all(np.asarray(h.enclosure("E")[1]) == np.inf)


@pytest.mark.parametrize("act", ["linear", "relu", "tanh"])
def test_a_user_cost_gives_the_vacuous_enclosure_of_E(act):
    """A user cost has no error bound for ∇_a C (docs/design.md §3.4): E's enclosure is [−inf, +inf], and no
    comparison with E holds or is violated from it."""
    net = _net([[[0.5, -0.25], [1.0, 2.0]]], [[0.125, -0.5]], act)
    h = gb.hierarchy(
        net, jnp.asarray([1.0, 0.5]), jnp.asarray([0.0, 1.0]), cost=lambda a, t: 0.5 * jnp.sum((a - t) ** 2)
    )
    lo, hi = h.enclosure("E")
    assert lo[0] == -np.inf and hi[0] == np.inf
    assert np.all(np.asarray(h.codes)[:, :2] == 1)  # lower <= E and E <= P: inconclusive


def test_float32_weights_near_1e15_with_an_overflowing_forward_bound():
    """Found by the same probe: a silu output layer whose forward error bound overflowed (z ± r = ±inf) had a
    σ' enclosure of (NaN, −inf) — read as σ' = 0 exactly — so J, D and P claimed proved zeros at every layer."""
    layers = [
        (
            [[-941879751344128.0, -1011944827912192.0, 40671750651904.0], [-577850939801600.0, 105646481473536.0, 565428149551104.0], [229263173222400.0, -95872033488896.0, -76883412647936.0], [862165829419008.0, -177070277656576.0, 1013768309964800.0]],
            [1030343863828480.0, -150845542891520.0, 175981872545792.0, 874659151085568.0],
            "leaky_relu:0.5",
        ),
        (
            [[-308052133675008.0, 246907536408576.0, 554121547481088.0, -471187910033408.0], [222127638708224.0, 105023669272576.0, -216725039611904.0, 800849198579712.0], [-23054673510400.0, 1165003705024512.0, 397128748761088.0, -299591652081664.0], [176495205023744.0, -328668580675584.0, 449706698211328.0, 372080130392064.0], [-535359553273856.0, -154863803564032.0, 280942853750784.0, 77433076187136.0]],
            [-431769908150272.0, 582545339056128.0, 715703149658112.0, -681524403896320.0, 767449184075776.0],
            "sigmoid",
        ),
        (
            [[-856733433987072.0, -23594648207360.0, -256772774297600.0, -208812854214656.0, 112256276758528.0], [-478551430135808.0, -14017966899200.0, 768173892698112.0, 229458913001472.0, 682357627551744.0], [409075837829120.0, -681295160016896.0, 808104337866752.0, 404444051144704.0, 318425117229056.0]],
            [-150147191275520.0, -221299800539136.0, -479271910899712.0],
            "relu",
        ),
        (
            [[-45764298407936.0, 104306040635392.0, -48785484939264.0], [-46645446180864.0, -1059082161094656.0, -387834741522432.0], [-408666037551104.0, 205445046206464.0, -219419863154688.0], [-219811409821696.0, 84128837926912.0, -234316286132224.0], [-127388453175296.0, 649697555382272.0, -60778665213952.0]],
            [-415982111686656.0, 317905392631808.0, 416922206208000.0, 331924501430272.0, -617244379840512.0],
            "silu",
        ),
    ]  # fmt: skip
    x = [0.9707334637641907, 0.09684234857559204, 0.18029873073101044]
    y = [0.13859429955482483, 0.5018673539161682, 0.5308799743652344, 1.490127682685852, 0.2977508306503296]
    Ws, bs, acts = zip(*layers)
    h, _ = _check_one(list(Ws), list(bs), list(acts), x, y, dtype=np.float32)
    for k in ("J", "D"):
        assert np.all(np.asarray(h.enclosure(k)[1]) > -np.inf), k


@pytest.mark.parametrize(("dtype", "w"), [(np.float64, 1e10), (np.float64, 1e12), (np.float32, 1e12)])
def test_a_pre_activation_past_the_exponent_range_gives_wide_sound_bounds(dtype, w):
    """|log σ'| = w beyond the int32 scaling exponent's range (w ≥ 1.5e9): the exponent is clamped and the scaled
    σ' underflow to their rounded-up bounds, sound and wide, still far below 1; before, e + f wrapped round
    (W^2 = 0.1 has f < 0) and E's upper bound at layer 1 was 10^(6.5e8) for an E of 10^(−4.3e9)."""
    h, ref = _check_one([[[w]], [[0.1]]], [[0.0], [0.0]], ["sigmoid", "tanh"], [1.0], [0.0], dtype=dtype)
    lim = min(2**30, 2 ** (np.finfo(dtype).nmant - 3))  # the clamp: 2^20 in float32 (scale_exponent)
    for k in ("E", "P", "J"):
        assert np.asarray(h.enclosure(k)[1])[0] < -(lim - 2) * np.log10(2.0) and ref[k][1][0] < -1e6, k


@pytest.mark.parametrize("w2", [1.0, 1.5, 2.0])
@pytest.mark.parametrize("act", ["silu", "gelu"])
def test_float32_log_sigma_prime_past_its_precision_is_a_wide_sound_bound(act, w2):
    """float32, ``z^2 = 3.6e8·w2``: ``log tanh'(z^2) ≈ −7.2e8·w2`` is inside the int32 exponent's range but far
    past float32's precision (its ulp there is 64), and the rounding error of the scaled σ' exponent made an
    upper bound of ``e^{170}``, which overflowed the products: "level E is nan", an error on a finite network,
    for 3 % of random float32 silu networks with weights up to 1e9.  The exponent is now clamped at ``2^20``
    in float32: a sound, finite hierarchy whose enclosures hold the exact levels."""
    h, ref = _check_one([[[3.6e8]], [[w2]]], [[0.0], [0.0]], [act, "tanh"], [1.0], [0.0], dtype=np.float32)
    for k in ("E", "P", "J"):
        assert np.isfinite(np.asarray(h.enclosure(k)[1])[0]) and ref[k][1][0] < -1e8, k


@pytest.mark.parametrize(
    ("act", "bs"),
    [
        ("relu", [[0.0], [0.0, 1.0], [1.0]]),
        ("hard_tanh", [[0.0], [0.0, 0.25], [0.25]]),
        ("leaky_relu:0.5", [[0.0], [0.0, 1.0], [1.0]]),
    ],
)
def test_a_zero_weight_against_an_unbounded_error_is_no_radius(act, bs):
    """Found by a second probe: layer 1's error bound overflows, and layer 3's weight 0 against it made the forward
    radius 0·inf = NaN; relu's and hard_tanh's σ' over a NaN radius were a proved 0 (leaky relu's the slope alone),
    so P, J and D claimed proved zeros where the exact log10 is 0.3 (relu) or 299.7 (hard_tanh's J)."""
    Ws = [[[1e300, 1e300]], [[1e300], [1.0]], [[0.0, 1.0]]]
    _check_one(Ws, bs, act, [1.0, -1.0], [0.0])


def test_a_nan_ball_leaves_the_float_enclosure_standing(monkeypatch):
    """Found by the second probe: arb's σ' ball was NaN far out in a tail (silu at z = 1e300, at 128 bits), and
    ``exact="auto"`` intersected the float enclosure with it: NaN enclosures, silently.  A NaN ball says nothing.
    The twins no longer give NaN there, so a NaN reference is injected (every level, layer 1)."""
    from gradbounds.bounds import _redecide

    def nan_at_layer_1(*args, **kwargs):
        ref = ball_levels(*args, **kwargs)
        for k in LEVELS:
            for end in ref[k]:
                end[0] = np.nan
        return ref

    monkeypatch.setattr(_redecide, "ball_levels", nan_at_layer_1)
    Ws = [np.array([[1e300, 1.0], [1e300, 1e300]]), np.array([[1.0, -1.0], [2.0, 0.5]])]
    net = gb.network_from_arrays(Ws, [np.zeros(2), np.zeros(2)], ["silu", "linear"])
    x, y = jnp.asarray([1.0, -1.0]), jnp.zeros(2)
    h = gb.hierarchy(net, x, y, exact="auto")
    for k in LEVELS:
        assert not np.isnan(np.asarray(h.enclosure(k))).any(), k
    assert not (np.asarray(h.codes) == 2).any()


@pytest.mark.parametrize(
    ("Ws", "acts", "x"),
    [
        ([[[3e38, 0.0], [0.0, 3e38]], [[3e38, 1.0], [1.0, -3e38]]], ["tanh", "tanh"], [0.9, -0.8]),
        ([[[0.0, 0.0], [1.0, 2.0]], [[3e38, 3e38], [1.0, -3e38]]], ["linear", "tanh"], [1.0, -1.0]),
        ([[[3e38, 3e38], [1.0, 2.0]], [[3e38, 1.0], [1.0, -3e38]]], ["tanh", "tanh"], [1.0, -1.0]),
    ],
)
def test_float32_logs_beyond_the_float_range_never_prove_a_zero(Ws, acts, x):
    """Found by the second probe: in float32, tanh's log σ' at |z| = 3e38 (about −6e38) and sums of such logs
    overflow to −inf, which an upper bound read as a proved zero (D, P and lower below their exact values, also
    after the ball re-decision).  Overflowed upper bounds are now −max, overflowed lower bounds +max."""
    h, _ = _check_one(Ws, [[0.0, 0.0], [0.0, 0.0]], acts, x, [0.0, 0.0], dtype=np.float32)
    net = _net(Ws, [[0.0, 0.0], [0.0, 0.0]], acts, np.float32)
    h2 = gb.hierarchy(net, jnp.asarray(x, jnp.float32), jnp.zeros(2, jnp.float32), exact="auto")
    ref = reference_levels(
        [(np.asarray(W, np.float32), np.zeros(2, np.float32), a) for W, a in zip(Ws, acts)],
        np.asarray(x, np.float32),
        np.zeros(2, np.float32),
    )
    found = check_against_reference(h2, [ref], lambda i: "exact=auto")
    assert not found, "\n".join(found)


def test_sigma_prime_far_in_a_tail_gives_the_exact_reference_not_a_wrong_one():
    """Found by the second probe: arb's silu' at z = 1e300 was NaN at 128 bits, and ``max|σ'|`` over a layer took
    Python's ``max``, which drops a NaN that comes second: the ball reference gave D = 10^300.097 for an exact
    10^300.398, and ``exact="always"`` then reported a false soundness bug.  The twins now work
    ``k·log2|z|`` bits above the working precision (and the reference starts there), so the reference holds
    the exact value (mpmath), as do the float enclosures."""
    Ws = [np.array([[1e300, 1e300], [1e300, 1.0]]), np.array([[1.0, -1.0], [2.0, 0.5]])]
    net = gb.network_from_arrays(Ws, [np.zeros(2), np.zeros(2)], ["silu", "linear"])
    x, y = np.array([1.0, -1.0]), np.zeros(2)
    # D^1 = max|silu'(z^1)| ‖W^2‖ ‖a^2 − y‖ (linear output, σ' = 1), exactly for the given floats in mpmath
    with mpmath.workprec(1200):  # 1e300 − 1 exactly: 1e300 ≈ 2^997
        W1, W2 = (mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in W]) for W in Ws)
        z1 = W1 * mpmath.matrix([1, -1])
        sig = [1 / (1 + mpmath.exp(-z)) for z in z1]
        dsilu = max(abs(s * (1 + z * (1 - s))) for s, z in zip(sig, z1))
        g = W2 * mpmath.matrix([z * s for z, s in zip(z1, sig)])
        G2 = W2.T * W2
        tr, det = G2[0, 0] + G2[1, 1], G2[0, 0] * G2[1, 1] - G2[0, 1] * G2[1, 0]
        norm_w2 = mpmath.sqrt((tr + mpmath.sqrt(tr**2 - 4 * det)) / 2)  # the larger singular value of a 2×2
        exact = float(mpmath.log10(dsilu * norm_w2 * mpmath.norm(g)))
    assert abs(exact - 300.3979) < 1e-4  # log10(√5 · √1.25 · 1e300): the setting is the one the probe found
    ref = ball_levels(net, x, y)
    assert ref["D"][0][0] <= exact <= ref["D"][1][0]  # was NaN (no claim), and before that 300.097
    assert ref["D"][1][0] - ref["D"][0][0] < 1e-12
    h = gb.hierarchy(net, jnp.asarray(x), jnp.asarray(y), exact="always")  # no false "disjoint" error
    lo, hi = (np.asarray(t) for t in h.enclosure("D"))
    assert np.nextafter(lo[0], -np.inf) <= exact <= np.nextafter(hi[0], np.inf)  # `exact`'s own last-bit rounding


FAR_TAIL = ("sigmoid", "tanh", "erf", "gelu", "gelu_tanh", "silu", "softplus", "elu", "selu")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act", FAR_TAIL)
def test_far_in_a_tail_the_reference_is_exact_and_the_enclosures_hold_it(act, dtype):
    """Pre-activations ``±c·10^k`` up to the float range, with a small term added (so ``z`` is not a float): the
    ball reference was NaN (no claim, the property test checked nothing) for silu, sigmoid and softplus from
    ``|z| ≈ 1e150``, and gelu_tanh from 1e20, because ``exp(±z^k)`` at 128 bits, or of a ball whose radius
    is ``|z|·2^-prec``, loses ``k·log2|z|`` bits.  Now the reference is finite at every layer, and the float
    enclosures (``exact="never"`` and ``"auto"``) hold it; log10 σ' below ``-max`` (erf at ``|z| = 1e200``) is
    a proved positive level, never a proved zero, in the reference and in the enclosures."""
    rng = np.random.default_rng(11)
    top = 307 if dtype == np.float64 else 37
    for k in (9, top // 2, top - 1):
        for sign in (-1.0, 1.0):
            b1 = sign * 10.0**k * rng.uniform(1.0, 1.7, 2)
            layers = [
                ((0.1 * rng.standard_normal((2, 2))).astype(dtype), b1.astype(dtype), act),
                (rng.standard_normal((2, 2)).astype(dtype), rng.standard_normal(2).astype(dtype), "linear"),
            ]
            x, y = rng.uniform(-1, 1, 2).astype(dtype), rng.uniform(0, 1, 2).astype(dtype)
            ref = reference_levels(layers, x, y)
            for lev in LEVELS:
                assert not np.isnan(np.asarray(ref[lev])).any(), (lev, k, sign, ref[lev])
            net = tuple(gb.Layer(jnp.asarray(W), jnp.asarray(b), a) for W, b, a in layers)
            for exact in ("never", "auto"):
                h = gb.hierarchy(net, jnp.asarray(x), jnp.asarray(y), exact=exact)
                where = f"k={k} sign={sign} exact={exact}"
                found = check_against_reference(h, [ref], lambda i, where=where: where)
                assert not found, "\n".join(found)


def test_a_log10_below_the_float_range_is_a_positive_level_in_the_reference():
    """erf' at z = 1e200 is e^{-1e400}: log10 ≈ -4.3e399, below -max.  The reference's upper end was
    ``float(-4.3e399) = -inf``, a proved zero; now it is ``-max``, with ``positive`` set, and the re-decision's
    conversion to natural logs keeps an overflowed upper bound at ``-max`` too."""
    from gradbounds.bounds._redecide import _ln_outward

    layers = [(np.array([[1.0]]), np.array([1e200]), "erf"), (np.array([[2.0]]), np.array([0.5]), "linear")]
    ref = reference_levels(layers, np.array([0.3]), np.array([0.1]))
    big = np.finfo(np.float64).max
    assert ref["D"][0][0] == -np.inf and ref["D"][1][0] == -big and ref["positive"]["D"][0]
    assert ref["D"][1][1] > -np.inf and ref["positive"]["D"][1]
    up_, down_ = (
        _ln_outward(np.array([-big]), np.float64, up=True)[0],
        _ln_outward(np.array([big]), np.float64, up=False)[0],
    )
    assert -big <= up_ < -0.99 * big  # -max (two steps up), not -inf (a proved zero)
    assert 0.99 * big < down_ <= big  # not +inf
    net = tuple(gb.Layer(jnp.asarray(W), jnp.asarray(b), a) for W, b, a in layers)
    for exact in ("never", "auto"):
        h = gb.hierarchy(net, jnp.asarray([0.3]), jnp.asarray([0.1]), exact=exact)
        assert np.asarray(h.enclosure("D")[1])[0] > -np.inf, exact
        assert not check_against_reference(h, [ref], lambda i, exact=exact: exact)


# ------------------------------------------------------------------ subnormal inputs, which XLA on CPU flushes
_F32 = np.float32


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid", "linear"])
def test_a_subnormal_weight_against_a_large_input_is_an_error_term(act):
    """XLA on CPU reads a subnormal input of a product as 0: ``W = 1e-39`` times ``x = 1e35`` gave ``z = 0``
    where the exact ``z`` is 1e-4, and the forward error bound (rounding only) missed it: the enclosures of
    lower, E, P, … excluded the exact values (found by the thorough property test's tiny-gradient kind)."""
    layers = [
        (np.array([[1e-39, 1.0]], _F32), np.array([0.0], _F32), act),
        (np.array([[2.0]], _F32), np.array([0.0], _F32), "linear"),
    ]
    x, y = np.array([1e35, 1e-3], _F32), np.zeros(1, _F32)
    assert np.asarray(jax.jit(jnp.matmul)(layers[0][0], x))[0] == np.float32(1e-3)  # the flush is real
    ref = reference_levels(layers, x, y)
    net = tuple(gb.Layer(jnp.asarray(W), jnp.asarray(b), a) for W, b, a in layers)
    found = check_against_reference(gb.hierarchy(net, jnp.asarray(x), jnp.asarray(y)), [ref], lambda i: act)
    assert not found, "\n".join(found)


def test_subnormal_weights_in_the_backward_pass_widen_the_products():
    """The network the thorough profile found: ``W^2`` of order 1e-37 in float32, one entry subnormal.  Its
    scaling ``2^{-f} W`` flushed that entry (3.5 % of the largest), so σ_min(W^2) and the level lower at layer
    1 were enclosed below the exact 10^-74.124 (hi = 10^-74.245)."""
    layers = [
        (
            np.array([[-1.3123337], [-0.37375745], [-0.5149955]], _F32),
            np.array([-1.3168138, 0.1854793, 1.7156471], _F32),
            "linear",
        ),
        (
            np.array(
                [
                    [-2.144021e-38, 3.2039479e-38, -2.9806035e-37],
                    [-4.3240503e-38, -4.758951e-39, 1.8193990e-37],
                    [-1.1694666e-37, 2.6237753e-38, 3.3366360e-37],
                ],
                _F32,
            ),
            np.array([3.911397e-38, -3.220459e-37, -5.856874e-38], _F32),
            "linear",
        ),
    ]
    assert ls.subnormal(jnp.asarray(layers[1][0])).any()
    x, y = np.array([-0.70192283], _F32), np.zeros(3, _F32)
    ref = reference_levels(layers, x, y)
    net = tuple(gb.Layer(jnp.asarray(W), jnp.asarray(b), a) for W, b, a in layers)
    for exact in ("never", "auto"):
        h = gb.hierarchy(net, jnp.asarray(x), jnp.asarray(y), exact=exact)
        found = check_against_reference(h, [ref], lambda i, exact=exact: exact)
        assert not found, "\n".join(found)


@pytest.mark.parametrize("where", ["x", "y", "b", "g"])
def test_subnormal_inputs_targets_biases_and_differences_are_error_terms(where):
    """Each place a subnormal enters, in float64 and against the reference: an input times a large weight, a
    target (``g = a − y`` read with ``y = 0``), a bias, and a difference ``a − y`` that is itself subnormal
    (two floats near ``tiny``, flushed as a result to an exact-looking ``g = 0``)."""
    t = float(np.finfo(np.float64).tiny)
    W1, b1, x, y = np.array([[1e300, 1.0]]), np.array([0.0]), np.array([t / 4, 1e-3]), np.array([0.5])
    if where == "y":
        W1, x, y = np.array([[1.0, 1.0]]), np.array([0.0, 0.0]), np.array([t / 8])
    elif where == "b":
        W1, x, b1, y = np.array([[1.0, 1.0]]), np.array([0.0, 0.0]), np.array([t / 2]), np.array([0.0])
    elif where == "g":  # a^1 = 1.5 tiny exactly, y = 1.5 tiny - tiny/8: the difference tiny/8 is flushed
        W1, x, y = np.array([[1.0, 0.5]]), np.array([t, t]), np.array([1.5 * t - t / 8])
    layers = [(W1, b1, "linear")]
    ref = reference_levels(layers, x, y)
    assert ref["positive"]["E"][0]  # the exact gradient is not zero
    net = tuple(gb.Layer(jnp.asarray(W), jnp.asarray(b), a) for W, b, a in layers)
    h = gb.hierarchy(net, jnp.asarray(x), jnp.asarray(y))
    found = check_against_reference(h, [ref], lambda i: where)
    assert not found, "\n".join(found)


def test_subnormal_is_a_bit_test():
    for dt in (jnp.float32, jnp.float64):
        t = float(jnp.finfo(dt).tiny)
        v = jnp.asarray([0.0, -0.0, t, -t, t / 2, -t / 4, 1.0, jnp.inf, jnp.nan], dt)
        np.testing.assert_array_equal(jax.jit(ls.subnormal)(v), [0, 0, 0, 0, 1, 1, 0, 0, 0])


def test_a_narrower_input_keeps_its_subnormals_when_cast():
    """Found in review: a float32 ``x`` into a float64 network (``sweep_drawn`` and ``levels`` take it) was cast
    with XLA's convert, which flushes a float32 subnormal (1e-40, a normal float64) to 0; the flush test then saw
    0.  With ``W = 1e30`` the enclosure of E was ``[-inf, -152.2]`` for an exact log10 E of -10.0000023."""
    from gradbounds.bounds._forward import exact_cast as _exact_cast

    x32 = np.array([1e-40, -3e-45, 1.5, 0.0, np.finfo(np.float32).tiny], np.float32)
    np.testing.assert_array_equal(
        jax.jit(lambda t: _exact_cast(t, jnp.float64))(jnp.asarray(x32)), x32.astype(np.float64)
    )
    layers = [(np.array([[1e30]]), np.array([0.0]), "linear"), (np.array([[1.0]]), np.array([0.0]), "linear")]
    x = np.array([1e-40], np.float32)
    ref = reference_levels(layers, x.astype(np.float64), np.zeros(1))

    def draw(start, stop, size):
        nets = tuple(
            gb.Layer(jnp.asarray(W)[None].repeat(size, 0), jnp.asarray(b)[None].repeat(size, 0), a)
            for W, b, a in layers
        )
        return nets, jnp.asarray(x)[None, None].repeat(size, 0), jnp.zeros((size, 1, 1))

    found = check_against_reference(gb.bounds.sweep_drawn(draw, 1), [ref], lambda i: "sweep_drawn")
    assert not found, "\n".join(found)
    with pytest.raises(ValueError, match="cast it with NumPy first"):
        _exact_cast(jnp.zeros(2, jnp.bfloat16), jnp.float32)  # bfloat16's subnormals are subnormal in float32
