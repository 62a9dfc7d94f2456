"""Every notebook runs, with small settings, and its asserts hold.

The notebooks are jupytext percent-format ``notebooks/*.py`` files (diffable,
no outputs in git).  Each is converted with jupytext and executed with
nbclient in a fresh ``python3`` kernel of this interpreter, with
``GRADBOUNDS_QUICK=1``; any cell that raises (a failed ``assert`` included)
fails the test, which shows the failing cell and its traceback.

Most of a notebook's time is JAX compiling, one core at a time, so the
selected notebooks run side by side in subprocesses (as many at once as there
are cores, at most three); each test then waits for its own notebook.
"""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))

_RUNNER = r"""
import sys
import jupytext
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

path = sys.argv[1]
nb = jupytext.read(path)
client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}})
try:
    client.execute()
except CellExecutionError as e:  # the failing cell and its traceback, not nbclient's wrapper
    print(e, file=sys.stderr)
    sys.exit(1)
"""


def _run(path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, GRADBOUNDS_QUICK="1", JAX_PLATFORMS="cpu")
    return subprocess.run(
        [sys.executable, "-c", _RUNNER, str(path), str(path.parent)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def executed(request):
    """Futures of the notebook runs this session selected, all started at once."""
    selected = [
        item.callspec.params["path"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_notebook_runs" and hasattr(item, "callspec")
    ]
    workers = max(1, min(3, os.cpu_count() or 1, len(selected)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        yield {p: pool.submit(_run, p) for p in selected}


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_asserts_its_claim(path):
    import jupytext

    nb = jupytext.read(path)
    assert nb.cells[0].cell_type == "markdown" and "**Claim" in nb.cells[0].source, f"{path.name}: states no claim"
    assert any(c.cell_type == "code" and "assert " in c.source for c in nb.cells), f"{path.name}: asserts nothing"
    assert not any(c.get("outputs") for c in nb.cells), f"{path.name}: outputs in git"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, executed):
    done = executed[path].result()
    if done.returncode != 0:
        pytest.fail(f"{path.name}: a cell raised\n{done.stderr[-6000:]}", pytrace=False)
