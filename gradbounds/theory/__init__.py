"""Typical-case theory beside the worst case: mean field, free probability, typical against worst.

Every function takes the weight and bias **variances** ``sw2 = σ_w²`` and
``sb2 = σ_b²`` of ``W^l_{ij} ~ N(0, σ_w²/n_{l-1})``, ``b^l_i ~ N(0, σ_b²)``
(or ``σ_w`` · Haar-orthogonal weights).

References:
  Poole et al. 2016; Schoenholz et al. 2017; Pennington, Schoenholz &
  Ganguli 2017, 2018.
"""

# ruff: noqa: I001  (one name a line, as optax does)

from gradbounds.theory._gauss import expect as expect

from gradbounds.theory._meanfield import PHASE_TOL as PHASE_TOL
from gradbounds.theory._meanfield import Moments as Moments
from gradbounds.theory._meanfield import chi1 as chi1
from gradbounds.theory._meanfield import gaussian_moments as gaussian_moments
from gradbounds.theory._meanfield import length_map as length_map
from gradbounds.theory._meanfield import length_map_iterates as length_map_iterates
from gradbounds.theory._meanfield import q_star as q_star

from gradbounds.theory._correlation import c_star as c_star
from gradbounds.theory._correlation import correlation_map as correlation_map

from gradbounds.theory._phase import MeanField as MeanField
from gradbounds.theory._phase import critical_line as critical_line
from gradbounds.theory._phase import critical_sw2 as critical_sw2
from gradbounds.theory._phase import mean_field as mean_field

from gradbounds.theory._freeprob import SPECTRUM_STAGES as SPECTRUM_STAGES
from gradbounds.theory._freeprob import WEIGHT_INITS as WEIGHT_INITS
from gradbounds.theory._freeprob import JacobianSpectrum as JacobianSpectrum
from gradbounds.theory._freeprob import jacobian_edge as jacobian_edge
from gradbounds.theory._freeprob import jacobian_moments as jacobian_moments
from gradbounds.theory._freeprob import jacobian_spectrum as jacobian_spectrum
from gradbounds.theory._freeprob import s1 as s1
from gradbounds.theory._freeprob import sample_jacobian_spectrum as sample_jacobian_spectrum

from gradbounds.theory._lyapunov import ProductRate as ProductRate
from gradbounds.theory._lyapunov import product_rate as product_rate
from gradbounds.theory._lyapunov import top_lyapunov as top_lyapunov

from gradbounds.theory._typical import TypicalWorst as TypicalWorst
from gradbounds.theory._typical import typical_rates as typical_rates
from gradbounds.theory._typical import typical_vs_worst as typical_vs_worst

__all__ = (
    "expect",
    "PHASE_TOL",
    "Moments",
    "chi1",
    "gaussian_moments",
    "length_map",
    "length_map_iterates",
    "q_star",
    "c_star",
    "correlation_map",
    "MeanField",
    "critical_line",
    "critical_sw2",
    "mean_field",
    "SPECTRUM_STAGES",
    "WEIGHT_INITS",
    "JacobianSpectrum",
    "jacobian_edge",
    "jacobian_moments",
    "jacobian_spectrum",
    "s1",
    "sample_jacobian_spectrum",
    "ProductRate",
    "product_rate",
    "top_lyapunov",
    "TypicalWorst",
    "typical_rates",
    "typical_vs_worst",
)
