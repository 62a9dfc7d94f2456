"""Experiments on the bound hierarchy: the ladder on the seed network and the slack against depth."""

from __future__ import annotations

import numpy as np

from gradbounds.experiments._common import SEED_WIDTHS, Experiment, _tex, _x64, random_family

__all__ = ["LADDER", "SLACK"]


# --- ladder -------------------------------------------------------------------


def ladder_compute(*, quick, seed, **_):
    import jax

    import gradbounds as gb

    _x64()
    N, n = (4, 8) if quick else (50, 20)
    nets, x, y = random_family(seed, SEED_WIDTHS, N, n, activation="sigmoid", init="nielsen")
    d = gb.sweep(nets, x, y, cost="quadratic", coalitions=True).to_dict()  # with the Shapley split
    d.update(activation="sigmoid", init="nielsen", networks=N, examples=n)
    d.update(product_check(jax.tree_util.tree_map(lambda t: t[0], nets), x[0], y[0]))
    return d


def product_check(net, X, Y) -> dict:
    """Largest relative differences: closed-form backprop vs autodiff, and ‖∂C/∂W^l‖ vs ‖δ^l‖‖a^{l-1}‖."""
    import gradbounds as gb

    pe, we = 0.0, 0.0
    for x, y in zip(X, Y):
        cf, ad = gb.errors(net, x, y), gb.errors_autodiff(net, x, y)
        a, gWs = gb.forward(net, x).a, gb.weight_gradients(net, x, y)
        for l, (u, v) in enumerate(zip(cf, ad)):
            pe = max(pe, float(np.linalg.norm(u - v) / np.linalg.norm(v)))
            gW = np.asarray(gWs[l])
            rhs = float(np.linalg.norm(v) * np.linalg.norm(a[l]))
            for ord_ in (2, "fro"):
                we = max(we, abs(np.linalg.norm(gW, ord_) - rhs) / rhs)
    return {"product_error": pe, "weight_error": we}


def ladder_draw(result, path, **_):
    from gradbounds import plotting

    return plotting.bound_ladder(result, path=path)


def ladder_numbers(r):
    lay = r["layers"]
    out = {"networks": (r["networks"], "d"), "examples": (r["examples"], "d"), "verdict": (r["verdict"], "s")}
    out["producterror"] = (r["product_error"], ".0e")
    out["weighterror"] = (r["weight_error"], ".0e")
    for e in lay:
        l = e["layer"]
        for k in ("E", "P", "J", "D", "G"):
            out[f"{k}.{l}"] = (e["log10"][k], ".2f")
        for k, v in e["slack_log10"].items():
            out[f"slack.{k}.{l}"] = (v, ".2f")
        for k, v in e.get("slack_log10_shapley", {}).items():
            out[f"shapley.{k}.{l}"] = (v, ".2f")
    out["ratioE"] = (10 ** (lay[-2]["log10"]["E"] - lay[0]["log10"]["E"]), ".0f")  # last hidden / first hidden
    out["ratioG"] = (10 ** (lay[-2]["log10"]["G"] - lay[0]["log10"]["G"]), ".0f")
    return out


def ladder_tables(r):
    rows = []
    for e in r["layers"]:
        lv, s = e["log10"], e["slack_log10"]
        cells = [str(e["layer"])] + [_tex(lv[k]) for k in "EPJDG"]
        cells += [_tex(s[k]) for k in ("alignment", "submultiplicativity", "split", "activation", "total")]
        rows.append(" & ".join(cells) + r" \\")
    head = r"$l$ & $E$ & $P$ & $J$ & $D$ & $G$ & $P{-}E$ & $J{-}P$ & $D{-}J$ & $G{-}D$ & $G{-}E$ \\"
    body = "\n".join(rows)
    return {
        "ladder": "\\begin{tabular}{r rrrrr rrrrr}\n\\toprule\n"
        "& \\multicolumn{5}{c}{$\\log_{10}$ level} & \\multicolumn{5}{c}{slack, $\\log_{10}$} \\\\\n"
        "\\cmidrule(lr){2-6}\\cmidrule(lr){7-11}\n"
        f"{head}\n\\midrule\n{body}\n\\bottomrule\n\\end{{tabular}}\n"
    }


# --- slack against depth ------------------------------------------------------------

SLACK_FAMILIES = (
    ("sigmoid, Nielsen init", dict(activation="sigmoid", init="nielsen")),
    ("relu, He", dict(activation="relu", init="he")),
)


def _mean_ok(v, ok):
    """Mean over networks and examples (axes 0, 1) of the finite entries (``ok``)."""
    v = np.asarray(v)
    return np.sum(np.where(ok, v, 0.0), axis=(0, 1)) / np.sum(ok, axis=(0, 1))


