"""``make bench``: every benchmark in one run, ratios against the baselines, bench/RESULTS.md.

    python -m bench.run [--quick] [--only a,b,c,d,s,e] [--no-write]

(a) the bound hierarchy for N seed networks (CLI, API) against a per-network
jacrev + numpy.linalg.svd loop and a vectorised PyTorch version; (b) log-norms
and the full log-singular spectrum of a depth-1000, width-512 product against
the bare chain of 1000 matrix products; (c) Nielsen's ch. 5 protocols per
optimiser step against a per-example numpy backprop loop; (d) mean-field
quantities on a 200 x 200 (sigma_w^2, sigma_b^2) grid against
scipy.integrate.quad at equal accuracy; (s) a first ``gradbounds check`` of the
seed network in a fresh process with an empty compilation cache, and a second
one, against ``gradbounds --help``; (e) the enclosed sweep (rigorous enclosures
and verdicts) against the point-only levels it replaced, on the same networks
(process CPU time, warm and compiling).  Every baseline is first checked to
give the same numbers; times are medians over repeats after a warm-up run.
``--quick`` shrinks the problems (for a smoke test; its ratios are not the
issue's).  Results go to bench/RESULTS.md (``--quick`` writes
bench/out/RESULTS-quick.md instead) and bench/out/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

import jax

from bench.common import fmt_time, load, machine

BENCHES = {
    "a": ("bench.hierarchy", "(a) bound hierarchy, N seed networks"),
    "b": ("bench.spectra", "(b) depth-1000 width-512 product: log-norms and full spectrum"),
    "c": ("bench.training", "(c) Nielsen ch. 5 training, per optimiser step"),
    "d": ("bench.theory", "(d) mean field on a 200 x 200 grid"),
    "s": ("bench.startup", "(s) start-up: a first and a second gradbounds check against gradbounds --help"),
    "e": ("bench.enclosures", "(e) rigorous enclosures and verdicts: the sweep against its point-only levels"),
}
HERE = os.path.dirname(os.path.abspath(__file__))


def _table(rows) -> list[str]:
    out = ["| what | median | note |", "| --- | ---: | --- |"]
    for label, t, note in rows:
        out.append(f"| {label} | {fmt_time(t) if t is not None else '-'} | {note} |")
    return out


def _kept(path: str, results: dict) -> dict[str, tuple[str, list[str], str]]:
    """From an earlier RESULTS.md, per benchmark not rerun now: its commit, summary rows and section."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return {}
    m = re.search(r"^- commit: (\S+)", text, re.M)
    run_commit = m.group(1) if m else "unknown"
    rerun = {r["title"] for r in results.values()}
    kept = {}
    for key, (_, title) in BENCHES.items():
        m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
        if title in rerun or not m:
            continue
        section, commit = m.group(1).strip(), run_commit
        older = re.match(r"\*Kept from an earlier run \(commit (\S+)\); not rerun\.\*\s*", section)
        if older:  # kept twice: the commit it was measured at
            commit, section = older.group(1), section[older.end() :]
        # the prefix is cut by its length, not at the first ': ' (titles such as (e)'s contain one)
        prefixes = (f"| {title}: ", f"| {title} (kept): ")
        rows = [
            f"| {title} (kept): " + line[len(p) :] for line in text.splitlines() for p in prefixes if line.startswith(p)
        ]
        kept[key] = (commit, rows, section)
    return kept


