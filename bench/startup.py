"""Benchmark (s): how long a first and a second ``gradbounds check`` take, against ``gradbounds --help``.

Each run is a fresh process of the installed ``gradbounds`` command on the
seed network (``gradbounds check`` with its defaults: [784, 30, 30, 30, 30,
10], sigmoid, Nielsen's init, one example), measured side by side in rounds:

* ``gradbounds --help``: Python, JAX and gradbounds imported, nothing
  computed (the floor of any command);
* cold: ``gradbounds check`` with an empty compilation cache (a new
  temporary ``GRADBOUNDS_CACHE_DIR`` each round): every program traced,
  lowered and compiled by XLA;
* warm: ``gradbounds check`` again with the cache the cold run filled: the
  compiled programs are loaded from disk, and the hierarchy and the draws
  are called from their kept ``jax.export`` programs (no tracing or lowering
  of them).

One more cold run with ``JAX_LOG_COMPILES=1`` says where the time goes: the
seconds JAX reports for tracing, lowering to MLIR and XLA compilation (or
loading from the cache), summed by program.

Goal (c) of issue 11, the hierarchy's compile time for a new network shape, is
measured alone (nothing else compiling beside it): in fresh processes, tracing,
lowering and compiling the program ``gradbounds.hierarchy`` runs for one network
at one example (``_levels_batch``'s options), for the seed network and for
[100, 50, 50, 50, 50, 50, 50, 50, 50, 20] tanh; with the number of kernels XLA made.

Checks: every ``check`` run prints the same table (cold or warm).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np


def _command() -> list[str]:
    script = Path(sys.executable).parent / "gradbounds"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gradbounds.cli"]


def _env(cache: Path | None, tmp: Path, **extra) -> dict:
    # PYTHONDONTWRITEBYTECODE (set on some CI machines) would make every run compile gradbounds' sources
    # again (0.5 s here); a user's Python writes the bytecode once, in the warm-up run below
    drop = ("GRADBOUNDS_CACHE_DIR", "JAX_LOG_COMPILES", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["XDG_CACHE_HOME"] = str(tmp / "xdg")  # nothing of the user's cache is read or written
    env["GRADBOUNDS_CACHE_DIR"] = str(cache) if cache is not None else "off"
    env.update(extra)
    return env


def _run(args: list[str], env: dict) -> tuple[float, str, str]:
    t = time.perf_counter()
    r = subprocess.run(_command() + args, env=env, capture_output=True, text=True, timeout=600)
    dt = time.perf_counter() - t
    if r.returncode not in (0, 2) or (args != ["--help"] and r.returncode != 0):
        raise RuntimeError(f"gradbounds {' '.join(args)}: exit {r.returncode}: {r.stderr[-2000:]}")
    return dt, r.stdout, r.stderr


_LOG = re.compile(
    r"Finished (tracing|jaxpr to MLIR module conversion|XLA compilation of) (?:jit\()?([\w<>.]+)\)?.* in ([\d.e-]+) sec"
)


def _where(stderr: str) -> tuple[dict, dict]:
    """Seconds by phase (tracing, lowering, compiling) and compile seconds by program, from JAX's log."""
    phases: dict = defaultdict(float)
    programs: dict = defaultdict(float)
    names = {"tracing": "tracing", "jaxpr to MLIR module conversion": "lowering", "XLA compilation of": "compiling"}
    for m in _LOG.finditer(stderr):
        # a stored program's compile is logged as stored_<name> (core.stored_program): one program
        phase, name, sec = names[m.group(1)], m.group(2).removeprefix("stored_"), float(m.group(3))
        phases[phase] += sec
        programs[name] += sec
    return dict(phases), dict(programs)


# one fresh process: trace, lower and compile the single-network hierarchy program for the given widths
_COMPILE_ONE = """
import sys, time, json
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
import gradbounds as gb
from gradbounds import core
from gradbounds.bounds import _api
widths, act = json.loads(sys.argv[1]), sys.argv[2]
net = jax.eval_shape(lambda: gb.init_network(jax.random.key(0), widths, activation=act, dtype=jnp.float64))
segs = jax.eval_shape(core.segments, net)
x = jax.ShapeDtypeStruct((1, widths[0]), jnp.float64)
y = jax.ShapeDtypeStruct((1, widths[-1]), jnp.float64)
t0 = time.perf_counter()
traced = _api._levels_batch.jitted.trace(segs, x, y, cost=core.get_cost("quadratic"))  # its options, as hierarchy
t1 = time.perf_counter()
lowered = traced.lower()
t2 = time.perf_counter()
compiled = lowered.compile()
t3 = time.perf_counter()
kernels = sum(1 for line in compiled.as_text().splitlines() if " fusion(" in line and "ROOT" not in line)
print(json.dumps(dict(trace=t1 - t0, lower=t2 - t1, compile=t3 - t2, kernels=kernels)))
"""
SHAPES = (([784, 30, 30, 30, 30, 10], "sigmoid"), ([100, 50, 50, 50, 50, 50, 50, 50, 50, 20], "tanh"))


