"""gradbounds: exact, checkable bounds on vanishing and exploding gradients.

Importing the package is light: hypothesis, matplotlib, optax and
scikit-learn load only in the modules that need them.  The 64-bit flag is
never flipped here; functions follow their inputs' dtype (the CLI and the
tests turn on ``jax_enable_x64``).
"""

from gradbounds import activations
from gradbounds.activations import Activation
from gradbounds.backprop import errors, errors_autodiff, log_error_norms, underflow_depth, weight_gradients
from gradbounds.bounds import COMPARISONS, LEVELS, Hierarchy, Levels, hierarchy, levels, sweep
from gradbounds.costs import get_cost, output_error
from gradbounds.jacobians import error_jacobian, error_jacobians, input_output_jacobian, layer_jacobian, layer_jacobians
from gradbounds.networks import (
    INITS,
    Forward,
    Layer,
    forward,
    init_network,
    load_network,
    network_from_arrays,
    save_network,
    validate_network,
    widths,
)

__version__ = "0.1.0"

__all__ = (
    "Activation",
    "activations",
    "compare_remedies",
    "COMPARISONS",
    "Dataset",
    "error_jacobian",
    "error_jacobians",
    "errors",
    "errors_autodiff",
    "Forward",
    "forward",
    "get_cost",
    "Hierarchy",
    "hierarchy",
    "init_network",
    "INITS",
    "input_output_jacobian",
    "Layer",
    "layer_jacobian",
    "layer_jacobians",
    "layer_statistics",
    "levels",
    "LEVELS",
    "Levels",
    "load_dataset",
    "load_digits",
    "load_idx",
    "load_network",
    "load_pkl",
    "log_error_norms",
    "monitor",
    "MonitorReport",
    "network_from_arrays",
    "one_hot",
    "output_error",
    "preset",
    "PRESETS",
    "Protocol",
    "read_idx",
    "REMEDIES",
    "save_network",
    "SlowLayerWarning",
    "speed_monitor",
    "speeds",
    "sweep",
    "train",
    "TrainResult",
    "underflow_depth",
    "validate_network",
    "weight_gradients",
    "widths",
)
