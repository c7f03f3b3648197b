"""The record every part of history speaks: one executed command."""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass
from typing import Any


# An entry as a plain tuple, in the order of the store's columns: what bulk paths (spool
# ingest) build instead of Entry objects, which cost a fifth of a 100k-line ingest.
Row = tuple  # (timestamp, duration_ms, exit, command, cwd, session, hostname, shell, source)
EXIT, COMMAND, CWD, SESSION = 2, 3, 4, 5


def dedup_key(timestamp: int, session: str, command: str) -> bytes:
    """What makes two entries the same: re-ingesting or re-importing one adds nothing."""
    key = f"{timestamp}\0{session}\0{command}"
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass(slots=True)  # not frozen: a frozen __init__ costs 2x, and ingest builds 100k of them
class Entry:
    command: str
    timestamp: int  # start time, nanoseconds since the epoch (UTC)
    session: str
    duration_ms: int | None = None
    exit: int | None = None
    cwd: str | None = None
    hostname: str = ""
    shell: str = ""
    source: str = "shell"  # "shell" for live capture, else the importer's name
    id: int | None = None

    def dedup_key(self) -> bytes:
        """What makes two entries the same: re-ingesting or re-importing one adds nothing."""
        return dedup_key(self.timestamp, self.session, self.command)

    @classmethod
    def from_row(cls, row: Row) -> Entry:
        ts, duration, exit_, command, cwd, session, hostname, shell, source = row
        return cls(command, ts, session, duration, exit_, cwd, hostname, shell, source)

    def row(self) -> Row:
        """The entry as the store writes it (see ``Row``)."""
        return (self.timestamp, self.duration_ms, self.exit, self.command, self.cwd,
                self.session, self.hostname, self.shell, self.source)

    def to_json(self) -> dict[str, Any]:
        ts = _dt.datetime.fromtimestamp(self.timestamp / 1e9, tz=_dt.timezone.utc)
        return {
            "id": self.id,
            "command": self.command,
            "cwd": self.cwd,
            "exit": self.exit,
            "duration_ms": self.duration_ms,
            "timestamp": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "session": self.session,
            "hostname": self.hostname,
            "shell": self.shell,
            "source": self.source,
        }
