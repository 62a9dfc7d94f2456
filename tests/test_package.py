"""Package hygiene: a light import, a consistent public API, documented sources."""

import inspect
import subprocess
import sys

import gradbounds as gb

HEAVY = ("hypothesis", "matplotlib", "optax", "sklearn", "tqdm", "torch", "pytest")


def test_import_is_light_and_does_not_flip_x64():
    code = (
        "import sys, jax; import gradbounds; "
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
        "assert not heavy, heavy; "
        "assert not jax.config.jax_enable_x64"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_all_names_exist_and_are_sorted_unique():
    assert len(set(gb.__all__)) == len(gb.__all__)
    for name in gb.__all__:
        assert hasattr(gb, name), name


def test_every_public_function_has_a_docstring():
    missing = [
        name
        for name in gb.__all__
        if (inspect.isfunction(getattr(gb, name)) or inspect.isclass(getattr(gb, name)))
        and not (getattr(gb, name).__doc__ or "").strip()
    ]
    assert not missing, missing


def test_core_modules_cite_their_sources():
    import gradbounds.activations
    import gradbounds.backprop
    import gradbounds.bounds
    import gradbounds.chain
    import gradbounds.costs
    import gradbounds.exact
    import gradbounds.jacobians
    import gradbounds.networks

    for mod in (
        gradbounds.activations,
        gradbounds.backprop,
        gradbounds.bounds,
        gradbounds.chain,
        gradbounds.costs,
        gradbounds.exact,
        gradbounds.jacobians,
        gradbounds.networks,
    ):
        assert "References:" in mod.__doc__, mod.__name__
