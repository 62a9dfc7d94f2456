"""Networks and examples in files: the ``.npz`` formats the CLI reads and writes.

A network file holds arrays ``W1, b1, ..., WL, bL`` (``W^l`` of shape
``(n_l, n_{l-1})``, Nielsen's convention) and optionally a string array
``activations`` of length L (without it, the caller names the activations:
none is assumed).  An examples file holds ``x`` of shape
``(n, n_0)`` and ``y`` of shape ``(n, n_L)``.  Unreadable or malformed files
(missing, truncated, not a zip archive, arrays of strings, no examples) raise
``ValueError`` with the path and what was expected, in one line.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
import zlib
from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from gradbounds.core import Layer, network_from_arrays

__all__ = ["load_network", "save_network", "load_examples"]


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip member, or an empty archive
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError, OSError)


@contextlib.contextmanager
def _npz(path):
    """``np.load(path)`` of an ``.npz``, every way of being unreadable turned into one ``ValueError``."""
    with open(path, "rb") as fh:  # a missing file stays an OSError ("No such file or directory")
        head = fh.read(4)
    if head not in _ZIP_MAGIC:
        raise ValueError(f"{path}: expected an .npz file (a zip archive of arrays), got a file starting with {head!r}")
    try:
        with np.load(path, allow_pickle=False) as f:
            yield f
    except _READ_ERRORS as e:
        if isinstance(e, ValueError) and str(e).startswith(f"{path}: "):
            raise  # our own message about the content
        msg = str(e).splitlines()[0] if str(e) else ""
        raise ValueError(
            f"{path}: cannot read the .npz archive (truncated or corrupt? {type(e).__name__}: {msg})"
        ) from None


def _numeric(path, name, arr) -> np.ndarray:
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{path}: expected {name} of a numeric dtype, got {arr.dtype}")
    return arr


def load_network(path: str | os.PathLike, activation: str | Sequence[str] | None = None) -> tuple[Layer, ...]:
    """Loads a network from a ``.npz`` with arrays ``W1, b1, ..., WL, bL``, in the file's own dtype.

    The activations come from the file's string array ``activations`` (length L)
    or, when it has none, from ``activation`` (one name, or one per layer): plain
    arrays do not say their activation, and none is assumed.

    Raises:
      ValueError: an unreadable or malformed file (naming it), arrays of a non-numeric dtype,
        a file without ``activations`` and no ``activation``, or a file with them and an ``activation`` too.
      OSError: a missing file.
    """
    with _npz(path) as f:
        files = set(f.files)
        n = 0
        while f"W{n + 1}" in files:
            n += 1
        if n == 0:
            raise ValueError(f"{path}: expected arrays W1, b1, ..., WL, bL; found {sorted(files)}")
        missing = [f"b{i}" for i in range(1, n + 1) if f"b{i}" not in files]
        if missing:
            raise ValueError(f"{path}: missing bias arrays {', '.join(missing)}")
        extra = sorted(
            files - {f"W{i}" for i in range(1, n + 1)} - {f"b{i}" for i in range(1, n + 1)} - {"activations"}
        )
        if extra:
            raise ValueError(f"{path}: unexpected arrays {', '.join(extra)} (expected W1..W{n}, b1..b{n}, activations)")
        Ws = [_numeric(path, f"W{i}", f[f"W{i}"]) for i in range(1, n + 1)]
        bs = [_numeric(path, f"b{i}", f[f"b{i}"]) for i in range(1, n + 1)]
        named = [str(a) for a in f["activations"].reshape(-1)] if "activations" in files else None
    if named is not None and activation is not None:
        raise ValueError(f"{path}: the file names its activations ({', '.join(named)}); expected no activation")
    if named is None and activation is None:
        raise ValueError(
            f"{path}: the file names no activations (no array 'activations'); expected activation"
            " (one name, or one per layer)"
        )
    acts = named if named is not None else activation
    assert acts is not None  # one of the two, checked above
    return network_from_arrays(Ws, bs, acts)


def save_network(path: str | os.PathLike, net: Sequence[Layer]) -> None:
    """Writes ``net`` in the ``.npz`` format that :func:`load_network` reads."""
    arrays = {}
    for i, layer in enumerate(net, start=1):
        arrays[f"W{i}"] = np.asarray(layer.W)
        arrays[f"b{i}"] = np.asarray(layer.b)
    arrays["activations"] = np.array([layer.activation for layer in net])
    np.savez(path, **arrays)


def load_examples(path: str | os.PathLike, n0: int, nL: int, dtype: DTypeLike) -> tuple[np.ndarray, np.ndarray]:
    """Reads ``x`` ``(n, n0)`` and ``y`` ``(n, nL)`` from a ``.npz`` and casts them to ``dtype``.

    A single example may be stored as vectors ``x`` ``(n0,)``, ``y`` ``(nL,)``.

    Raises:
      ValueError: unreadable file, missing arrays, wrong shapes, no examples, non-numeric or non-finite values.
      OSError: a missing file.
    """
    with _npz(path) as f:
        if "x" not in f.files or "y" not in f.files:
            raise ValueError(f"{path}: expected arrays x and y, found {sorted(f.files)}")
        x, y = np.asarray(f["x"]), np.asarray(f["y"])
    if x.ndim == 1:
        x, y = x[None], np.atleast_2d(y)
    if x.ndim != 2 or x.shape[1] != n0:
        raise ValueError(f"{path}: expected x of shape (n, {n0}), got {x.shape}")
    if y.ndim != 2 or y.shape != (x.shape[0], nL):
        raise ValueError(f"{path}: expected y of shape ({x.shape[0]}, {nL}), got {y.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{path}: expected at least one example, got x of shape {x.shape}")
    for name, arr in (("x", x), ("y", y)):
        if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{path}: expected {name} of a numeric dtype, got {arr.dtype}")
        if not np.all(np.isfinite(arr)):
            i = tuple(int(v) for v in np.argwhere(~np.isfinite(arr))[0])
            raise ValueError(f"{path}: {name} is not finite at index {i}")
    return x.astype(dtype), y.astype(dtype)
