"""Package hygiene: a light import, a consistent public API, documented sources, and the architecture.

The architecture of docs/design.md §6 is checked on the source: subpackages
in one dependency order (a module imports only from its own subpackage and
those below it), no private name or private module imported across
subpackages, no module over 600 lines, every module docstring present.
"""

import ast
import importlib
import inspect
import pathlib
import subprocess
import sys

import pytest

import gradbounds as gb

HEAVY = ("hypothesis", "matplotlib", "optax", "sklearn", "tqdm", "torch", "pytest", "equinox", "flax", "safetensors")
ROOT = pathlib.Path(gb.__file__).parent
# the dependency order, bottom first: a subpackage may import only from itself and those before it
LAYERS = (
    "_version",
    "_extras",
    "linalg",
    "core",
    "io",
    "adapters",
    "bounds",
    "rnn",
    "residual",
    "spectra",
    "theory",
    "training",
    "testing",
    "plotting",
    "experiments",
    "cli",
)
SUBPACKAGES = [p for p in LAYERS if (ROOT / p).is_dir()]
MAX_LINES = 600
OUTSIDE = "../" + "shared"  # spelled in two parts so that this file does not itself match a grep for it


def test_import_is_light_and_does_not_flip_x64():
    code = (
        "import sys, jax; import gradbounds; "
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
        "assert not heavy, heavy; "
        "assert not jax.config.jax_enable_x64"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("module", ["gradbounds", *[f"gradbounds.{p}" for p in SUBPACKAGES]])
def test_all_names_exist_are_unique_and_documented(module):
    mod = importlib.import_module(module)
    assert len(set(mod.__all__)) == len(mod.__all__)
    undocumented = []
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name}"
        obj = getattr(mod, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and not (obj.__doc__ or "").strip():
            undocumented.append(name)
    assert not undocumented, f"{module}: {undocumented}"


def test_the_version_comes_from_the_package_metadata():
    import importlib.metadata

    assert gb.__version__ == importlib.metadata.version("gradbounds")


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        yield path, rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else None


def _imports(path):
    """``(module, names)`` of every ``from gradbounds... import ...`` and ``import gradbounds...`` in a file."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gradbounds"):
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("gradbounds"):
                    yield a.name, []


def _target(module, name):
    """The subpackage an import reaches: ``gradbounds.core._x`` -> core; ``from gradbounds import io`` -> io."""
    parts = module.split(".")
    if len(parts) > 1:
        return parts[1]
    return name


def test_no_upward_imports_and_no_private_names_across_subpackages():
    problems = []
    for path, sub in _modules():
        if sub is None:  # gradbounds/__init__.py and _version.py sit on top
            continue
        rank = LAYERS.index(sub)
        for module, names in _imports(path):
            for name in names or [None]:
                target = _target(module, name)
                if target is None or target == sub or target not in LAYERS:
                    continue
                if LAYERS.index(target) > rank:
                    problems.append(f"{path.relative_to(ROOT)}: imports {module} {name or ''} (upward)")
                parts = module.split(".")
                private_module = len(parts) > 2 and parts[2].startswith("_")
                private_name = name is not None and name.startswith("_") and len(parts) > 1
                if private_module or private_name:
                    problems.append(f"{path.relative_to(ROOT)}: imports {module} {name or ''} (private, across)")
    assert not problems, "\n".join(problems)


def test_no_import_cycles_between_modules():
    graph = {}
    for path, _ in _modules():
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(("gradbounds", *rel.parts)).removesuffix(".__init__")
        graph[name] = {m for m, _ in _imports(path) if m != name}
    # a private module may import its own package's __init__ only through siblings: cycles show as back edges
    seen, stack, cycles = set(), [], []

    def visit(n):
        if n in stack:
            cycles.append(stack[stack.index(n) :] + [n])
            return
        if n in seen:
            return
        seen.add(n)
        stack.append(n)
        for m in graph.get(n, ()):
            if m.startswith(n + ".") or n.startswith(m + "."):
                continue  # a package and its own modules
            visit(m)
        stack.pop()

    for n in sorted(graph):
        visit(n)
    assert not cycles, cycles


def test_no_module_is_a_giant():
    big = [(str(p.relative_to(ROOT)), n) for p, _ in _modules() if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not big, big


def test_every_module_has_a_docstring_and_the_core_cites_its_sources():
    for path, sub in _modules():
        tree = ast.parse(path.read_text())
        doc = ast.get_docstring(tree)
        assert doc, f"{path.relative_to(ROOT)}: no module docstring"
        if sub in ("core", "bounds", "theory", "linalg") and path.name != "__init__.py":
            assert "References:" in doc, f"{path.relative_to(ROOT)}: no References: line"


def test_nothing_points_outside_the_repository():
    repo = ROOT.parent
    bad = []
    for path in [*ROOT.rglob("*.py"), *(repo / "notebooks").glob("*.py"), *(repo / "paper").rglob("*.tex")]:
        text = path.read_text()
        for needle in (OUTSIDE, "shared/" + "DESIGN", "DESIGN.md", "seed answer", "seed material", "seed slides"):
            if needle in text:
                bad.append(f"{path.relative_to(repo)}: {needle}")
    readme = (repo / "README.md").read_text() if (repo / "README.md").is_file() else ""
    bad += [f"README.md: {n}" for n in (OUTSIDE, "DESIGN.md", "seed answer") if n in readme]
    assert not bad, bad
