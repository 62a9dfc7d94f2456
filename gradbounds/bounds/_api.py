"""The hierarchy of one network at its examples, or of a stack of networks: jitted, checked, sharded.

.. math::  L_l \\le E_l \\le P_l \\le J_l \\le D_l \\le G_l, \\quad l = 1..L.

References:
  docs/design.md §2; Nielsen, *Neural Networks and Deep Learning*, ch. 5;
  JAX documentation, "Distributed arrays and automatic parallelization".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from gradbounds import core
from gradbounds.bounds._attribution import coalition_values
from gradbounds.bounds._levels import LEVELS, Levels, _levels_core, _weight_stats, levels
from gradbounds.bounds._redecide import check_exact, redecide_mode
from gradbounds.bounds._result import Hierarchy
from gradbounds.bounds._verdicts import verdict_codes

__all__ = ["hierarchy", "sweep", "shard_networks", "log_error_norms"]


def _levels_examples(segs, x, y, cost):
    """Levels of one network at examples ``x`` ``(n, n_0)``: the weight norms once, then vmap (one example:
    no vmap, which halves the tracing of the large program; the numbers agree to rounding)."""
    u = float(jnp.finfo(segs[0].W.dtype).eps) / 2
    ws = _weight_stats(segs, u)
    if x.shape[0] == 1:
        one = _levels_core(segs, ws, x[0], y[0], cost=cost)
        return jax.tree_util.tree_map(lambda t: t[None], one)
    return jax.vmap(lambda xx, yy: _levels_core(segs, ws, xx, yy, cost=cost))(x, y)


# XLA's compile of the enclosed hierarchy is mostly LLVM compiling some 800 small kernels (about 20 s
# for the seed network with the default options).  Optimisation level 0, the older elemental emitter
# for fusions instead of the MLIR fusion emitters, and no expensive LLVM passes take it to about 8 s;
# the program then runs about 3x slower, which a few examples never notice.  So a few examples get the
# quickly compiled program and many the optimised one.  The two agree to about 1e-12 relative (not
# bitwise: the point values' last bits, and the emitters' tanh differs by an ulp); every enclosure is
# rigorous for either (the elementary functions' accuracy is tested under both option sets), and each
# program is deterministic.  These are XLA's options in jaxlib 0.10 (pyproject's floor); an XLA without one
# of them refuses the compile loudly, never silently (tests/core/test_programs.py).
FAST_COMPILE = {
    "xla_backend_optimization_level": 0,
    "xla_cpu_use_fusion_emitters": False,
    "xla_llvm_disable_expensive_passes": True,
}
FAST_COMPILE_EXAMPLES = 64


@core.stored_program(static_argnames=("cost",), compiler_options=FAST_COMPILE)
def _levels_batch(segs, x, y, cost):
    """The hierarchy at at most ``FAST_COMPILE_EXAMPLES`` examples: compiled at XLA optimisation level 0."""
    return _levels_examples(segs, x, y, cost)


@core.stored_program(static_argnames=("cost",))
def _levels_many(segs, x, y, cost):
    """The hierarchy at more examples: compiled with XLA's default optimisation."""
    return _levels_examples(segs, x, y, cost)


def _levels_program(n_examples: int) -> Callable:
    """The program for one network at ``n_examples`` examples."""
    return _levels_batch if n_examples <= FAST_COMPILE_EXAMPLES else _levels_many


def prepare_hierarchy(net: Sequence[Any], x: Any, y: Any, *, cost: str = "quadratic") -> bool:
    """Makes ready the program :func:`hierarchy` runs for a network and examples of these shapes.

    ``net``, ``x`` and ``y`` may be abstract (``jax.ShapeDtypeStruct`` leaves, as
    ``jax.eval_shape`` gives), so the program can be traced, exported and
    compiled on another thread while the arrays are still being drawn.  Only
    with a program store set (:func:`gradbounds.core.use_program_store`; the
    ``gradbounds`` command sets one); returns whether the program is ready.
    """
    segs = jax.eval_shape(core.segments, tuple(net))
    n = int(np.prod(x.shape[:-1], dtype=np.int64))
    xb = jax.ShapeDtypeStruct((n, x.shape[-1]), x.dtype)
    yb = jax.ShapeDtypeStruct((n, y.shape[-1]), y.dtype)
    return _levels_program(n).prepare(segs, xb, yb, core.get_cost(cost))


