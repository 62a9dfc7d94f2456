"""The bound hierarchy lower ≤ E ≤ P ≤ J ≤ D ≤ G per layer, in log space, with verdicts.

``E`` is the exact ``‖δ^l‖``; ``D`` is the data-split bound (*) and ``G`` the
textbook bound (**) (docs/design.md §2).  :func:`hierarchy` checks one
network at its examples, :func:`sweep` a stack of networks in one jitted call
(in chunks on several threads when large), :func:`sweep_drawn` networks drawn chunk by chunk;
:func:`shapley` and :func:`coalition_values` attribute the slack to the four steps
independently of their order; :func:`decide` and :func:`redecide` settle inconclusive verdicts by proof in ball
arithmetic (:func:`ball_levels`); :func:`exact_levels` gives mpmath point values.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 5; Higham 2002, §3.5.
"""

# ruff: noqa: I001  (one name a line, as optax does)

from gradbounds.bounds._levels import COMPARISONS as COMPARISONS
from gradbounds.bounds._levels import LEVELS as LEVELS
from gradbounds.bounds._levels import SAFETY as SAFETY
from gradbounds.bounds._levels import SLACK_PARTS as SLACK_PARTS
from gradbounds.bounds._levels import VERDICTS as VERDICTS
from gradbounds.bounds._levels import Levels as Levels
from gradbounds.bounds._levels import levels as levels
from gradbounds.bounds._levels import levels_segments as levels_segments

from gradbounds.bounds._verdicts import identities as identities
from gradbounds.bounds._verdicts import verdict_codes as verdict_codes

from gradbounds.bounds._result import Hierarchy as Hierarchy

from gradbounds.bounds._attribution import PLAYERS as PLAYERS
from gradbounds.bounds._attribution import coalition_values as coalition_values
from gradbounds.bounds._attribution import shapley as shapley

from gradbounds.bounds._api import hierarchy as hierarchy
from gradbounds.bounds._api import log_error_norms as log_error_norms
from gradbounds.bounds._api import prepare_hierarchy as prepare_hierarchy
from gradbounds.bounds._api import shard_networks as shard_networks
from gradbounds.bounds._api import sweep as sweep
from gradbounds.bounds._api import sweep_drawn as sweep_drawn
from gradbounds.bounds._api import default_threads as default_threads

from gradbounds.bounds._exact import exact_levels as exact_levels

from gradbounds.bounds._ball import Unresolved as Unresolved
from gradbounds.bounds._ball import ball_levels as ball_levels
from gradbounds.bounds._redecide import decide as decide
from gradbounds.bounds._redecide import decided as decided
from gradbounds.bounds._redecide import open_examples as open_examples
from gradbounds.bounds._redecide import redecide as redecide
from gradbounds.bounds._redecide import redecide_mode as redecide_mode

__all__ = (
    "COMPARISONS",
    "LEVELS",
    "SAFETY",
    "SLACK_PARTS",
    "VERDICTS",
    "Levels",
    "levels",
    "levels_segments",
    "identities",
    "verdict_codes",
    "Hierarchy",
    "PLAYERS",
    "coalition_values",
    "shapley",
    "hierarchy",
    "prepare_hierarchy",
    "log_error_norms",
    "shard_networks",
    "sweep",
    "sweep_drawn",
    "default_threads",
    "exact_levels",
    "Unresolved",
    "ball_levels",
    "decide",
    "decided",
    "open_examples",
    "redecide",
    "redecide_mode",
)
