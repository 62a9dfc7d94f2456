"""Recurrent cells with PyTorch's equations, parameter names and gate order, and their state Jacobians.

A :class:`Cell` holds one layer of ``torch.nn.RNN``, ``torch.nn.LSTM`` or
``torch.nn.GRU`` (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``; the
gates stacked in PyTorch's order) and a linear readout ``W_out``, ``b_out``.
The state ``s_t`` is ``h_t`` (plain, GRU) or ``(h_t, c_t)`` concatenated
(LSTM, size ``2H``).  The equations (PyTorch documentation of ``nn.RNN``,
``nn.LSTM``, ``nn.GRU``):

.. math::

   \\text{plain:}\\quad h_t = σ(W_{ih}x_t + b_{ih} + W_{hh}h_{t-1} + b_{hh})\\quad(σ = \\tanh\\ \\text{by default}),

   \\text{LSTM:}\\quad (i, f, g, o) = (\\mathrm{sig}, \\mathrm{sig}, \\tanh, \\mathrm{sig})(W_{ih}x_t + b_{ih} + W_{hh}h_{t-1} + b_{hh}),
   \\quad c_t = f ⊙ c_{t-1} + i ⊙ g,\\quad h_t = o ⊙ \\tanh c_t,

   \\text{GRU:}\\quad r, z = \\mathrm{sig}(W_{i\\cdot}x_t + b_{i\\cdot} + W_{h\\cdot}h_{t-1} + b_{h\\cdot}),\\quad
   n = \\tanh(W_{in}x_t + b_{in} + r ⊙ (W_{hn}h_{t-1} + b_{hn})),\\quad h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}.

The state Jacobians ``∂s_t/∂s_{t−1}`` in closed form (:func:`state_jacobian`):
plain ``diag(σ'(z_t)) W_hh``; LSTM, with ``W_i, W_f, W_g, W_o`` the row blocks
of ``W_hh`` and ``τ = tanh c_t``,

.. math::

   \\frac{∂c_t}{∂h_{t-1}} = \\mathrm{diag}(c_{t-1}f')W_f + \\mathrm{diag}(g\\,i')W_i + \\mathrm{diag}(i\\,g')W_g,\\quad
   \\frac{∂c_t}{∂c_{t-1}} = \\mathrm{diag}(f),

   \\frac{∂h_t}{∂h_{t-1}} = \\mathrm{diag}(τ\\,o')W_o + \\mathrm{diag}(o(1 − τ^2))\\frac{∂c_t}{∂h_{t-1}},\\quad
   \\frac{∂h_t}{∂c_{t-1}} = \\mathrm{diag}(o(1 − τ^2)f);

GRU, with ``m = W_hn h + b_hn``:

.. math::

   \\frac{∂h_t}{∂h_{t-1}} = \\mathrm{diag}((1 − z)n')\\,[\\mathrm{diag}(m\\,r')W_r + \\mathrm{diag}(r)W_n]
   + \\mathrm{diag}((h_{t-1} − n)z')W_z + \\mathrm{diag}(z),

where ``x' `` is the derivative of the gate's own activation at its pre-activation.

References:
  PyTorch documentation, ``torch.nn.RNN``, ``torch.nn.LSTM``, ``torch.nn.GRU``
  (equations, parameter names, gate order); Hochreiter & Schmidhuber 1997
  (LSTM); Cho et al. 2014 (GRU); Pascanu, Mikolov & Bengio 2013, "On the
  difficulty of training recurrent neural networks", ICML (eq. 5–7: the
  product of state Jacobians in backpropagation through time).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradbounds import core

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
"""Height of the gate stack, in units of ``H``, per cell kind (PyTorch's order: LSTM i, f, g, o; GRU r, z, n)."""


@dataclasses.dataclass(frozen=True)
class Cell:
    """One recurrent layer and its linear readout (a JAX pytree; ``kind`` and ``activation`` are static).

    Attributes:
      kind: ``"rnn"``, ``"lstm"`` or ``"gru"``.
      activation: σ of the plain cell by registry name (``tanh``); gates use sigmoid and tanh.
      weight_ih: ``(G·H, n_in)`` with ``G`` = 1, 4, 3.
      weight_hh: ``(G·H, H)``.
      bias_ih, bias_hh: ``(G·H,)``.
      W_out: ``(n_out, H)``; b_out ``(n_out,)``.
      h0: ``(H,)``; c0 ``(H,)`` (LSTM; zeros otherwise).
    """

    kind: str
    activation: str
    weight_ih: jax.Array
    weight_hh: jax.Array
    bias_ih: jax.Array
    bias_hh: jax.Array
    W_out: jax.Array
    b_out: jax.Array
    h0: jax.Array
    c0: jax.Array

    @property
    def hidden(self) -> int:
        """``H``."""
        return int(self.weight_hh.shape[-1])

    @property
    def state_size(self) -> int:
        """``H``, or ``2H`` for the LSTM (``(h, c)``)."""
        return 2 * self.hidden if self.kind == "lstm" else self.hidden

    @property
    def dtype(self):
        """The parameters' dtype."""
        return self.weight_hh.dtype

    def initial_state(self) -> jax.Array:
        """``s_0``: ``h0``, or ``(h0, c0)`` for the LSTM."""
        return jnp.concatenate([self.h0, self.c0]) if self.kind == "lstm" else self.h0


_DATA = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "W_out", "b_out", "h0", "c0")
jax.tree_util.register_dataclass(Cell, data_fields=list(_DATA), meta_fields=["kind", "activation"])


