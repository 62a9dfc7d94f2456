"""The result of a hierarchy computation: levels, verdicts, slack and their JSON form.

.. math::  \\log_{10} G - \\log_{10} E = (P - E) + (J - P) + (D - J) + (G - D)\\quad\\text{(log10 of each level)}.

References:
  docs/design.md §2 (the levels and the four parts of the slack); RFC 8259 (the JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gradbounds import io
from gradbounds.bounds._levels import COMPARISONS, LEVELS, VERDICTS, Levels

__all__ = ["Hierarchy"]


@dataclass
class Hierarchy:
    """Result of :func:`hierarchy`: levels (natural log), verdicts and summaries.

    Attributes:
      levels: :class:`Levels` with arrays of shape ``(*batch, L)``.
      codes: verdict codes ``(*batch, L, 5)`` (see :func:`verdict_codes`).
      widths, dtype, cost, start: what was computed.
      batch: names of the leading axes, e.g. ``("example",)``.
    """

    levels: Levels
    codes: np.ndarray
    widths: tuple
    dtype: str
    cost: str
    start: str
    batch: tuple = field(default_factory=tuple)

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

    def slack_log10(self) -> dict[str, np.ndarray]:
        """``log10 G − log10 E`` split into its four steps (see :data:`SLACK_PARTS`).

        alignment = P − E (vector vs the product's top direction);
        submultiplicativity = J − P; split = D − J (‖Σ'W‖ vs ‖Σ'‖‖W‖);
        activation = G − D (γ vs the actual max σ').
        """
        lv = {k: self.log10(k) for k in LEVELS}
        with np.errstate(invalid="ignore"):
            return {
                "alignment": lv["P"] - lv["E"],
                "submultiplicativity": lv["J"] - lv["P"],
                "split": lv["D"] - lv["J"],
                "activation": lv["G"] - lv["D"],
                "total": lv["G"] - lv["E"],
            }

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
        batched = self.codes.ndim > 2
        layers = []
        verdicts = self.layer_verdicts()
        for i in range(L):
            entry = {"layer": i + 1}
            vals = {k: self.log10(k)[..., i] for k in LEVELS}
            entry["log10"] = {k: _num(np.median(v)) for k, v in vals.items()}
            entry["log10_lower"] = _num(np.median(self.log10("lower")[..., i]))
            encl = {}
            for k in ("lower",) + LEVELS:
                lo, hi = self.enclosure(k)
                encl[k] = [_num(np.min(lo[..., i])), _num(np.max(hi[..., i]))]
            entry["log10_enclosure"] = encl
            entry["slack_log10"] = {k: _median_slack(v[..., i]) for k, v in slack.items()}
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


def _median_slack(v):
    """Median of the slack over the examples where it is defined (E > 0)."""
    v = np.asarray(v).reshape(-1)
    v = v[np.isfinite(v)]
    return _num(np.median(v)) if v.size else None


def _num(v):
    return io.to_json(float(v))
