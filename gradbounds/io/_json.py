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

__all__ = [
    "to_json",
    "from_json_number",
    "json_array",
    "write_json",
    "read_json",
    "SCHEMA_VERSION",
    "NONFINITE",
    "json_header",
    "load_schema",
]

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


#: version of the layout of the JSON the ``gradbounds`` commands write (``gradbounds/io/schemas/*.schema.json``);
#: the major number changes when a field is removed or changes meaning, the minor one when fields are added.
SCHEMA_VERSION = "1.0"

#: the one encoding of non-finite floats (see the module docstring), as written in every JSON header.
NONFINITE = {"+inf": "inf", "-inf": "-inf", "nan": None}


def json_header() -> dict:
    """The fields every JSON written by the ``gradbounds`` commands starts with.

    ``schema_version`` (:data:`SCHEMA_VERSION`), ``gradbounds_version`` (the installed package's)
    and ``nonfinite`` (:data:`NONFINITE`: how ``+inf``, ``-inf`` and NaN are written).
    """
    from gradbounds import __version__

    return {"schema_version": SCHEMA_VERSION, "gradbounds_version": __version__, "nonfinite": dict(NONFINITE)}


def load_schema(name: str) -> dict:
    """The JSON Schema (draft 2020-12) shipped for a command's JSON, e.g. ``load_schema("check")``."""
    from importlib import resources

    path = resources.files("gradbounds.io").joinpath("schemas").joinpath(f"{name}.schema.json")
    if not path.is_file():
        names = sorted(
            p.name.removesuffix(".schema.json") for p in resources.files("gradbounds.io").joinpath("schemas").iterdir()
        )
        raise ValueError(f"name: expected one of {', '.join(names)}, got {name!r}")
    return json.loads(path.read_text())
