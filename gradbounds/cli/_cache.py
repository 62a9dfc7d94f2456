"""The CLI's persistent compilation cache: where it lives, and turning it on.

A first ``gradbounds check`` spends most of its time in XLA compiling the
hierarchy for the network's shape; JAX's persistent compilation cache keeps
the compiled programs on disk, so a second run with the same shapes loads
them instead.  Only the ``gradbounds`` command turns the cache on (library
functions never change JAX's global configuration); the directory is

============================================  ===========================================
environment                                   cache directory
============================================  ===========================================
``GRADBOUNDS_CACHE_DIR=PATH``                 ``PATH``
``GRADBOUNDS_CACHE_DIR=`` or ``=off``         none: the cache is off
``XDG_CACHE_HOME=DIR`` (an absolute path)     ``DIR/gradbounds/jax``
otherwise                                     ``~/.cache/gradbounds/jax`` (``%LOCALAPPDATA%``
                                              on Windows, ``~/Library/Caches`` on macOS)
============================================  ===========================================

Every compiled program is cached, however small or quick to compile
(``jax_persistent_cache_min_compile_time_secs = 0``,
``jax_persistent_cache_min_entry_size_bytes = -1``: no size limit):
a ``check`` of a small network is a few dozen of them.  JAX's cache key holds
the program, the JAX and XLA versions and the device, so a stale entry is
never used; deleting the directory is always safe.

References:
  JAX documentation, "Persistent compilation cache";
  XDG Base Directory Specification 0.8 (``XDG_CACHE_HOME``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["ENV", "cache_dir", "enable_compilation_cache"]

ENV = "GRADBOUNDS_CACHE_DIR"
"""The environment variable that moves (a path) or disables (empty or ``off``) the cache."""


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The cache directory the environment asks for (the table in the module docstring), or ``None`` when off."""
    env = os.environ if environ is None else environ
    if ENV in env:
        value = env[ENV].strip()
        if value.lower() in ("", "off"):
            return None
        return Path(value).expanduser()
    xdg = env.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():  # the XDG spec: a relative value is invalid and ignored
        base = Path(xdg)
    elif sys.platform == "win32" and env.get("LOCALAPPDATA"):
        base = Path(env["LOCALAPPDATA"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path.home() / ".cache"
    return base / "gradbounds" / "jax"


def enable_compilation_cache(environ: Mapping[str, str] | None = None) -> Path | None:
    """Turns on JAX's persistent compilation cache in :func:`cache_dir`; returns the directory, or ``None``.

    The cache stays off when the environment disables it or the directory cannot
    be created (a read-only home: the run is then as slow as without a cache,
    never an error).  It takes effect for the process's compilations from here
    on, so the CLI calls it before its first ``jit``.
    """
    path = cache_dir(environ)
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(path, os.W_OK):
        return None
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    from gradbounds import core

    core.use_program_store(path / "exported")
    return path
