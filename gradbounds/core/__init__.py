"""The network and its gradient: activations, networks, costs, the layer scan, backpropagation, Jacobians.

Nielsen's notation throughout (docs/design.md §1): layer ``l`` has weights
``W^l`` of shape ``(n_l, n_{l-1})``, biases ``b^l``, activation ``σ_l``;
``z^l = W^l a^{l-1} + b^l``, ``a^l = σ_l(z^l)``, ``δ^l = ∂C/∂z^l``.  A network
is a tuple of :class:`Layer` records (a pytree), so ``jit``, ``vmap`` and
``grad`` act on it directly.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 2 (notation, BP1–BP4) and ch. 5.
"""

# ruff: noqa: I001  (one name a line, grouped by module, as optax does)

from gradbounds.core._activations import LEAKY_SLOPE as LEAKY_SLOPE
from gradbounds.core._activations import SELU_ALPHA as SELU_ALPHA
from gradbounds.core._activations import SELU_LAMBDA as SELU_LAMBDA
from gradbounds.core._activations import Activation as Activation
from gradbounds.core._activations import activation_names as activation_names
from gradbounds.core._activations import get_activation as get_activation
from gradbounds.core._activations import register_activation as register_activation
from gradbounds.core._activations import leaky_relu as leaky_relu
from gradbounds.core._activations import round_up as round_up
from gradbounds.core._callables import activation_name as activation_name
from gradbounds.core._callables import check_slope as check_slope
from gradbounds.core._balls import Straddle as Straddle

from gradbounds.core._networks import INITS as INITS
from gradbounds.core._networks import Forward as Forward
from gradbounds.core._networks import Layer as Layer
from gradbounds.core._networks import check_finite as check_finite
from gradbounds.core._networks import check_input as check_input
from gradbounds.core._networks import check_widths as check_widths
from gradbounds.core._networks import draw_examples as draw_examples
from gradbounds.core._networks import forward as forward
from gradbounds.core._networks import init_network as init_network
from gradbounds.core._networks import network_from_arrays as network_from_arrays
from gradbounds.core._networks import validate_network as validate_network
from gradbounds.core._networks import widths as widths

from gradbounds.core._costs import COSTS as COSTS
from gradbounds.core._costs import Cost as Cost
from gradbounds.core._costs import check_cost_defined as check_cost_defined
from gradbounds.core._costs import OutputError as OutputError
from gradbounds.core._costs import get_cost as get_cost
from gradbounds.core._costs import output_error as output_error
from gradbounds.core._costs import softmax as softmax

from gradbounds.core import _derivative_bounds as enclosures  # σ' enclosures, proved γ (issue 10)

from gradbounds.core._scan import SCAN_MIN as SCAN_MIN
from gradbounds.core._scan import Segment as Segment
from gradbounds.core._scan import backward_scan as backward_scan
from gradbounds.core._scan import forward_segments as forward_segments
from gradbounds.core._scan import scan_or_loop as scan_or_loop
from gradbounds.core._scan import segments as segments

from gradbounds.core._closed_forms import MP_LOCK as MP_LOCK
from gradbounds.core._backprop import errors as errors
from gradbounds.core._backprop import errors_autodiff as errors_autodiff
from gradbounds.core._backprop import underflow_depth as underflow_depth
from gradbounds.core._backprop import prepare_underflow_depths as prepare_underflow_depths
from gradbounds.core._backprop import underflow_depths as underflow_depths
from gradbounds.core._backprop import weight_gradients as weight_gradients

from gradbounds.core._jacobians import METHODS as METHODS
from gradbounds.core._jacobians import error_jacobian as error_jacobian
from gradbounds.core._jacobians import error_jacobians as error_jacobians
from gradbounds.core._jacobians import input_output_jacobian as input_output_jacobian
from gradbounds.core._jacobians import layer_jacobian as layer_jacobian
from gradbounds.core._jacobians import layer_jacobians as layer_jacobians

from gradbounds.core._chain import ChainResult as ChainResult
from gradbounds.core._chain import chain_gradients as chain_gradients
from gradbounds.core._chain import chain_gradients_arrays as chain_gradients_arrays
from gradbounds.core._chain import chain_network as chain_network
from gradbounds.core._chain import chain_weights as chain_weights

from gradbounds.core._programs import program_store as program_store
from gradbounds.core._programs import stored_program as stored_program
from gradbounds.core._programs import use_program_store as use_program_store

__all__ = (
    "LEAKY_SLOPE",
    "MP_LOCK",
    "SELU_ALPHA",
    "SELU_LAMBDA",
    "Activation",
    "activation_names",
    "activation_name",
    "check_slope",
    "get_activation",
    "register_activation",
    "leaky_relu",
    "round_up",
    "Straddle",
    "INITS",
    "Forward",
    "Layer",
    "check_finite",
    "check_input",
    "check_widths",
    "draw_examples",
    "forward",
    "init_network",
    "network_from_arrays",
    "validate_network",
    "widths",
    "COSTS",
    "Cost",
    "check_cost_defined",
    "OutputError",
    "get_cost",
    "output_error",
    "softmax",
    "SCAN_MIN",
    "Segment",
    "backward_scan",
    "forward_segments",
    "scan_or_loop",
    "segments",
    "errors",
    "errors_autodiff",
    "underflow_depth",
    "underflow_depths",
    "prepare_underflow_depths",
    "weight_gradients",
    "METHODS",
    "error_jacobian",
    "error_jacobians",
    "input_output_jacobian",
    "layer_jacobian",
    "layer_jacobians",
    "ChainResult",
    "chain_gradients",
    "chain_gradients_arrays",
    "chain_network",
    "chain_weights",
    "enclosures",
    "program_store",
    "stored_program",
    "use_program_store",
)
