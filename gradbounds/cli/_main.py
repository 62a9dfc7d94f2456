"""The ``gradbounds`` command.

Subcommands live in ``gradbounds/cli/_NAME.py``, one module each, defining
``HELP`` (one line), ``DESCRIPTION``, ``add_arguments(parser)`` and
``run(args) -> int``.  Exit codes: 0 when every verdict holds, 1 when a
violation is found, 2 for bad usage or bad input (one line on stderr, never a
traceback).  The CLI turns on ``jax_enable_x64``: its verdicts are float64
unless ``--dtype float32`` is asked for.  It also turns on JAX's persistent
compilation cache (``gradbounds/cli/_cache.py``: under the user cache
directory; ``GRADBOUNDS_CACHE_DIR`` moves it, ``GRADBOUNDS_CACHE_DIR=off``
turns it off), so that a second run on the same shapes skips XLA's compiler.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = ("check", "chain", "rnn", "theory", "spectrum", "train", "figures")


class UsageError(Exception):
    """Bad usage or bad input: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        raise UsageError(f"{message} (see '{self.prog} --help')")


MAX_SEED = 2**63 - 1


def seed_arg(text: str) -> int:
    """``--seed`` values: integers in ``[0, 2**63 - 1]`` (what ``jax.random.key`` takes), else a one-line usage error."""
    try:
        v = int(text)
    except ValueError:
        v = None
    if v is None or not 0 <= v <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**63 - 1], got {text!r}")
    return v


def parse_ints(text: str, what: str = "--widths") -> tuple[int, ...]:
    """``"784,30,10"`` -> ``(784, 30, 10)`` with a one-line error otherwise."""
    try:
        vals = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise UsageError(f"{what}: expected comma-separated integers, got {text!r}") from None
    return vals


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gradbounds",
        description=(
            "Exact, checkable bounds on vanishing and exploding gradients. "
            "Exit codes: 0 all verdicts hold, 1 a violation was found, 2 bad usage or input, 3 a verdict stays inconclusive."
        ),
        epilog=(
            "Compiled programs are cached in $XDG_CACHE_HOME/gradbounds/jax (default ~/.cache/gradbounds/jax),"
            " so a second run on the same network shapes starts faster; GRADBOUNDS_CACHE_DIR=PATH moves the cache,"
            " GRADBOUNDS_CACHE_DIR=off (or empty) turns it off. Deleting the directory is always safe."
        ),
    )
    from gradbounds import __version__

    parser.add_argument("--version", action="version", version=f"gradbounds {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"gradbounds.cli._{name}")
        except ModuleNotFoundError as e:
            if e.name == f"gradbounds.cli._{name}":
                continue  # not built yet
            raise
        p = sub.add_parser(
            name,
            help=mod.HELP,
            description=getattr(mod, "DESCRIPTION", mod.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gradbounds`` command; returns the exit code."""
    import jax

    jax.config.update("jax_enable_x64", True)
    parser = build_parser()
    args = None
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        from gradbounds.cli._cache import enable_compilation_cache

        enable_compilation_cache()
        return int(args._run(args))
    except UsageError as e:
        print(f"gradbounds: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:  # an optional dependency is missing: name the extra, exit 2
        from gradbounds._extras import missing_extra

        msg = missing_extra(e)
        if msg is None:
            raise
        print(f"gradbounds {getattr(args, 'command', '')}: error: {msg}".replace("  ", " "), file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError, KeyError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"gradbounds {getattr(args, 'command', '')}: error: {msg}".replace("  ", " "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gradbounds: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
