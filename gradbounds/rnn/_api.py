"""The public entry points: :func:`bptt` (the per-step hierarchy with verdicts) and :func:`decay_rates`.

A verdict per time step ``k`` for the inequalities ``E_k ≤ P_k ≤ J_k (≤ G_k)``:
from the rigorous enclosures (every cell; :mod:`gradbounds.rnn._enclosed` for the
plain cell, :mod:`gradbounds.rnn._gated` for the LSTM and GRU), ``holds`` when ``hi_X ≤ lo_Y`` for
every pair, ``violated`` when ``lo_X > hi_Y`` for some pair, else
``inconclusive``, compared on the levels divided by ``‖g‖`` (the common factor
cancelled); at ``k = T`` the levels are equal by definition (an empty
product).  Without enclosures (``enclosures=False``, summed losses) the
verdicts come from the point values with a tolerance of
``64(T − k + 2)S·u(1 + |log Y|)`` (``certified`` false in the result).

References:
  Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent
  neural networks", ICML; PyTorch documentation of ``nn.RNN``, ``nn.LSTM``,
  ``nn.GRU`` (the cells' equations).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from gradbounds.rnn import _cells, _enclosed, _gated, _levels

VERDICTS = ("holds", "violated", "inconclusive")
LOG10E = 1.0 / math.log(10.0)


@dataclasses.dataclass(frozen=True)
class BPTTResult:
    """The hierarchy of one sequence: natural logs per time step ``k = 0..T`` (numpy arrays).

    Attributes:
      kind: the cell (``rnn``, ``lstm``, ``gru``).
      T: number of steps; hidden: ``H``.
      levels: ``{"E", "P", "J"[, "G"]}`` → ``(T + 1,)`` natural logs.
      lo, hi: the same keys → enclosures (natural logs), or ``None`` (LSTM/GRU).
      verdicts: ``(T + 1,)`` strings, one of :data:`VERDICTS`.
      pair_verdicts: ``{"E<=P", "P<=J"[, "J<=G"]}`` → ``(T + 1,)`` strings.
      certified: whether the verdicts come from rigorous enclosures.
      pascanu: ``gamma``, ``norm_W_hh``, ``vanishing_sufficient``, ``exploding_necessary``
        (plain cell; the two conditions ``True``/``False`` when proved, ``None`` when undecided).
      svals: singular values of every state Jacobian ``J_t`` (``(T, S)``), when asked for.
    """

    kind: str
    T: int
    hidden: int
    levels: dict[str, np.ndarray]
    lo: dict[str, np.ndarray] | None
    hi: dict[str, np.ndarray] | None
    verdicts: np.ndarray
    pair_verdicts: dict[str, np.ndarray]
    certified: bool
    pascanu: dict[str, Any] | None
    svals: np.ndarray | None = None

    @property
    def verdict(self) -> str:
        """``violated`` if any step is violated, else ``inconclusive`` if any is, else ``holds``."""
        v = set(self.verdicts.tolist())
        return "violated" if "violated" in v else "inconclusive" if "inconclusive" in v else "holds"

    def log10(self, level: str) -> np.ndarray:
        """``log10`` of a level, ``(T + 1,)``."""
        return self.levels[level] * LOG10E

    @property
    def decay_per_step(self) -> float:
        """``(log10 E_0 − log10 E_T)/T``: the measured log10 of E's growth factor per step (negative: vanishing)."""
        E = self.levels["E"]
        return float((E[0] - E[-1]) * LOG10E / self.T)

    def to_dict(self) -> dict:
        """The JSON layout of ``gradbounds rnn --json`` (issue 13), numbers in log10, ±inf as strings by io.to_json."""
        states = []
        for k in range(self.T + 1):
            st: dict[str, Any] = {"k": k, "log10": {X: float(self.levels[X][k] * LOG10E) for X in self.levels}}
            if self.lo is not None and self.hi is not None:
                st["log10_enclosure"] = {
                    X: [float(self.lo[X][k] * LOG10E), float(self.hi[X][k] * LOG10E)] for X in self.lo
                }
            else:
                st["log10_enclosure"] = None
            st["verdict"] = str(self.verdicts[k])
            st["verdicts"] = {p: str(v[k]) for p, v in self.pair_verdicts.items()}
            states.append(st)
        return {
            "cell": self.kind,
            "T": self.T,
            "hidden": self.hidden,
            "states": states,
            "verdict": self.verdict,
            "certified": self.certified,
            "decay_per_step": self.decay_per_step,
            "pascanu": self.pascanu,
        }


PAIRS = (("E", "P"), ("P", "J"), ("J", "G"), ("E", "J"))  # E <= J checked only where there is no P (summed losses)


