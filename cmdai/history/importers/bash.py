"""bash's history file: one command per line, or ``#<epoch>`` lines before each command.

bash writes a ``#<epoch>`` line before every command when HISTTIMEFORMAT is set. With ``lithist``
a multi-line command is written with its real newlines, so once a file has timestamps, every
line up to the next timestamp belongs to the same command (this is how bash itself reads it back).
Lines before the first timestamp are one command each, and get times just before the first known
one. A ``#<digits>`` line right after a timestamp line is a command (a comment the user typed),
since bash writes exactly one timestamp per command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from cmdai.history.entry import Entry
from cmdai.history.importers import Problem, Record, decode, parse_seconds, place_in_time

NAME = "bash"
KIND = "text"

_TIMESTAMP = re.compile(rb"#(\d+)[ \t\r]*\Z")


def candidates(env: Mapping[str, str], home: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    if env.get("HISTFILE"):
        found.append((Path(env["HISTFILE"]).expanduser(), "$HISTFILE"))
    found.append((home / ".bash_history", "default"))
    return found


def estimate(data: bytes) -> int:
    return data.count(b"\n") + 1


def _records(data: bytes) -> Iterator[Record | Problem]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    timed = False  # seen a timestamp line: from here on, timestamps delimit commands
    after_timestamp = False
    second: int | None = None
    chunk: list[bytes] = []
    first = 0

    def flush() -> Iterator[Record | Problem]:
        raw = b"\n".join(chunk) if len(chunk) > 1 else chunk[0]
        text = decode(raw, first)
        if isinstance(text, Problem):
            yield text
        elif text.strip():
            yield (first, text.rstrip("\n"), second, None)

    for number, raw in enumerate(lines, start=1):
        if raw.startswith(b"#") and not after_timestamp:
            match = _TIMESTAMP.match(raw)
            if match:
                if chunk:
                    yield from flush()
                    chunk = []
                timed = after_timestamp = True
                parsed = parse_seconds(match.group(1), number)
                if isinstance(parsed, Problem):
                    yield parsed  # the command that follows is kept, without a time
                    second = None
                else:
                    second = parsed
                continue
        after_timestamp = False
        if not timed:
            chunk, first = [raw], number
            yield from flush()
            chunk = []
        elif chunk:
            chunk.append(raw)
        else:
            chunk, first = [raw], number
    if chunk:
        yield from flush()


def parse(data: bytes) -> Iterator[Entry | Problem]:
    """Entries and problems from the bytes of a bash history file."""
    return place_in_time(_records(data), name=NAME, shell="bash")
