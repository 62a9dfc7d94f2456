"""Small dense linear algebra with rounding-error bounds: spectral norms, singular values, exact scaling.

The bottom layer of the package (it imports nothing from gradbounds).

References:
  Higham 2002, *Accuracy and Stability of Numerical Algorithms*, §3.5;
  Golub & Van Loan 2013, *Matrix Computations*, §8.3–8.4.
"""

# ruff: noqa: I001  (one name a line, as optax does)

from gradbounds.linalg import _ellipsoids as ellipsoids  # error sets that do not wrap over depth
from gradbounds.linalg import _enclosures as enclosures  # rigorous norm enclosures (issue 10)
from gradbounds.linalg import _logspace as logspace  # rigorous sums and differences of logs
from gradbounds.linalg._norms import UNROLL_MAX as UNROLL_MAX
from gradbounds.linalg._norms import abs_matmul as abs_matmul
from gradbounds.linalg._norms import lam_max_tridiagonal as lam_max_tridiagonal
from gradbounds.linalg._norms import log_norm as log_norm
from gradbounds.linalg._norms import log_norm_scaled as log_norm_scaled
from gradbounds.linalg._norms import one_at_a_time as one_at_a_time
from gradbounds.linalg._norms import pow2_scale as pow2_scale
from gradbounds.linalg._norms import single_threaded_blas as single_threaded_blas
from gradbounds.linalg._norms import sturm_loops as sturm_loops
from gradbounds.linalg._norms import svdvals as svdvals
from gradbounds.linalg._norms import tridiagonal as tridiagonal

__all__ = (
    "UNROLL_MAX",
    "abs_matmul",
    "lam_max_tridiagonal",
    "log_norm",
    "log_norm_scaled",
    "one_at_a_time",
    "pow2_scale",
    "single_threaded_blas",
    "sturm_loops",
    "svdvals",
    "tridiagonal",
    "ellipsoids",
    "enclosures",
    "logspace",
)
