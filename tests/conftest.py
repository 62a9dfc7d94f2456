"""Test configuration: float64, strict dtype and rank promotion, a Hypothesis profile.

Verdicts in tests are float64 (``jax_enable_x64``); strict promotion makes any
silent float32/float64 mix or implicit broadcast an error.  JIT compiles are
slow the first time, so Hypothesis runs with ``deadline=None``.  The profile
``ci`` (the default) is what ``make test`` runs; ``dev`` is quicker and
``thorough`` runs ten times as many examples.
"""

import os

# the CLI's persistent compilation cache stays off in tests (main() runs in-process here; nothing is written
# to the user's cache directory); tests/cli/test_cache.py turns it on in subprocesses with a temporary directory
os.environ.setdefault("GRADBOUNDS_CACHE_DIR", "off")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

from hypothesis import HealthCheck, settings  # noqa: E402

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=100, derandomize=True, print_blob=True, **_common)
settings.register_profile("dev", max_examples=20, **_common)
settings.register_profile("thorough", max_examples=1000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
