"""The result of a hierarchy computation: levels, verdicts, slack and their JSON form.

.. math::  \\log_{10} G - \\log_{10} E = (P - E) + (J - P) + (D - J) + (G - D)\\quad\\text{(log10 of each level)}.

References:
  docs/design.md §2 (the levels and the four parts of the slack); RFC 8259 (the JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradbounds import io
from gradbounds._extras import require
from gradbounds.bounds._levels import COMPARISONS, LEVELS, VERDICTS, Levels

__all__ = ["Hierarchy"]

#: the slack parts of :meth:`Hierarchy.slack_log10`, as columns ``slack_<part>`` of :meth:`Hierarchy.table`.
SLACK_COLUMNS = ("alignment", "submultiplicativity", "split", "activation", "total")


@dataclass
class Hierarchy:
    """Result of :func:`hierarchy`: levels (natural log), verdicts and summaries.

    Attributes:
      levels: :class:`Levels` with arrays of shape ``(*batch, L)``.
      codes: verdict codes ``(*batch, L, 5)`` (see :func:`verdict_codes`).
      widths, dtype, cost, start: what was computed.
      batch: names of the leading axes, e.g. ``("example",)``.
      coalitions: natural-log values ``v(S)`` of the 16 coalitions of the four slack steps,
        ``(*batch, L, 16)`` (:func:`gradbounds.bounds.coalition_values`), or ``None``: computed
        when :func:`hierarchy` or :func:`sweep` is called with ``coalitions=True``; they give
        ``slack_log10(attribution="shapley")``.
    """

    levels: Levels
    codes: np.ndarray
    widths: tuple
    dtype: str
    cost: str
    start: str
    batch: tuple = field(default_factory=tuple)
    coalitions: np.ndarray | None = None

    def log10(self, level: str) -> np.ndarray:
        """log10 of a level (``"E"``, ..., ``"G"``, ``"lower"``), shape ``(*batch, L)``."""
        return np.asarray(getattr(self.levels, level)) / np.log(10)

    def enclosure(self, level: str) -> tuple[np.ndarray, np.ndarray]:
        """Rigorous bounds ``(lo, hi)`` on log10 of a level's exact value, each of shape ``(*batch, L)``.

        .. math:: \\mathrm{lo} ≤ \\log_{10} X_l^{\\rm exact} ≤ \\mathrm{hi}

        for the exact value on the given floats.  ``level`` is one of ``"lower"``, ``"E"``,
        ``"P"``, ``"J"``, ``"D"``, ``"G"``; ``-inf`` only for a proved zero.  The conversion
        from natural logs is rounded outward (two floats each way).
        """
        if level not in ("lower",) + LEVELS:
            raise ValueError(f"enclosure: expected one of lower, {', '.join(LEVELS)}, got {level!r}")
        lo = np.asarray(getattr(self.levels, "lo_" + level), dtype=np.float64) / np.log(10)
        hi = np.asarray(getattr(self.levels, "hi_" + level), dtype=np.float64) / np.log(10)
        for _ in range(2):
            lo, hi = np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)
        return lo, hi

    def widths_log10(self) -> dict[str, np.ndarray]:
        """Enclosure widths ``hi − lo`` in log10 per level, each of shape ``(*batch, L)`` (``inf`` at a −inf end)."""
        out = {}
        for k in ("lower",) + LEVELS:
            lo, hi = self.enclosure(k)
            with np.errstate(invalid="ignore"):
                out[k] = np.where((lo == -np.inf) & (hi == -np.inf), 0.0, hi - lo)
        return out

    def slack_log10(self, *, attribution: str = "sequential") -> dict[str, np.ndarray]:
        """``log10 G − log10 E`` split into its four steps (see :data:`SLACK_PARTS`).

        ``attribution="sequential"`` (the default) takes the steps in the order
        of the hierarchy: alignment = P − E (vector vs the product's top
        direction); submultiplicativity = J − P; split = D − J (‖Σ'W‖ vs
        ‖Σ'‖‖W‖); activation = G − D (γ vs the actual max σ').

        ``attribution="shapley"`` gives each step its exact Shapley value: its
        marginal contribution averaged over the 4! = 24 orders of the steps,
        where the value ``v(S)`` of a set of steps is the log of the bound with
        exactly those steps applied (docs/design.md §2.4; needs the hierarchy
        computed with ``coalitions=True``):

        .. math::

           φ_i = \\sum_{S ⊆ N \\setminus \\{i\\}} \\frac{|S|!\\,(3-|S|)!}{4!}
                 \\bigl(v(S ∪ \\{i\\}) - v(S)\\bigr),\\qquad
           \\sum_i φ_i = \\log_{10} G - \\log_{10} E.

        Both are in log10 and both sum to ``total``; a part is NaN where the
        slack is undefined (a level exactly 0).

        Raises:
          ValueError: an unknown ``attribution``, or ``"shapley"`` without coalitions.

        References:
          L. S. Shapley, "A value for n-person games", *Contributions to the Theory
          of Games II*, Annals of Mathematics Studies 28, Princeton, 1953, pp. 307–317.
        """
        lv = {k: self.log10(k) for k in LEVELS}
        with np.errstate(invalid="ignore"):
            total = lv["G"] - lv["E"]
        if attribution == "sequential":
            with np.errstate(invalid="ignore"):
                return {
                    "alignment": lv["P"] - lv["E"],
                    "submultiplicativity": lv["J"] - lv["P"],
                    "split": lv["D"] - lv["J"],
                    "activation": lv["G"] - lv["D"],
                    "total": total,
                }
        if attribution != "shapley":
            raise ValueError(f"attribution: expected 'sequential' or 'shapley', got {attribution!r}")
        if self.coalitions is None:
            raise ValueError(
                "attribution='shapley' needs the values of every coalition of the four steps:"
                " compute the hierarchy with coalitions=True"
            )
        from gradbounds.bounds._attribution import PLAYERS, shapley

        v = np.asarray(self.coalitions, np.float64)
        ok = np.all(np.isfinite(v), axis=-1)
        with np.errstate(invalid="ignore"):
            phi = shapley(np.where(ok[..., None], v, 0.0)) / np.log(10)
        out = {k: np.where(ok, phi[..., i], np.nan) for i, k in enumerate(PLAYERS)}
        out["total"] = total
        return out

    def layer_verdicts(self) -> list[str]:
        """Worst verdict per layer over the batch and the five comparisons."""
        worst = np.max(self.codes.reshape(-1, self.codes.shape[-2], self.codes.shape[-1]), axis=(0, 2))
        return [VERDICTS[int(c)] for c in worst]

    @property
    def verdict(self) -> str:
        """The worst verdict over everything."""
        return VERDICTS[int(np.max(self.codes))]

    def to_dict(self) -> dict:
        """JSON-ready summary; with a batch, each level is the median of log10 (min, max beside it).

        Medians, not means: a dead relu network has ``E = 0`` exactly
        (``log10 = -inf``), which would swallow a mean.
        """
        L = len(self.widths) - 1
        slack = self.slack_log10()
        shap = self.slack_log10(attribution="shapley") if self.coalitions is not None else None
        batched = self.codes.ndim > 2
        layers = []
        verdicts = self.layer_verdicts()
        for i in range(L):
            entry: dict[str, Any] = {"layer": i + 1}
            vals = {k: self.log10(k)[..., i] for k in LEVELS}
            entry["log10"] = {k: _num(np.median(v)) for k, v in vals.items()}
            entry["log10_lower"] = _num(np.median(self.log10("lower")[..., i]))
            encl = {}
            for k in ("lower",) + LEVELS:
                lo, hi = self.enclosure(k)
                encl[k] = [_num(np.min(lo[..., i])), _num(np.max(hi[..., i]))]
            entry["log10_enclosure"] = encl
            entry["slack_log10"] = {k: _median_slack(v[..., i]) for k, v in slack.items()}
            if shap is not None:
                entry["slack_log10_shapley"] = {k: _median_slack(v[..., i]) for k, v in shap.items()}
            if batched:
                entry["log10_min"] = {k: _num(np.min(v)) for k, v in vals.items()}
                entry["log10_max"] = {k: _num(np.max(v)) for k, v in vals.items()}
            codes = self.codes[..., i, :].reshape(-1, len(COMPARISONS))
            entry["comparisons"] = {
                f"{lo}<={hi}": VERDICTS[int(np.max(codes[:, j]))] for j, (lo, hi) in enumerate(COMPARISONS)
            }
            entry["verdict"] = verdicts[i]
            layers.append(entry)
        out = {
            "widths": list(self.widths),
            "cost": self.cost,
            "dtype": self.dtype,
            "start": self.start,
            "layers": layers,
            "verdict": self.verdict,
        }
        if batched:
            out["summary"] = (
                f"log10 values are medians over {' x '.join(self.batch)} "
                f"({int(np.prod(self.codes.shape[:-2]))} in all); log10_min/log10_max beside them; "
                "log10_enclosure is [min of lo, max of hi] over the batch (it encloses every member, "
                "not the median); verdicts are the worst case"
            )
        return out

    # --- long tables: one row per (network, example, layer) -----------------------------------------

    #: columns of :meth:`table`, :meth:`to_dataframe` and ``gradbounds check --csv``, in order.
    COLUMNS = (
        ("network", "example", "layer", "log10_lower")
        + tuple(f"log10_{k}" for k in LEVELS)
        + tuple(f"{side}_{k}" for k in ("lower", *LEVELS) for side in ("lo", "hi"))
        + tuple(f"slack_{k}" for k in SLACK_COLUMNS)
        + ("verdict",)
    )

    def batch_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """``(network, example)`` index of every point of the batch, in C order (0 where an axis is absent)."""
        shape = self.codes.shape[:-2]
        names = tuple(self.batch)
        if len(names) != len(shape) or any(n not in ("network", "example") for n in names):
            raise ValueError(f"batch: expected axis names 'network' and/or 'example' for shape {shape}, got {names}")
        n = int(np.prod(shape, dtype=int))
        idx = np.indices(shape).reshape(len(shape), n) if shape else np.zeros((0, 1), int)
        pick = lambda name: idx[names.index(name)] if name in names else np.zeros(n, int)  # noqa: E731
        return pick("network"), pick("example")

    def table(self) -> dict[str, np.ndarray]:
        """The hierarchy as a long table: ``{column: array}``, one row per (network, example, layer).

        Columns (:attr:`COLUMNS`): ``network``, ``example``, ``layer`` (1..L),
        ``log10_lower``, ``log10_E`` … ``log10_G``, the enclosures ``lo_lower``,
        ``hi_lower``, ``lo_E``, ``hi_E`` … ``hi_G`` (log10 bounds that contain the
        exact value: :meth:`enclosure`), the slack parts
        ``slack_alignment`` (P − E), ``slack_submultiplicativity`` (J − P),
        ``slack_split`` (D − J), ``slack_activation`` (G − D) and ``slack_total``
        (G − E), all in log10, and ``verdict`` (the worst of the five
        comparisons at that row).  An exact zero (a dead relu layer) is
        ``-inf``; a slack part between two zeros is NaN (undefined).

        .. math:: \\text{slack\\_total} = \\log_{10} G - \\log_{10} E.
        """
        L = len(self.widths) - 1
        net, ex = self.batch_indices()
        n = net.size
        out = {
            "network": np.repeat(net, L),
            "example": np.repeat(ex, L),
            "layer": np.tile(np.arange(1, L + 1), n),
        }
        for k in ("lower", *LEVELS):
            out[f"log10_{k}"] = np.asarray(self.log10(k), float).reshape(n * L)
            lo, hi = self.enclosure(k)
            out[f"lo_{k}"] = np.asarray(lo, float).reshape(n * L)
            out[f"hi_{k}"] = np.asarray(hi, float).reshape(n * L)
        for k, v in self.slack_log10().items():
            out[f"slack_{k}"] = np.asarray(v, float).reshape(n * L)
        worst = np.max(self.codes, axis=-1).reshape(n * L)
        out["verdict"] = np.asarray(VERDICTS, dtype=object)[worst]
        return {c: out[c] for c in self.COLUMNS}

    def to_dataframe(self):
        """:meth:`table` as a :class:`pandas.DataFrame` (long format; pandas is the optional extra ``export``).

        Raises:
          MissingExtraError: pandas is not installed (an ``ImportError`` naming the extra).
        """
        pd = require("pandas", "Hierarchy.to_dataframe")
        t = self.table()
        return pd.DataFrame({c: (t[c].astype(str) if c == "verdict" else t[c]) for c in self.COLUMNS})

    def write_csv(self, path) -> None:
        """Writes :meth:`table` as CSV (standard library); ``"-"`` is standard output.

        Numbers are written with full precision (``repr``), ``±inf`` as ``inf``/``-inf`` and NaN as an
        empty field (what ``pandas.read_csv`` reads back as ``±inf`` and NaN).
        """
        import csv
        import sys

        t = self.table()
        cols = list(self.COLUMNS)

        def cell(v):
            if isinstance(v, (float, np.floating)):
                return "" if np.isnan(v) else repr(float(v))
            return v.item() if isinstance(v, np.generic) else v

        f = sys.stdout if str(path) == "-" else open(path, "w", newline="")
        try:
            w = csv.writer(f)
            w.writerow(cols)
            for i in range(len(t["layer"])):
                w.writerow([cell(t[c][i]) for c in cols])
        finally:
            if f is not sys.stdout:
                f.close()

    def worst(self) -> dict:
        """The (network, example) with the worst verdict, ties broken by the largest total slack.

        Returns ``{"network", "example", "verdict", "layer", "slack_log10_total"}`` where ``layer``
        is the layer of that point's largest total slack ``log10 G − log10 E`` (``"inf"`` in JSON
        when ``E = 0`` there).
        """
        L = len(self.widths) - 1
        net, ex = self.batch_indices()
        codes = np.max(self.codes, axis=-1).reshape(-1, L)
        total = np.asarray(self.slack_log10()["total"], float).reshape(-1, L)
        total = np.where(np.isnan(total), -np.inf, total)
        best = total.max(axis=1)
        i = int(np.lexsort((-best, -codes.max(axis=1)))[0])  # worst verdict first, then the largest slack
        l = int(np.argmax(total[i]))
        return {
            "network": int(net[i]),
            "example": int(ex[i]),
            "verdict": VERDICTS[int(codes[i].max())],
            "layer": l + 1,
            "slack_log10_total": float(total[i, l]),
        }

    def where(self, verdict: str) -> list[dict]:
        """Every (network, example) with ``verdict`` in some layer: ``[{"network", "example", "layers"}]``."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict: expected one of {', '.join(VERDICTS)}, got {verdict!r}")
        L = len(self.widths) - 1
        net, ex = self.batch_indices()
        hit = np.max(self.codes, axis=-1).reshape(-1, L) == VERDICTS.index(verdict)
        return [
            {"network": int(net[i]), "example": int(ex[i]), "layers": [int(l) + 1 for l in np.flatnonzero(hit[i])]}
            for i in np.flatnonzero(hit.any(axis=1))
        ]


def _median_slack(v):
    """Median of the slack over the examples where it is defined (E > 0)."""
    v = np.asarray(v).reshape(-1)
    v = v[np.isfinite(v)]
    return _num(np.median(v)) if v.size else None


def _num(v):
    return io.to_json(float(v))
