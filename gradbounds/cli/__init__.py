"""The ``gradbounds`` command: one module per subcommand, one-line errors, exit codes 0/1/2/3."""

from gradbounds.cli._main import main as main

__all__ = ("main",)