def _sig(x):
    return jax.nn.sigmoid(x)


def _preacts(cell: Cell, s, x):
    H = cell.hidden
    h = s[:H]
    return cell.weight_ih @ x + cell.bias_ih, cell.weight_hh @ h + cell.bias_hh


def step(cell: Cell, s: jax.Array, x: jax.Array) -> jax.Array:
    """``s_t`` from ``s_{t−1}`` and ``x_t`` (PyTorch's equations, module docstring)."""
    H = cell.hidden
    a_i, a_h = _preacts(cell, s, x)
    if cell.kind == "rnn":
        return core.get_activation(cell.activation).fn(a_i + a_h)
    if cell.kind == "lstm":
        a = a_i + a_h
        i, f, o = _sig(a[:H]), _sig(a[H : 2 * H]), _sig(a[3 * H :])
        g = jnp.tanh(a[2 * H : 3 * H])
        c = f * s[H:] + i * g
        return jnp.concatenate([o * jnp.tanh(c), c])
    r = _sig(a_i[:H] + a_h[:H])
    z = _sig(a_i[H : 2 * H] + a_h[H : 2 * H])
    n = jnp.tanh(a_i[2 * H :] + r * a_h[2 * H :])
    return (1 - z) * n + z * s


def state_jacobian(cell: Cell, s: jax.Array, x: jax.Array) -> jax.Array:
    """``∂s_t/∂s_{t−1}`` at ``(s_{t−1}, x_t)`` in closed form (module docstring), ``(S, S)``."""
    H = cell.hidden
    W = cell.weight_hh
    a_i, a_h = _preacts(cell, s, x)
    if cell.kind == "rnn":
        return core.get_activation(cell.activation).deriv(a_i + a_h)[:, None] * W
    if cell.kind == "lstm":
        a = a_i + a_h
        i, f, o = _sig(a[:H]), _sig(a[H : 2 * H]), _sig(a[3 * H :])
        g = jnp.tanh(a[2 * H : 3 * H])
        c_prev = s[H:]
        c = f * c_prev + i * g
        tau = jnp.tanh(c)
        dc_dh = (
            (c_prev * f * (1 - f))[:, None] * W[H : 2 * H]
            + (g * i * (1 - i))[:, None] * W[:H]
            + (i * (1 - g * g))[:, None] * W[2 * H : 3 * H]
        )
        oc = o * (1 - tau * tau)
        dh_dh = (tau * o * (1 - o))[:, None] * W[3 * H :] + oc[:, None] * dc_dh
        top = jnp.concatenate([dh_dh, jnp.diag(oc * f)], axis=1)
        bottom = jnp.concatenate([dc_dh, jnp.diag(f)], axis=1)
        return jnp.concatenate([top, bottom], axis=0)
    r = _sig(a_i[:H] + a_h[:H])
    z = _sig(a_i[H : 2 * H] + a_h[H : 2 * H])
    m = a_h[2 * H :]
    n = jnp.tanh(a_i[2 * H :] + r * m)
    dn = (1 - z) * (1 - n * n)
    return (
        dn[:, None] * ((m * r * (1 - r))[:, None] * W[:H] + r[:, None] * W[2 * H :])
        + ((s - n) * z * (1 - z))[:, None] * W[H : 2 * H]
        + jnp.diag(z)
    )


