"""gradbounds: exact, checkable bounds on vanishing and exploding gradients.

Importing the package is light: hypothesis, matplotlib, optax and
scikit-learn load only in the modules that need them (``gradbounds.strategies``,
``gradbounds.figures``, the optimiser and data helpers).  The 64-bit flag is
never flipped here; functions follow their inputs' dtype (the CLI and the
tests turn on ``jax_enable_x64``).
"""

# ruff: noqa: I001  (one name a line, grouped by module, as optax does)

from gradbounds import activations
from gradbounds.activations import Activation as Activation

from gradbounds.backprop import errors as errors
from gradbounds.backprop import errors_autodiff as errors_autodiff
from gradbounds.backprop import log_error_norms as log_error_norms
from gradbounds.backprop import underflow_depth as underflow_depth
from gradbounds.backprop import weight_gradients as weight_gradients

from gradbounds.bounds import COMPARISONS as COMPARISONS
from gradbounds.bounds import LEVELS as LEVELS
from gradbounds.bounds import Hierarchy as Hierarchy
from gradbounds.bounds import Levels as Levels
from gradbounds.bounds import hierarchy as hierarchy
from gradbounds.bounds import identities as identities
from gradbounds.bounds import levels as levels
from gradbounds.bounds import shard_networks as shard_networks
from gradbounds.bounds import sweep as sweep
from gradbounds.bounds import verdict_codes as verdict_codes

from gradbounds.chain import ChainResult as ChainResult
from gradbounds.chain import chain_gradients as chain_gradients
from gradbounds.chain import chain_network as chain_network

from gradbounds.costs import get_cost as get_cost
from gradbounds.costs import output_error as output_error

from gradbounds.data import Dataset as Dataset
from gradbounds.data import load_dataset as load_dataset
from gradbounds.data import load_digits as load_digits
from gradbounds.data import load_idx as load_idx
from gradbounds.data import load_pkl as load_pkl
from gradbounds.data import one_hot as one_hot
from gradbounds.data import read_idx as read_idx

from gradbounds.exact import decide as decide
from gradbounds.exact import exact_levels as exact_levels
from gradbounds.exact import redecide as redecide

from gradbounds.freeprob import JacobianSpectrum as JacobianSpectrum
from gradbounds.freeprob import jacobian_edge as jacobian_edge
from gradbounds.freeprob import jacobian_moments as jacobian_moments
from gradbounds.freeprob import jacobian_spectrum as jacobian_spectrum

from gradbounds.jacobians import error_jacobian as error_jacobian
from gradbounds.jacobians import error_jacobians as error_jacobians
from gradbounds.jacobians import input_output_jacobian as input_output_jacobian
from gradbounds.jacobians import layer_jacobian as layer_jacobian
from gradbounds.jacobians import layer_jacobians as layer_jacobians

from gradbounds.monitoring import MonitorReport as MonitorReport
from gradbounds.monitoring import SlowLayerWarning as SlowLayerWarning
from gradbounds.monitoring import monitor as monitor
from gradbounds.monitoring import speed_monitor as speed_monitor

from gradbounds.networks import INITS as INITS
from gradbounds.networks import Forward as Forward
from gradbounds.networks import Layer as Layer
from gradbounds.networks import forward as forward
from gradbounds.networks import init_network as init_network
from gradbounds.networks import load_network as load_network
from gradbounds.networks import network_from_arrays as network_from_arrays
from gradbounds.networks import save_network as save_network
from gradbounds.networks import validate_network as validate_network
from gradbounds.networks import widths as widths

from gradbounds.spectra import Directions as Directions
from gradbounds.spectra import Spectrum as Spectrum
from gradbounds.spectra import directions as directions
from gradbounds.spectra import error_singular_values as error_singular_values
from gradbounds.spectra import input_output_spectrum as input_output_spectrum
from gradbounds.spectra import layer_directions as layer_directions
from gradbounds.spectra import layer_singular_values as layer_singular_values
from gradbounds.spectra import lyapunov_exponents as lyapunov_exponents
from gradbounds.spectra import product_spectrum as product_spectrum
from gradbounds.spectra import sample_jacobian_spectrum as sample_jacobian_spectrum

from gradbounds.theory import MeanField as MeanField
from gradbounds.theory import c_star as c_star
from gradbounds.theory import chi1 as chi1
from gradbounds.theory import correlation_map as correlation_map
from gradbounds.theory import critical_line as critical_line
from gradbounds.theory import critical_sw2 as critical_sw2
from gradbounds.theory import gaussian_moments as gaussian_moments
from gradbounds.theory import length_map as length_map
from gradbounds.theory import mean_field as mean_field
from gradbounds.theory import q_star as q_star

from gradbounds.training import PRESETS as PRESETS
from gradbounds.training import REMEDIES as REMEDIES
from gradbounds.training import Protocol as Protocol
from gradbounds.training import TrainResult as TrainResult
from gradbounds.training import compare_remedies as compare_remedies
from gradbounds.training import layer_statistics as layer_statistics
from gradbounds.training import preset as preset
from gradbounds.training import speeds as speeds
from gradbounds.training import train as train

from gradbounds.typical import TypicalWorst as TypicalWorst
from gradbounds.typical import typical_vs_worst as typical_vs_worst

__version__ = "0.1.0"

__all__ = (
    "Activation",
    "activations",
    "c_star",
    "chain_gradients",
    "chain_network",
    "ChainResult",
    "chi1",
    "compare_remedies",
    "COMPARISONS",
    "correlation_map",
    "critical_line",
    "critical_sw2",
    "Dataset",
    "decide",
    "Directions",
    "directions",
    "error_jacobian",
    "error_jacobians",
    "error_singular_values",
    "errors",
    "errors_autodiff",
    "exact_levels",
    "Forward",
    "forward",
    "gaussian_moments",
    "get_cost",
    "Hierarchy",
    "hierarchy",
    "identities",
    "init_network",
    "INITS",
    "input_output_jacobian",
    "input_output_spectrum",
    "jacobian_edge",
    "jacobian_moments",
    "jacobian_spectrum",
    "JacobianSpectrum",
    "Layer",
    "layer_directions",
    "layer_jacobian",
    "layer_jacobians",
    "layer_singular_values",
    "layer_statistics",
    "length_map",
    "LEVELS",
    "Levels",
    "levels",
    "load_dataset",
    "load_digits",
    "load_idx",
    "load_network",
    "load_pkl",
    "log_error_norms",
    "lyapunov_exponents",
    "mean_field",
    "MeanField",
    "monitor",
    "MonitorReport",
    "network_from_arrays",
    "one_hot",
    "output_error",
    "preset",
    "PRESETS",
    "product_spectrum",
    "Protocol",
    "q_star",
    "read_idx",
    "redecide",
    "REMEDIES",
    "sample_jacobian_spectrum",
    "save_network",
    "shard_networks",
    "SlowLayerWarning",
    "Spectrum",
    "speed_monitor",
    "speeds",
    "sweep",
    "train",
    "TrainResult",
    "typical_vs_worst",
    "TypicalWorst",
    "underflow_depth",
    "validate_network",
    "verdict_codes",
    "weight_gradients",
    "widths",
)
