"""Residual blocks ``h ↦ h + F(h)`` inside a network, the forward pass over blocks, the block Jacobian.

A *block network* is a tuple whose elements ("blocks", ``k = 1..K``) are
either a plain :class:`~gradbounds.Layer` (``h ↦ σ(Wh + b)``, any widths) or
a :class:`Residual` block (``h ↦ h + F(h)``, ``F`` a stack of layers from
width ``n`` back to ``n``).  With ``h^0 = x`` and ``h^k`` the output of block
``k``, the Jacobian of a residual block is, in closed form,

.. math::

   T^k = \\frac{∂h^k}{∂h^{k-1}} = I + J_F(h^{k-1}), \\qquad
   J_F = Σ'(z_m)W_m\\,Σ'(z_{m-1})W_{m-1} ⋯ Σ'(z_1)W_1,

with ``z_i = W_i a_{i-1} + b_i``, ``a_0 = h^{k-1}``, ``a_i = σ_i(z_i)`` the
branch's own forward pass (``m`` layers).  This is the identity path of
He et al. (2016b, eq. 5), ``∂C/∂h^{k-1} = (I + J_F)^T ∂C/∂h^k``: the
gradient reaches every block through the identity whatever ``J_F`` does.

The error of a block (what the hierarchy of :mod:`gradbounds.residual` bounds)
is ``e^k = ∂C/∂z^k = ∂C/∂b^k = δ^k`` for a plain layer (as in
:func:`gradbounds.hierarchy`) and ``e^k = ∂C/∂h^k``, the gradient of the
residual stream after the block (equal to the gradient of a bias added to the
block's output), for a residual block.

References:
  He, Zhang, Ren & Sun 2016, "Deep residual learning for image recognition",
  CVPR (eq. 1); He, Zhang, Ren & Sun 2016b, "Identity mappings in deep
  residual networks", ECCV (eq. 4–5); Nielsen, ch. 2 (notation, BP1–BP3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from gradbounds import core

__all__ = [
    "Residual",
    "Block",
    "init_residual",
    "validate_blocks",
    "block_widths",
    "block_forward",
    "block_jacobian",
    "forward_blocks",
    "block_errors_autodiff",
]


@dataclass(frozen=True)
class Residual:
    """A residual block ``h ↦ h + F(h)``: ``F`` is ``layers`` applied in order, from width ``n`` back to ``n``.

    .. math:: h^k = h^{k-1} + F(h^{k-1}),\\qquad F = f_m ∘ ⋯ ∘ f_1,\\quad f_i(a) = σ_i(W_i a + b_i).

    A registered pytree (its leaves are the layers' ``W`` and ``b``), so ``jit``,
    ``vmap`` and ``grad`` act on networks that hold it.  Widths are checked by
    :func:`validate_blocks` (and every function that takes a network), not here.

    Attributes:
      layers: the branch ``F``, a tuple of :class:`~gradbounds.Layer`.

    References:
      He et al. 2016, CVPR, eq. (1); He et al. 2016b, ECCV, eq. (1)–(2).
    """

    layers: tuple

    def __post_init__(self):
        if isinstance(self.layers, list):
            object.__setattr__(self, "layers", tuple(self.layers))

    @property
    def width(self) -> int:
        """``n``, the width of the stream the block adds to."""
        return int(self.layers[0].W.shape[-1])


jax.tree_util.register_dataclass(Residual, data_fields=["layers"], meta_fields=[])

Block = core.Layer | Residual
"""One element of a block network: a plain layer or a residual block."""


def init_residual(
    key: jax.Array,
    width: int,
    blocks: int,
    *,
    block_layers: int = 2,
    activation: str | Callable | Sequence[str | Callable] = "tanh",
    init: str = "gaussian",
    sw2: float = 1.0,
    sb2: float = 0.0,
    branch_scale: float = 1.0,
    dtype: DTypeLike | None = None,
) -> tuple[Residual, ...]:
    """``blocks`` residual blocks of width ``width``, each a branch of ``block_layers`` layers.

    Each branch is drawn by :func:`gradbounds.init_network` (``init``, ``sw2``,
    ``sb2``, ``activation``: one name, or one per branch layer) and its last
    layer's ``W`` and ``b`` are multiplied by ``branch_scale`` (``0`` is the
    identity network).  With branch norms ``c_k ≈ ‖J_{F_k}‖``: ``1/blocks``
    keeps ``Σ_k c_k`` bounded in depth, and with it the bound ``G ≤ e^{Σc}‖g‖``
    and the floor (Hardt & Ma 2017 use ``‖A_i‖ = O(1/L)``); ``1/√blocks``
    keeps only ``Σ_k c_k²`` bounded (the Fixup choice, Zhang et al. 2019): the
    gradient itself typically stays O(1), but ``Σ_k c_k = O(√blocks)``, so the
    bound and the floor drift apart like ``exp(±c√blocks)`` (docs/design.md §2.5).
    Prepend and append plain layers (``gradbounds.init_network``) for an input
    and a read-out.

    .. math:: h^k = h^{k-1} + F_k(h^{k-1}),\\quad k = 1..\\text{blocks}.

    References:
      He et al. 2016, CVPR; Hardt & Ma 2017, ICLR; Zhang, Dauphin & Ma 2019, ICLR (Fixup).
    """
    if not (isinstance(blocks, int) and blocks >= 1 and isinstance(block_layers, int) and block_layers >= 1):
        raise ValueError(f"blocks and block_layers: expected ints >= 1, got {blocks!r} and {block_layers!r}")
    if not math.isfinite(branch_scale):
        raise ValueError(f"branch_scale: expected a finite number, got {branch_scale}")
    if isinstance(activation, str) or callable(activation):
        acts = [activation] * (blocks * block_layers)
    else:
        acts = list(activation)
        if len(acts) != block_layers:
            raise ValueError(f"activation: expected one name or {block_layers} (one per branch layer), got {len(acts)}")
        acts = acts * blocks
    # one draw for every branch layer (one loop of eager ops, not one per block)
    layers = core.init_network(
        key, (width,) * (blocks * block_layers + 1), activation=acts, init=init, sw2=sw2, sb2=sb2, dtype=dtype
    )
    out = []
    for i in range(blocks):
        branch = layers[i * block_layers : (i + 1) * block_layers]
        last = branch[-1]
        last = core.Layer(last.W * branch_scale, last.b * branch_scale, last.activation)
        out.append(Residual(branch[:-1] + (last,)))
    return tuple(out)


def validate_blocks(net: Sequence[Block]) -> tuple[int, ...]:
    """Checks a block network: kinds, widths, dtypes, finiteness; returns the stream widths ``(n_0, …, n_K)``.

    .. math:: n_k = n_{k-1} \\text{ for a residual block } k.

    Raises:
      TypeError: a block that is neither a Layer nor a Residual, or mixed dtypes (``block k: expected …, got …``).
      ValueError: an empty network or branch, a branch that does not return to its input width, a width
        mismatch between blocks, NaN or inf (``block k: expected …, got …``).

    References:
      docs/design.md §3.6 (errors, never verdicts); He et al. 2016, CVPR, eq. (1) (``F`` keeps the width).
    """
    net = tuple(net)
    if not net:
        raise ValueError("network: expected at least one block, got 0")
    ws: list[int] = []
    dtype = None
    for k, blk in enumerate(net, start=1):
        if isinstance(blk, core.Layer):
            layers: tuple = (blk,)
        elif isinstance(blk, Residual):
            layers = tuple(blk.layers)
            if not layers:
                raise ValueError(f"block {k}: expected a residual branch of at least one layer, got 0")
        else:
            raise TypeError(f"block {k}: expected a Layer or a Residual, got {type(blk).__name__}")
        try:
            inner = core.validate_network(layers)
        except (TypeError, ValueError) as e:
            where = "residual branch, " if isinstance(blk, Residual) else ""
            raise type(e)(f"block {k}: {where}{e}") from None
        if isinstance(blk, Residual) and inner[-1] != inner[0]:
            raise ValueError(
                f"block {k}: expected a residual branch from width {inner[0]} back to width {inner[0]}, "
                f"got widths {list(inner)}"
            )
        if ws and inner[0] != ws[-1]:
            raise ValueError(f"block {k}: expected input width {ws[-1]} (block {k - 1}'s output), got {inner[0]}")
        if not ws:
            ws.append(inner[0])
        ws.append(inner[-1])
        if dtype is None:
            dtype = layers[0].W.dtype
        elif layers[0].W.dtype != dtype:
            raise TypeError(f"block {k}: expected dtype {dtype} (as block 1), got {layers[0].W.dtype}")
    return tuple(ws)


def block_widths(net: Sequence[Block]) -> tuple[int, ...]:
    """``(n_0, …, n_K)``: the width of the stream before the first block and after each block (no checks).

    .. math:: n_k = n_{k-1} \\text{ (residual block)},\\qquad n_k = \\text{rows of } W^k \\text{ (plain layer)}.

    References:
      He et al. 2016, CVPR, eq. (1).
    """
    net = tuple(net)
    first = net[0].layers[0] if isinstance(net[0], Residual) else net[0]
    out = [int(first.W.shape[-1])]
    for blk in net:
        out.append(out[-1] if isinstance(blk, Residual) else int(blk.W.shape[0]))
    return tuple(out)


def _branch(block: Residual, h):
    """The branch's forward pass: ``(zs, a_m)``."""
    zs, a = [], h
    for layer in block.layers:
        z = layer.W @ a + layer.b
        a = layer.act.fn(z)
        zs.append(z)
    return tuple(zs), a


