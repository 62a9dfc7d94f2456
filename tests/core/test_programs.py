"""Exported programs kept on disk (core.stored_program): same numbers, no tracing on a hit, safe fallbacks.

In-process checks with a temporary store; the command's fresh-process runs are in
tests/cli/test_cache.py.  Speed is measured in bench/startup.py, never asserted here.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradbounds as gb
from gradbounds import core
from gradbounds.core import _programs

TRACES = []


@core.stored_program(static_argnames=("power", "name"))
def _scaled(x, y, power, name):
    TRACES.append((name, x.shape))  # runs only while JAX traces the function
    return {"sum": jnp.sum(x**power) + y, "name_len": jnp.asarray(len(name), x.dtype) * y}


@pytest.fixture
def store(tmp_path):
    before = core.program_store()
    core.use_program_store(tmp_path / "exported")
    TRACES.clear()
    yield tmp_path / "exported"
    core.use_program_store(before)


@pytest.fixture
def compiles(monkeypatch):
    """The names of the stored programs compiled from now on (core._programs._compile, counted)."""
    seen: list = []
    real = _programs._compile
    monkeypatch.setattr(_programs, "_compile", lambda *a: seen.append(a[-1]) or real(*a))
    return seen


def _entries(d):
    return sorted(d.glob("*.jaxexport")) if d.exists() else []


def _same(a, b):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for u, v in zip(la, lb):
        assert np.asarray(u).dtype == np.asarray(v).dtype
        assert np.array_equal(np.asarray(u), np.asarray(v), equal_nan=True)


def test_without_a_store_nothing_is_written(tmp_path):
    assert core.program_store() is None  # library functions never touch the disk by default
    x = jnp.linspace(0.0, 1.0, 5)
    _same(_scaled(x, 2.0, 3, "a"), _scaled.jitted(x, 2.0, power=3, name="a"))
    assert not list(tmp_path.iterdir())


def test_a_second_call_loads_the_entry_without_tracing_and_gives_the_same_numbers(store):
    x = jnp.linspace(0.0, 1.0, 7)
    want = _scaled.jitted(x, 2.0, power=3, name="a")
    TRACES.clear()
    first = _scaled(x, 2.0, 3, "a")
    assert len(TRACES) == 1 and len(_entries(store)) == 1
    second = _scaled(x, 2.0, power=3, name="a")
    assert len(TRACES) == 1  # loaded from the entry: not traced again
    _same(first, want)
    _same(second, want)


def test_a_corrupt_or_truncated_entry_falls_back_and_is_written_anew(store):
    x = jnp.arange(4.0)
    want = _scaled.jitted(x, 1.0, power=2, name="b")
    _scaled(x, 1.0, 2, "b")
    (entry,) = _entries(store)
    good = entry.read_bytes()
    for bad in (b"not a flatbuffer", good[: len(good) // 2], b""):
        entry.write_bytes(bad)
        _same(_scaled(x, 1.0, 2, "b"), want)
        assert entry.read_bytes() != bad  # overwritten by a usable entry
    TRACES.clear()
    _same(_scaled(x, 1.0, 2, "b"), want)
    assert not TRACES


def test_an_entry_of_other_shapes_is_never_used(store):
    """An entry copied over another key's file fails the exported program's own checks and is replaced."""
    _scaled(jnp.arange(3.0), 1.0, 2, "c")
    (small,) = _entries(store)
    x = jnp.arange(5.0)
    _scaled(x, 1.0, 2, "c")
    big = next(p for p in _entries(store) if p != small)
    big.write_bytes(small.read_bytes())
    _same(_scaled(x, 1.0, 2, "c"), _scaled.jitted(x, 1.0, power=2, name="c"))


def test_a_changed_source_tree_never_runs_a_program_stored_from_the_old_one(store, monkeypatch):
    """The key holds a digest of gradbounds' source files: the same version with other code is another entry
    (traced and exported anew), so a fix takes effect with a warm cache; back to the old tree, the old entry."""
    x = jnp.arange(3.0)
    _scaled(x, 1.0, 2, "f")
    assert len(TRACES) == 1 and len(_entries(store)) == 1
    digest = _programs._source_digest()
    assert len(digest) == 64 and digest == _programs._source_digest()  # read once a process
    monkeypatch.setattr(_programs, "_source_digest", lambda: "0" * 64)
    _scaled(x, 1.0, 2, "f")
    assert len(TRACES) == 2 and len(_entries(store)) == 2
    monkeypatch.setattr(_programs, "_source_digest", lambda: digest)
    _scaled(x, 1.0, 2, "f")
    assert len(TRACES) == 2


def test_shapes_dtypes_weak_types_and_static_arguments_never_share_an_entry(store):
    calls = [
        (jnp.arange(3.0), 1.0, 2, "d"),
        (jnp.arange(4.0), 1.0, 2, "d"),  # shape
        (jnp.arange(3.0, dtype=jnp.float32), jnp.float32(1.0), 2, "d"),  # dtype
        (jnp.arange(3.0), jnp.float64(1.0), 2, "d"),  # a strongly typed scalar, not a weak Python float
        (jnp.arange(3.0), 1.0, 3, "d"),  # a static argument
        (jnp.arange(3.0), 1.0, 2, "e"),  # another static argument
    ]
    for args in calls:
        _same(_scaled(*args), _scaled.jitted(*args[:2], power=args[2], name=args[3]))
    assert len(_entries(store)) == len(calls)


def test_activations_and_costs_key_the_hierarchy_and_match_the_plain_path(store):
    x = jnp.linspace(0.1, 0.9, 3)
    y = jnp.array([0.0, 1.0])
    seen = {}
    for act in ("sigmoid", "tanh"):
        net = gb.init_network(jax.random.key(1), widths=[3, 2, 2], activation=act)
        for cost in ("quadratic", "cross-entropy") if act == "sigmoid" else ("quadratic",):
            core.use_program_store(store)
            got = gb.hierarchy(net, x, y, cost=cost)
            core.use_program_store(None)
            want = gb.hierarchy(net, x, y, cost=cost)
            _same(got.levels, want.levels)
            seen[act, cost] = len(_entries(store))
    assert sorted(seen.values()) == [1, 2, 3]  # one entry each, none shared


def test_a_callable_cost_or_a_registered_activation_is_never_stored(store):
    x = jnp.linspace(0.1, 0.9, 3)
    y = jnp.array([0.0, 1.0])
    net = gb.init_network(jax.random.key(1), widths=[3, 2, 2], activation="sigmoid")
    gb.hierarchy(net, x, y, cost=lambda a, t: 0.5 * jnp.sum((a - t) ** 2))
    assert not _entries(store)
    name = "test_programs_sigmoid_copy"
    sig = core.get_activation("sigmoid")
    core.register_activation(core.Activation(name, sig.fn, sig.deriv, sig.gamma))
    try:
        gb.hierarchy(net, x, y)
        assert not _entries(store)  # a user's activation may reuse a name: the registry is not the built-in one
    finally:
        from gradbounds.core import _activations

        del _activations._REGISTRY[name]
    gb.hierarchy(net, x, y)
    assert len(_entries(store)) == 1


def _body(x, power):
    return jnp.sum(x**power)


def test_compiler_options_reach_both_paths_and_the_key(store):
    x = jnp.linspace(0.0, 1.0, 5)
    fast = core.stored_program(static_argnames=("power",), compiler_options={"xla_backend_optimization_level": 0})
    plain = core.stored_program(static_argnames=("power",))
    a, b = fast(_body), plain(_body)
    _same(a(x, 3), a.jitted(x, power=3))
    _same(b(x, 3), b.jitted(x, power=3))
    assert len(_entries(store)) == 2  # the same function with and without options: two entries
    _same(a(x, 3), a.jitted(x, power=3))  # loaded from its entry, compiled with its options
    bogus = core.stored_program(static_argnames=("power",), compiler_options={"no_such_xla_option": 1})(_body)
    with pytest.raises(Exception, match="no_such_xla_option"):
        bogus.jitted(x, power=2)
    with pytest.raises(Exception, match="no_such_xla_option"):  # the stored path compiles with them too
        bogus(x, 2)
    assert len(_entries(store)) == 2  # and keeps nothing it could not run


def test_prepare_from_shapes_makes_the_call_run_at_once(store, compiles):
    """prepare() on abstract arguments: the later call with arrays neither traces nor compiles."""
    x = jnp.linspace(0.0, 1.0, 6)
    assert _scaled.prepare(jax.ShapeDtypeStruct(x.shape, x.dtype), 2.0, 3, "p")
    assert len(TRACES) == 1 and compiles == ["_scaled"] and len(_entries(store)) == 1
    got = _scaled(x, 2.0, 3, "p")
    assert len(TRACES) == 1 and len(compiles) == 1  # the prepared program ran: no trace, no compile
    _same(got, _scaled.jitted(x, 2.0, power=3, name="p"))
    _same(_scaled(x, 2.0, 3, "p"), got)  # and again, from the process's own copy
    assert len(compiles) == 1


def test_prepare_without_a_store_does_nothing(tmp_path):
    assert core.program_store() is None
    assert not _scaled.prepare(jax.ShapeDtypeStruct((3,), jnp.float64), 1.0, 2, "q")
    assert not list(tmp_path.iterdir())


def test_a_program_prepared_on_another_thread_gives_the_same_numbers(store, compiles):
    """The command's pattern: one thread prepares from shapes while another computes."""
    from concurrent.futures import ThreadPoolExecutor

    net = gb.init_network(jax.random.key(3), widths=[5, 4, 4, 2], activation="tanh")
    x, y = jnp.linspace(0.1, 0.9, 5), jnp.array([0.0, 1.0])
    core.use_program_store(None)
    want = gb.hierarchy(net, x, y)
    core.use_program_store(store)
    shapes = jax.eval_shape(lambda: net)
    with ThreadPoolExecutor(1) as pool:
        ready = pool.submit(
            gb.bounds._api.prepare_hierarchy,
            shapes,
            jax.ShapeDtypeStruct(x.shape, x.dtype),
            jax.ShapeDtypeStruct(y.shape, y.dtype),
        )
        other = _scaled(jnp.arange(4.0), 1.0, 2, "t")  # meanwhile, another program on this thread
        assert ready.result()
    names = sorted(p.name.split("-")[0] for p in _entries(store))
    assert names == ["_levels_batch", "_scaled"]
    _same(other, _scaled.jitted(jnp.arange(4.0), 1.0, power=2, name="t"))
    assert sorted(compiles) == ["_levels_batch", "_scaled"]
    _same(gb.hierarchy(net, x, y).levels, want.levels)
    assert sorted(compiles) == ["_levels_batch", "_scaled"]  # the hierarchy ran the prepared program


