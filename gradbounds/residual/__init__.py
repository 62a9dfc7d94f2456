"""Residual blocks ``h ↦ h + F(h)`` and the bound hierarchy over blocks (issue 12).

* :class:`Residual`, :func:`init_residual`: a block ``h + F(h)``, ``F`` a stack of layers from width ``n`` back to ``n``,
  placed among plain :class:`~gradbounds.Layer` records in a network;
* :func:`validate_blocks`, :func:`block_widths`, :func:`block_forward`, :func:`forward_blocks`;
* :func:`block_jacobian`: ``∂h^k/∂h^{k-1} = I + J_F`` in closed form;
* :func:`block_errors_autodiff`: ``∂C/∂b^k`` (plain layer) and ``∂C/∂h^k`` (residual block) by ``jax.grad``;
* :func:`residual_hierarchy`: floor ≤ lower ≤ E ≤ P ≤ J ≤ D ≤ G per block (point values), the residual
  analogue of the textbook bound, ``G_k = ∏_r(1 + ∏_iγ_{r,i}‖W_{r,i}‖)‖g‖``, and its mirror image below E,
  ``∏_r(1 − ∏_i‖Σ'(z_{r,i})‖‖W_{r,i}‖)_+‖g‖`` (docs/design.md §2.5; over a stack of residual blocks).

.. math:: h^k = h^{k-1} + F_k(h^{k-1}),\\qquad \\frac{∂h^k}{∂h^{k-1}} = I + J_{F_k}.

References:
  He, Zhang, Ren & Sun 2016, "Deep residual learning for image recognition", CVPR;
  He, Zhang, Ren & Sun 2016b, "Identity mappings in deep residual networks", ECCV;
  Hardt & Ma 2017, "Identity matters in deep learning", ICLR; Zhang, Dauphin & Ma 2019,
  "Fixup initialization: residual learning without normalization", ICLR; Balduzzi et al. 2017,
  "The shattered gradients problem: if resnets are the answer, then what is the question?", ICML.
"""

# ruff: noqa: I001  (one name a line, as optax does)

from gradbounds.residual._blocks import Residual as Residual
from gradbounds.residual._blocks import init_residual as init_residual
from gradbounds.residual._blocks import validate_blocks as validate_blocks
from gradbounds.residual._blocks import block_widths as block_widths
from gradbounds.residual._blocks import block_forward as block_forward
from gradbounds.residual._blocks import block_jacobian as block_jacobian
from gradbounds.residual._blocks import forward_blocks as forward_blocks
from gradbounds.residual._blocks import block_errors_autodiff as block_errors_autodiff
from gradbounds.residual._levels import LEVELS as LEVELS
from gradbounds.residual._levels import PAIRS as PAIRS
from gradbounds.residual._levels import ResidualHierarchy as ResidualHierarchy
from gradbounds.residual._levels import residual_hierarchy as residual_hierarchy

__all__ = (
    "Residual",
    "init_residual",
    "validate_blocks",
    "block_widths",
    "block_forward",
    "block_jacobian",
    "forward_blocks",
    "block_errors_autodiff",
    "LEVELS",
    "PAIRS",
    "ResidualHierarchy",
    "residual_hierarchy",
)