def compile_times(rounds: int) -> list[dict]:
    """Per shape in :data:`SHAPES`: the median seconds of tracing, lowering and compiling the hierarchy alone."""
    import json

    out = []
    for widths, act in SHAPES:
        runs = []
        for _ in range(rounds):
            # no compilation cache of the user's (JAX_COMPILATION_CACHE_DIR would make rounds 2 and 3 loads)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "GRADBOUNDS_"))}
            r = subprocess.run(
                [sys.executable, "-c", _COMPILE_ONE, json.dumps(widths), act],
                capture_output=True,
                text=True,
                timeout=600,
                env=dict(env, JAX_ENABLE_COMPILATION_CACHE="false"),
            )
            if r.returncode != 0:
                raise RuntimeError(f"compiling the hierarchy for {widths}: exit {r.returncode}: {r.stderr[-2000:]}")
            runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
        med = {k: float(np.median([r[k] for r in runs])) for k in ("trace", "lower", "compile")}
        med["total"] = float(np.median([r["trace"] + r["lower"] + r["compile"] for r in runs]))
        out.append(dict(widths=widths, act=act, kernels=runs[0]["kernels"], **med))
    return out


def run(*, quick: bool = False, log=print) -> dict:
    rounds = 1 if quick else 3
    t_help, t_cold, t_warm, tables = [], [], [], set()
    with tempfile.TemporaryDirectory(prefix="gradbounds-bench-") as d:
        tmp = Path(d)
        _run(["--help"], _env(None, tmp))  # a warm-up: the files Python reads are in the page cache
        for i in range(rounds):
            cache = tmp / f"cache{i}"
            t_help.append(_run(["--help"], _env(None, tmp))[0])
            dt, out, _ = _run(["check"], _env(cache, tmp))
            t_cold.append(dt)
            tables.add(out)
            dt, out, _ = _run(["check"], _env(cache, tmp))
            t_warm.append(dt)
            tables.add(out)
            n_files = sum(1 for p in cache.rglob("*") if p.is_file())
            log(
                f"round {i + 1}: help {t_help[-1]:.2f} s, cold {t_cold[-1]:.2f} s, warm {t_warm[-1]:.2f} s "
                f"({n_files} cached files)"
            )
        _, _, err_cold = _run(["check"], _env(tmp / "logged", tmp, JAX_LOG_COMPILES="1"))
        _, _, err_warm = _run(["check"], _env(tmp / "logged", tmp, JAX_LOG_COMPILES="1"))
    assert len(tables) == 1, "cold and warm runs printed different tables"
    help_, cold, warm = (float(np.median(t)) for t in (t_help, t_cold, t_warm))
    ph_cold, prog_cold = _where(err_cold)
    ph_warm, prog_warm = _where(err_warm)
    top = sorted(prog_cold.items(), key=lambda kv: -kv[1])[:4]
    n_prog = len(re.findall(r"Finished XLA compilation", err_cold))
    rows = [
        ("gradbounds --help (fresh process)", help_, "imports Python, JAX, gradbounds; computes nothing"),
        ("gradbounds check, cold (empty cache)", cold, f"{n_prog} programs compiled"),
        ("gradbounds check, warm (second run)", warm, "exported programs called, compiled ones loaded from the cache"),
    ]
    # two threads compile side by side (gradbounds.cli._check), so the phases' seconds add up to more than
    # the wall time
    for label, ph in (("cold", ph_cold), ("warm", ph_warm)):
        rows.append(
            (
                f"  {label}: tracing + lowering + compiling/loading (both threads)",
                sum(ph.values()),
                ", ".join(f"{k} {v:.2f} s" for k, v in sorted(ph.items())),
            )
        )
    for name, sec in top:
        rows.append((f"  cold: {name} (trace + lower + compile)", sec, f"warm: {prog_warm.get(name, 0.0):.2f} s"))
    comp = compile_times(rounds)
    for c in comp:
        rows.append(
            (
                f"  hierarchy alone, new shape {c['widths']} {c['act']}: trace + lower + compile",
                c["total"],
                f"trace {c['trace']:.2f} s, lower {c['lower']:.2f} s, compile {c['compile']:.2f} s; "
                f"{c['kernels']} kernels",
            )
        )
    goals = [
        dict(what="first check vs --help (cold)", ratio=cold / help_, goal="<= 2.5x (time ratio)"),
        dict(what="second check vs --help (warm)", ratio=warm / help_, goal="<= 1.5x (time ratio)"),
        dict(
            what="hierarchy trace + lower + compile for a new shape (seed network, alone) vs 1 s",
            ratio=comp[0]["total"] / 1.0,
            goal="<= 1x (time ratio)",
        ),
    ]
    for g, limit in zip(goals, (2.5, 1.5, 1.0)):
        g["met"] = g["ratio"] <= limit
    checks = f"{rounds} round(s) of help, cold, warm side by side; every check run printed the same table"
    why = WHY.format(
        n_prog=n_prog,
        lv=prog_cold.get("_levels_batch", 0.0),
        lv_warm=prog_warm.get("_levels_batch", 0.0),
        draw=prog_cold.get("_draw", 0.0),
        draw_warm=prog_warm.get("_draw", 0.0),
        uf=prog_cold.get("_plain_is_zero_in", 0.0),
        uf_warm=prog_warm.get("_plain_is_zero_in", 0.0),
        cold_total=sum(ph_cold.values()),
        alone=comp[0]["total"],
        kernels=comp[0]["kernels"],
        cold=cold,
        warm_total=sum(ph_warm.values()),
    )
    return dict(
        setup="`gradbounds check` of the seed network [784, 30, 30, 30, 30, 10] (the CLI's defaults) in a fresh "
        "process, against `gradbounds --help`; the compilation cache in a temporary directory (empty for the "
        "cold run, filled by it for the warm one). Ratios are time / (--help) (smaller is better).",
        rows=rows,
        checks=checks,
        goals=goals,
        why=why,
    )


