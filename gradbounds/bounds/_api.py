"""The hierarchy of one network at its examples, or of a stack of networks: jitted, checked, sharded.

.. math::  L_l \\le E_l \\le P_l \\le J_l \\le D_l \\le G_l, \\quad l = 1..L.

References:
  docs/design.md §2; Nielsen, *Neural Networks and Deep Learning*, ch. 5;
  JAX documentation, "Distributed arrays and automatic parallelization".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from gradbounds import core, linalg
from gradbounds.bounds._attribution import coalition_values
from gradbounds.bounds._levels import LEVELS, Levels, _levels_core, _weight_stats, levels
from gradbounds.bounds._redecide import check_exact, redecide_mode
from gradbounds.bounds._result import Hierarchy
from gradbounds.bounds._verdicts import verdict_codes

__all__ = ["hierarchy", "sweep", "sweep_drawn", "shard_networks", "log_error_norms"]


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
    """The hierarchy at at most ``FAST_COMPILE_EXAMPLES`` examples: compiled at XLA optimisation level 0,
    its Sturm recurrences as loops (bitwise the same numbers; 11 % fewer kernels for the seed network)."""
    with linalg.sturm_loops():
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
                "or a product of scaled factors overflowed)"
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
    network's numbers are computed as without sharding, though by a program
    for a smaller batch, which may round the last bit differently).  With one
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
    threads: int | None = None,
) -> Hierarchy:
    """The hierarchy for a stack of networks (leading axis N) at examples ``x``, ``y``.

    ``nets`` is a network whose arrays have a leading axis N (for example
    ``jax.vmap(init_network)`` over keys); ``x`` is ``(N, n, n_0)``; ``y``
    ``(N, n, n_L)``.  The computation is one ``jit(vmap(vmap(levels)))``,
    sharded over the network axis across every device of the host
    (:func:`shard_networks`): the same call runs on one CPU or on all GPUs,
    with the same numbers to rounding.  ``exact`` as in :func:`hierarchy` (over all
    networks: ``"auto"`` re-decides when at most 16 examples in all need it);
    ``coalitions=True``: as in :func:`hierarchy` (not sharded).

    From ``PROGRESS_MIN_NETWORKS`` networks on, the sweep runs as
    :func:`sweep_drawn` does, in ``PROGRESS_CHUNKS`` chunks of one size (the
    last padded by repeating its last network, so one program is compiled),
    ``threads`` of them at once (default: :func:`default_threads`, the CPU
    cores, at most 4; one on a GPU or TPU): on the CPU one sweep keeps about
    one core busy.  ``progress``, when given, is called with the number of
    networks done after each chunk (a progress bar's ``update``; fewer
    networks: once, at the end).  The numbers depend on N only: with any
    ``threads`` and with or without ``progress`` they are bitwise the same.
    (XLA compiles a program per batch size, and programs for different sizes
    may round the last bit differently, so they are not bitwise those of one
    call on all N networks, nor of :func:`hierarchy` on one network; every
    enclosure is rigorous either way.)
    """
    check_exact(exact)
    nets = tuple(nets)
    first = jax.tree_util.tree_map(lambda t: t[0], nets)
    widths, _, _ = _prepare(first, x[0], y[0])
    n = x.shape[0]
    threads = default_threads() if threads is None else _check_threads(threads)
    c = core.get_cost(cost)
    if n >= PROGRESS_MIN_NETWORKS:

        def rows(start: int, stop: int, size: int):
            return jax.tree_util.tree_map(partial(_pad_rows, start=start, stop=stop, size=size), (nets, x, y))

        lv, _, _, _ = _chunked_levels(rows, n, c, progress=progress, threads=threads)
    else:
        _check_finite(nets, x, y)
        lv = _sweep_levels(core.segments(nets, batched=True), x, y, c)
        if progress is not None:
            progress(n)
    co = None
    if coalitions:
        co = coalition_values(nets, x, y, lv.E, lv.P, cost=cost, stacked=True)
    h = _result(lv, first, widths, cost, ("network", "example"), co)
    return redecide_mode(h, nets, np.asarray(x), np.asarray(y), cost=cost, exact=exact, batched=True)


def sweep_drawn(
    draw: Callable[[int, int, int], tuple[Sequence[core.Layer], Any, Any]],
    n: int,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "quadratic",
    exact: str = "never",
    progress: Callable[[int], Any] | None = None,
    threads: int | None = None,
) -> Hierarchy:
    """The hierarchy of ``n`` networks that ``draw`` supplies chunk by chunk, several chunks at once.

    ``draw(start, stop, size)`` returns ``(nets, x, y)`` with ``size`` rows
    (leading axis, as for :func:`sweep`): rows ``0 .. stop − start − 1`` are
    networks ``start .. stop − 1`` and their examples, the rest pad the last
    chunk (any finite networks of the same shapes, for example repeats of the
    last).  From ``PROGRESS_MIN_NETWORKS`` networks on, the ``n`` networks are cut into
    ``PROGRESS_CHUNKS`` chunks of one size (one compiled program; fewer networks are one
    chunk), and ``threads`` chunks (default:
    :func:`default_threads`) are drawn and swept at once, each on its own
    thread: on the CPU one sweep keeps about one core busy (its small LAPACK
    calls run one matrix at a time), drawing the next chunk overlaps sweeping
    this one, and no more than ``threads`` chunks of networks are held at a
    time (``gradbounds check --networks N`` draws its networks this way).
    Every network's numbers are bitwise those of :func:`sweep` on the stacked
    networks.

    ``draw`` is called from worker threads and must give the same networks
    every time: an open example that ``exact`` re-decides (as in
    :func:`sweep`) has its network drawn again, ``draw(k, k + 1, size)``.
    ``progress`` as in :func:`sweep`.  The examples of all networks are kept
    (the result's re-decision needs them); the networks are not.
    """
    check_exact(exact)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a number of networks >= 1, got {n!r}")
    threads = default_threads() if threads is None else _check_threads(threads)
    c = core.get_cost(cost)
    lv, first, x, y = _chunked_levels(draw, int(n), c, progress=progress, threads=threads)
    widths = core.validate_network(first)
    h = _result(lv, first, widths, cost, ("network", "example"), None)
    size = _chunk_size(int(n))

    def network(k: int):
        nets, _, _ = draw(k, k + 1, size)
        return jax.tree_util.tree_map(lambda t: t[0], tuple(nets))

    return redecide_mode(h, network, x, y, cost=cost, exact=exact, batched=True)


def default_threads() -> int:
    """How many chunks a large sweep runs at once: the CPU cores this process may use, at most
    ``MAX_THREADS``; one on a GPU or TPU (there the network axis is sharded over the devices instead)."""
    if jax.default_backend() != "cpu":
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_THREADS))


def _check_threads(threads: Any) -> int:
    if not isinstance(threads, (int, np.integer)) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads: expected an int >= 1, got {threads!r}")
    return int(threads)


def _check_finite(nets, x, y) -> None:
    for l, layer in enumerate(nets, start=1):
        core.check_finite(f"layer {l}: W", layer.W)
        core.check_finite(f"layer {l}: b", layer.b)
    core.check_finite("x", x)
    core.check_finite("y", y)


def _chunk_size(n: int) -> int:
    return n if n < PROGRESS_MIN_NETWORKS else -(-n // PROGRESS_CHUNKS)


def _chunked_levels(draw, n: int, c, *, progress, threads: int):
    """Levels of ``n`` networks from ``draw`` in chunks, ``threads`` at once; with the first network and
    every example (NumPy).  A failure in any chunk is raised here, and the chunks not started are dropped."""
    size = _chunk_size(n)
    # a `with jax.enable_x64(...)` around the call holds on this thread only: the workers take its value (with
    # another, a float64 network would be cut to float32 silently)
    x64 = bool(jax.config.read("jax_enable_x64"))

    def chunk(start: int):
        stop = min(start + size, n)
        with jax.enable_x64(x64):
            nets, x, y = draw(start, stop, size)
            nets = tuple(nets)
            _check_finite(nets, x, y)
            lv = _sweep_levels(core.segments(nets, batched=True), x, y, c)
        first = jax.tree_util.tree_map(lambda t: np.asarray(t)[0], nets) if start == 0 else None
        m = stop - start
        return jax.tree_util.tree_map(partial(_head, m=m), lv), first, np.asarray(x)[:m], np.asarray(y)[:m], m

    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gradbounds-sweep")
    try:
        futures = [pool.submit(chunk, start) for start in range(0, n, size)]
        parts = []
        for f in futures:  # in order: the progress callback runs on this thread
            parts.append(f.result())
            if progress is not None:
                progress(parts[-1][-1])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    lv = jax.tree_util.tree_map(lambda *t: np.concatenate(t), *[p[0] for p in parts])
    x = np.concatenate([p[2] for p in parts])
    y = np.concatenate([p[3] for p in parts])
    return lv, parts[0][1], x, y


#: a sweep runs in this many chunks (on several threads, with a progress bar's update after each) ...
PROGRESS_CHUNKS = 20
#: ... when it has at least this many networks (fewer: one call)
PROGRESS_MIN_NETWORKS = 64
#: the most chunks :func:`default_threads` runs at once
MAX_THREADS = 4


def _pad_rows(t, *, start: int, stop: int, size: int):
    """Rows ``start:stop`` of ``t``, padded to ``size`` rows by repeating the last.  On the CPU in NumPy (a
    view, copied only to pad, and no program compiled for the slices); elsewhere on the device."""
    xp = np if isinstance(t, np.ndarray) or jax.default_backend() == "cpu" else jnp
    t = xp.asarray(t)[start:stop]
    pad = size - t.shape[0]
    return t if pad == 0 else xp.concatenate([t, xp.repeat(t[-1:], pad, axis=0)])


def _head(t, *, m: int) -> np.ndarray:
    """The first ``m`` rows of ``t`` as NumPy (waits for the computation; no program is compiled)."""
    return np.asarray(t)[:m]


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
