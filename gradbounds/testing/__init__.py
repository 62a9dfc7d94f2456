"""Testing tools: Hypothesis strategies for networks and examples, and a NumPy reference implementation.

The strategies (``networks``, ``network_batches``, ``weights``, ``layers``,
``inputs``, ``targets``, …) draw small choices from Hypothesis and build
arrays from one ``jax.random`` seed, so failures shrink and replay exactly.
:mod:`gradbounds.testing.reference` is an independent NumPy implementation of
Nielsen's backpropagation and training loop that the tests and the
benchmarks both compare against.  Importing this package imports Hypothesis.

References:
  MacIver et al., Hypothesis; Nielsen, *Neural Networks and Deep Learning*, ch. 2–5.
"""

# ruff: noqa: I001  (one name a line, as optax does)

from gradbounds.testing import reference as reference

from gradbounds.testing._arrays import MAX_SEED as MAX_SEED
from gradbounds.testing._arrays import SCHEMES as SCHEMES
from gradbounds.testing._arrays import SPECTRA as SPECTRA

from gradbounds.testing._networks import activations as activations
from gradbounds.testing._networks import init_schemes as init_schemes
from gradbounds.testing._networks import layers as layers
from gradbounds.testing._networks import network_batches as network_batches
from gradbounds.testing._networks import networks as networks
from gradbounds.testing._networks import seeds as seeds
from gradbounds.testing._networks import weights as weights
from gradbounds.testing._networks import widths as widths
from gradbounds.testing._rnn import rnn_cells as rnn_cells

from gradbounds.testing._examples import inputs as inputs
from gradbounds.testing._examples import targets as targets

from gradbounds.testing._adversarial import ADVERSARIAL_KINDS as ADVERSARIAL_KINDS
from gradbounds.testing._adversarial import AdversarialProblem as AdversarialProblem
from gradbounds.testing._adversarial import adversarial_problems as adversarial_problems

__all__ = (
    "rnn_cells",
    "reference",
    "MAX_SEED",
    "SCHEMES",
    "SPECTRA",
    "activations",
    "init_schemes",
    "layers",
    "network_batches",
    "networks",
    "seeds",
    "weights",
    "widths",
    "inputs",
    "targets",
    "ADVERSARIAL_KINDS",
    "AdversarialProblem",
    "adversarial_problems",
)
