"""docs/benchmarks.md holds one section per benchmark script, between its own markers."""

from __future__ import annotations

from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_section(name: str, lines: list[str], document: Path | None = None) -> None:
    """Replace benchmark ``name``'s section (or append it) with ``lines``, in
    docs/benchmarks.md or in ``document``."""
    document = document or BENCHMARKS
    start, end = markers(name)
    section = "\n".join([start, *lines, end])
    text = document.read_text() if document.exists() else "# Benchmarks\n"
    if start in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    document.write_text(text)
