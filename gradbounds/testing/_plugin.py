"""The Hypothesis plugin: ``st.from_type(Layer)`` draws a layer.

Hypothesis runs :func:`_hypothesis_setup_hook` through the ``hypothesis``
entry point declared in ``pyproject.toml``.  This module imports nothing at
load time: the hook may run while ``gradbounds.testing`` itself is being
imported (its ``import hypothesis`` runs the entry points), so the strategy is
registered as a callable resolved when first used.
"""

from __future__ import annotations


def _hypothesis_setup_hook() -> None:
    """Registers a strategy for :class:`gradbounds.core.Layer` (``st.from_type``)."""
    from hypothesis import strategies as st_

    from gradbounds.core import Layer

    def _layers(_type):
        from gradbounds.testing._networks import layers

        return layers()

    st_.register_type_strategy(Layer, _layers)
