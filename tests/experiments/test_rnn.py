"""The RNN experiment's distributions over draws and seeds (issue 15: no measured number from one draw)."""

import jax
import jax.numpy as jnp
import numpy as np

from gradbounds import rnn
from gradbounds.experiments import _rnn
from gradbounds.experiments._common import experiment_key, quantiles


def test_draws_are_the_public_decay_rates_of_independent_keys():
    rates, norms = _rnn._draws(0, 6, 2)
    assert set(rates) == set(_rnn.BIASES)
    assert set(rates[0.0]) == set(rnn.CELLS) and set(rates[1.0]) == set(rates[3.0]) == {"lstm", "gru"}
    for d in range(2):
        for b in _rnn.BIASES:
            ref = rnn.decay_rates(experiment_key(0, "rnn", d), hidden=_rnn.HIDDEN, steps=6, forget_bias=b)
            for kind, r in rates[b].items():
                assert r.shape == (2,) and r[d] == ref[kind]
    assert rates[0.0]["rnn"][0] != rates[0.0]["rnn"][1]  # independent draws, not one draw repeated
    # ||W_hh|| is that of the plain cell whose rate was measured: bptt of the same draw gives both
    for d in range(2):
        kc, kx = jax.random.split(experiment_key(0, "rnn", d))
        cell = rnn.init_cell(kc, "rnn", hidden=_rnn.HIDDEN, inputs=1, outputs=1, sw2=1.0)
        r = rnn.bptt(cell, jax.random.normal(kx, (6, 1)), jnp.zeros((1,)), enclosures=False)
        assert r.decay_per_step == rates[0.0]["rnn"][d]
        np.testing.assert_allclose(norms[d], r.pascanu["norm_W_hh"], rtol=1e-12)


def _result():
    per = {
        "0.0": {"rnn": [-0.2, -0.1, -0.3], "lstm": [-0.25, -0.05, -0.3], "gru": [-0.1, -0.2, -0.2]},
        "1.0": {"lstm": [-0.1, -0.08, -0.09], "gru": [-0.09, -0.1, -0.08]},
        "3.0": {"lstm": [-0.01, 0.005, -0.02], "gru": [-0.02, -0.03, -0.01]},
    }
    T = 10
    draws = {
        "n": 3,
        "cells": {
            k: {"log10_E0_over_ET": quantiles(T * np.asarray(v)), "decay_per_step": quantiles(v)}
            for k, v in per["0.0"].items()
        },
        "forget_bias": {b: {k: quantiles(v) for k, v in p.items()} for b, p in per.items()},
        "per_draw": per,
        "norm_W_hh": quantiles([0.9, 1.5, 2.0]),
        "norm_W_hh_per_draw": [0.9, 1.5, 2.0],
    }
    cells = {k: {"log10_E": np.linspace(-2.0, 0.0, T + 1), "decay_per_step": -0.2} for k in rnn.CELLS}
    pascanu = {"gamma": 1.0, "norm_W_hh": 1.8, "vanishing_sufficient": False, "exploding_necessary": True}
    cells["rnn"]["pascanu"] = pascanu
    firsts = {"rnn": 0.1, "lstm": 0.01, "gru": 0.4, "rnn_clip": 0.2, "irnn": 0.3}
    finals = {v: [firsts[v], 0.3, 0.2] for v in rnn.VARIANTS}
    runs = {v: {"final_mse": f[0], "seconds": 1.0} for v, f in finals.items()}
    adding = {
        "T": 20,
        "steps": 150,
        "runs": runs,
        "seeds": [0, 1, 2],
        "final_mse_seeds": finals,
        "final_mse": {v: quantiles(f, 0, 100) for v, f in finals.items()},
    }
    return {"T": T, "hidden": 32, "verdict": "holds", "cells": cells, "draws": draws, "adding": adding}


def test_numbers_give_median_and_interval_with_one_format():
    out = _rnn.rnn_numbers(_result())
    assert out["draws"] == (3, "d") and out["adding.seeds"] == (3, "d")
    for stem in ["rnn.E0_over_ET_log10", "lstm.decay", "bias1.gru.decay", "bias3.lstm.decay", "adding.irnn.mse"]:
        (m, fm), (lo, flo), (hi, fhi) = (out[f"{stem}.{p}"] for p in ("median", "lo", "hi"))
        assert lo <= m <= hi and fm == flo == fhi
    assert out["rnn.E0_over_ET_log10.median"][0] == -2.0  # T times the median rate
    # the adding problem's interval is the range over seeds
    assert out["adding.rnn.mse.lo"][0] == 0.1 and out["adding.rnn.mse.hi"][0] == 0.3
    assert out["adding.gru.mse.lo"][0] == 0.2 and out["adding.gru.mse.hi"][0] == 0.4
    # matched draws where the gated cell's rate is at most the plain cell's
    assert out["lstm.faster"] == (2, "d") and out["gru.faster"] == (1, "d")
    assert out["lstm.E0_over_ET_log10"][0] == -2.0  # the figure's draw keeps its keys
    assert out["pascanu.normW"] == (1.8, ".3f") and out["pascanu.normW.median"] == (1.5, ".3f")
    assert out["pascanu.vanishing.count"] == (1, "d")  # gamma ||W_hh|| < 1 in one of three draws