@partial(jax.jit, static_argnames=("cost",))
def _levels_sweep(segs, x, y, cost):
    return jax.vmap(lambda sg, xx, yy: _levels_examples(sg, xx, yy, cost))(segs, x, y)


def _start(net, cost) -> str:
    c = core.get_cost(cost)
    return c.start(net[-1].activation)


def _check_levels(lv: Levels) -> None:
    fin = np.asarray(lv.finite).reshape(-1, np.shape(lv.finite)[-1])
    bad_layers = np.where(~np.all(fin, axis=0))[0]
    if bad_layers.size:
        l = int(bad_layers[0]) + 1
        raise ValueError(f"layer {l}: z^{l} or σ'(z^{l}) is not finite (overflow in the forward pass?)")
    for name in ("lower",) + LEVELS:
        for side in ("lo_", "hi_"):
            enc = np.asarray(getattr(lv, side + name))
            if np.isnan(enc).any():
                l = int(np.argwhere(np.isnan(enc))[0][-1]) + 1
                raise ValueError(f"layer {l}: the enclosure of level {name} is NaN")
        arr = np.asarray(getattr(lv, name))
        bad = np.isnan(arr) | (arr == np.inf)
        if bad.any():
            l = int(np.argwhere(bad)[0][-1]) + 1
            raise ValueError(
                f"layer {l}: level {name} is {arr[tuple(np.argwhere(bad)[0])]} (a norm overflowed or was NaN, "
                "or log σ' at some layer is beyond the scaled products' exponent range, |log σ'| > 1.4e9: "
                "a pre-activation far out in a tail)"
            )


def _result(lv: Levels, net, widths, cost, batch: tuple, coalitions=None) -> Hierarchy:
    """The one place a :class:`Hierarchy` is built: checks the levels, decides the verdicts."""
    _check_levels(lv)
    start = _start(net, cost)
    lv = jax.tree_util.tree_map(np.asarray, lv)
    codes = np.array(verdict_codes(lv, start=start, widths=widths))
    return Hierarchy(
        lv,
        codes,
        widths,
        str(net[0].W.dtype),
        core.get_cost(cost).name,
        start,
        batch,
        coalitions,
    )


def _prepare(net, x, y):
    widths = core.validate_network(net)
    x, y = jnp.asarray(x), jnp.asarray(y)
    core.check_input(net, x, "x")
    core.check_input(net, y, "y", n=widths[-1])
    if x.shape[:-1] != y.shape[:-1]:
        raise ValueError(f"x and y: expected the same batch shape, got {x.shape[:-1]} and {y.shape[:-1]}")
    return widths, x, y


