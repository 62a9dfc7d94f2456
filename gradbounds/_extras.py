"""Optional dependencies: which extra of ``pyproject.toml`` installs each, and a one-line error when one is missing.

============================  ===============  ==========================================
module                        extra            used by
============================  ===============  ==========================================
``optax``, ``sklearn``,       ``train``        ``gradbounds train``, ``training.train``,
``tqdm``, ``tensorboardX``                     ``speed_monitor``, ``TensorBoardLogger``
``pandas``                    ``export``       ``Hierarchy.to_dataframe``, ``MonitorReport.to_dataframe``
``matplotlib``, ``tueplots``  ``figures``      ``gradbounds.plotting``
``hypothesis``                ``test``         ``gradbounds.testing``
``torch``                     ``torch``        ``from_torch``, ``.pt``/``.pth`` network files
``equinox``                   ``equinox``      ``from_equinox``
``flax``                      ``flax``         ``from_flax``
``safetensors``               ``safetensors``  ``.safetensors`` network files
============================  ===============  ==========================================

The extra ``adapters`` installs the last four.

References:
  PEP 621 (``[project.optional-dependencies]``).
"""

from __future__ import annotations

import importlib

__all__ = ["EXTRAS", "MissingExtraError", "require", "missing_extra"]

#: top-level module name -> the extra that installs it.
EXTRAS = {
    "optax": "train",
    "sklearn": "train",
    "tqdm": "train",
    "tensorboardX": "train",
    "pandas": "export",
    "matplotlib": "figures",
    "tueplots": "figures",
    "hypothesis": "test",
    "torch": "torch",
    "equinox": "equinox",
    "flax": "flax",
    "safetensors": "safetensors",
}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def _message(module: str, what: str | None) -> str:
    extra = EXTRAS.get(module)
    need = f"{what} needs" if what else "this needs"
    if extra is None:
        return f"{need} the Python package {module!r}, which is not installed"
    return f"{need} {module!r}, from the optional extra '{extra}': pip install 'gradbounds[{extra}]'"


def require(module: str, what: str | None = None):
    """Imports ``module`` or raises :class:`MissingExtraError` naming its extra (one line)."""
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if (getattr(e, "name", None) or top).split(".")[0] != top:
            raise  # the package is there, but one of its own imports failed: not a missing extra
        raise MissingExtraError(_message(top, what), name=top) from None


def missing_extra(exc: BaseException) -> str | None:
    """The one-line message for an ImportError of a module an extra installs, else ``None``."""
    if isinstance(exc, MissingExtraError):
        return str(exc)
    if isinstance(exc, ImportError):
        name = (getattr(exc, "name", None) or "").split(".")[0]
        if name in EXTRAS:
            return _message(name, None)
    return None
