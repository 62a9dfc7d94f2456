"""Large sweeps run in chunks, several at once on threads (issue 11 (b)); the numbers depend on N alone.

``sweep`` of N >= PROGRESS_MIN_NETWORKS networks and ``sweep_drawn`` (networks drawn chunk by chunk,
as ``gradbounds check --networks N`` draws them) give bitwise the same numbers with any number of
threads, with or without a progress callback, and agree with one call over all N networks to rounding
(XLA compiles a program per batch size).  The threads must not deadlock XLA's CPU thread pool (the
jaxlib batched LAPACK kernels once did): checked with 2 and 4 forced host devices in a subprocess.
"""

import dataclasses
import os
import subprocess
import sys
import textwrap
import threading

import jax
import numpy as np
import pytest
from helpers import key

import gradbounds as gb
from gradbounds import core
from gradbounds.bounds import _api

N = _api.PROGRESS_MIN_NETWORKS + 6  # 70 networks: 18 chunks of 4, the last padded by repeating network 69


def problem(n=N):
    """tests/cli/test_progress.py's shapes (one example a network), so the programs compiled there serve here."""
    nets = jax.vmap(lambda k: gb.init_network(k, (5, 4, 3), activation="tanh"))(jax.random.split(key(1), n))
    x = jax.random.uniform(key(2), (n, 1, 5), dtype=np.float64)
    y = jax.random.uniform(key(3), (n, 1, 3), dtype=np.float64)
    return nets, x, y


def rows_of(nets, x, y, calls=None):
    """A ``draw`` for sweep_drawn that takes rows of stacked arrays (the last chunk repeats its last row)."""

    def draw(start, stop, size):
        if calls is not None:
            calls.append((start, stop, size))
        i = np.minimum(np.arange(start, start + size), stop - 1)
        return jax.tree_util.tree_map(lambda t: t[i], tuple(nets)), x[i], y[i]

    return draw


def assert_same(a, b):
    for name in a.levels._fields:
        np.testing.assert_array_equal(getattr(a.levels, name), getattr(b.levels, name), err_msg=name)
    np.testing.assert_array_equal(a.codes, b.codes)


def test_sweep_numbers_do_not_depend_on_threads_or_how_the_networks_arrive():
    nets, x, y = problem()
    one = gb.sweep(nets, x, y, threads=1)
    assert_same(gb.sweep(nets, x, y, threads=3), one)
    calls = []
    drawn = gb.bounds.sweep_drawn(rows_of(nets, x, y, calls), N, threads=2)
    assert_same(drawn, one)
    size = -(-N // _api.PROGRESS_CHUNKS)
    assert sorted(calls) == [(s, min(s + size, N), size) for s in range(0, N, size)]


def test_sweep_chunks_agree_with_one_call_over_all_networks_to_rounding():
    nets, x, y = problem()
    chunked = gb.sweep(nets, x, y)
    whole = _api._sweep_levels(core.segments(tuple(nets), batched=True), x, y, core.get_cost("quadratic"))
    for name in chunked.levels._fields:
        a, b = np.asarray(getattr(chunked.levels, name)), np.asarray(getattr(whole, name))
        # logs, gaps and error bounds: 1e-13 of max(1, |b|), i.e. 1e-13 relative in the quantity a log stands for
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13, err_msg=name)


def test_a_small_sweep_drawn_is_one_chunk_with_the_numbers_of_sweep():
    nets, x, y = problem(10)
    calls = []
    assert_same(gb.bounds.sweep_drawn(rows_of(nets, x, y, calls), 10), gb.sweep(nets, x, y))
    assert calls == [(0, 10, 10)]


def test_the_threads_run_chunks_at_once():
    """Two threads: while one chunk is being drawn another is drawn or swept (two draws seen at once)."""
    nets, x, y = problem()
    inside, most, lock, both = [0], [0], threading.Lock(), threading.Barrier(2, timeout=60)
    plain = rows_of(nets, x, y)

    def draw(start, stop, size):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        if start < 2 * size:  # the first two chunks wait for each other: they run at once or not at all
            both.wait()
        try:
            return plain(start, stop, size)
        finally:
            with lock:
                inside[0] -= 1

    gb.bounds.sweep_drawn(draw, N, threads=2)
    assert most[0] == 2


