"""fish's history file (``fish_history``): fish's own YAML-like records.

    - cmd: echo 'a\\nb' \\\\ c
      when: 1700000000
      paths:
        - /tmp

In ``cmd`` fish writes a backslash as two and a newline as backslash + ``n``; any other
backslash is kept as is (this mirrors fish's ``unescape_yaml_fish_2_0``). Unknown keys are ignored,
as fish does; a line that fits no record is reported.
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

NAME = "fish"
KIND = "text"

_ESCAPE = re.compile(r"\\([\\n])")
_WHEN = re.compile(r"  when: *(\d+)[ \t\r]*\Z", re.ASCII)


def candidates(env: Mapping[str, str], home: Path) -> list[tuple[Path, str]]:
    data = env.get("XDG_DATA_HOME")
    base = Path(data) if data and Path(data).is_absolute() else home / ".local" / "share"
    # fish_history (a fish variable, rarely exported) names the file: <name>_history
    name = env.get("fish_history") or "fish"
    how = "$XDG_DATA_HOME" if data else "default"
    return [(base / "fish" / f"{name}_history", how)]


def estimate(data: bytes) -> int:
    return data.count(b"- cmd:") + 1


def unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: "\\" if m.group(1) == "\\" else "\n", value)


def _records(data: bytes) -> Iterator[Record | Problem]:
    lines, clean = split_lines(data)
    when = _WHEN.match
    command: str | None = None  # the record being read (None: none, or its cmd was bad)
    in_record = False
    first = 0
    second: int | None = None
    for number, line in enumerate(lines, start=1):
        if line.startswith("- cmd:"):
            if command is not None:
                yield (first, command, second, None)
            in_record, first, second, command = True, number, None, None
            if not clean:
                checked = check(line, number)
                if isinstance(checked, Problem):
                    yield checked
                    continue
            value = line[7:] if line.startswith("- cmd: ") else line[6:]
            if value and not value.isspace():
                command = unescape(value) if "\\" in value else value
            continue
        if in_record and line.startswith("  "):
            if line.startswith("  when:"):
                match = when(line)
                if not match:
                    yield Problem(number, "fish 'when:' is not a number (truncated file?)")
                    continue
                parsed = parse_seconds(match.group(1), number)
                if isinstance(parsed, Problem):
                    yield parsed
                else:
                    second = parsed
            # paths:, their items, and keys fish may add later: nothing to import
            continue
        if line and not line.isspace():
            preview = line[:40].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            yield Problem(number, f"not a fish history record: {preview!r}")
    if command is not None:
        yield (first, command, second, None)


def parse(data: bytes, hostname: str = "") -> Iterator[Entry | Problem]:
    """Entries and problems from the bytes of a fish_history file."""
    return place_in_time(_records(data), name=NAME, shell="fish", hostname=hostname)