def block_forward(block: Block, h: ArrayLike) -> jax.Array:
    """One block: ``h + F(h)`` for a :class:`Residual`, ``σ(Wh + b)`` for a plain layer.

    .. math:: h^k = h^{k-1} + F(h^{k-1}) \\quad\\text{or}\\quad h^k = σ(W h^{k-1} + b).

    References:
      He et al. 2016, CVPR, eq. (1).
    """
    h = jnp.asarray(h)
    if isinstance(block, Residual):
        return h + _branch(block, h)[1]
    return block.act.fn(block.W @ h + block.b)


def block_jacobian(block: Block, h: ArrayLike) -> jax.Array:
    """``∂h^k/∂h^{k-1}`` in closed form: ``I + Σ'(z_m)W_m ⋯ Σ'(z_1)W_1`` (residual) or ``Σ'(z)W`` (plain layer).

    .. math:: T^k = I + J_F(h^{k-1}),\\qquad J_F = \\prod_{i=m}^{1} Σ'(z_i)W_i.

    The tests check it against ``jax.jacfwd`` and ``jax.jacrev`` of :func:`block_forward`.

    References:
      He et al. 2016b, ECCV, eq. (4)–(5).
    """
    if not isinstance(block, Residual):
        z = block.W @ h + block.b
        return block.act.deriv(z)[:, None] * block.W
    eye = jnp.eye(block.width, dtype=block.layers[0].W.dtype)
    a, jf = h, eye
    for i, layer in enumerate(block.layers):
        z = layer.W @ a + layer.b
        jf = layer.act.deriv(z)[:, None] * (layer.W if i == 0 else layer.W @ jf)
        a = layer.act.fn(z)
    return eye + jf