WHY = """Where the time goes (JAX's own log of one more cold and warm run): `--help` is almost all
`import jax`, the floor of every command.  Cold, XLA compiles {n_prog} programs.  Three matter: the
hierarchy `_levels_batch` (gradbounds.bounds; traced, exported and compiled at XLA level 0 with the
elemental emitter, {lv:.1f} s), the random draws of networks and examples `_draw` ({draw:.1f} s) and
the float32 and float64 underflow depths `_plain_is_zero_in` ({uf:.1f} s).  The command compiles the
hierarchy from the shapes alone on its main thread while a second thread compiles and runs the draws
and compiles the underflow depths (XLA compiles without the GIL), so the {cold_total:.1f} s of tracing,
lowering and compiling take less wall time ({cold:.1f} s in all, imports included).  Warm, the command
calls the kept jax.export programs (gradbounds.core.stored_program, in the cache's `exported/`): none
is traced again (the draws' shapes only, for the hierarchy's key, about 0.1 s); what is left is lowering the calls of the exported modules and loading their compiled
programs from the persistent cache ({lv_warm:.1f} s, {draw_warm:.1f} s and {uf_warm:.1f} s):
{warm_total:.1f} s in all.  Before the exported programs (commit ad11373) a second check traced and
lowered everything to find its cache keys (2.9x on a quiet machine); before the cache (commit 7eee9e2,
measured once on this machine on 2026-11-30 at load 3) a first check took 19.4 s and a second one
18.7 s against 1.24 s for `--help` (15.6x, 15.1x): 56 programs, nothing kept.  The hierarchy's compile
is the size of its program ({alone:.1f} s alone for the seed network, tracing and lowering included;
{kernels} kernels, counted as XLA's fusions): one step of the
forward pass, one of the backward pass and the weights' statistics per distinct layer shape, each
step some hundred kernels of the enclosures' norms, certificates and scalar bookkeeping.  Side by side
on 2026-12-01 (fresh processes, three rounds), the backward steps of equal shape stacked into one scan
across the forward segments, the forward runs scanned from length 2, and reverse cumulative sums of up
to 64 terms as one masked sum took the seed hierarchy from 671 to 523 kernels, its XLA compile from
2.06 to 1.56 s (trace + lower 1.07 to 0.94 s; a script's timing, not this table's), the loading of its
compiled program from 0.46 to 0.35 s,
a cold check from 5.3 to 4.5 s and a warm one from 1.35 to 1.23 s; its Sturm recurrences traced as
loops (gradbounds.linalg.sturm_loops, bitwise the same numbers) then 523 to 464 kernels, compile 1.59
to 1.50 s, loading 0.36 to 0.31 s.  Tried and dropped: one packed output vector per backward step
(the scan's 30 output writes become one, but each scalar then roots its own kernel: 523 to 519); the
draws at XLA level 0 (their normal numbers change in the last bit; level 1 kept them for the seed
network, compile 1.0 to 0.7 s, with nothing to guarantee it for every init and dtype); the underflow
depths compiled quickly (a 61-layer float32 network then underflows at another depth); XLA options
for the CPU's instruction set, vector width and emitter checks (compile time within noise).  The goals
need a program several times smaller again: the enclosures' scalar quantities computed as vectors."""


if __name__ == "__main__":
    r = run(quick="--quick" in sys.argv)
    for row in r["rows"]:
        print(row)
    for g in r["goals"]:
        print(g)