def _decide(lo: dict, hi: dict, keys) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per step: the overall verdict and one per pair ``"E<=P"``, ``"P<=J"``, ``"J<=G"``."""
    T1 = len(lo["E"])
    pairs = {}
    for X, Y in _pairs(keys):
        h, v = hi[X] <= lo[Y], lo[X] > hi[Y]
        if (X, Y) == ("P", "J") and T1 > 1:  # P_{T-1} = ‖J_T‖‖g‖ = J_{T-1}: one factor, an identity
            h[-2], v[-2] = True, False
        h[-1], v[-1] = True, False  # k = T: E_T = P_T = J_T = G_T = ‖g‖ (empty products)
        pairs[f"{X}<={Y}"] = np.where(v, "violated", np.where(h, "holds", "inconclusive"))
    return _combine(pairs), pairs


def _pairs(keys):
    return [(X, Y) for X, Y in PAIRS if X in keys and Y in keys and not (X == "E" and Y == "J" and "P" in keys)]


def _combine(pairs: dict[str, np.ndarray]) -> np.ndarray:
    vs = list(pairs.values())
    viol = np.any([v == "violated" for v in vs], axis=0)
    inc = np.any([v == "inconclusive" for v in vs], axis=0)
    return np.where(viol, "violated", np.where(inc, "inconclusive", "holds"))


def _point_pairs(levels: dict, cell: _cells.Cell, T: int) -> dict[str, np.ndarray]:
    """Point verdicts: ``X ≤ Y`` within ``64(T − k + 2)S·u(1 + |log Y|)`` holds, anything else is a violation."""
    u = float(jnp.finfo(cell.dtype).eps) / 2
    steps = np.arange(T, -1, -1) + 2
    tol = {
        X: 64 * steps * cell.state_size * u * (1 + np.abs(np.where(np.isfinite(v), v, 0))) for X, v in levels.items()
    }
    return {f"{X}<={Y}": np.where(levels[X] <= levels[Y] + tol[Y], "holds", "violated") for X, Y in _pairs(levels)}


def _refuse_subnormal(cell, xs, y) -> None:
    """A clear error for a subnormal weight, input or target (checked on the host: NumPy does not flush).

    XLA on CPU reads a subnormal input of an operation as 0, and the recurrent enclosures do not carry that
    error (the feed-forward ones do, ``docs/design.md`` §3.4): ``weight_ih = 1e-39`` against ``x = 1e35`` in
    float32 enclosed log10 E below -18 for an exact -4.0.  Refusing is sound; an error term is future work.
    """
    arrays = {f.name: getattr(cell, f.name) for f in dataclasses.fields(cell) if f.name not in ("kind", "activation")}
    for name, a in {**arrays, "xs": xs, "y": y}.items():
        a = np.asarray(a)
        if not np.issubdtype(a.dtype, np.floating):
            continue
        tiny = np.finfo(a.dtype).tiny
        n = int(np.count_nonzero((a != 0) & (np.abs(a) < tiny)))
        if n:
            raise ValueError(
                f"{name}: expected no subnormal entries (|v| < {tiny:.3g} in {a.dtype.name}) with enclosures=True, "
                f"got {n}: XLA on CPU reads them as 0 and the recurrent enclosures do not cover that; set them to 0, "
                "or pass enclosures=False"
            )


def bptt(
    cell: _cells.Cell,
    xs: ArrayLike,
    y: ArrayLike,
    *,
    enclosures: bool = True,
    svals: bool = False,
    losses: str = "final",
) -> BPTTResult:
    """The per-step hierarchy ``E_k ≤ P_k ≤ J_k (≤ G_k)`` of backpropagation through time, with verdicts.

    .. math:: E_k = \\|∂C/∂s_k\\|,\\quad C = \\tfrac12\\|W_{out}h_T + b_{out} − y\\|^2,\\quad k = 0..T.

    Args:
      cell: a :class:`Cell` (:func:`init_cell`, :func:`cell_from_arrays`, :func:`load_cell`).
      xs: inputs ``(T, n_in)``.
      y: target ``(n_out,)`` (``(T, n_out)`` for summed losses).
      enclosures: rigorous enclosures and certified verdicts (else point values and point verdicts).
      svals: also the singular values of every state Jacobian.
      losses: ``"final"`` (the loss at ``T``) or ``"sum"`` (``Σ_t ½‖W_out h_t + b_out − y_t‖²``,
        ``y`` of shape ``(T, n_out)``): then the levels are ``E ≤ J (≤ G)`` of
        :func:`summed_levels` (no P: it needs every partial product), point values only.

    References:
      Pascanu, Mikolov & Bengio 2013, ICML, eq. 5–7.
    """
    if losses not in ("final", "sum"):
        raise ValueError(f"losses: expected 'final' or 'sum', got {losses!r}")
    xs, y = _cells.check_data(cell, xs, y, per_step=losses == "sum")
    T = int(xs.shape[0])
    if losses == "sum":
        sm = jax.jit(_levels.summed_levels)(cell, xs, y)
        levels = {X: np.asarray(sm[X]) for X in ("E", "J", "G") if X in sm}
        pairs = _point_pairs(levels, cell, T)
        return BPTTResult(cell.kind, T, cell.hidden, levels, None, None, _combine(pairs), pairs, False, None)
    if enclosures:
        _refuse_subnormal(cell, xs, y)
    pt = jax.jit(_levels.point_levels, static_argnames="svals")(cell, xs, y, svals=svals)
    keys = ("E", "P", "J", "G") if cell.kind == "rnn" else ("E", "P", "J")
    levels = {X: np.asarray(pt[X]) for X in keys}
    lo = hi = None
    pascanu = None
    if cell.kind == "rnn" and enclosures:
        en = jax.jit(_enclosed.plain_enclosures)(cell, xs, y)
        en = {k: np.asarray(v) for k, v in en.items()}
        lo = {X: en[f"lo_{X}"] for X in keys}
        hi = {X: en[f"hi_{X}"] for X in keys}
        rlo = {X: en[f"ratio_lo_{X}"] for X in keys}
        rhi = {X: en[f"ratio_hi_{X}"] for X in keys}
        verdicts, pairs = _decide(rlo, rhi, keys)
        certified = True
        p_lo, p_hi = float(en["pascanu_lo"]), float(en["pascanu_hi"])
        pascanu = {
            "gamma": float(np.exp(float(pt["log_gamma_norm_W"]) - float(pt["log_norm_W_hh"]))),
            "norm_W_hh": float(np.exp(float(pt["log_norm_W_hh"]))),
            "log10_gamma_norm_enclosure": [p_lo * LOG10E, p_hi * LOG10E],
            "vanishing_sufficient": True if p_hi < 0 else False if p_lo >= 0 else None,
            "exploding_necessary": True if p_lo > 0 else False if p_hi <= 0 else None,
        }
    elif enclosures:  # LSTM, GRU: interval forward pass and Jacobians
        en = jax.jit(_gated.gated_enclosures)(cell, xs, y)
        en = {k: np.asarray(v) for k, v in en.items()}
        lo = {X: en[f"lo_{X}"] for X in keys}
        hi = {X: en[f"hi_{X}"] for X in keys}
        verdicts, pairs = _decide({X: en[f"ratio_lo_{X}"] for X in keys}, {X: en[f"ratio_hi_{X}"] for X in keys}, keys)
        certified = True
    else:
        pairs = _point_pairs(levels, cell, T)
        verdicts = _combine(pairs)
        certified = False
        if cell.kind == "rnn":
            lgw = float(pt["log_gamma_norm_W"])
            pascanu = {
                "gamma": float(np.exp(lgw - float(pt["log_norm_W_hh"]))),
                "norm_W_hh": float(np.exp(float(pt["log_norm_W_hh"]))),
                "log10_gamma_norm_enclosure": None,
                "vanishing_sufficient": lgw < 0,
                "exploding_necessary": lgw > 0,
            }
    return BPTTResult(
        kind=cell.kind,
        T=T,
        hidden=cell.hidden,
        levels=levels,
        lo=lo,
        hi=hi,
        verdicts=verdicts,
        pair_verdicts=pairs,
        certified=certified,
        pascanu=pascanu,
        svals=np.asarray(pt["svals"]) if svals else None,
    )


def decay_rates(
    key: jax.Array,
    *,
    hidden: int = 32,
    inputs: int = 1,
    outputs: int = 1,
    steps: int = 100,
    sw2: float = 1.0,
    sb2: float = 0.0,
    forget_bias: float = 0.0,
    activation: str = "tanh",
    cells: tuple[str, ...] = _cells.CELLS,
    dtype: Any = jnp.float64,
) -> dict[str, float]:
    """Measured ``(log10 E_0 − log10 E_T)/T`` per cell at matched initialisation (same key, same draws).

    The claim "gates tackle vanishing" as a number: the plain cell's rate beside
    the LSTM's and GRU's, with the forget-gate (GRU: update-gate) bias as a knob.
    Inputs ``x_t ~ N(0, 1)``, target 0.

    References:
      Pascanu, Mikolov & Bengio 2013; Jozefowicz, Zaremba & Sutskever 2015 (forget-gate bias).
    """
    kc, kx = jax.random.split(key)
    xs = jax.random.normal(kx, (steps, inputs), jnp.dtype(dtype))
    y = jnp.zeros((outputs,), jnp.dtype(dtype))
    out = {}
    for kind in cells:
        cell = _cells.init_cell(
            kc,
            kind,
            hidden=hidden,
            inputs=inputs,
            outputs=outputs,
            activation=activation,
            sw2=sw2,
            sb2=sb2,
            forget_bias=forget_bias,
            dtype=dtype,
        )
        out[kind] = bptt(cell, xs, y, enclosures=False).decay_per_step
    return out