def hierarchy(
    net: Sequence[core.Layer],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "quadratic",
    exact: str = "never",
    coalitions: bool = False,
) -> Hierarchy:
    """The bound hierarchy for one network at one or many examples, with verdicts.

    .. math::  L_l \\le E_l \\le P_l \\le J_l \\le D_l \\le G_l, \\quad l = 1..L.

    Args:
      net: tuple of :class:`~gradbounds.Layer`.
      x: ``(n_0,)`` or ``(n, n_0)``.
      y: ``(n_L,)`` or ``(n, n_L)``.
      cost: ``"quadratic"``, ``"cross-entropy"`` (sigmoid output),
        ``"softmax-cross-entropy"`` (linear output, on logits) or a callable ``C(a, y)``.
      exact: re-decide inconclusive verdicts by proof in ball arithmetic
        (:func:`gradbounds.bounds.redecide_mode`): ``"never"`` (default: the
        float enclosures alone), ``"auto"`` (as ``gradbounds check`` does: when
        at most 16 examples need it, within a work limit) or ``"always"``.
      coalitions: also compute the value of every set of the four slack steps
        (:func:`gradbounds.bounds.coalition_values`; one more spectral norm per layer and
        example), which ``slack_log10(attribution="shapley")`` needs.

    Returns:
      :class:`Hierarchy`.

    Raises:
      ValueError, TypeError: bad shapes, dtypes, NaN or inf (naming the layer).

    References:
      docs/design.md §2; Nielsen ch. 5; the data-split bound (*) and the textbook bound (**).
    """
    check_exact(exact)
    widths, x, y = _prepare(net, x, y)
    net = tuple(net)
    single = x.ndim == 1
    xb, yb = x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1])
    lv = _levels_program(xb.shape[0])(core.segments(net), xb, yb, core.get_cost(cost))
    if single:  # on the host: jnp indexing would compile a program per leaf shape in a fresh process
        lv = jax.tree_util.tree_map(lambda t: np.asarray(t)[0], lv)
    co = coalition_values(net, x, y, lv.E, lv.P, cost=cost) if coalitions else None
    h = _result(lv, net, widths, cost, () if single else ("example",), co)
    return redecide_mode(h, net, x, y, cost=cost, exact=exact)


def shard_networks(tree: Any, devices: Sequence[Any] | None = None) -> Any:
    """Puts every array of ``tree`` on a 1-D device mesh, split along its leading (network) axis.

    The leading axis N is padded to a multiple of the number of devices by
    repeating the last entry (the padding is computed and dropped: every
    network's numbers are computed exactly as without sharding).  With one
    device the arrays are returned as they are.  ``devices`` defaults to
    ``jax.devices()`` (every GPU or TPU of the host, or the CPU devices that
    ``XLA_FLAGS=--xla_force_host_platform_device_count=K`` creates).

    .. math::  N \\mapsto \\lceil N / d \\rceil d,\\qquad \\text{shard } i = \\text{networks } [i N/d, (i+1) N/d).

    References:
      JAX documentation, "Distributed arrays and automatic parallelization"
      (``jax.sharding.NamedSharding`` over a ``Mesh``).
    """
    devices = list(jax.devices() if devices is None else devices)
    if len(devices) == 1:
        return tree
    leaves = jax.tree_util.tree_leaves(tree)
    n = leaves[0].shape[0]
    pad = -n % len(devices)
    if pad:
        tree = jax.tree_util.tree_map(lambda t: jnp.concatenate([t, jnp.repeat(t[-1:], pad, axis=0)]), tree)
    mesh = jax.sharding.Mesh(np.array(devices), ("network",))
    spec = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("network"))
    return jax.device_put(tree, spec)


