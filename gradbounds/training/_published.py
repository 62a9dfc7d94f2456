"""Nielsen's published chapter-5 curves, shipped as package data.

``published/nielsen/norms_during_training_{k}_layers.json`` (k = 2, 3, 4)
hold, for each step of the author's run of ``generate_gradient.py`` on MNIST
with ``k`` hidden layers of 30 sigmoid neurons, the speed of learning
``‖(1/n) Σ_x δ^l_x‖`` of each hidden layer; ``initial_gradient.json`` the
gradient at initialisation.  They are the numbers behind the chapter's
figures, kept as published facts, with attribution, so that comparisons with
the book need nothing outside this package.

.. math::  s_l = \\Big\\|\\frac1n \\sum_x δ^l_x\\Big\\|,\\qquad l = 1..k.

References:
  M. Nielsen, *Neural Networks and Deep Learning* (Determination Press,
  2015), ch. 5, "The vanishing gradient problem" (the curves and the script
  ``generate_gradient.py`` that wrote these files).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np

__all__ = ["published_dir", "load_published_speeds", "published_initial_speeds"]

_DEPTHS = (2, 3, 4)


def published_dir(directory: str | os.PathLike | None = None) -> Path:
    """Directory of Nielsen's curves: ``directory``, else ``$GRADBOUNDS_NIELSEN_DIR``, else the package data."""
    if directory is None:
        directory = os.environ.get("GRADBOUNDS_NIELSEN_DIR")
    if directory is None:
        return Path(__file__).resolve().parent / "published" / "nielsen"
    return Path(directory)


def load_published_speeds(directory: str | os.PathLike | None = None) -> dict[int, np.ndarray]:
    """The author's speeds ``{k: array (steps, k)}`` for k = 2, 3, 4 hidden layers.

    Raises:
      FileNotFoundError: a file is missing (the message says where it looked
        and how to point elsewhere).
      ValueError: a file does not hold rows of ``k`` speeds.
    """
    d = published_dir(directory)
    out = {}
    for k in _DEPTHS:
        f = d / f"norms_during_training_{k}_layers.json"
        if not f.is_file():
            raise FileNotFoundError(
                f"Nielsen's published curves: expected {f.name} in {d}, not found "
                "(pass nielsen_dir=/--nielsen-dir or set GRADBOUNDS_NIELSEN_DIR)"
            )
        with open(f) as fh:
            arr = np.asarray(json.load(fh), float)
        if arr.ndim != 2 or arr.shape[1] != k:
            raise ValueError(f"{f}: expected rows of {k} speeds, got shape {arr.shape}")
        out[k] = arr
    return out


@functools.cache
def published_initial_speeds() -> dict[int, tuple[float, ...]]:
    """Row 0 (the initialisation) of each shipped curve: ``{k: (s_1, …, s_k)}``."""
    data = Path(__file__).resolve().parent / "published" / "nielsen"
    return {k: tuple(float(v) for v in arr[0]) for k, arr in load_published_speeds(data).items()}
