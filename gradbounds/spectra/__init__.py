"""Singular values of layer Jacobians, their products and ``∂a^L/∂x``, stable at any depth (QR sweeps).

References:
  Benettin et al. 1980 (QR method for Lyapunov exponents); Golub & Van Loan
  2013, §8.3.7 and §8.6; Pennington, Schoenholz & Ganguli 2017.
"""

# ruff: noqa: I001  (one name a line, as optax does)

from gradbounds.spectra._products import LyapunovResult as LyapunovResult
from gradbounds.spectra._products import Spectrum as Spectrum
from gradbounds.spectra._products import input_output_spectrum as input_output_spectrum
from gradbounds.spectra._products import lyapunov_exponents as lyapunov_exponents
from gradbounds.spectra._products import product_spectrum as product_spectrum

from gradbounds.spectra._layers import Directions as Directions
from gradbounds.spectra._layers import directions as directions
from gradbounds.spectra._layers import error_singular_values as error_singular_values
from gradbounds.spectra._layers import layer_directions as layer_directions
from gradbounds.spectra._layers import layer_singular_values as layer_singular_values

__all__ = (
    "LyapunovResult",
    "Spectrum",
    "input_output_spectrum",
    "lyapunov_exponents",
    "product_spectrum",
    "Directions",
    "directions",
    "error_singular_values",
    "layer_directions",
    "layer_singular_values",
)