def sweep(
    nets: Sequence[core.Layer],
    x: jax.Array | np.ndarray,
    y: jax.Array | np.ndarray,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "quadratic",
    exact: str = "never",
    coalitions: bool = False,
    progress: Callable[[int], Any] | None = None,
) -> Hierarchy:
    """The hierarchy for a stack of networks (leading axis N) at examples ``x``, ``y``.

    ``nets`` is a network whose arrays have a leading axis N (for example
    ``jax.vmap(init_network)`` over keys); ``x`` is ``(N, n, n_0)``; ``y``
    ``(N, n, n_L)``.  The computation is one ``jit(vmap(vmap(levels)))``,
    sharded over the network axis across every device of the host
    (:func:`shard_networks`): the same call runs on one CPU or on all GPUs,
    with the same numbers.  ``exact`` as in :func:`hierarchy` (over all
    networks: ``"auto"`` re-decides when at most 16 examples in all need it);
    ``coalitions=True``: as in :func:`hierarchy` (not sharded).

    ``progress``, when given, is called with the number of networks done after
    each chunk (a progress bar's ``update``): from ``PROGRESS_MIN_NETWORKS``
    networks on, the sweep then runs in ``PROGRESS_CHUNKS`` chunks of one size
    (the last padded by repeating its last network, so one program is compiled),
    each network's numbers exactly those of the single call.
    """
    check_exact(exact)
    nets = tuple(nets)
    first = jax.tree_util.tree_map(lambda t: t[0], nets)
    widths, _, _ = _prepare(first, x[0], y[0])
    for l, layer in enumerate(nets, start=1):
        core.check_finite(f"layer {l}: W", layer.W)
        core.check_finite(f"layer {l}: b", layer.b)
    core.check_finite("x", x)
    core.check_finite("y", y)
    n = x.shape[0]
    segs = core.segments(nets, batched=True)
    c = core.get_cost(cost)
    if progress is None or n < PROGRESS_MIN_NETWORKS:
        lv = _sweep_levels(segs, x, y, c)
    else:
        size = -(-n // PROGRESS_CHUNKS)
        parts = []
        for i in range(0, n, size):
            m = min(size, n - i)
            segs_c, x_c, y_c = jax.tree_util.tree_map(partial(_pad_rows, start=i, stop=i + m, size=size), (segs, x, y))
            parts.append(jax.tree_util.tree_map(partial(_head, m=m), _sweep_levels(segs_c, x_c, y_c, c)))
            progress(m)
        lv = jax.tree_util.tree_map(lambda *t: np.concatenate(t), *parts)
    if progress is not None and n < PROGRESS_MIN_NETWORKS:
        progress(n)
    co = None
    if coalitions:
        co = coalition_values(nets, x, y, lv.E, lv.P, cost=cost, stacked=True)
    h = _result(lv, first, widths, cost, ("network", "example"), co)
    return redecide_mode(h, nets, np.asarray(x), np.asarray(y), cost=cost, exact=exact, batched=True)


#: a sweep with a ``progress`` callback runs in this many chunks ...
PROGRESS_CHUNKS = 20
#: ... when it has at least this many networks (fewer: one call, then ``progress(n)``).
PROGRESS_MIN_NETWORKS = 64


def _pad_rows(t, *, start: int, stop: int, size: int):
    """Rows ``start:stop`` of ``t``, padded to ``size`` rows by repeating the last."""
    t = t[start:stop]
    pad = size - t.shape[0]
    return t if pad == 0 else jnp.concatenate([t, jnp.repeat(t[-1:], pad, axis=0)])


def _head(t, *, m: int) -> np.ndarray:
    """The first ``m`` rows of ``t`` as NumPy (waits for the computation)."""
    return np.asarray(t[:m])


def _sweep_levels(segs, x, y, cost) -> Levels:
    """The levels of networks ``segs`` (leading axis N) sharded over the devices, the padding dropped."""
    n = x.shape[0]
    segs, x, y = shard_networks((segs, x, y))
    lv = _levels_sweep(segs, x, y, cost)
    if x.shape[0] == n:  # no padding: no slicing (one eager op per level costs more than a small sweep)
        return lv
    return jax.tree_util.tree_map(lambda t: t[:n], lv)


def log_error_norms(
    net: Sequence[core.Layer],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "quadratic",
) -> jax.Array:
    """``log ‖δ^l‖`` for l = 1..L (natural log) by rescaled backpropagation.

    .. math::

       v^L = δ^L/\\|δ^L\\|,\\quad w = Σ'(z^l)(W^{l+1})^T v^{l+1},\\quad
       \\log\\|δ^l\\| = \\log\\|δ^{l+1}\\| + \\log\\|w\\|,\\quad v^l = w/\\|w\\|.

    The level ``E`` of :func:`levels`, computed by the same scan: depth
    10,000 gives finite logs where plain backprop returns 0.

    References:
      Nielsen ch. 2 (BP1, BP2); rescaling as in the power method
      (Golub & Van Loan 2013, §7.3.1), so no product under- or overflows.
    """
    return levels(net, x, y, cost=cost).E