def _markdown(info: dict, results: dict, quick: bool, wall: float, kept=None) -> str:
    kept = kept or {}
    commits = sorted({c for c, _, _ in kept.values()})
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench.run" + (" --quick" if quick else "") + "`); "
        "every ratio below was measured in this one run"
        + (f", except the sections marked as kept from an earlier run (commit {', '.join(commits)})" if kept else "")
        + ". Times are medians over repeats after a warm-up run; "
        "every baseline was first checked to give the same numbers.",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += [f"- whole run: {wall:.0f} s", ""]
    lines += ["## Summary", "", "| benchmark | ratio | goal | met |", "| --- | --- | --- | --- |"]
    by_title = {r["title"]: r for r in results.values()}
    for key, (_, title) in BENCHES.items():
        if title not in by_title:
            lines += kept[key][1] if key in kept else []
            continue
        r = by_title[title]
        for g in r["goals"]:
            lines.append(
                f"| {r['title']}: {g['what']} | {g['ratio']:.1f}x | {g['goal']} | {'yes' if g['met'] else 'no'} |"
            )
    for key, (_, title) in BENCHES.items():
        if title not in by_title:
            if key in kept:
                commit, _, section = kept[key]
                lines += ["", f"## {title}", "", f"*Kept from an earlier run (commit {commit}); not rerun.*"]
                lines += ["", section]
            continue
        r = by_title[title]
        lines += ["", f"## {r['title']}", "", r["setup"], ""]
        lines += _table(r["rows"])
        lines += ["", "Checks: " + r["checks"], ""]
        for g in r["goals"]:
            lines.append(
                f"- {g['what']}: {g['ratio']:.1f}x (goal {g['goal']}): " + ("met" if g["met"] else "**missed**")
            )
        if r.get("why"):
            lines += ["", r["why"]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small problems, one repeat (a smoke test)")
    p.add_argument("--only", default="a,b,c,d,s,e", help="comma-separated subset of a,b,c,d,s,e")
    p.add_argument("--no-write", action="store_true", help="print only; do not write RESULTS.md")
    p.add_argument("--full", action="store_true", help="(b): run the QR sweeps to convergence (several minutes)")
    args = p.parse_args(argv)
    jax.config.update("jax_enable_x64", True)  # the bound hierarchy is float64 (an application may set it)
    import importlib

    t0 = time.perf_counter()
    info = machine()
    info["OPENBLAS_NUM_THREADS"] = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    info["load average at start"] = ", ".join(f"{v:.2f}" for v in load())
    print("gradbounds benchmarks" + (" (quick)" if args.quick else ""))
    for k, v in info.items():
        print(f"  {k}: {v}")
    results = {}
    for key in args.only.split(","):
        key = key.strip()
        if key not in BENCHES:
            print(f"--only: expected some of {','.join(BENCHES)}, got {key!r}", file=sys.stderr)
            return 2
        mod, title = BENCHES[key]
        print(f"\n{title}", flush=True)
        t = time.perf_counter()
        kw = {"full": True} if (args.full and key == "b") else {}
        r = importlib.import_module(mod).run(quick=args.quick, log=lambda s: print("  " + s, flush=True), **kw)
        r["title"] = title
        r["seconds"] = time.perf_counter() - t
        results[key] = r
        for label, tt, note in r["rows"]:
            print(f"  {label:<58} {fmt_time(tt) if tt is not None else '-':>10}  {note}")
        for g in r["goals"]:
            print(f"  -> {g['what']}: {g['ratio']:.1f}x (goal {g['goal']}): {'met' if g['met'] else 'MISSED'}")
        print(f"  ({r['seconds']:.0f} s)", flush=True)
    wall = time.perf_counter() - t0
    info["load average at end"] = ", ".join(f"{v:.2f}" for v in load())
    print(f"\nwhole run: {wall:.0f} s")
    if not args.no_write:
        out_dir = os.path.join(HERE, "out")
        os.makedirs(out_dir, exist_ok=True)
        md = os.path.join(out_dir, "RESULTS-quick.md") if args.quick else os.path.join(HERE, "RESULTS.md")
        # a partial run (--only) keeps the other benchmarks' sections of the RESULTS.md it replaces, marked as such
        kept = _kept(md, results) if len(results) < len(BENCHES) else {}
        with open(md, "w") as f:
            f.write(_markdown(info, results, args.quick, wall, kept))
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump({"machine": info, "results": results, "quick": args.quick, "wall_s": wall}, f, indent=1)
        print(f"wrote {os.path.relpath(md)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
