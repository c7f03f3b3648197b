"""bash's history file: one command per line, or ``#<epoch>`` lines before each command.

Read the way bash reads it (``lib/readline/histfile.c``): bash writes a ``#<epoch>`` line before
every command when HISTTIMEFORMAT is set, and if the file *starts* with one, a command runs until
the next timestamp line, so ``lithist`` multi-line commands come back whole. Otherwise every line
is a command, and a ``#<epoch>`` line times the one command after it. Commands without a time get
times just before the first known one (or after the last known one), in file order.

One improvement on bash: a ``#<digits>`` line right after a timestamp line is a command (a comment
the user typed), since bash writes exactly one timestamp per command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from cmdai.history.entry import Entry
from cmdai.history.importers import (
    Problem,
    Record,
    check,
    parse_seconds,
    place_in_time,
    split_lines,
)

NAME = "bash"
KIND = "text"

_TIMESTAMP = re.compile(r"#(\d+)[ \t\r]*\Z", re.ASCII)


def candidates(env: Mapping[str, str], home: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    if env.get("HISTFILE"):
        found.append((Path(env["HISTFILE"]).expanduser(), "$HISTFILE"))
    found.append((home / ".bash_history", "default"))
    return found


def estimate(data: bytes) -> int:
    return data.count(b"\n") + 1


def _records(data: bytes) -> Iterator[Record | Problem]:
    lines, clean = split_lines(data)
    timestamp = _TIMESTAMP.match
    multiline = bool(lines) and timestamp(lines[0]) is not None
    after_timestamp = False
    second: int | None = None
    chunk: list[str] = []
    first = 0

    def entry(text: str, line: int) -> Iterator[Record | Problem]:
        if not clean:
            checked = check(text, line)
            if isinstance(checked, Problem):
                yield checked
                return
        if text and not text.isspace():
            yield (line, text, second, None)

    for number, line in enumerate(lines, start=1):
        if line.startswith("#") and not after_timestamp:
            match = timestamp(line)
            if match:
                if chunk:
                    yield from entry("\n".join(chunk).rstrip("\n"), first)
                    chunk = []
                after_timestamp = True
                parsed = parse_seconds(match.group(1), number)
                if isinstance(parsed, Problem):
                    yield parsed  # the command that follows is kept, without a time
                    second = None
                else:
                    second = parsed
                continue
        after_timestamp = False
        if not multiline:
            yield from entry(line, number)
            second = None  # a timestamp times one command
        elif chunk:
            chunk.append(line)
        else:
            chunk, first = [line], number
    if chunk:
        yield from entry("\n".join(chunk).rstrip("\n"), first)


def parse(data: bytes, hostname: str = "") -> Iterator[Entry | Problem]:
    """Entries and problems from the bytes of a bash history file."""
    return place_in_time(_records(data), name=NAME, shell="bash", hostname=hostname)
