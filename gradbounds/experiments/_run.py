"""Running experiments: compute each result, draw its figure, collect the paper's numbers and tables.

Each experiment computes a JSON-ready result (``OUT/results/NAME.json``),
draws it (``OUT/NAME.pdf``) and contributes named numbers
(``OUT/numbers.json``; with ``tex`` also ``TEX/numbers.tex``, one
``\\gbn{key}`` macro each, and generated LaTeX tables).  Experiments whose
optional dependencies are missing are skipped with a note.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 5; docs/design.md §2–3.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from gradbounds import io
from gradbounds.experiments._chain import CHAIN, UNDERFLOW
from gradbounds.experiments._common import numbers_tex
from gradbounds.experiments._hierarchy import LADDER, SLACK
from gradbounds.experiments._nielsen import NIELSEN
from gradbounds.experiments._rnn import RNN
from gradbounds.experiments._theory import PHASE, SPECTRA, TYPICAL

__all__ = ["EXPERIMENTS", "run_experiments"]

EXPERIMENTS = {
    "ladder": LADDER,
    "slack": SLACK,
    "chain": CHAIN,
    "underflow": UNDERFLOW,
    "spectra": SPECTRA,
    "phase": PHASE,
    "typical": TYPICAL,
    "nielsen": NIELSEN,
    "rnn": RNN,
}
"""Every experiment by name, in the order ``gradbounds figures`` runs them."""


def _available(requires) -> bool:
    """Whether every module in ``requires`` (optional dependencies) imports."""
    for mod in requires:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError:
            return False
    return True


def run_experiments(
    out: str | os.PathLike,
    *,
    names: Sequence[str] | None = None,
    quick: bool = False,
    seed: int = 0,
    nielsen_dir: str | os.PathLike | None = None,
    redraw: bool = False,
    tex: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict:
    """Computes (or, with ``redraw``, reloads) and draws experiments into ``out``; returns a report.

    Args:
      out: directory for the PDFs, ``results/`` and ``numbers.json``.
      names: subset of :data:`EXPERIMENTS` (default all).
      quick: small settings (about a minute for all).
      seed: seed of every ``jax.random`` key.
      nielsen_dir: Nielsen's published curves (default: the shipped package data).
      redraw: redraw from ``out/results/*.json`` without recomputing.
      tex: directory for ``numbers.tex`` and ``table_*.tex``.
      progress: a progress bar on standard error.

    Returns:
      ``{"out", "figures": {name: {pdf, result, seconds}}, "skipped", "numbers", "quick", "status"}``;
      ``status`` is 1 when a result's verdict is ``violated``, else 0.

    Raises:
      ValueError: an unknown name, or ``redraw`` without an earlier result.
    """
    names = list(EXPERIMENTS) if names is None else list(names)
    only = len(names) < len(EXPERIMENTS)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"--only: expected names among {', '.join(EXPERIMENTS)}, got {', '.join(unknown)}")
    out = Path(out)
    (out / "results").mkdir(parents=True, exist_ok=True)
    settings = dict(quick=quick, seed=seed, nielsen_dir=nielsen_dir)

    from tqdm.auto import tqdm

    summary, skipped, results = {}, {}, {}
    status = 0
    bar = tqdm(names, file=sys.stderr, disable=not progress, unit="fig", dynamic_ncols=True)
    for name in bar:
        e = EXPERIMENTS[name]
        if not _available(e.requires):
            skipped[name] = f"needs {', '.join(e.requires)}"
            bar.write(f"gradbounds figures: skipping {name} ({skipped[name]}, not installed)", file=sys.stderr)
            continue
        rpath = out / "results" / f"{name}.json"
        t0 = time.perf_counter()
        if redraw:
            bar.set_description(f"redrawing {name}")
            if not rpath.is_file():
                raise ValueError(f"--redraw: expected {rpath} from an earlier run, not found")
            result = json.loads(rpath.read_text())
        else:
            bar.set_description(f"computing {name}")
            result = io.to_json(e.compute(**settings))
            result["settings"] = {"quick": quick, "seed": seed}
            io.write_json(result, rpath)
        bar.set_description(f"drawing {name}")
        pdf = out / f"{name}.pdf"
        e.draw(result, pdf, **settings)
        results[name] = result
        if result.get("verdict") == "violated":
            status = 1
        summary[name] = {"pdf": str(pdf), "result": str(rpath), "seconds": round(time.perf_counter() - t0, 2)}
    # numbers and tables come from every result in OUT/results (this run's, and earlier ones with --only)
    for name, e in EXPERIMENTS.items():
        rpath = out / "results" / f"{name}.json"
        if name in results or not (only and _available(e.requires)):
            continue
        if rpath.is_file() and (out / f"{name}.pdf").is_file():
            results[name] = json.loads(rpath.read_text())
    numbers, formats, tables = {}, {}, {}
    for name, result in list(results.items()):
        e = EXPERIMENTS[name]
        try:
            nums = e.numbers(result) if e.numbers else {}
            tabs = e.tables(result) if e.tables else {}
        except (KeyError, TypeError, IndexError) as err:
            if name in summary:
                raise
            print(
                f"gradbounds figures: ignoring {name}'s stored result ({err!r} missing: from an older version?)",
                file=sys.stderr,
            )
            del results[name]
            continue
        for key, (val, fmt) in nums.items():
            numbers[f"{name}.{key}"], formats[f"{name}.{key}"] = val, fmt
        tables.update(tabs)
    numbers["settings.seed"], formats["settings.seed"] = seed, "d"
    io.write_json(numbers, out / "numbers.json")
    if tex:
        tex = Path(tex)
        tex.mkdir(parents=True, exist_ok=True)
        quick = any(r.get("settings", {}).get("quick", True) for r in results.values())
        text = numbers_tex(numbers, formats, mode="quick" if quick else "full", present=sorted(results))
        (tex / "numbers.tex").write_text(text)
        for tname, ttext in tables.items():
            (tex / f"table_{tname}.tex").write_text("% Generated by `gradbounds figures --tex`; do not edit.\n" + ttext)
    return {
        "out": str(out),
        "figures": summary,
        "skipped": skipped,
        "numbers": numbers,
        "quick": quick,
        "status": status,
    }
