"""The one JSON codec of the toolkit: numpy values in, strict JSON out, and back.

JSON has no infinities.  Everywhere gradbounds writes JSON (the CLI's
``--json``, ``Hierarchy.to_dict``, the figures' data files) a non-finite
float is encoded the same way:

=============  ===========
value          JSON
=============  ===========
``+inf``       ``"inf"``
``-inf``       ``"-inf"``  (an exact zero's log, e.g. a dead relu layer)
``nan``        ``null``
=============  ===========

:func:`to_json` applies it (numpy scalars and arrays become Python numbers
and lists), :func:`from_json_number` and :func:`json_array` read it back.

References:
  RFC 8259, §6 (numbers: "Infinity and NaN are not permitted").
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any

import numpy as np

__all__ = ["to_json", "from_json_number", "json_array", "write_json", "read_json"]

_DECODE = {"inf": math.inf, "-inf": -math.inf, None: math.nan}


def to_json(obj: Any) -> Any:
    """``obj`` with numpy values made plain and non-finite floats encoded (``"inf"``, ``"-inf"``, ``null``)."""
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_json(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        if math.isfinite(v):
            return v
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def from_json_number(v: Any) -> float:
    """A JSON number as written by :func:`to_json` back to a float (``"inf"``, ``"-inf"``, ``None``)."""
    if isinstance(v, str) or v is None:
        try:
            return _DECODE[v]
        except KeyError:
            raise ValueError(f"expected a number, 'inf', '-inf' or null, got {v!r}") from None
    return float(v)


def json_array(v: Any) -> np.ndarray:
    """A JSON number or (nested) list of numbers, as written by :func:`to_json`, to a float array (arrays pass)."""
    if isinstance(v, (list, tuple)):
        return np.array([json_array(t) for t in v], float)
    if isinstance(v, str) or v is None:
        return np.asarray(from_json_number(v), float)
    return np.asarray(v, float)


def write_json(obj: Any, path: str | os.PathLike) -> None:
    """Writes ``obj`` as strict JSON (:func:`to_json`) to ``path``; ``"-"`` is standard output."""
    text = json.dumps(to_json(obj), indent=2, allow_nan=False)
    if str(path) == "-":
        sys.stdout.write(text + "\n")
    else:
        with open(path, "w") as f:
            f.write(text + "\n")


def read_json(source: Any) -> Any:
    """A JSON file's content (a path), or ``source`` itself when it is already loaded."""
    if isinstance(source, (str, os.PathLike)):
        with open(source) as f:
            return json.load(f)
    return source
