"""The spool: how shell hooks hand executed commands to cmdai without starting a process.

Each shell session appends one line per executed command to ``<spool>/<host>-<session>.tsv``:

    v1 TAB shell TAB session TAB start_epoch TAB exit TAB duration_ms TAB cwd TAB command

``cwd`` and ``command`` escape backslash, TAB, LF and CR as ``\\\\ \\t \\n \\r``. The decoder is
strict: any other escape, a wrong field count or a malformed number is an error, and the line is
kept in the quarantine file and reported, never dropped. The ingester renames a spool file,
reads it, commits one transaction, then deletes it; re-ingesting after a crash adds nothing
because entries are deduplicated.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cmdai.history.entry import Entry, Row
from cmdai.history.store import Store

if TYPE_CHECKING:
    from cmdai.privacy import Policy

VERSION = "v1"
SHELLS = frozenset({"zsh", "bash", "fish"})
_ESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_ESCAPE_RE = re.compile(r"\\(.?)", re.S)
_EPOCH_RE = re.compile(r"[0-9]{1,12}(?:[.,][0-9]{1,12})?")
_INT_RE = re.compile(r"-?[0-9]{1,10}")
_SESSION_RE = re.compile(r"[A-Za-z0-9_.:]{1,64}")
_UNDECODABLE = re.compile("[\udc80-\udcff]")
INGESTING = ".ingesting"


class SpoolError(ValueError):
    """A spool line that does not follow the v1 format."""


def escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def unescape(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        try:
            return _ESCAPES[m.group(1)]
        except KeyError:
            raise SpoolError(f"unknown escape '\\{m.group(1)}'") from None

    return _ESCAPE_RE.sub(repl, text) if "\\" in text else text


def encode(entry: Entry) -> str:
    """The line a hook would write for ``entry`` (used by tests and benchmarks)."""
    seconds, frac = divmod(entry.timestamp, 1_000_000_000)
    return "\t".join([
        VERSION, entry.shell, entry.session, f"{seconds}.{frac // 1000:06d}",
        str(entry.exit if entry.exit is not None else 0),
        str(entry.duration_ms if entry.duration_ms is not None else 0),
        escape(entry.cwd or ""), escape(entry.command),
    ]) + "\n"


def _epoch_ns(text: str) -> int:
    if not _EPOCH_RE.fullmatch(text):
        raise SpoolError(f"bad start time {text!r}")
    whole, _, frac = text.replace(",", ".").partition(".")
    return int(whole) * 1_000_000_000 + (int((frac + "000000000")[:9]) if frac else 0)


# a well-formed line, checked over a whole chunk of lines at once (one findall in C)
_FAST_LINES = re.compile(
    r"^v1\t(zsh|bash|fish)\t([A-Za-z0-9_.:]{1,64})\t([0-9]{1,12})(?:[.,]([0-9]{1,12}))?\t"
    r"(-?[0-9]{1,10})\t([0-9]{1,10})\t([^\t\n]*)\t([^\t\n]*)$", re.M
)


def decode_rows(text: str, hostname: str = "") -> list[Row] | None:
    """Every line of ``text`` (valid UTF-8) decoded into a ``Row``, or None when any line is
    not plainly well-formed (the caller then decodes line by line, which reports each bad line
    with its reason). The bulk path of ingest: no Entry objects."""
    rows = _FAST_LINES.findall(text)
    # each match is exactly one line: all lines are good when there are as many matches
    if "\n\n" in text or text.startswith("\n") or not text.endswith("\n"):
        lines = sum(1 for line in text.split("\n") if line)
    else:
        lines = text.count("\n")
    if len(rows) != lines:
        return None
    out: list[Row] = []
    append = out.append
    try:
        for shell, session, whole, frac, exit_, duration, cwd, command in rows:
            if "\\" in command:
                command = unescape(command)
            if not command or command.isspace():
                return None
            if "\\" in cwd:
                cwd = unescape(cwd)
            append((int(whole + (frac + "000000000")[:9]), int(duration), int(exit_), command,
                    cwd or None, session, hostname, shell, "shell"))
    except SpoolError:
        return None
    return out


def decode(line: str, hostname: str = "") -> Entry:
    """Decode one spool line (without its newline). Raises SpoolError with the reason."""
    rows = decode_rows(line + "\n", hostname) if "\n" not in line else None
    if rows:  # the common case, checked by one regex; the slow path below explains failures
        return Entry.from_row(rows[0])
    fields = line.split("\t")
    if len(fields) != 8:
        raise SpoolError(f"expected 8 TAB-separated fields, found {len(fields)}")
    version, shell, session, start, exit_, duration, cwd, command = fields
    if version != VERSION:
        raise SpoolError(f"unknown format version {version!r}")
    if shell not in SHELLS:
        raise SpoolError(f"unknown shell {shell!r}")
    if not _SESSION_RE.fullmatch(session):
        raise SpoolError(f"bad session id {session!r}")
    if not _INT_RE.fullmatch(exit_):
        raise SpoolError(f"bad exit status {exit_!r}")
    if not _INT_RE.fullmatch(duration) or duration.startswith("-"):
        raise SpoolError(f"bad duration {duration!r}")
    command = unescape(command)
    if not command.strip():
        raise SpoolError("empty command")
    return Entry(
        command=command,
        timestamp=_epoch_ns(start),
        session=session,
        duration_ms=int(duration),
        exit=int(exit_),
        cwd=unescape(cwd) or None,
        hostname=hostname,
        shell=shell,
        source="shell",
    )


def hostname_of(path: Path) -> str:
    """Spool files are named ``<host>-<session>.tsv``; the session id has no '-'."""
    stem = path.name.split(".tsv", 1)[0]
    host, sep, _ = stem.rpartition("-")
    return host if sep else ""


@dataclass
class IngestReport:
    files: int = 0
    lines: int = 0
    inserted: int = 0
    bad: list[str] = field(default_factory=list)  # "file:line: reason"
    redacted: int = 0  # entries stored with at least one secret replaced by <redacted:KIND>
    filtered: int = 0  # entries dropped by the filters (history.ignore_*, store_failed)


def _read_text(path: Path, start: int = 0) -> tuple[str, int, bool]:
    """The text of ``path`` from byte ``start``, the offset it ends at, and whether it was all
    valid UTF-8 (bytes that are not are kept as surrogates, for the decoder to report). A last
    line without newline is still being written only if the writer died mid-line, so it is
    taken as it is."""
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read()
    try:
        return data.decode("utf-8"), start + len(data), True
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogateescape"), start + len(data), False


def _claim(spool: Path) -> list[Path]:
    """Rename every spool file to *.ingesting so that shells start a new one."""
    claimed = sorted(spool.glob(f"*.tsv*{INGESTING}"))  # left by an ingester that died
    for path in sorted(spool.glob("*.tsv")):
        target = path.with_name(f"{path.name}.{os.getpid()}{INGESTING}")
        try:
            os.rename(path, target)
        except FileNotFoundError:  # another ingester took it
            continue
        claimed.append(target)
    return claimed


def ingest(store: Store, spool: Path, quarantine: Path, policy: Policy | None = None) -> IngestReport:
    """Move every spool line into the store. Bad lines go to ``quarantine`` with the reason.

    ``policy`` (default: the current config's) filters entries and redacts secrets before
    anything is stored; a quarantined line is redacted too."""
    report = IngestReport()
    if not spool.is_dir():
        return report
    claimed = _claim(spool)
    if claimed and policy is None:
        from cmdai.privacy import load_policy

        policy = load_policy()  # a broken config raises here, before anything is stored
    for path in claimed:
        host = hostname_of(path)
        try:
            text, size, valid = _read_text(path)
        except FileNotFoundError:
            continue
        first_line: int | None = 1
        rows: list[Row] = []
        while True:
            chunk = decode_rows(text, host) if valid else None
            if chunk is None:  # some line is bad: decode one by one to report it
                chunk = [e.row() for e in _decode_lines(
                    text, first_line, path, host, quarantine, policy, report)]
            else:
                report.lines += len(chunk)
            if policy is not None:
                chunk, filtered, redacted = policy.apply_rows(chunk)
                report.filtered += filtered
                report.redacted += redacted
            rows += chunk
            # a shell that opened the file just before the rename may still append to it
            if path.stat().st_size == size:
                break
            text, size, valid = _read_text(path, size)
            first_line = None  # line numbers are unknown past the first read
        report.inserted += store.insert_rows(rows)
        report.files += 1
        path.unlink()
    return report


def _decode_lines(text: str, first_line: int | None, path: Path, host: str, quarantine: Path,
                  policy: Policy | None, report: IngestReport) -> list[Entry]:
    """Decode line by line; a bad line goes to ``quarantine`` (redacted) and into ``report``."""
    entries = []
    for number, line in enumerate(text.split("\n"), start=first_line or 1):
        if not line:
            continue
        report.lines += 1
        try:
            if _UNDECODABLE.search(line):
                raise SpoolError("not valid UTF-8")
            entries.append(decode(line, host))
        except SpoolError as exc:
            where = f"{path.name.split('.tsv')[0]}.tsv:{number if first_line else '?'}"
            report.bad.append(f"{where}: {exc}")
            _quarantine(quarantine, where, str(exc), policy.redact(line) if policy else line)
    return entries


def _quarantine(quarantine: Path, where: str, reason: str, line: str) -> None:
    quarantine.parent.mkdir(parents=True, exist_ok=True)
    with open(quarantine, "a", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write(f"{where}\t{escape(reason)}\t{line}\n")


def open_history() -> tuple[Store, IngestReport]:
    """Open the user's store and ingest pending spool lines: every command that reads history
    starts here, so what the shell recorded a moment ago is already searchable."""
    from cmdai import paths

    from cmdai.history import generations

    store = Store.open()
    report = ingest(store, paths.spool_dir(), paths.quarantine_file())
    if report.inserted:
        generations.link(store)  # Ctrl-G proposals -> the commands the user then ran
    return store, report