def run(cell: Cell, xs: jax.Array) -> jax.Array:
    """The states ``s_0, …, s_T`` for inputs ``xs`` of shape ``(T, n_in)``: ``(T + 1, S)``."""

    def f(s, x):
        s2 = step(cell, s, x)
        return s2, s2

    s0 = cell.initial_state()
    _, ss = jax.lax.scan(f, s0, xs)
    return jnp.concatenate([s0[None], ss])


def readout(cell: Cell, s: jax.Array) -> jax.Array:
    """``W_out h + b_out`` of a state."""
    return cell.W_out @ s[: cell.hidden] + cell.b_out


def loss(cell: Cell, xs: jax.Array, y: jax.Array) -> jax.Array:
    """``C = ½‖W_out h_T + b_out − y‖²`` (the unrolled reference for ``jax.grad``)."""
    ss = run(cell, xs)
    r = readout(cell, ss[-1]) - y
    return 0.5 * jnp.sum(r * r)


def init_cell(
    key: jax.Array,
    kind: str = "rnn",
    *,
    hidden: int,
    inputs: int,
    outputs: int,
    activation: str = "tanh",
    sw2: float | None = None,
    sb2: float = 0.0,
    forget_bias: float = 0.0,
    dtype: Any = jnp.float64,
) -> Cell:
    """A cell with weights ``N(0, σ_w²/fan_in)`` and biases ``N(0, σ_b²)`` (``sb2 = 0``: zero biases).

    ``sw2`` defaults to 1 (PyTorch's own default is ``U(−1/√H, 1/√H)``, variance
    ``1/(3H)``); the same draws for every kind at the same key (matched
    initialisation: the LSTM/GRU blocks are drawn as one stack).  ``forget_bias``
    is added to the LSTM's forget-gate ``bias_hh`` rows (the knob of Gers et al.
    2000 and Jozefowicz et al. 2015: 1 keeps ``f ≈ sig(1) ≈ 0.73``) and, for the
    GRU, to the update gate ``z`` (``z ≈ 1`` carries the state).

    References:
      Jozefowicz, Zaremba & Sutskever 2015, ICML (forget-gate bias 1).
    """
    check_kind(kind)
    sw2 = 1.0 if sw2 is None else float(sw2)
    Gh = GATES[kind] * hidden
    k = jax.random.split(key, 6)
    dt = jnp.dtype(dtype)

    def normal(kk, shape, var):
        return jnp.sqrt(jnp.asarray(var, dt)) * jax.random.normal(kk, shape, dt)

    b_hh = normal(k[3], (Gh,), sb2)
    if kind == "lstm":
        b_hh = b_hh.at[hidden : 2 * hidden].add(forget_bias)
    elif kind == "gru":
        b_hh = b_hh.at[hidden : 2 * hidden].add(forget_bias)
    return Cell(
        kind=kind,
        activation=activation,
        weight_ih=normal(k[0], (Gh, inputs), sw2 / inputs),
        weight_hh=normal(k[1], (Gh, hidden), sw2 / hidden),
        bias_ih=normal(k[2], (Gh,), sb2),
        bias_hh=b_hh,
        W_out=normal(k[4], (outputs, hidden), 1.0 / hidden),
        b_out=jnp.zeros((outputs,), dt),
        h0=jnp.zeros((hidden,), dt),
        c0=jnp.zeros((hidden,), dt),
    )


