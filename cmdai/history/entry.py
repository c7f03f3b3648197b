"""The record every part of history speaks: one executed command."""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass
from typing import Any


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
        key = f"{self.timestamp}\0{self.session}\0{self.command}"
        return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()

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
