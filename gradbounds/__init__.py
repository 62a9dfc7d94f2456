"""gradbounds: exact, checkable bounds on vanishing and exploding gradients, in JAX.

The top level holds the names a notebook needs; everything else lives in
subpackages (docs/design.md §6 gives the map):

* :mod:`gradbounds.core`: activations, networks, costs, the layer scan, backpropagation, Jacobians, the chain;
* :mod:`gradbounds.bounds`: the bound hierarchy lower ≤ E ≤ P ≤ J ≤ D ≤ G, verdicts, re-decisions;
* :mod:`gradbounds.rnn`: backpropagation through time in plain, LSTM and GRU cells: E ≤ P ≤ J ≤ G per step;
* :mod:`gradbounds.residual`: residual blocks ``h + F(h)`` (:class:`Residual`) and the hierarchy over blocks;
* :mod:`gradbounds.spectra`: singular values of layer Jacobians and their products at any depth;
* :mod:`gradbounds.theory`: mean field, free probability, typical against worst case;
* :mod:`gradbounds.training`: Nielsen's chapter-5 experiment, per-layer speeds, the monitor, datasets;
* :mod:`gradbounds.io`: the JSON codec and network/example files; :mod:`gradbounds.linalg`: norms with error bounds;
* :mod:`gradbounds.adapters`: PyTorch, Equinox and Flax models and state-dict files as networks
  (:func:`from_torch`, :func:`from_equinox`, :func:`from_flax`; the frameworks load only when called);
* :mod:`gradbounds.testing` (Hypothesis strategies), :mod:`gradbounds.plotting` (matplotlib figures),
  :mod:`gradbounds.experiments` (the paper's figures and numbers) and :mod:`gradbounds.cli` load on first use.

Importing the package is light: hypothesis, matplotlib, optax and scikit-learn
load only in the modules that need them.  The 64-bit flag is never flipped
here; functions follow their inputs' dtype (the CLI and the tests turn on
``jax_enable_x64``).
"""

# ruff: noqa: I001  (one name a line, grouped by subpackage, as optax does)

import importlib as _importlib

from gradbounds._version import __version__ as __version__

from gradbounds import core as core
from gradbounds import bounds as bounds
from gradbounds import rnn as rnn
from gradbounds import residual as residual
from gradbounds import io as io
from gradbounds import adapters as adapters
from gradbounds import linalg as linalg
from gradbounds import spectra as spectra
from gradbounds import theory as theory
from gradbounds import training as training

from gradbounds.core import Activation as Activation
from gradbounds.core import Layer as Layer
from gradbounds.core import chain_gradients as chain_gradients
from gradbounds.core import chain_network as chain_network
from gradbounds.core import error_jacobians as error_jacobians
from gradbounds.core import errors as errors
from gradbounds.core import errors_autodiff as errors_autodiff
from gradbounds.core import forward as forward
from gradbounds.core import get_activation as get_activation
from gradbounds.core import init_network as init_network
from gradbounds.core import input_output_jacobian as input_output_jacobian
from gradbounds.core import layer_jacobians as layer_jacobians
from gradbounds.core import network_from_arrays as network_from_arrays
from gradbounds.core import underflow_depth as underflow_depth
from gradbounds.core import weight_gradients as weight_gradients
from gradbounds.core import widths as widths

from gradbounds.io import load_network as load_network
from gradbounds.io import save_network as save_network

from gradbounds.adapters import from_equinox as from_equinox
from gradbounds.adapters import from_flax as from_flax
from gradbounds.adapters import from_torch as from_torch

from gradbounds.bounds import LEVELS as LEVELS
from gradbounds.bounds import Hierarchy as Hierarchy
from gradbounds.bounds import hierarchy as hierarchy
from gradbounds.bounds import log_error_norms as log_error_norms
from gradbounds.bounds import sweep as sweep

from gradbounds.residual import Residual as Residual
from gradbounds.residual import residual_hierarchy as residual_hierarchy

from gradbounds.spectra import input_output_spectrum as input_output_spectrum
from gradbounds.spectra import product_spectrum as product_spectrum

from gradbounds.theory import jacobian_spectrum as jacobian_spectrum
from gradbounds.theory import mean_field as mean_field
from gradbounds.theory import typical_vs_worst as typical_vs_worst

from gradbounds.training import load_dataset as load_dataset
from gradbounds.training import monitor as monitor
from gradbounds.training import preset as preset
from gradbounds.training import speed_monitor as speed_monitor
from gradbounds.training import train as train

_LAZY = ("testing", "plotting", "experiments", "cli")


def __getattr__(name):  # PEP 562: the subpackages with optional dependencies load on first use
    if name in _LAZY:
        return _importlib.import_module(f"gradbounds.{name}")
    raise AttributeError(f"module 'gradbounds' has no attribute {name!r}")


__all__ = (
    "__version__",
    "core",
    "bounds",
    "residual",
    "io",
    "adapters",
    "linalg",
    "spectra",
    "theory",
    "training",
    "Activation",
    "Layer",
    "chain_gradients",
    "chain_network",
    "error_jacobians",
    "errors",
    "errors_autodiff",
    "forward",
    "get_activation",
    "init_network",
    "input_output_jacobian",
    "layer_jacobians",
    "network_from_arrays",
    "underflow_depth",
    "weight_gradients",
    "widths",
    "load_network",
    "save_network",
    "from_equinox",
    "from_flax",
    "from_torch",
    "LEVELS",
    "Hierarchy",
    "hierarchy",
    "log_error_norms",
    "sweep",
    "Residual",
    "residual_hierarchy",
    "input_output_spectrum",
    "product_spectrum",
    "jacobian_spectrum",
    "mean_field",
    "typical_vs_worst",
    "load_dataset",
    "monitor",
    "preset",
    "speed_monitor",
    "train",
)
