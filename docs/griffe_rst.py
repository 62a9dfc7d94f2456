"""A griffe extension for the API pages: the reST pieces of our Google-style docstrings, in Markdown.

The docstrings are Google style (sections ``Args:``, ``Returns:``, ``References:``) with two reST habits that
Markdown does not know:

* ``.. math::`` blocks (and the one-line form ``.. math:: formula``) become fenced ``math`` code blocks at the
  same indentation, so the formulas read as written instead of running together as a paragraph;
* inline ``:math:`formula``` becomes code;
* cross-reference roles (``:func:`gradbounds.hierarchy.hierarchy```, ``:class:`~gradbounds.Layer```, ``:mod:``,
  ``:data:``, ``:attr:``, ``:meth:``, ``:exc:``, ``:obj:``) become mkdocs-autorefs links, so that a reference to a
  name that no page documents is a warning and fails the strict build. A role whose target is outside the package
  or goes through a private module (``gradbounds.core._scan``) is rendered as code, not linked: only the public
  API has pages.

Only the docstring text given to the renderer changes; the modules are not touched.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(func|class|mod|data|attr|meth|exc|obj|const):`(~?)([^`]+)`")
_INLINE_MATH = re.compile(r":math:`([^`]+)`")
_MATH = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<rest>.*)$")


def _role(match: re.Match[str]) -> str:
    _, tilde, target = match.groups()
    target = target.strip()
    shown = target.rsplit(".", 1)[-1] if tilde else target
    if match.group(1) in ("func", "meth"):
        shown += "()"
    parts = target.split(".")
    if parts[0] != "gradbounds" or any(p.startswith("_") and not p.startswith("__") for p in parts):
        return f"`{shown}`"
    return f"[`{shown}`][{target}]"


def _math_blocks(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _MATH.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent = m.group("indent")
        body = [m.group("rest")] if m.group("rest").strip() else []
        i += 1
        block: list[str] = []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
            block.append(lines[i])
            i += 1
        while block and not block[-1].strip():  # the blank line after the block stays outside it
            block.pop()
            i -= 1
        nonblank = [ln for ln in block if ln.strip()]
        cut = min((len(ln) - len(ln.lstrip()) for ln in nonblank), default=0)
        body += [ln[cut:] for ln in block if ln.strip() or body]
        if out and out[-1].strip():
            out.append("")
        out += [f"{indent}```math", *(f"{indent}{ln}" if ln.strip() else "" for ln in body), f"{indent}```"]
        if i < len(lines) and lines[i].strip():
            out.append("")
    return "\n".join(out)


def convert(text: str) -> str:
    """The docstring ``text`` with ``.. math::`` blocks fenced and reST roles turned into autorefs links."""
    return _ROLE.sub(_role, _INLINE_MATH.sub(r"`\1`", _math_blocks(text)))


class RstToMarkdown(griffe.Extension):
    """Rewrites every docstring once it is loaded (see the module docstring)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
