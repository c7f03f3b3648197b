"""zsh's history file: plain, or EXTENDED_HISTORY (``: <start>:<elapsed>;<command>``).

What zsh writes, and so what this reads back (checked against zsh 5.9 in the tests):
- a newline inside a command is written as backslash + newline, so a line ending in a backslash
  continues on the next line (the backslash is dropped, the newline kept);
- a command that itself ends in a backslash (and maybe spaces) gets one extra trailing space, so it
  does not read as a continuation; that space is removed again;
- without EXTENDED_HISTORY, a command starting with ``:`` is written as ``\\:`` (so it cannot be
  mistaken for an extended line), and read back without the backslash;
- bytes 0x83..0x9f and a few others are "metafied": written as 0x83 followed by the byte XOR 0x20.
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

NAME = "zsh"
KIND = "text"

META = 0x83
_EXTENDED = re.compile(r": (\d+):(-?\d+);", re.ASCII)
_TRAILING_ESCAPED_BACKSLASH = re.compile(r"\\ +\Z")


def candidates(env: Mapping[str, str], home: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    if env.get("HISTFILE"):
        found.append((Path(env["HISTFILE"]).expanduser(), "$HISTFILE"))
    zdotdir = env.get("ZDOTDIR")
    if zdotdir:
        found.append((Path(zdotdir) / ".zsh_history", "$ZDOTDIR"))
    # zsh has no default HISTFILE; these are the names zsh setups and frameworks use
    for name in (".zsh_history", ".zhistory", ".histfile"):
        found.append((home / name, "default"))
    return found


def estimate(data: bytes) -> int:
    return data.count(b"\n") + 1


def unmetafy(raw: bytes) -> bytes | None:
    """Undo zsh's metafication; None if a Meta byte ends the line (a truncated write)."""
    if META not in raw:
        return raw
    parts = raw.split(b"\x83")
    out = bytearray(parts[0])
    for part in parts[1:]:
        if not part:
            return None
        out.append(part[0] ^ 0x20)
        out += part[1:]
    return bytes(out)


def _records(data: bytes) -> Iterator[Record | Problem]:
    lines, clean = split_lines(data, unmetafy)
    last = len(lines)
    extended = _EXTENDED.match
    pending: list[str] = []
    first = 0
    for number, line in enumerate(lines, start=1):
        if line.endswith("\\"):
            if not pending:
                first = number
            pending.append(line[:-1])
            if number < last:
                continue
            text = "\n".join(pending)  # a truncated file ending in a continuation: keep it
            pending = []
        elif pending:
            pending.append(line)
            text = "\n".join(pending)
            pending = []
        else:
            first, text = number, line
        if not clean:
            checked = check(text, first)
            if isinstance(checked, Problem):
                yield checked
                continue
        second: int | None = None
        duration: int | None = None
        if text.startswith(": "):
            match = extended(text)
            if match:
                parsed = parse_seconds(match.group(1), first)
                if isinstance(parsed, Problem):
                    yield parsed
                    continue
                second = parsed
                elapsed = int(match.group(2))
                duration = elapsed * 1000 if 0 <= elapsed <= MAX_ELAPSED else None
                text = text[match.end() :]
        elif text.startswith("\\:"):
            text = text[1:]  # without EXTENDED_HISTORY zsh writes a leading ':' as '\:'
        if text.endswith(" ") and _TRAILING_ESCAPED_BACKSLASH.search(text):
            text = text[:-1]
        if not text or text.isspace():
            continue
        yield (first, text, second, duration)


MAX_ELAPSED = 10**9  # seconds (~30 years); more is a corrupt line, kept without a duration


def parse(data: bytes, hostname: str = "") -> Iterator[Entry | Problem]:
    """Entries and problems from the bytes of a zsh history file."""
    return place_in_time(_records(data), name=NAME, shell="zsh", hostname=hostname)
