"""Subcommands of the ``gradbounds`` CLI, one module each (see :mod:`gradbounds.cli`)."""
