"""Recurrent networks: backpropagation through time as the hierarchy E ≤ P ≤ J ≤ G per time step.

* :class:`Cell`, :func:`init_cell`, :func:`cell_from_arrays`, :func:`load_cell`: plain,
  LSTM and GRU cells with PyTorch's equations and state-dict names;
* :func:`step`, :func:`run`, :func:`state_jacobian` (closed form), :func:`loss`;
* :func:`bptt`: ``E_k, P_k, J_k (, G_k)`` for ``k = 0..T`` in log space, rigorous
  enclosures and certified verdicts for every cell, Pascanu's conditions (plain cell);
* :func:`decay_rates`: the measured decay of ``E_k`` per step, the three cells at matched init;
* :func:`train_adding`, :func:`adding_batch`: the adding problem (optax, the ``train`` extra).

References:
  Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent neural
  networks", ICML; PyTorch documentation of ``nn.RNN``, ``nn.LSTM``, ``nn.GRU``.
"""

# ruff: noqa: I001  (one name a line, as optax does)

from gradbounds.rnn._cells import CELLS as CELLS
from gradbounds.rnn._cells import GATES as GATES
from gradbounds.rnn._cells import Cell as Cell
from gradbounds.rnn._cells import init_cell as init_cell
from gradbounds.rnn._cells import cell_from_arrays as cell_from_arrays
from gradbounds.rnn._cells import load_cell as load_cell
from gradbounds.rnn._cells import load_data as load_data
from gradbounds.rnn._cells import check_data as check_data
from gradbounds.rnn._cells import step as step
from gradbounds.rnn._cells import run as run
from gradbounds.rnn._cells import readout as readout
from gradbounds.rnn._cells import loss as loss
from gradbounds.rnn._cells import state_jacobian as state_jacobian
from gradbounds.rnn._levels import LEVELS as LEVELS
from gradbounds.rnn._levels import point_levels as point_levels
from gradbounds.rnn._levels import plain_bptt as plain_bptt
from gradbounds.rnn._levels import summed_levels as summed_levels
from gradbounds.rnn._levels import output_gradient as output_gradient
from gradbounds.rnn._enclosed import plain_enclosures as plain_enclosures
from gradbounds.rnn._gated import gated_enclosures as gated_enclosures
from gradbounds.rnn._api import VERDICTS as VERDICTS
from gradbounds.rnn._adding import VARIANTS as VARIANTS
from gradbounds.rnn._adding import AddingResult as AddingResult
from gradbounds.rnn._adding import adding_batch as adding_batch
from gradbounds.rnn._adding import train_adding as train_adding
from gradbounds.rnn._api import BPTTResult as BPTTResult
from gradbounds.rnn._api import bptt as bptt
from gradbounds.rnn._api import decay_rates as decay_rates

__all__ = (
    "CELLS",
    "GATES",
    "Cell",
    "init_cell",
    "cell_from_arrays",
    "load_cell",
    "load_data",
    "check_data",
    "step",
    "run",
    "readout",
    "loss",
    "state_jacobian",
    "LEVELS",
    "point_levels",
    "plain_bptt",
    "summed_levels",
    "output_gradient",
    "plain_enclosures",
    "gated_enclosures",
    "VERDICTS",
    "VARIANTS",
    "AddingResult",
    "adding_batch",
    "train_adding",
    "BPTTResult",
    "bptt",
    "decay_rates",
)
