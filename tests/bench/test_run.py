"""The benchmark harness (bench/run.py): a partial run keeps the other sections' rows intact."""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _run_module():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_kept_rows_keep_titles_that_contain_a_colon(tmp_path):
    """(e)'s title contains ': '; its kept summary row must keep the whole title and the row's cells."""
    run = _run_module()
    te, ta = run.BENCHES["e"][1], run.BENCHES["a"][1]
    assert ": " in te
    md = tmp_path / "RESULTS.md"
    md.write_text(
        f"- commit: abc\n| {te}: warm ratio | 1.6x |\n| {ta} (kept): API | 2.0x |\n"
        f"## {te}\nbody e\n## {ta}\n*Kept from an earlier run (commit old); not rerun.*\nbody a\n"
    )
    kept = run._kept(str(md), {})
    assert kept["e"] == ("abc", [f"| {te} (kept): warm ratio | 1.6x |"], "body e")
    assert kept["a"] == ("old", [f"| {ta} (kept): API | 2.0x |"], "body a")
