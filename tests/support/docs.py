"""The documentation the tests hold to what the code does: the README and the topic pages
under ``docs/`` it links, read as the reader gets them."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def page(name: str) -> Path:
    """The topic page ``docs/<name>.md``."""
    return DOCS / f"{name}.md"


def flowing(path: Path) -> str:
    """``path``'s text with every run of whitespace one space: a sentence the tests look for
    reads the same wherever its lines were wrapped."""
    return " ".join(path.read_text().split())