def test_the_underflow_depths_prepared_from_shapes_run_at_once(store, compiles):
    from gradbounds.core._backprop import prepare_underflow_depths

    net = gb.init_network(jax.random.key(4), widths=[5, 4, 3], activation="sigmoid")
    x, y = jnp.linspace(0.1, 0.9, 5), jnp.array([0.0, 1.0, 0.0])
    sds = jax.ShapeDtypeStruct
    assert prepare_underflow_depths(jax.eval_shape(lambda: net), sds(x.shape, x.dtype), sds(y.shape, y.dtype))
    assert compiles == ["_plain_is_zero_in"]
    got = core.underflow_depths(net, x, y)
    assert compiles == ["_plain_is_zero_in"]  # the prepared program ran
    core.use_program_store(None)
    assert got == core.underflow_depths(net, x, y)


def test_a_program_that_could_not_be_kept_is_still_ready(store, compiles, monkeypatch):
    """A full disk: nothing written, prepare() still says ready, and the call does not compile again."""

    def full(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_programs, "_write", full)
    x = jnp.linspace(0.0, 1.0, 9)
    assert _scaled.prepare(jax.ShapeDtypeStruct(x.shape, x.dtype), 2.0, 3, "full")
    assert not _entries(store) and compiles == ["_scaled"]
    _same(_scaled(x, 2.0, 3, "full"), _scaled.jitted(x, 2.0, power=3, name="full"))
    assert compiles == ["_scaled"]


