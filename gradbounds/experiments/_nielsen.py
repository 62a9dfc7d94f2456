"""Nielsen's chapter-5 experiment beside his published curves."""

from __future__ import annotations

import numpy as np

from gradbounds.experiments._common import Experiment, _tex, _x64

__all__ = ["NIELSEN"]


# --- Nielsen's chapter-5 experiment ------------------------------------------------------------


def nielsen_compute(*, quick, seed, nielsen_dir=None, **_):
    from gradbounds import training

    _x64()
    pub = training.load_published_speeds(nielsen_dir)
    d, why = None, "the quick settings use digits"
    if not quick:
        try:
            d, why = training.load_dataset("fashion-mnist"), "Fashion-MNIST was installed"
        except (OSError, ValueError) as e:
            # never silently: the warning goes to stderr and the reason into the paper (nielsen.datasetwhy)
            import sys

            why = "Fashion-MNIST was not installed, so this build fell back to digits"
            print(f"gradbounds figures: warning: {why} ({e})", file=sys.stderr, flush=True)
    d = d if d is not None else training.load_digits()
    steps = 60 if quick else 500
    runs = {}
    for k in (2, 3, 4):
        r = training.train(d, training.preset("nielsen-ch5", hidden=k, steps=steps), seed=seed + 40 + k)
        hs = np.asarray(r.hidden_speeds)
        det = r.details
        verdicts = [x.get("verdict", "holds") for x in det]
        runs[k] = {
            "speeds": hs,
            "initial": hs[0],
            "final": np.asarray(r.final["speeds"][:-1]),
            "bound_slack_initial": det[0]["bound_slack_log10"][:-1] if det else None,
            "cancellation_initial": det[0]["cancellation_log10"][:-1] if det else None,
            "verdict": max(verdicts, key=("holds", "inconclusive", "violated").index) if verdicts else "holds",
            "accuracy": r.final.get("accuracy"),
        }
    verdict = max((v["verdict"] for v in runs.values()), key=("holds", "inconclusive", "violated").index)
    draws = initial_ratio_draws(d, 50 if quick else 200, seed)
    return {
        "dataset": d.name,
        "why": why,
        "steps": steps,
        "runs": runs,
        "published": pub,
        "verdict": verdict,
        "draws": draws,
    }


def initial_ratio_draws(d, n_draws: int, seed: int) -> dict:
    """Last/first hidden-layer speed at initialisation over ``n_draws`` networks per depth (the protocol's
    1000 images), so that one run's ratio can be read against its distribution over draws of the network.

    The networks are Nielsen's initialisation, ``W ~ N(0, 1/n_in)``, ``b ~ N(0, 1)``, drawn with NumPy from
    ``seed`` (a batch of networks, one compiled program per depth; drawing them one by one with JAX costs
    more in dispatch and compilation than the speeds themselves).
    """
    import jax
    import jax.numpy as jnp

    import gradbounds as gb

    X, Y = jnp.asarray(d.x_train[:1000]), jnp.asarray(d.y_train()[:1000])

    def ratio(net):
        deltas = jax.vmap(lambda x, y: gb.errors(net, x, y, cost="cross-entropy"))(X, Y)
        return jnp.linalg.norm(jnp.mean(deltas[-2], 0)) / jnp.linalg.norm(jnp.mean(deltas[0], 0))

    many = jax.jit(jax.vmap(ratio))
    out = {}
    for k in (2, 3, 4):
        ws = (d.n_inputs,) + (30,) * k + (10,)
        rng = np.random.default_rng([seed, 7_000 + k])
        nets = tuple(
            gb.Layer(
                jnp.asarray(rng.standard_normal((n_draws, m, n)) / np.sqrt(n)),
                jnp.asarray(rng.standard_normal((n_draws, m))),
                "sigmoid",
            )
            for n, m in zip(ws[:-1], ws[1:])
        )
        out[k] = np.concatenate(
            [
                np.asarray(many(jax.tree_util.tree_map(lambda a, i=i: a[i : i + 50], nets)))
                for i in range(0, n_draws, 50)
            ]
        ).tolist()
    return out


def nielsen_draw(result, path, **_):
    from gradbounds import plotting

    pub = {int(k): np.asarray(v) for k, v in result["published"].items()}
    ours = {int(k): np.asarray(v["speeds"]) for k, v in result["runs"].items()}
    return plotting.nielsen_speeds(ours, published=pub, path=path, label=f"ours, {result['dataset']}")


def nielsen_numbers(r):
    out = {"dataset": (r["dataset"], "s"), "steps": (r["steps"], "d"), "verdict": (r["verdict"], "s")}
    out["datasetwhy"] = (r.get("why", ""), "s")
    for k, run in r["runs"].items():
        ini, pub = (
            np.asarray(run["initial"]),
            np.asarray(r["published"][str(k)] if str(k) in r["published"] else r["published"][k])[0],
        )
        for i in range(int(k)):
            out[f"ours.{k}.{i + 1}"] = (ini[i], ".3g")
            out[f"pub.{k}.{i + 1}"] = (pub[i], ".3g")
        out[f"ours.{k}.ratio"] = (ini[-1] / ini[0], ".0f")
        out[f"pub.{k}.ratio"] = (pub[-1] / pub[0], ".0f")
        fin = np.asarray(run["final"])
        out[f"ours.{k}.finalratio"] = (fin[-1] / fin[0], ".0f")
        draws = (r.get("draws") or {}).get(k, (r.get("draws") or {}).get(str(k)))
        if draws:  # the ratio over draws of the network: median, 10-90 % interval, the author's percentile
            v = np.asarray(draws, float)
            out["draws"] = (v.size, "d")
            out[f"draws.{k}.median"] = (np.median(v), ".0f" if np.median(v) >= 10 else ".1f")
            for q in (10, 90):
                out[f"draws.{k}.p{q}"] = (np.percentile(v, q), ".0f" if np.median(v) >= 10 else ".1f")
            out[f"draws.{k}.pubpct"] = (100 * np.mean(v < pub[-1] / pub[0]), ".0f")
        if run.get("bound_slack_initial") is not None:
            out[f"ours.{k}.slack1"] = (run["bound_slack_initial"][0], ".2f")
            out[f"ours.{k}.cancel1"] = (run["cancellation_initial"][0], ".2f")
    return out


def nielsen_tables(r):
    rows = []
    for k, run in r["runs"].items():
        ini = np.asarray(run["initial"])
        pub = np.asarray(r["published"][str(k)] if str(k) in r["published"] else r["published"][k])[0]
        for i in range(int(k)):
            first = "\\midrule\n" if i == 0 and rows else ""
            rows.append(
                f"{first}{k if i == 0 else ''} & {i + 1} & {_tex(pub[i], '.3g')} & {_tex(ini[i], '.3g')}"
                f" & {_tex(pub[i] / pub[-1], '.3f')} & {_tex(ini[i] / ini[-1], '.3f')} \\\\"
            )
    return {
        "nielsen": "\\begin{tabular}{cc rr rr}\n\\toprule\n"
        "& & \\multicolumn{2}{c}{initial speed} & \\multicolumn{2}{c}{ratio to last hidden} \\\\\n"
        "\\cmidrule(lr){3-4}\\cmidrule(lr){5-6}\n"
        "$k$ & layer & Nielsen & ours & Nielsen & ours \\\\\n\\midrule\n"
        + "\n".join(rows)
        + "\n\\bottomrule\n\\end{tabular}\n"
    }


NIELSEN = Experiment(nielsen_compute, nielsen_draw, nielsen_numbers, nielsen_tables, ("optax", "sklearn"))
