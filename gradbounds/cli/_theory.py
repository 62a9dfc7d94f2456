"""``gradbounds theory``: mean-field q*, χ₁, c*, depth scales, phase and the critical line."""

from __future__ import annotations

import math

from gradbounds.cli._main import UsageError
from gradbounds.io import json_header, write_json

HELP = "mean-field theory at (sw2, sb2): q*, chi1, c*, depth scales, phase; or the critical sw2"
DESCRIPTION = """\
Mean-field theory of wide random networks (Poole et al. 2016; Schoenholz et al.
2017) for W ~ N(0, sw2/n), b ~ N(0, sb2). --sw2 and --sb2 are VARIANCES
(sigma_w^2, sigma_b^2), not standard deviations.

  q*      fixed point of the length map q -> sw2 E[s(sqrt(q) z)^2] + sb2
  chi1    sw2 E[s'(sqrt(q*) z)^2]: mean squared gradients shrink (chi1 < 1,
          ordered phase) or grow (chi1 > 1, chaotic) by chi1 per layer
  c*      stable fixed point of the correlation map (1 in the ordered phase)
  xi_q, xi_c, xi_grad = -1/log(chi1)   depth scales (xi_grad < 0: exploding)

With --critical, the critical weight variance sw2 at the given sb2 (where
chi1 = 1, the order-to-chaos line) and q* there.

examples:
  gradbounds theory --activation tanh --sw2 1.5 --sb2 0.05
  gradbounds theory --activation tanh --sw2 1.5 --sb2 0.05 --json -
  gradbounds theory --activation tanh --sb2 0.05 --critical --json -
"""

_KEYS = ("q_star", "chi1", "slope_q", "c_star", "chi_c", "xi_q", "xi_c", "xi_grad", "phase")


def _variance(text: str, name: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise UsageError(f"{name}: expected a number (a variance >= 0), got {text!r}") from None
    if not (math.isfinite(v) and v >= 0):
        raise UsageError(f"{name}: expected a finite variance >= 0, got {text}")
    return v


def add_arguments(p) -> None:
    from gradbounds.core import activation_names

    p.add_argument("--activation", default="tanh", help=f"one of {', '.join(activation_names())} (default tanh)")
    p.add_argument("--sw2", metavar="VAR", help="weight variance sigma_w^2 (W ~ N(0, sw2/n_in)); not with --critical")
    p.add_argument("--sb2", metavar="VAR", default="0", help="bias variance sigma_b^2 (default 0)")
    p.add_argument("--critical", action="store_true", help="find the critical sw2 (chi1 = 1) at this sb2")
    p.add_argument("--json", metavar="PATH", help="write the result as JSON ('-' for stdout)")


def run(args) -> int:
    from gradbounds import core, theory

    act = core.get_activation(args.activation).name
    sb2 = _variance(args.sb2, "--sb2")
    if args.critical:
        if args.sw2 is not None:
            raise UsageError("--critical computes sw2: do not pass --sw2")
        sw2c, qc = theory.critical_sw2(act, sb2)
        mf = theory.mean_field(act, sw2c, sb2, correlation=False)
        out = {
            **json_header(),
            "activation": act,
            "sb2": sb2,
            "sw2_critical": sw2c,
            "q_star": qc,
            "chi1": mf.chi1,
            "xi_q": mf.xi_q,
            "note": "sw2, sb2 are variances; chi1 = 1 on the critical line",
        }
        if args.json:
            write_json(out, args.json)
        if args.json != "-":
            print(f"critical point of {act} at sb2 = {sb2:g} (variances)")
            for k in ("sw2_critical", "q_star", "chi1", "xi_q"):
                print(f"  {k:<13} {out[k]:.10g}")
        return 0
    if args.sw2 is None:
        raise UsageError("--sw2 is required (or pass --critical to find it)")
    sw2 = _variance(args.sw2, "--sw2")
    mf = theory.mean_field(act, sw2, sb2)
    out = {**json_header(), "activation": act, "sw2": sw2, "sb2": sb2, **{k: getattr(mf, k) for k in _KEYS}}
    out["note"] = "sw2, sb2 are variances; xi_grad < 0 means gradients explode with depth scale |xi_grad|"
    if args.json:
        write_json(out, args.json)
    if args.json != "-":
        print(f"mean field of {act} at sw2 = {sw2:g}, sb2 = {sb2:g} (variances): {mf.phase} phase")
        labels = {
            "q_star": "q* (length fixed point)",
            "chi1": "chi1 (grad factor/layer)",
            "slope_q": "dq^l/dq^(l-1) at q*",
            "c_star": "c* (correlation)",
            "chi_c": "chi_c at c*",
            "xi_q": "xi_q",
            "xi_c": "xi_c",
            "xi_grad": "xi_grad = -1/log chi1",
        }
        for k, lab in labels.items():
            print(f"  {lab:<26} {out[k]:.10g}")
    return 0
