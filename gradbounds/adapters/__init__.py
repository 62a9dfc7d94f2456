"""Adapters: a PyTorch, Equinox or Flax model, or a state-dict file, as a gradbounds network in one call.

* :func:`from_torch`: ``nn.Sequential`` of ``Linear`` and elementwise activations;
* :func:`from_equinox`: ``eqx.nn.MLP`` and ``eqx.nn.Sequential``;
* :func:`from_flax`: ``nnx.Sequential``, linen ``nn.Sequential`` with params, linen Dense params;
* :func:`from_state_dict`, :func:`load_state_dict`, :func:`read_network`: ``.safetensors``,
  ``.pt``/``.pth`` and ``.npz`` files;
* :func:`activation_name`: which registered activation a callable (``jax.nn.gelu``, ``torch.tanh``) is.

The model's dtype is kept unless ``dtype=`` is given.  torch, equinox, flax and
safetensors are imported only inside these functions (the ``adapters`` extra
installs them: ``pip install 'gradbounds[adapters]'``).
"""

# ruff: noqa: I001  (one name a line, as optax does)

from gradbounds.core import activation_name as activation_name
from gradbounds.adapters._torch import from_torch as from_torch
from gradbounds.adapters._equinox import from_equinox as from_equinox
from gradbounds.adapters._flax import from_flax as from_flax
from gradbounds.adapters._safetensors import from_state_dict as from_state_dict
from gradbounds.adapters._safetensors import load_state_dict as load_state_dict
from gradbounds.adapters._safetensors import read_network as read_network
from gradbounds.adapters._safetensors import NETWORK_SUFFIXES as NETWORK_SUFFIXES

__all__ = (
    "activation_name",
    "from_torch",
    "from_equinox",
    "from_flax",
    "from_state_dict",
    "load_state_dict",
    "read_network",
    "NETWORK_SUFFIXES",
)
