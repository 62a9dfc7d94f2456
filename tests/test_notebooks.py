"""Every notebook runs, with small settings, and its asserts hold.

The notebooks are jupytext percent-format ``notebooks/*.py`` files (diffable,
no outputs in git).  Each is converted with jupytext and executed with
nbclient in a fresh ``python3`` kernel of this interpreter, with
``GRADBOUNDS_QUICK=1``; any cell that raises (a failed ``assert`` included)
fails the test.
"""

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3, NOTEBOOKS


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    import jupytext
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("GRADBOUNDS_QUICK", "1")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    nb = jupytext.read(path)
    assert any(c.cell_type == "code" and "assert" in c.source for c in nb.cells), f"{path.name}: asserts nothing"
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as e:  # the failing cell and its traceback, not nbclient's wrapper
        pytest.fail(f"{path.name}: a cell raised\n{e}", pytrace=False)
