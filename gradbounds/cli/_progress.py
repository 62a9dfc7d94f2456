"""Progress bars of long CLI runs: tqdm on stderr, only on a terminal, never when stdout carries data.

``tqdm`` is optional (the extra ``train``): without it there is simply no bar.
A bar appears only once the work has run ``DELAY_S`` seconds (tqdm's
``delay``), so a short run prints nothing extra.
"""

from __future__ import annotations

import sys

__all__ = ["DELAY_S", "progress_bar"]

#: seconds of work before a bar appears (tqdm's ``delay``); "the run is long".
DELAY_S = 2.0


def progress_bar(total: int, *, unit: str, desc: str, quiet: bool = False, stdout_data: bool = False):
    """A tqdm bar on stderr, or ``None`` when none should be shown.

    Args:
      total: number of units of work.
      unit: what one unit is (``"net"``, ``"step"``).
      desc: the bar's label.
      quiet: the user asked for no bar (``--quiet``).
      stdout_data: JSON or CSV goes to stdout (``--json -``, ``--csv -``): no bar, so that a
        pipeline sees nothing but its data, whatever stderr is.

    Returns:
      a ``tqdm`` object (call ``update(n)``, then ``close()``) or ``None``: ``quiet``,
      ``stdout_data``, stderr not a terminal, or tqdm not installed.
    """
    if quiet or stdout_data or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, file=sys.stderr, unit=unit, desc=desc, delay=DELAY_S, leave=False, dynamic_ncols=True)