def test_sweep_drawn_bad_arguments_and_a_bad_chunk():
    nets, x, y = problem()
    draw = rows_of(nets, x, y)
    with pytest.raises(ValueError, match="n: expected a number of networks >= 1, got 0"):
        gb.bounds.sweep_drawn(draw, 0)
    with pytest.raises(ValueError, match="threads: expected an int >= 1, got 0"):
        gb.sweep(nets, x, y, threads=0)
    with pytest.raises(ValueError, match="exact: expected one of"):
        gb.bounds.sweep_drawn(draw, N, exact="sometimes")

    def bad(start, stop, size):
        got, xx, yy = draw(start, stop, size)
        if start >= 40:  # a later chunk's first layer overflowed: named, never a verdict
            got = (dataclasses.replace(got[0], W=got[0].W.at[0, 0, 0].set(np.inf)), *got[1:])
        return got, xx, yy

    with pytest.raises(ValueError, match="layer 1: W"):
        gb.bounds.sweep_drawn(bad, N, threads=2)


def test_default_threads_is_the_cores_at_most_four():
    t = gb.bounds.default_threads()
    assert 1 <= t <= _api.MAX_THREADS
    if jax.default_backend() == "cpu":
        assert t == min(len(os.sched_getaffinity(0)), _api.MAX_THREADS)


_SCRIPT = textwrap.dedent(
    """
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import gradbounds as gb

    n = 70
    nets = jax.vmap(lambda k: gb.init_network(k, (5, 4, 3), activation="tanh"))(jax.random.split(jax.random.key(1), n))
    x = jax.random.uniform(jax.random.key(2), (n, 1, 5), dtype=np.float64)
    y = jax.random.uniform(jax.random.key(3), (n, 1, 3), dtype=np.float64)
    a, b = gb.sweep(nets, x, y, threads=1), gb.sweep(nets, x, y, threads=4)
    same = all(np.array_equal(getattr(a.levels, k), getattr(b.levels, k)) for k in a.levels._fields)
    print(jax.device_count(), same and bool(np.array_equal(a.codes, b.codes)))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("devices", [2, 4])
def test_threaded_chunks_on_several_host_devices_finish_with_the_same_numbers(devices):
    """Four threads, each chunk sharded over the devices: no deadlock (a hang fails at the timeout)."""
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu"}
    p = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.split() == [str(devices), "True"]


_X64_SCRIPT = textwrap.dedent(
    """
    import jax
    import numpy as np
    import gradbounds as gb

    assert not jax.config.read("jax_enable_x64")
    with jax.enable_x64(True):  # on this thread only: the sweep's workers must take it
        n = 70
        keys = jax.random.split(jax.random.key(1), n)
        nets = jax.vmap(lambda k: gb.init_network(k, (5, 4, 3), activation="tanh", dtype="float64"))(keys)
        x = jax.random.uniform(jax.random.key(2), (n, 1, 5), dtype=np.float64)
        y = jax.random.uniform(jax.random.key(3), (n, 1, 3), dtype=np.float64)
        a, b = gb.sweep(nets, x, y, threads=1), gb.sweep(nets, x, y, threads=2)
    same = all(np.array_equal(getattr(a.levels, k), getattr(b.levels, k)) for k in a.levels._fields)
    print(a.levels.E.dtype, b.levels.E.dtype, same)
    """
)


@pytest.mark.slow
def test_the_threads_take_a_thread_local_x64_setting():
    """``with jax.enable_x64(True)`` in a process that has it off: float64 chunks stay float64 on the workers."""
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    p = subprocess.run([sys.executable, "-c", _X64_SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.split() == ["float64", "float64", "True"]