def slack_compute(*, quick, seed, **_):
    _x64()
    L, width, N, n = (32, 16, 4, 4) if quick else (200, 30, 10, 10)
    fams = []
    for i, (label, init) in enumerate(SLACK_FAMILIES):
        nets, x, y = random_family(seed + 10 * i, (width,) * (L + 1), N, n, **init)
        import gradbounds as gb

        h = gb.sweep(nets, x, y, coalitions=True)
        s = h.slack_log10()
        sh = h.slack_log10(attribution="shapley")
        k = np.arange(L, 0, -1)  # layers crossed at layer l = 1..L
        order = np.argsort(k)
        ok = np.isfinite(s["total"])  # E = 0 (a dead relu network) has no finite slack
        tot = np.where(ok, s["total"], np.nan)
        fam = {
            "label": label,
            "init": init,
            "k": k[order],
            "slack": {
                p: (np.sum(np.where(ok, v, 0.0), axis=(0, 1)) / np.sum(ok, axis=(0, 1)))[order] for p, v in s.items()
            },
            "shapley": {
                p: (np.sum(np.where(ok, v, 0.0), axis=(0, 1)) / np.sum(ok, axis=(0, 1)))[order]
                for p, v in sh.items()
                if p != "total"
            },
            # per-layer growth of the levels, log10 per layer crossed (fit over k >= 5): P grows with the norm
            # of the product (the top Lyapunov exponent), J with the product of the factors' norms
            "growth": {
                lv: float(
                    np.polyfit(k[order][k[order] >= 5], _mean_ok(getattr(h.levels, lv), ok)[order][k[order] >= 5], 1)[0]
                )
                / np.log(10)
                for lv in ("P", "J")
            },
            # the same slope per network (its mean over examples): the spread of the rate over draws
            "perlayer_networks": [
                float(np.polyfit(k[order][k[order] >= 5], m[order][k[order] >= 5], 1)[0])
                for m in np.nanmean(tot, axis=1)
                if np.all(np.isfinite(m))
            ],
            "slack_min": np.nanmin(tot, axis=(0, 1))[order],
            "slack_max": np.nanmax(tot, axis=(0, 1))[order],
            "excluded": int(np.sum(~ok[..., 0])),
            "verdict": h.verdict,
        }
        fams.append(fam)
    verdict = max((f["verdict"] for f in fams), key=("holds", "inconclusive", "violated").index)
    from gradbounds import theory

    # relu with He's initialisation: products of D W^T, D a mask keeping half the units, sigma_w^2 = 2
    rate = theory.product_rate(width, 2.0, active=0.5)
    predicted = {k: v / np.log(10) for k, v in rate._asdict().items()}
    return {
        "families": fams,
        "depth": L,
        "width": width,
        "networks": N,
        "examples": n,
        "verdict": verdict,
        "relu_products": predicted,
    }


def slack_draw(result, path, **_):
    from gradbounds import plotting

    return plotting.slack_depth(result, path=path)


def slack_numbers(r):
    out = {"depth": (r["depth"], "d"), "width": (r["width"], "d"), "networks": (r["networks"], "d")}
    out["examples"] = (r["examples"], "d")
    for fam, key in zip(r["families"], ("sigmoid", "relu")):
        k = np.asarray(fam["k"], float)
        tot = np.asarray(fam["slack"]["total"], float)
        slope = np.polyfit(k[k >= 5], tot[k >= 5], 1)[0]
        out[f"{key}.perlayer"] = (slope, ".2f")
        if fam.get("perlayer_networks"):  # the slope of each network's slack: its smallest and largest
            out[f"{key}.perlayer.min"] = (min(fam["perlayer_networks"]), ".2f")
            out[f"{key}.perlayer.max"] = (max(fam["perlayer_networks"]), ".2f")
            out[f"{key}.perlayer.networks"] = (len(fam["perlayer_networks"]), "d")
        out[f"{key}.total"] = (tot[-1], ".1f")
        for p in ("alignment", "submultiplicativity", "split", "activation"):
            out[f"{key}.share.{p}"] = (100 * fam["slack"][p][-1] / tot[-1], ".0f")
            if "shapley" in fam:  # the same parts, averaged over the 24 orders of the steps
                out[f"{key}.shapley.{p}"] = (100 * fam["shapley"][p][-1] / tot[-1], ".0f")
        if "growth" in fam:  # log10 per layer: the norm of the product (P), the product of the norms (J)
            out[f"{key}.growth.P"] = (fam["growth"]["P"], ".3f")
            out[f"{key}.growth.J"] = (fam["growth"]["J"], ".3f")
            out[f"{key}.growth.submult"] = (fam["growth"]["J"] - fam["growth"]["P"], ".3f")
    if "relu_products" in r:  # products of random matrices (Newman 1986; Bai-Yin): log10 per layer
        for k, v in r["relu_products"].items():
            out[f"relu.products.{k}"] = (v, ".3f")
    return out


LADDER = Experiment(ladder_compute, ladder_draw, ladder_numbers, ladder_tables)
SLACK = Experiment(slack_compute, slack_draw, slack_numbers)
