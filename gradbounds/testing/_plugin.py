"""The Hypothesis plugin: ``st.from_type(Layer)`` draws a layer.

Hypothesis runs :func:`_hypothesis_setup_hook` through the ``hypothesis``
entry point declared in ``pyproject.toml``.  This module imports nothing at
load time: the hook may run while ``gradbounds.testing`` itself is being
imported (its ``import hypothesis`` runs the entry points), so the strategy is
registered as a callable resolved when first used.
"""

from __future__ import annotations


def _hypothesis_setup_hook() -> None:
    """Registers a strategy for :class:`gradbounds.core.Layer` (``st.from_type``).

    The layer's dtype is JAX's default float when it is drawn: float64 with ``jax_enable_x64``,
    float32 without (``gradbounds.testing.layers(dtype=...)`` chooses it explicitly).
    """
    from hypothesis import strategies as st_

    from gradbounds.core import Layer

    def _layers(_type):
        import jax

        from gradbounds.testing._networks import layers

        @st_.composite
        def draw_layer(draw):  # the flag is read at each draw: it may be flipped after the strategy is built
            return draw(layers(dtype="float64" if jax.config.read("jax_enable_x64") else "float32"))

        return draw_layer()

    st_.register_type_strategy(Layer, _layers)
