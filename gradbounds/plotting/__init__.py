"""Publication figures from results (objects or their JSON); matplotlib is the optional extra ``figures``.

Every function takes a result or the JSON-ready dict the ``gradbounds``
commands write, returns a :class:`matplotlib.figure.Figure` and, given
``path``, saves it as a vector PDF.

References:
  Okabe & Ito 2008 (palette); the sources of each figure's quantity in its docstring.
"""

# ruff: noqa: I001  (one name a line, as optax does)

from gradbounds.plotting._style import LEVEL_LABELS as LEVEL_LABELS
from gradbounds.plotting._style import PALETTE as PALETTE
from gradbounds.plotting._style import SLACK_LABELS as SLACK_LABELS
from gradbounds.plotting._style import STYLES as STYLES
from gradbounds.plotting._style import new_figure as new_figure
from gradbounds.plotting._style import save as save
from gradbounds.plotting._style import show as show

from gradbounds.plotting._hierarchy import bound_ladder as bound_ladder
from gradbounds.plotting._hierarchy import slack_depth as slack_depth

from gradbounds.plotting._chain import chain as chain
from gradbounds.plotting._chain import underflow as underflow

from gradbounds.plotting._nielsen import nielsen_speeds as nielsen_speeds

from gradbounds.plotting._rnn import bptt_cells as bptt_cells

from gradbounds.plotting._residual import residual_depth as residual_depth

from gradbounds.plotting._theory import phase_diagram as phase_diagram
from gradbounds.plotting._theory import spectra as spectra
from gradbounds.plotting._theory import typical_worst as typical_worst

__all__ = (
    "LEVEL_LABELS",
    "PALETTE",
    "SLACK_LABELS",
    "STYLES",
    "new_figure",
    "save",
    "show",
    "bound_ladder",
    "slack_depth",
    "chain",
    "underflow",
    "nielsen_speeds",
    "bptt_cells",
    "residual_depth",
    "phase_diagram",
    "spectra",
    "typical_worst",
)
