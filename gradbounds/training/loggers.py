"""Where training and the monitor report: one small interface, ``log(step, metrics)`` and ``close()``.

A *metrics* dict maps names to a number, a string (a verdict) or a list of
numbers over layers ``1..L``.  Each logger writes every record as it comes and
flushes it, so a run that crashes keeps what it recorded:

* :class:`CallbackLogger` calls ``fn(step, metrics)``;
* :class:`JSONLinesLogger` writes one JSON object a line, ``{"step": s, **metrics}``
  (non-finite floats as in :mod:`gradbounds.io`: ``"inf"``, ``"-inf"``, ``null``);
* :class:`CSVLogger` writes long format, one row per scalar: ``step,metric,value``, a list
  ``speed = [s_1, …, s_L]`` as the metrics ``speed/1`` … ``speed/L``;
* :class:`TensorBoardLogger` writes scalars with tensorboardX (extra ``train``) under the same
  names (strings such as verdicts are skipped: TensorBoard scalars are numbers).

:func:`as_loggers` turns ``None``, a logger, a callable or a sequence of them into a list.

References:
  RFC 8259 and the JSON Lines format (one JSON value a line); RFC 4180 (CSV); TensorBoard event files.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gradbounds import io
from gradbounds._extras import require

__all__ = [
    "Logger",
    "CallbackLogger",
    "JSONLinesLogger",
    "CSVLogger",
    "TensorBoardLogger",
    "as_loggers",
    "flatten_metrics",
]


@runtime_checkable
class Logger(Protocol):
    """What :func:`gradbounds.training.train` and the monitor report to."""

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Records ``metrics`` at ``step``."""

    def close(self) -> None:
        """Flushes and releases what the logger holds."""


def flatten_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """``{"speed": [a, b]} -> {"speed/1": a, "speed/2": b}``: lists over layers get 1-based suffixes."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        if isinstance(v, (list, tuple)):
            for i, t in enumerate(v, start=1):
                out[f"{k}/{i}"] = t.item() if isinstance(t, np.generic) else t
        else:
            out[str(k)] = v.item() if isinstance(v, np.generic) else v
    return out


class CallbackLogger:
    """Calls ``fn(step, metrics)`` for every record (an exception it raises stops the run)."""

    def __init__(self, fn: Callable[[int, dict], Any]):
        if not callable(fn):
            raise TypeError(f"fn: expected a callable (step, metrics), got {type(fn).__name__}")
        self.fn = fn

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Calls ``fn(step, metrics)``."""
        self.fn(int(step), dict(metrics))

    def close(self) -> None:
        """Nothing to release."""


class _FileLogger:
    def __init__(self, path):
        self.path = os.fspath(path)
        self._f = open(self.path, "w", newline="")

    def close(self) -> None:
        """Closes the file (every record is already flushed)."""
        if not self._f.closed:
            self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class JSONLinesLogger(_FileLogger):
    """One JSON object a line, ``{"step": s, **metrics}``, flushed after each (strict JSON, ±inf as strings)."""

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Writes and flushes one line."""
        rec = io.to_json({"step": int(step), **dict(metrics)})
        self._f.write(json.dumps(rec, allow_nan=False) + "\n")
        self._f.flush()


class CSVLogger(_FileLogger):
    """Long-format CSV ``step,metric,value``, one row per scalar (:func:`flatten_metrics`), flushed each record.

    ``±inf`` are written ``inf``/``-inf`` and NaN as an empty field, which ``pandas.read_csv`` reads back.
    """

    def __init__(self, path):
        super().__init__(path)
        self._w = csv.writer(self._f)
        self._w.writerow(["step", "metric", "value"])
        self._f.flush()

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Writes one row per scalar and flushes."""
        for k, v in flatten_metrics(metrics).items():
            if isinstance(v, float) and math.isnan(v):
                v = ""
            elif isinstance(v, float):
                v = repr(v)
            self._w.writerow([int(step), k, v])
        self._f.flush()


class TensorBoardLogger:
    """Scalars in a TensorBoard event file under ``logdir`` (tensorboardX, the extra ``train``).

    Every number of a record becomes ``add_scalar(name, value, step)`` with the names of
    :func:`flatten_metrics`; strings (verdicts) and ``None`` are skipped.  Flushed after each record.
    """

    def __init__(self, logdir):
        tbx = require("tensorboardX", "TensorBoardLogger")
        self.logdir = os.fspath(logdir)
        self._w = tbx.SummaryWriter(logdir=self.logdir)

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Adds every numeric metric as a scalar and flushes."""
        for k, v in flatten_metrics(metrics).items():
            if isinstance(v, (bool, str)) or v is None:
                continue
            if isinstance(v, (int, float)):
                self._w.add_scalar(k, float(v), int(step))
        self._w.flush()

    def close(self) -> None:
        """Flushes and closes the event file."""
        self._w.close()


def as_loggers(loggers) -> list:
    """``None`` -> ``[]``; a logger or a callable ``(step, metrics)`` -> a list of one; a sequence -> a list."""
    if loggers is None:
        return []
    if isinstance(loggers, Sequence) and not isinstance(loggers, (str, bytes)):
        return [x for item in loggers for x in as_loggers(item)]
    if isinstance(loggers, Logger):
        return [loggers]
    if callable(loggers):
        return [CallbackLogger(loggers)]
    raise TypeError(
        f"loggers: expected a logger (log(step, metrics), close()), a callable or a sequence, got {type(loggers).__name__}"
    )
