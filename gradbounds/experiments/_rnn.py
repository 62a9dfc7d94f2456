"""Backpropagation through time (issue 13): E_k for the three cells at matched initialisation, and the adding problem.

References:
  Pascanu, Mikolov & Bengio 2013; Hochreiter & Schmidhuber 1997 (the adding problem);
  Le, Jaitly & Hinton 2015 (IRNN).
"""

from __future__ import annotations

import numpy as np

from gradbounds.experiments._common import Experiment, _x64, experiment_key, quantiles

__all__ = ["RNN"]

HIDDEN = 32
DRAWS = 32  # independent draws of weights and inputs for E_0/E_T and the decay rates (quick and full)
SEEDS = 3  # training runs per adding-problem variant (quick and full; the first is the figure's)
BIASES = (0.0, 1.0, 3.0)  # the forget-gate (GRU: update-gate) bias as the knob


def _draws(seed, T, D):
    """Per-draw decay rates ``(log10 E_0 − log10 E_T)/T`` over ``D`` draws ``experiment_key(seed, "rnn", d)``.

    ``({bias: {kind: (D,)}}, (D,))``: at bias 0 all three cells (the matched initialisation), at the other
    biases the LSTM and GRU (the plain cell has no gate bias); every bias uses the same draws of weights and
    inputs.  Second: the plain cell's ``‖W_hh‖`` (spectral norm) in each draw, for Pascanu's condition.
    """
    import jax

    from gradbounds import rnn

    rates, norms = {b: {} for b in BIASES}, []
    for d in range(D):
        key = experiment_key(seed, "rnn", d)
        kc, _ = jax.random.split(key)  # decay_rates' cell key
        cell = rnn.init_cell(kc, "rnn", hidden=HIDDEN, inputs=1, outputs=1, sw2=1.0)
        norms.append(float(np.linalg.norm(np.asarray(cell.weight_hh), 2)))
        for b in BIASES:
            cells = rnn.CELLS if b == 0 else ("lstm", "gru")
            for kind, rate in rnn.decay_rates(key, hidden=HIDDEN, steps=T, forget_bias=b, cells=cells).items():
                rates[b].setdefault(kind, []).append(rate)
    return {b: {kind: np.asarray(v, float) for kind, v in per.items()} for b, per in rates.items()}, np.asarray(norms)


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
        for b in BIASES
    }
    # the distribution over DRAWS independent draws (the figure's draw above is not one of them)
    rates, norms = _draws(seed, T, DRAWS)
    draws = {
        "n": DRAWS,
        "cells": {
            kind: {"log10_E0_over_ET": quantiles(T * r), "decay_per_step": quantiles(r)}
            for kind, r in rates[0.0].items()
        },
        "forget_bias": {str(b): {kind: quantiles(r) for kind, r in per.items()} for b, per in rates.items()},
        "per_draw": {str(b): {kind: r.tolist() for kind, r in per.items()} for b, per in rates.items()},
        "norm_W_hh": quantiles(norms),
        "norm_W_hh_per_draw": norms.tolist(),
    }
    A_T, steps = (20, 150) if quick else (100, 1500)
    seeds = [seed + s for s in range(SEEDS)]
    runs, finals = {}, {}
    for v in rnn.VARIANTS:
        for s in seeds:
            a = rnn.train_adding(v, T=A_T, steps=steps, checkpoints=5 if quick else 10, seed=s)
            finals.setdefault(v, []).append(a.final_mse)
            if s == seed:
                runs[v] = {"steps": a.steps, "test_mse": a.test_mse, "final_mse": a.final_mse, "seconds": a.seconds}
    verdict = max(verdicts, key=("holds", "inconclusive", "violated").index)
    adding = {
        "T": A_T,
        "steps": steps,
        "runs": runs,
        "seeds": seeds,
        "final_mse_seeds": finals,
        # few seeds: the median and the range (min-max), not a 10-90 % interval
        "final_mse": {v: quantiles(f, 0, 100) for v, f in finals.items()},
    }
    return {
        "T": T,
        "hidden": HIDDEN,
        "cells": cells,
        "forget_bias": knob,
        "draws": draws,
        "adding": adding,
        "verdict": verdict,
    }


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
    parts = ("median", "lo", "hi")
    if "draws" in r:  # median and 10-90 % interval over independent draws
        dr = r["draws"]
        out["draws"] = (dr["n"], "d")
        for kind, c in dr["cells"].items():
            for p in parts:
                out[f"{kind}.E0_over_ET_log10.{p}"] = (c["log10_E0_over_ET"][p], ".1f")
                out[f"{kind}.decay.{p}"] = (c["decay_per_step"][p], ".3f")
        for b, rates in dr["forget_bias"].items():
            for kind, q in rates.items():
                for p in parts:
                    out[f"bias{float(b):g}.{kind}.decay.{p}"] = (q[p], ".3f")
        # matched draws: in how many the gated cell's signal shrinks at least as fast as the plain cell's (bias 0)
        pd = {kind: np.asarray(v, float) for kind, v in dr["per_draw"]["0.0"].items()}
        for kind in ("lstm", "gru"):
            out[f"{kind}.faster"] = (int(np.sum(pd[kind] <= pd["rnn"])), "d")
    pas = r["cells"]["rnn"].get("pascanu") or {}
    if pas:
        out["pascanu.normW"] = (float(pas["norm_W_hh"]), ".3f")
        out["pascanu.gamma"] = (float(pas["gamma"]), ".3g")
        said = {True: "holds", False: "fails", None: "undecided"}
        out["pascanu.vanishing"] = (said[pas["vanishing_sufficient"]], "s")
        out["pascanu.exploding"] = (said[pas["exploding_necessary"]], "s")
        if "draws" in r:  # ||W_hh|| over the draws; gamma is the activation's sup |sigma'|, the same in every draw
            for p in parts:
                out[f"pascanu.normW.{p}"] = (r["draws"]["norm_W_hh"][p], ".3f")
            norms = np.asarray(r["draws"]["norm_W_hh_per_draw"], float)
            out["pascanu.vanishing.count"] = (int(np.sum(pas["gamma"] * norms < 1)), "d")
    a = r["adding"]
    out["adding.T"], out["adding.steps"] = (a["T"], "d"), (a["steps"], "d")
    for v, run in a["runs"].items():
        out[f"adding.{v}.mse"] = (float(run["final_mse"]), "#.3g")  # '#': 0.170, not 0.17
        out[f"adding.{v}.seconds"] = (float(run["seconds"]), ".0f")
    if "final_mse" in a:  # median and range (min-max) over seeds
        out["adding.seeds"] = (len(a["seeds"]), "d")
        for v, q in a["final_mse"].items():
            for p in parts:
                out[f"adding.{v}.mse.{p}"] = (q[p], "#.3g")
    return out


RNN = Experiment(rnn_compute, rnn_draw, rnn_numbers, requires=("optax",))