def test_the_process_keeps_the_most_recently_used_programs_and_drops_the_oldest(store, compiles, monkeypatch):
    """At most ``_LOADED_MAX`` compiled programs are kept in the process: a kept one runs without a compile
    (used again, it becomes the newest), the least recently used is dropped and compiled from its entry when
    it is called again, with the same numbers."""
    monkeypatch.setattr(_programs, "_LOADED", _programs.OrderedDict())
    monkeypatch.setattr(_programs, "_LOADED_MAX", 2)
    xs = {n: jnp.linspace(0.0, 1.0, n) for n in (11, 12, 13)}
    want = {n: _scaled.jitted(x, 2.0, power=3, name="lru") for n, x in xs.items()}
    for n in (11, 12):
        _same(_scaled(xs[n], 2.0, 3, "lru"), want[n])
    assert len(compiles) == 2
    _same(_scaled(xs[11], 2.0, 3, "lru"), want[11])  # kept: no compile, and now the newest
    assert len(compiles) == 2
    _same(_scaled(xs[13], 2.0, 3, "lru"), want[13])  # a third: 12, the least recently used, is dropped
    assert len(compiles) == 3 and len(_programs._LOADED) == 2
    _same(_scaled(xs[11], 2.0, 3, "lru"), want[11])
    assert len(compiles) == 3
    TRACES.clear()
    _same(_scaled(xs[12], 2.0, 3, "lru"), want[12])  # dropped: compiled again from its entry, not traced
    assert len(compiles) == 4 and not TRACES
