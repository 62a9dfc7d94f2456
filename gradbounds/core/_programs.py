"""Exported programs kept on disk: a warm process calls them instead of tracing and lowering again.

JAX's persistent compilation cache skips XLA compilation in a second process,
but to find its cache key JAX must still trace and lower the function, which
for the bound hierarchy of a small network costs seconds.  A function wrapped
by :func:`stored_program` behaves exactly as ``jax.jit`` of it until
:func:`use_program_store` names a directory (only the ``gradbounds`` command
does; library functions never touch the disk).  Then each call looks for a
``jax.export`` of the function for these arguments in the directory; on a hit
it calls the exported program (no tracing or lowering of the function; the
compiled module still comes from the persistent compilation cache), on a miss
it exports the function, keeps the export, and calls it, so that every run
with the store on runs the same compiled program.  The compiled program is
kept in the process (the last few, each tied to its entry file: a changed file
is read again), so later calls neither read nor compile anything.

``fn.prepare(*args)`` does all of that without calling: its arrays may be
abstract (``jax.ShapeDtypeStruct``), so a program can be traced, exported and
compiled on another thread while the arrays it will run on are still being
computed (XLA compiles without Python's GIL; ``gradbounds check`` compiles
the random draws' program and the hierarchy's side by side this way).

The key holds everything that determines the program: the function, the
static arguments, the pytree structure (activation names included) and the
shape, dtype and weak type of every array, the gradbounds, JAX and jaxlib
versions, a digest of gradbounds' own source files (so a changed or updated
tree with an unchanged version never runs an old program), ``jax_enable_x64``
and the devices.  A call whose static arguments
are not plain values (a callable cost) or made while the activation registry
differs from the built-in one is never stored.  An entry that cannot be read
or called (corrupt, truncated, from another JAX) falls back to the ordinary
path and is written anew; an entry is written to a temporary file and
renamed, so a reader never sees half of one.

Entries are JAX's own serialization of :class:`jax.export.Exported`
(``Exported.serialize``, a flatbuffer: data, not code; loading one runs
nothing but the program it holds); like JAX's compilation cache, the
directory must be the user's own.  ``GRADBOUNDS_LOG_PROGRAMS=1`` logs each
hit, miss and fallback on stderr.

References:
  JAX documentation, "Exporting and serializing staged-out computations"
  (``jax.export``) and "Persistent compilation cache".
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jaxlib
import numpy as np

__all__ = ["stored_program", "use_program_store", "program_store"]

_STORE: Path | None = None
_LOG_ENV = "GRADBOUNDS_LOG_PROGRAMS"


def use_program_store(path: str | os.PathLike | None) -> Path | None:
    """Keeps exported programs in ``path`` from now on (``None``: none kept, the default); returns it."""
    global _STORE
    _STORE = None if path is None else Path(path)
    return _STORE


def program_store() -> Path | None:
    """The directory :func:`use_program_store` set, or ``None``."""
    return _STORE


def _log(msg: str) -> None:
    if os.environ.get(_LOG_ENV, "") not in ("", "0"):
        print(f"gradbounds: program {msg}", file=sys.stderr)


def _plain(v: Any) -> str | None:
    """A stable text for a static argument, or ``None`` when it is not a plain value."""
    from gradbounds.core._costs import COSTS, Cost

    if v is None or isinstance(v, (bool, int, float, str)):
        return repr(v)
    if isinstance(v, np.dtype):
        return f"dtype({v.name})"
    if isinstance(v, Cost):
        return f"cost({v.name})" if COSTS.get(v.name) is v else None
    if isinstance(v, (tuple, list)):
        parts = [_plain(u) for u in v]
        return None if any(p is None for p in parts) else f"{type(v).__name__}({', '.join(parts)})"  # type: ignore[arg-type]
    return None


@functools.cache
def _source_digest() -> str:
    """SHA-256 of every ``.py`` file of the installed gradbounds package (path and bytes), read once a process
    (about 2 ms): programs are stored per source tree, not per version alone."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def _key(name: str, statics: dict, dynamic: tuple) -> str | None:
    """The hash naming the entry for these arguments, or ``None`` when the call must not be stored."""
    from gradbounds import __version__
    from gradbounds.core._activations import registry_is_builtin

    if not registry_is_builtin():
        return None
    fixed = []
    for k, v in sorted(statics.items()):
        text = _plain(v)
        if text is None:
            return None
        fixed.append(f"{k}={text}")
    leaves, tree = jax.tree_util.tree_flatten(dynamic)
    avals = []
    for leaf in leaves:
        t = leaf if isinstance(leaf, jax.ShapeDtypeStruct) else jax.typeof(leaf)
        avals.append(f"{getattr(t, 'shape', None)}:{getattr(t, 'dtype', None)}:{getattr(t, 'weak_type', None)}")
    devices = jax.devices()
    text = "\n".join(
        [
            name,
            __version__,
            _source_digest(),
            jax.__version__,
            str(getattr(jaxlib, "__version__", "")),
            f"x64={jax.dtypes.canonicalize_dtype(np.float64)}",
            f"{devices[0].platform}:{getattr(devices[0], 'device_kind', '')}:{len(devices)}",
            *fixed,
            str(tree),
            *avals,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _write(path: Path, exported: Any) -> None:
    blob = bytes(exported.serialize())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_LOADED: OrderedDict[Path, tuple[tuple | None, Callable]] = OrderedDict()
_LOADED_MAX = 8  # compiled programs kept in this process (each holds its machine code's memory mappings)
_LOCK = threading.Lock()


def _stat(path: Path) -> tuple:
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _stat_or_none(path: Path) -> tuple | None:
    try:
        return _stat(path)
    except OSError:
        return None


def _loaded(path: Path) -> Callable | None:
    """The compiled program this process made for ``path``, while the file is the one it was made from
    (or, where no file could be kept, while there is still none)."""
    sig = _stat_or_none(path)
    with _LOCK:
        hit = _LOADED.get(path)
        if hit is None or hit[0] != sig:
            return None
        _LOADED.move_to_end(path)
        return hit[1]


def _remember(path: Path, compiled: Callable) -> None:
    sig = _stat_or_none(path)  # None: nothing was kept on disk (a full disk); the program still is
    with _LOCK:
        _LOADED[path] = (sig, compiled)
        _LOADED.move_to_end(path)
        while len(_LOADED) > _LOADED_MAX:
            _LOADED.popitem(last=False)


def _program(store: Path, fn: Callable, names: Sequence[str], statics: dict, dynamic: tuple, options):
    """The compiled program for these arguments (arrays or ``jax.ShapeDtypeStruct``), made from the
    store's entry (or exported and kept there first); ``None`` when the call must take the ordinary path."""
    fixed = dict(statics, _compiler_options=tuple(sorted(options.items()))) if options else statics
    key = _key(f"{fn.__module__}.{fn.__qualname__}", fixed, dynamic)
    if key is None:
        return None
    path = store / f"{fn.__name__}-{key}.jaxexport"
    hit = _loaded(path)
    if hit is not None:
        return hit
    if path.exists():
        try:
            compiled = _compile(jax.export.deserialize(bytearray(path.read_bytes())), options, dynamic, fn.__name__)
            _log(f"{fn.__name__}: loaded {path.name}")
            _remember(path, compiled)
            return compiled
        except Exception as e:  # corrupt, truncated or stale: the ordinary path, and a new entry
            _log(f"{fn.__name__}: unusable {path.name} ({type(e).__name__}); exporting anew")

    def body(*dyn):
        return fn(**dict(zip(names, dyn)), **statics)

    body.__name__ = fn.__name__
    body.__qualname__ = fn.__qualname__
    try:
        exported = jax.export.export(jax.jit(body))(*dynamic)
        compiled = _compile(exported, options, dynamic, fn.__name__)
    except Exception as e:  # not exportable: the ordinary path (a genuine error is raised there)
        _log(f"{fn.__name__}: not exported ({type(e).__name__}: {e})")
        return None
    try:
        _write(path, exported)
        _log(f"{fn.__name__}: exported {path.name}")
    except Exception as e:  # a full disk or a read-only store: nothing kept, the result stands
        _log(f"{fn.__name__}: not kept ({type(e).__name__}: {e})")
    _remember(path, compiled)
    return compiled


def _compile(exported: Any, options: dict | None, dynamic: tuple, name: str) -> Callable:
    """The exported program compiled for ``dynamic``'s shapes with ``options`` (the stored path's program is
    then compiled exactly as the jitted one); the compiled module may come from JAX's compilation cache.
    JAX's log names it ``stored_<name>``."""

    def run(*dyn):
        return exported.call(*dyn)

    run.__name__ = run.__qualname__ = f"stored_{name}"
    return jax.jit(run, compiler_options=options or None).lower(*dynamic).compile()


def stored_program(
    *, static_argnames: Sequence[str] = (), compiler_options: dict | None = None
) -> Callable[[Callable], Callable]:
    """``jax.jit(fn, static_argnames=..., compiler_options=...)``, whose exports :func:`use_program_store` can keep.

    Every argument not named static is an array pytree.  With no store set (the
    default) the call is the jitted function's, nothing else.  ``compiler_options``
    (XLA options, e.g. ``{"xla_backend_optimization_level": 0}``) apply on both
    paths and are part of the entry's key.
    """

    def wrap(fn: Callable) -> Callable:
        jitted = jax.jit(fn, static_argnames=tuple(static_argnames), compiler_options=compiler_options)
        sig = inspect.signature(fn)

        def split(args, kw) -> tuple[list, dict, tuple]:
            """``(names, statics, dynamic)``: the array arguments' names, the static ones, the arrays."""
            bound = sig.bind(*args, **kw)
            bound.apply_defaults()
            statics = {k: v for k, v in bound.arguments.items() if k in static_argnames}
            names = [k for k in bound.arguments if k not in static_argnames]
            return names, statics, tuple(bound.arguments[k] for k in names)

        @functools.wraps(fn)
        def call(*args, **kw):
            store = _STORE
            if store is None:
                return jitted(*args, **kw)
            names, statics, dynamic = split(args, kw)
            compiled = _program(store, fn, names, statics, dynamic, compiler_options)
            if compiled is not None:
                try:
                    return compiled(*dynamic)
                except (TypeError, ValueError) as e:  # e.g. arrays committed elsewhere: jit places them
                    _log(f"{fn.__name__}: compiled program refused the arguments ({e}); jit instead")
            return jitted(*args, **kw)

        def prepare(*args, **kw) -> bool:
            """Makes ready the compiled program for these arguments, whose arrays may be abstract
            (``jax.ShapeDtypeStruct``): the next call with arrays of these shapes, dtypes and weak types
            runs it at once.  Only with a store set (otherwise nothing; returns whether it is ready).
            Safe on another thread: tracing, exporting and compiling run there while this one works."""
            store = _STORE
            if store is None:
                return False
            try:
                return _program(store, fn, *split(args, kw), compiler_options) is not None
            except Exception as e:  # costs only time: the real call does the work and raises a real error
                _log(f"{fn.__name__}: not prepared ({type(e).__name__}: {e})")
                return False

        call.jitted = jitted  # type: ignore[attr-defined]
        call.prepare = prepare  # type: ignore[attr-defined]
        return call

    return wrap
