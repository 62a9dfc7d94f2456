"""The experiments behind ``gradbounds figures`` and the paper: each computes a result, draws it, names its numbers.

Each :class:`Experiment` has ``compute(quick, seed, nielsen_dir) -> dict``
(JSON-ready), ``draw(result, path, ...)`` (a :mod:`gradbounds.plotting`
function), ``numbers(result) -> {key: (value, format)}`` and optionally
``tables(result) -> {name: LaTeX}``; ``requires`` names the optional modules
it needs.  Every random draw comes from ``jax.random.key(seed + offset)``.
"""

# ruff: noqa: I001  (one name a line, as optax does)

from gradbounds.experiments._common import SEED_WIDTHS as SEED_WIDTHS
from gradbounds.experiments._common import Experiment as Experiment
from gradbounds.experiments._common import numbers_tex as numbers_tex
from gradbounds.experiments._common import random_family as random_family
from gradbounds.experiments._common import tex_number as tex_number

from gradbounds.experiments._run import EXPERIMENTS as EXPERIMENTS
from gradbounds.experiments._run import run_experiments as run_experiments

__all__ = (
    "SEED_WIDTHS",
    "Experiment",
    "numbers_tex",
    "random_family",
    "tex_number",
    "EXPERIMENTS",
    "run_experiments",
)