def check_kind(kind: str) -> None:
    """One-line error for an unknown cell kind."""
    if kind not in CELLS:
        raise ValueError(f"cell: expected one of {', '.join(CELLS)}, got {kind!r}")


_ALIASES = {
    "W_out": ("W_out", "weight_out"),
    "b_out": ("b_out", "bias_out"),
    "h0": ("h0",),
    "c0": ("c0",),
}


def _find(arrays: Mapping[str, Any], name: str):
    """The array whose key is ``name`` or ``name_l0``, possibly after a module prefix (``rnn.weight_ih_l0``)."""
    hits = [k for k in arrays if k.rsplit(".", 1)[-1] in (name, f"{name}_l0")]
    if len(hits) > 1:
        raise ValueError(f"state dict: {name}: more than one array matches ({', '.join(sorted(hits))})")
    return np.asarray(arrays[hits[0]]) if hits else None


def cell_from_arrays(
    arrays: Mapping[str, Any],
    kind: str,
    *,
    activation: str = "tanh",
    dtype: Any = None,
) -> Cell:
    """A :class:`Cell` from a state dict (``torch.nn.RNN/LSTM/GRU.state_dict()`` as it is, or arrays by name).

    Keys ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` with or without
    PyTorch's ``_l0`` suffix (and any ``module.`` prefix); both biases absent
    (``bias=False``) means zero biases.  Readout ``W_out``/``weight_out``
    ``(n_out, H)`` and ``b_out``/``bias_out``; without it the readout is the
    identity (``C = ½‖h_T − y‖²``).  ``h0``, ``c0`` zero unless given.  Only one
    layer (``_l0``) is read: a multi-layer or bidirectional dict is refused.

    Raises:
      ValueError: a missing array, a gate stack of the wrong height, a bad shape (one line).
    """
    check_kind(kind)
    core.get_activation(activation)
    extra = [k for k in arrays if any(s in k for s in ("_l1", "_reverse", "weight_hr"))]
    if extra:
        raise ValueError(f"state dict: only one unidirectional layer is read, got {sorted(extra)[0]!r}")
    W_ih, W_hh = _find(arrays, "weight_ih"), _find(arrays, "weight_hh")
    for nm, a in (("weight_ih", W_ih), ("weight_hh", W_hh)):
        if a is None:
            raise ValueError(
                f"state dict: missing array {nm} (or {nm}_l0); keys: {', '.join(sorted(arrays)) or 'none'}"
            )
    assert W_ih is not None and W_hh is not None
    if W_hh.ndim != 2 or W_ih.ndim != 2:
        raise ValueError(f"weight_ih, weight_hh: expected 2-D arrays, got shapes {W_ih.shape}, {W_hh.shape}")
    Gh, H = W_hh.shape
    G = GATES[kind]
    if Gh != G * H:
        what = {"rnn": "(H, H)", "lstm": "(4H, H): gates i, f, g, o", "gru": "(3H, H): gates r, z, n"}[kind]
        raise ValueError(f"weight_hh: expected {what} for the {kind} cell, got {W_hh.shape}")
    if W_ih.shape[0] != Gh:
        raise ValueError(f"weight_ih: expected ({Gh}, n_in) like weight_hh's {G}H = {Gh} rows, got {W_ih.shape}")
    b_ih, b_hh = _find(arrays, "bias_ih"), _find(arrays, "bias_hh")
    if (b_ih is None) != (b_hh is None):
        raise ValueError(
            f"state dict: missing array {'bias_ih' if b_ih is None else 'bias_hh'} (the other bias is given)"
        )
    dt = np.dtype(dtype) if dtype is not None else np.result_type(W_ih.dtype, W_hh.dtype)
    if not np.issubdtype(dt, np.floating):
        raise ValueError(f"state dict: expected floating-point arrays, got {dt}")
    zeros = np.zeros((Gh,), dt)
    b_ih = zeros if b_ih is None else b_ih
    b_hh = zeros if b_hh is None else b_hh
    for nm, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if b.shape != (Gh,):
            raise ValueError(f"{nm}: expected ({Gh},), got {b.shape}")
    got = {
        k: next((a for a in (_find(arrays, n) for n in names) if a is not None), None) for k, names in _ALIASES.items()
    }
    W_out = got["W_out"] if got["W_out"] is not None else np.eye(H, dtype=dt)
    if W_out.ndim != 2 or W_out.shape[1] != H:
        raise ValueError(f"W_out: expected (n_out, {H}), got {W_out.shape}")
    b_out = got["b_out"] if got["b_out"] is not None else np.zeros((W_out.shape[0],), dt)
    if b_out.shape != (W_out.shape[0],):
        raise ValueError(f"b_out: expected ({W_out.shape[0]},), got {b_out.shape}")
    state = {}
    for nm in ("h0", "c0"):
        v = got[nm]
        v = np.zeros((H,), dt) if v is None else np.reshape(v, (-1,)) if v.size == H else v
        if v.shape != (H,):
            raise ValueError(f"{nm}: expected ({H},), got {v.shape}")
        state[nm] = v
    arr = [np.asarray(a, dt) for a in (W_ih, W_hh, b_ih, b_hh, W_out, b_out, state["h0"], state["c0"])]
    if not all(np.all(np.isfinite(a)) for a in arr):
        raise ValueError("state dict: expected finite arrays, got inf or nan")
    return Cell(kind, activation, *(jnp.asarray(a) for a in arr))