def forward_blocks(net: Sequence[Block], x: ArrayLike) -> tuple[jax.Array, ...]:
    """``(h^0, h^1, …, h^K)``: the stream before the first block and after every block (``h^0 = x``).

    .. math:: h^0 = x,\\qquad h^k = \\text{block}_k(h^{k-1}).

    References:
      He et al. 2016, CVPR, eq. (1).
    """
    hs = [jnp.asarray(x)]
    for blk in net:
        hs.append(block_forward(blk, hs[-1]))
    return tuple(hs)


def _check_cost(net, cost) -> core.Cost:
    """The cost, refused (``block K: …``) where it is not defined for the last block's output.

    After a residual block a cost that needs a particular output activation is refused (``h + F(h)`` is
    unbounded); after a plain layer :func:`gradbounds.core.check_cost_defined` decides (cross-entropy after a
    tanh output would give NaN gradients, silently, in :func:`block_errors_autodiff`).
    """
    c = core.get_cost(cost)
    last, K = net[-1], len(net)
    if isinstance(last, Residual):
        if c.outputs is not None and "linear" not in c.outputs:
            raise ValueError(
                f"block {K}: cost {c.name} needs {c.domain}; expected a last plain layer with activation "
                f"{' or '.join(c.outputs)}, got a residual block (its output h + F(h) is unbounded)"
            )
        return c
    try:
        core.check_cost_defined(c, last.act)
    except ValueError as e:
        raise ValueError(f"block {K}: {e}") from None
    return c


def block_errors_autodiff(
    net: Sequence[Block],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "quadratic",
) -> tuple[jax.Array, ...]:
    """The errors ``e^1, …, e^K`` by ``jax.grad``: ``∂C/∂b^k`` (plain layer), ``∂C/∂h^k`` (residual block).

    A zero probe ``p^k`` is added to ``z^k`` (plain layer: the same as its
    bias) or to ``h^k`` (residual block), and the gradient taken with respect
    to the probes.  The cost of the last block is :meth:`gradbounds.core.Cost.value`
    of a plain output layer, or ``C(h^K, y)`` after a residual block.

    .. math:: e^k = \\frac{∂C}{∂b^k} = δ^k \\ \\text{(plain)},\\qquad e^k = \\frac{∂C}{∂h^k}\\ \\text{(residual)}.

    References:
      Nielsen ch. 2 (BP3); He et al. 2016b, ECCV, eq. (5).
    """
    net = tuple(net)
    c = _check_cost(net, cost)
    x, y = jnp.asarray(x), jnp.asarray(y)

    def loss(probes):
        h, z = x, None
        for blk, p in zip(net, probes):
            if isinstance(blk, Residual):
                h, z = h + _branch(blk, h)[1] + p, None
            else:
                z = blk.W @ h + blk.b + p
                h = blk.act.fn(z)
        last = net[-1]
        if isinstance(last, Residual):
            return c.fn(h, y)
        assert z is not None
        return c.value(z, h, y, last.activation)

    widths = block_widths(net)[1:]
    probes = tuple(jnp.zeros((n,), x.dtype) for n in widths)
    return tuple(jax.grad(loss)(probes))
