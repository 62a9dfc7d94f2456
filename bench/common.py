"""Timing and reporting helpers shared by the benchmarks (medians after warm-up)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
import time

import numpy as np


def timeit(fn, *, repeats: int = 5, warmup: int = 1, min_time: float = 0.0) -> dict:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` runs.

    ``fn`` must block until its result is ready (``jax.block_until_ready``).
    Returns ``{"median": s, "min": s, "max": s, "repeats": n, "times": [...]}``.
    """
    for _ in range(warmup):
        fn()
    times = []
    t_start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - t_start < min_time and len(times) < 100):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {
        "median": float(np.median(times)),
        "min": float(np.min(times)),
        "max": float(np.max(times)),
        "repeats": len(times),
        "times": times,
    }


def load() -> tuple[float, float, float]:
    """The 1-, 5- and 15-minute load averages."""
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def machine() -> dict:
    """Machine and library versions, printed at the top of every run."""
    import jax
    import jaxlib
    import scipy

    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "devices": ", ".join(sorted({f"{d.platform}:{d.device_kind}" for d in jax.devices()})),
        "n_devices": jax.device_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "ml_dtypes": importlib.metadata.version("ml_dtypes"),
    }
    try:
        import torch

        info["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        info["torch"] = "not installed"
    try:
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        info["commit"] = "unknown"
    return info


def fmt_time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} us"
