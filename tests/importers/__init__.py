"""Importer tests. ``parsed`` turns a parser's output into rows a parse table can compare."""

from __future__ import annotations

from collections.abc import Iterable

from cmdai.history.importers import NS, Problem


def parsed(items: Iterable, with_duration: bool = False) -> list[tuple]:
    """(command, seconds[, duration_ms]) per entry; ("!", line, reason) per problem."""
    out = []
    for item in items:
        if isinstance(item, Problem):
            out.append(("!", item.line, item.reason))
        elif with_duration:
            out.append((item.command, item.timestamp // NS, item.duration_ms))
        else:
            out.append((item.command, item.timestamp // NS))
    return out
