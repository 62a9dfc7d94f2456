"""Test configuration: float64, strict dtype and rank promotion, a Hypothesis profile.

Verdicts in tests are float64 (``jax_enable_x64``); strict promotion makes any
silent float32/float64 mix or implicit broadcast an error.  JIT compiles are
slow the first time, so Hypothesis runs with ``deadline=None``.  The profile
``ci`` (the default) is what ``make test`` runs; ``dev`` is quicker and
``thorough`` runs ten times as many examples.
"""

import gc
import os

# the CLI's persistent compilation cache stays off in tests (main() runs in-process here; nothing is written
# to the user's cache directory); tests/cli/test_cache.py turns it on in subprocesses with a temporary directory
os.environ.setdefault("GRADBOUNDS_CACHE_DIR", "off")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=100, derandomize=True, print_blob=True, **_common)
settings.register_profile("dev", max_examples=20, **_common)
settings.register_profile("thorough", max_examples=1000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# Every compiled XLA program keeps a few memory mappings (its code and data) for as long as JAX's caches
# hold it, and the suite compiles thousands (each new network shape, each eager op on a new shape).  Linux
# allows 65,530 mappings a process (vm.max_map_count): past that an mmap in XLA's compiler fails and the
# process dies with a segfault (seen in a full run, at about 64,000 mappings, in tests/bounds).  So after
# any test that leaves more than MAP_BUDGET mappings, the caches are emptied and the programs freed.
MAP_BUDGET = 24_000


def mapped_regions() -> int:
    """The number of memory mappings of this process (0 where /proc is not available)."""
    try:
        with open("/proc/self/maps", "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


@pytest.fixture(autouse=True)
def _release_compiled_programs():
    yield
    if mapped_regions() > MAP_BUDGET:
        jax.clear_caches()
        gc.collect()


def pytest_terminal_summary(terminalreporter):
    """Print the lines tests recorded as ``record_property("summary", line)`` (how many networks were checked).

    A report's properties travel from a pytest-xdist worker to the main process, where a test's own print or
    terminal write would be lost.
    """
    lines = [
        value
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if getattr(report, "when", "call") == "call"
        for name, value in getattr(report, "user_properties", [])
        if name == "summary"
    ]
    if lines:
        terminalreporter.section("networks checked")
        for line in lines:
            terminalreporter.write_line(line)