def load_cell(path: str | os.PathLike, kind: str, *, activation: str = "tanh", dtype: Any = None) -> Cell:
    """:func:`cell_from_arrays` of an ``.npz``, ``.safetensors`` or ``.pt``/``.pth`` file (the latter two via adapters)."""
    p = os.fspath(path)
    if p.endswith(".npz"):
        if not os.path.exists(p):
            raise FileNotFoundError(2, "No such file or directory", p)
        with np.load(p, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    else:
        from gradbounds import adapters

        arrays, _ = adapters.load_state_dict(p)
    return cell_from_arrays(arrays, kind, activation=activation, dtype=dtype)


def load_data(path: str | os.PathLike, cell: Cell, *, per_step: bool = False) -> tuple[jax.Array, jax.Array]:
    """``x (T, n_in)`` and ``y (n_out,)`` (``(T, n_out)`` when ``per_step``) from an ``.npz`` file, checked against ``cell``."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(2, "No such file or directory", p)
    with np.load(p, allow_pickle=False) as f:
        missing = [k for k in ("x", "y") if k not in f.files]
        if missing:
            raise ValueError(f"{p}: missing array {missing[0]} (expected x (T, n_in) and y (n_out,))")
        x, y = f["x"], f["y"]
    return check_data(cell, x, y, per_step=per_step)


def check_data(cell: Cell, x, y, *, per_step: bool = False) -> tuple[jax.Array, jax.Array]:
    """``x``, ``y`` as arrays of the cell's dtype, with one-line errors for bad shapes (``y (T, n_out)`` when ``per_step``)."""
    x, y = np.asarray(x), np.asarray(y)
    n_in = cell.weight_ih.shape[1]
    n_out = cell.W_out.shape[0]
    if x.ndim != 2 or x.shape[1] != n_in or x.shape[0] < 1:
        raise ValueError(f"x: expected (T, {n_in}) with T >= 1, got {x.shape}")
    if per_step:
        if y.shape != (x.shape[0], n_out):
            raise ValueError(f"y: expected (T, n_out) = ({x.shape[0]}, {n_out}) for per-step losses, got {y.shape}")
    elif (y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y).shape != (n_out,):
        raise ValueError(f"y: expected ({n_out},), got {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x, y: expected finite values, got inf or nan")
    if not per_step:
        y = y.reshape(-1)
    return jnp.asarray(x, cell.dtype), jnp.asarray(y, cell.dtype)
