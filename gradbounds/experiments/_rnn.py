"""Backpropagation through time (issue 13): E_k for the three cells at matched initialisation, and the adding problem.

References:
  Pascanu, Mikolov & Bengio 2013; Hochreiter & Schmidhuber 1997 (the adding problem);
  Le, Jaitly & Hinton 2015 (IRNN).
"""

from __future__ import annotations

import numpy as np

from gradbounds.experiments._common import Experiment, _x64

__all__ = ["RNN"]

HIDDEN = 32


def rnn_compute(*, quick, seed, **_):
    import jax
    import jax.numpy as jnp

    from gradbounds import rnn

    _x64()
    T = 50 if quick else 100
    kc, kx = jax.random.split(jax.random.key(seed + 70))
    xs = jax.random.normal(kx, (T, 1))
    y = jnp.zeros((1,))
    cells, verdicts = {}, []
    for kind in rnn.CELLS:  # the same key: matched draws for every cell (rnn.init_cell)
        cell = rnn.init_cell(kc, kind, hidden=HIDDEN, inputs=1, outputs=1, sw2=1.0)
        r = rnn.bptt(cell, xs, y)
        verdicts.append(r.verdict)
        cells[kind] = {
            "log10_E": r.log10("E"),
            "log10_G": r.log10("G") if "G" in r.levels else None,
            "verdict": r.verdict,
            "decay_per_step": r.decay_per_step,
            "pascanu": r.pascanu,
        }
    # the forget-gate (GRU: update-gate) bias as the knob: decay per step at b = 0, 1, 3
    knob = {
        str(b): rnn.decay_rates(jax.random.key(seed + 70), hidden=HIDDEN, steps=T, forget_bias=b, cells=("lstm", "gru"))
        for b in (0.0, 1.0, 3.0)
    }
    A_T, steps = (20, 150) if quick else (100, 1500)
    runs = {}
    for v in rnn.VARIANTS:
        a = rnn.train_adding(v, T=A_T, steps=steps, checkpoints=5 if quick else 10, seed=seed)
        runs[v] = {"steps": a.steps, "test_mse": a.test_mse, "final_mse": a.final_mse, "seconds": a.seconds}
    verdict = max(verdicts, key=("holds", "inconclusive", "violated").index)
    adding = {"T": A_T, "steps": steps, "runs": runs}
    return {"T": T, "hidden": HIDDEN, "cells": cells, "forget_bias": knob, "adding": adding, "verdict": verdict}


def rnn_draw(result, path, **_):
    from gradbounds import plotting

    return plotting.bptt_cells(result, path=path)


def rnn_numbers(r):
    out = {"T": (r["T"], "d"), "hidden": (r["hidden"], "d"), "verdict": (r["verdict"], "s")}
    for kind, c in r["cells"].items():
        E = np.asarray(c["log10_E"], float)
        out[f"{kind}.E0_over_ET_log10"] = (float(E[0] - E[-1]), ".1f")  # negative: E_0 < E_T (vanishing)
        out[f"{kind}.decay"] = (float(c["decay_per_step"]), ".3f")
    for b, rates in r.get("forget_bias", {}).items():
        for kind, rate in rates.items():
            out[f"bias{float(b):g}.{kind}.decay"] = (float(rate), ".3f")
    pas = r["cells"]["rnn"].get("pascanu") or {}
    if pas:
        out["pascanu.normW"] = (float(pas["norm_W_hh"]), ".3f")
        out["pascanu.gamma"] = (float(pas["gamma"]), ".3g")
        said = {True: "holds", False: "fails", None: "undecided"}
        out["pascanu.vanishing"] = (said[pas["vanishing_sufficient"]], "s")
        out["pascanu.exploding"] = (said[pas["exploding_necessary"]], "s")
    a = r["adding"]
    out["adding.T"], out["adding.steps"] = (a["T"], "d"), (a["steps"], "d")
    for v, run in a["runs"].items():
        out[f"adding.{v}.mse"] = (float(run["final_mse"]), ".3g")
        out[f"adding.{v}.seconds"] = (float(run["seconds"]), ".0f")
    return out


RNN = Experiment(rnn_compute, rnn_draw, rnn_numbers, requires=("optax",))
