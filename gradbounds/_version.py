"""The package version, from the installed distribution's metadata (pyproject.toml holds the one version)."""

from __future__ import annotations

import importlib.metadata

try:
    __version__ = importlib.metadata.version("gradbounds")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a tree that is not installed
    __version__ = "0+unknown"
