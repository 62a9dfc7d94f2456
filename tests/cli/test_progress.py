"""Progress bars of `gradbounds check --networks N` and `gradbounds spectrum` (issue 11 (f)).

A bar goes to stderr only when stderr is a terminal (here faked), never with --json - or
--csv - (stdout carries data), never with --quiet; the numbers are the same with and
without it.
"""

import json
import sys

import jax
import numpy as np
import pytest
from helpers import key

import gradbounds as gb
from gradbounds.bounds import _api
from gradbounds.cli import _progress, main

pytest.importorskip("tqdm")

CHECK = ["check", "--widths", "5,4,3", "--activation", "tanh", "--networks", str(_api.PROGRESS_MIN_NETWORKS + 6)]
SPECTRUM = ["spectrum", "--activation", "tanh", "--init", "orthogonal", "--sw2", "1.05", "--sb2", "2.01e-5"]
SPECTRUM += ["--depth", "4", "--width", "64", "--seed", "0", "--bins", "5"]  # test_theory's shapes: compiled once


def terminal(monkeypatch):
    """From here on, stderr (capsys's) looks like a terminal and a bar appears at once (no 2 s delay).

    Called in the test's body: pytest puts capsys's stream in place only when the test starts.
    """
    monkeypatch.setattr(_progress, "DELAY_S", 0.0)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_shows_a_bar_on_a_terminal_with_the_same_numbers(capsys, monkeypatch, tmp_path):
    terminal(monkeypatch)
    code, out, err = run(capsys, *CHECK, "--json", str(tmp_path / "bar.json"))
    assert code == 0, err
    n = _api.PROGRESS_MIN_NETWORKS + 6
    assert "check" in err and f"/{n}" in err and "net" in err
    assert "verdict: holds" in out
    code, _, err_quiet = run(capsys, *CHECK, "--quiet", "--json", str(tmp_path / "quiet.json"))
    assert code == 0 and err_quiet == ""
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("bar.json", "quiet.json"))
    assert a["layers"] == b["layers"] and a["worst"] == b["worst"]


@pytest.mark.parametrize("to_stdout", [("--json", "-"), ("--csv", "-")])
def test_check_no_bar_when_stdout_carries_data(capsys, monkeypatch, to_stdout):
    terminal(monkeypatch)
    code, out, err = run(capsys, *CHECK, *to_stdout)
    assert code == 0 and err == ""
    if to_stdout[0] == "--json":
        json.loads(out)  # nothing but the JSON


def test_check_no_bar_without_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "DELAY_S", 0.0)
    code, out, err = run(capsys, *CHECK)
    assert code == 0 and err == "" and "verdict: holds" in out


def test_sweep_with_progress_gives_the_numbers_without():
    n = _api.PROGRESS_MIN_NETWORKS + 6  # not a multiple of the chunk size: the last chunk is padded
    # CHECK's shapes (one example a network), so the two programs compiled there serve here
    nets = jax.vmap(lambda k: gb.init_network(k, (5, 4, 3), activation="tanh"))(jax.random.split(key(1), n))
    x = jax.random.uniform(key(2), (n, 1, 5), dtype=np.float64)
    y = jax.random.uniform(key(3), (n, 1, 3), dtype=np.float64)
    done = []
    chunked = gb.sweep(nets, x, y, progress=done.append)
    assert sum(done) == n and len(done) == _api.PROGRESS_CHUNKS - 2  # ceil(70 / 20) = 4 a chunk: 18 chunks
    whole = gb.sweep(nets, x, y)
    for name in whole.levels._fields:
        np.testing.assert_array_equal(getattr(chunked.levels, name), getattr(whole.levels, name), err_msg=name)
    np.testing.assert_array_equal(chunked.codes, whole.codes)


def test_spectrum_shows_a_bar_on_a_terminal_with_the_same_numbers(capsys, monkeypatch):
    terminal(monkeypatch)
    code, out, err = run(capsys, *SPECTRUM)
    assert code == 0 and "spectrum" in err and "stage" in err
    code, out_quiet, err_quiet = run(capsys, *SPECTRUM, "--quiet")
    assert code == 0 and err_quiet == "" and out_quiet == out


def test_spectrum_no_bar_with_json_on_stdout(capsys, monkeypatch):
    terminal(monkeypatch)
    code, out, err = run(capsys, *SPECTRUM, "--json", "-")
    assert code == 0 and err == ""
    json.loads(out)
