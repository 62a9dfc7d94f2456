"""The CLI's persistent compilation cache: where it goes, and that it can be turned off.

Where the directory is comes from the environment alone (``cache_dir``), so
most cases are checked on a dictionary; two runs of the command in a fresh
process (the cache takes effect from a process's first compile) check that
files land where the environment says and nowhere when it is off.  Speed is
measured in ``make bench`` (bench/startup.py), never asserted here.
"""

import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from gradbounds.cli._cache import ENV, cache_dir, enable_compilation_cache


@pytest.mark.parametrize("off", ["", "off", "OFF", " off "])
def test_an_empty_or_off_value_turns_the_cache_off(off):
    assert cache_dir({ENV: off, "XDG_CACHE_HOME": "/somewhere"}) is None


def test_gradbounds_cache_dir_moves_it_before_xdg(tmp_path):
    assert cache_dir({ENV: str(tmp_path / "c"), "XDG_CACHE_HOME": "/somewhere"}) == tmp_path / "c"
    assert cache_dir({ENV: "~/c"}) == Path.home() / "c"


def test_xdg_cache_home_is_honoured_and_a_relative_one_ignored(tmp_path):
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "gradbounds" / "jax"
    default = cache_dir({})
    assert default is not None and default.parts[-2:] == ("gradbounds", "jax")
    assert cache_dir({"XDG_CACHE_HOME": "relative/dir"}) == default  # the XDG spec: relative values are invalid


def test_an_unusable_directory_leaves_the_cache_off(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    before = jax.config.jax_compilation_cache_dir
    assert enable_compilation_cache({ENV: str(blocker / "c")}) is None
    assert enable_compilation_cache({ENV: "off"}) is None
    assert jax.config.jax_compilation_cache_dir == before  # nothing changed in this process


def _check(tmp_path, **env):
    full = {k: v for k, v in os.environ.items() if k not in (ENV, "XDG_CACHE_HOME")}
    full.update(HOME=str(tmp_path / "home"), JAX_PLATFORMS="cpu", **env)
    out = tmp_path / "out.json"
    r = subprocess.run(
        [sys.executable, "-m", "gradbounds.cli", "check", "--widths", "3,2,2", "--json", str(out)],
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert out.exists()


def _files(d: Path) -> list[Path]:
    return [p for p in d.rglob("*") if p.is_file()] if d.exists() else []


def test_the_command_writes_its_cache_under_xdg_cache_home(tmp_path):
    _check(tmp_path, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    assert _files(tmp_path / "xdg" / "gradbounds" / "jax")  # compiled programs were cached there
    assert not _files(tmp_path / "home")  # and nowhere else


def test_the_command_writes_no_cache_when_it_is_off(tmp_path):
    _check(tmp_path, XDG_CACHE_HOME=str(tmp_path / "xdg"), **{ENV: "off"})
    assert not _files(tmp_path / "xdg") and not _files(tmp_path / "home")


def _run_check(tmp_path, cache: str, *args: str) -> tuple[str, str]:
    """Stdout and stderr of ``gradbounds check`` in a fresh process, the program store logging on stderr."""
    full = {k: v for k, v in os.environ.items() if k not in (ENV, "XDG_CACHE_HOME")}
    full.update(HOME=str(tmp_path / "home"), JAX_PLATFORMS="cpu", GRADBOUNDS_LOG_PROGRAMS="1", **{ENV: cache})
    r = subprocess.run(
        [sys.executable, "-m", "gradbounds.cli", "check", "--widths", "3,2,2", *(args or ("--examples", "2"))],
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout, r.stderr


def test_a_second_run_loads_the_exported_programs_and_prints_the_same_bytes(tmp_path):
    """Warm runs call the kept exports (no tracing of the hierarchy); a corrupt one falls back; all outputs agree."""
    cache = tmp_path / "c"
    off, err_off = _run_check(tmp_path, "off")
    assert "program" not in err_off and not _files(tmp_path / "home")
    first, err_first = _run_check(tmp_path, str(cache))
    assert "_levels_batch: exported" in err_first and "_draw: exported" in err_first
    entries = sorted((cache / "exported").glob("*.jaxexport"))
    assert [p.name.split("-")[0] for p in entries] == ["_draw", "_levels_batch", "_plain_is_zero_in"]
    second, err_second = _run_check(tmp_path, str(cache))
    assert all(f"{p.name.split('-')[0]}: loaded" in err_second for p in entries)
    assert "exported" not in err_second
    for p in entries:  # a corrupt entry: the ordinary path, the same numbers, a new entry
        p.write_bytes(p.read_bytes()[:100])
    third, err_third = _run_check(tmp_path, str(cache))
    assert err_third.count("unusable") == 3 and err_third.count("exported") == 3
    assert first == off and second == off and third == off
    assert all(p.stat().st_size > 100 for p in entries)


def test_many_networks_keep_their_draws_and_print_the_same_bytes(tmp_path):
    """--networks N draws chunk by chunk with two kept programs (the keys, the rows); a warm run loads them."""
    cache, many = tmp_path / "c", ("--networks", "70", "--seed", "5")
    off, _ = _run_check(tmp_path, "off", *many)
    first, err_first = _run_check(tmp_path, str(cache), *many)
    assert "_network_keys: exported" in err_first and "_draw_rows: exported" in err_first
    second, err_second = _run_check(tmp_path, str(cache), *many)
    assert "_network_keys: loaded" in err_second and "_draw_rows: loaded" in err_second
    assert "exported" not in err_second
    assert "medians over network x example (70 in all)" in off
    assert first == off and second == off
