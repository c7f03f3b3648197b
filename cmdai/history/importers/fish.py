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
from cmdai.history.importers import Problem, Record, decode, parse_seconds, place_in_time

NAME = "fish"
KIND = "text"

_ESCAPE = re.compile(r"\\([\\n])")
_WHEN = re.compile(rb"  when: *(\d+)[ \t\r]*\Z")


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
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    command: str | None = None  # the record being read (None: none, or its cmd was bad)
    in_record = False
    first = 0
    second: int | None = None
    for number, raw in enumerate(lines, start=1):
        if raw.startswith(b"- cmd:"):
            if command is not None:
                yield (first, command, second, None)
            in_record, first, second = True, number, None
            text = decode(raw, number)
            if isinstance(text, Problem):
                yield text
                command = None
            else:
                value = text[7:] if text.startswith("- cmd: ") else text[6:]
                command = unescape(value) if value.strip() else None
            continue
        if in_record and raw.startswith(b"  "):
            if raw.startswith(b"  when:"):
                match = _WHEN.match(raw)
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
        if raw.strip():
            preview = raw[:40].decode("utf-8", "backslashreplace")
            yield Problem(number, f"not a fish history record: {preview!r}")
    if command is not None:
        yield (first, command, second, None)


def parse(data: bytes) -> Iterator[Entry | Problem]:
    """Entries and problems from the bytes of a fish_history file."""
    return place_in_time(_records(data), name=NAME, shell="fish")
