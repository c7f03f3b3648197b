"""The import driver: find sources, read them, run the format's pure ``parse()``, and insert in
batches; count what was read, imported, already present and skipped; draw a progress bar on a
terminal; write the summary.

Everything the format modules leave out on purpose lives here, once: file and database I/O,
``auto`` detection, the redaction hook, batching and dedupe counting, progress and reporting.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import socket
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from cmdai import paths
from cmdai.errors import HistoryImportError, UsageError
from cmdai.history.entry import Entry
from cmdai.history.importers import FORMATS, Problem

BATCH = 20_000  # entries per transaction
SHOW_PROBLEMS = 20  # skipped rows listed one by one in the summary; the rest are counted
AUTO_ORDER = ("zsh", "bash", "fish", "atuin", "zsh-histdb")
_SQLITE_MAGIC = b"SQLite format 3\0"


def redact_many(commands: list[str]) -> dict[int, str]:
    """Secrets redaction hook, applied to every imported command before it is stored:
    ``{index: redacted command}`` for the commands that held a secret.

    It calls the redactor used for live capture (cmdai.privacy), so imported and live commands
    are redacted alike, a whole batch at a time. It must be deterministic: the dedup key is
    computed on the redacted command, and a re-import must produce the same key to add nothing.
    """
    from cmdai import privacy

    redactor = privacy.current_policy().redactor
    if redactor is None:  # privacy.redact = false
        return {}
    return {i: text for i, (text, _kinds) in redactor.redact_many(commands).items()}


def redact(command: str) -> str:
    """``redact_many`` for one command."""
    return redact_many([command]).get(0, command)


@dataclass(frozen=True)
class Source:
    format: str  # a key of FORMATS
    path: Path
    how: str  # how it was found: "--file", "$HISTFILE", "default", ...


@dataclass
class Result:
    source: Source
    dry_run: bool = False
    read: int = 0  # rows: imported + already present + skipped
    imported: int = 0  # new entries (with --dry-run: that would be new)
    present: int = 0  # entries the store already had (or seen earlier in the same source)
    problems: list[Problem] = field(default_factory=list)  # skipped rows
    error: str | None = None  # the source as a whole could not be read (auto only)

    @property
    def skipped(self) -> int:
        return len(self.problems)


def load_format(name: str) -> ModuleType:
    try:
        return importlib.import_module(FORMATS[name])
    except KeyError:
        raise UsageError(
            f"unknown history format {name!r}", f"choose one of: auto, {', '.join(FORMATS)}"
        ) from None


def _display(path: Path, home: Path) -> str:
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)


# -- finding sources ------------------------------------------------------------------------
def sniff(head: bytes) -> str | None:
    """The format a file's first bytes look like, or None if they do not tell."""
    if head.startswith(_SQLITE_MAGIC):
        return "sqlite"
    for line in head.split(b"\n")[:50]:
        if not line.strip():
            continue
        if line.startswith(b"- cmd:"):
            return "fish"
        if re.match(rb": \d+:-?\d+;", line):
            return "zsh"
        if re.fullmatch(rb"#\d+\s*", line):
            return "bash"
        return None
    return None


def _sniff_file(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return sniff(f.read(8192))
    except OSError:
        return None


def _sniff_database(path: Path) -> str | None:
    try:
        conn = _open_readonly(path)
    except HistoryImportError:
        return None
    try:
        for name in ("atuin", "zsh-histdb"):
            if not load_format(name).missing_columns(conn):
                return name
    except Exception:  # noqa: BLE001 - any failure means "not a database we know"
        return None
    finally:
        conn.close()
    return None


def _guess_shell_file(path: Path, env: Mapping[str, str]) -> str:
    """For $HISTFILE when its content does not tell (a plain history): by name, then $SHELL."""
    name = path.name.lower()
    if "zsh" in name or name in (".zhistory", ".histfile"):
        return "zsh"
    if "bash" in name:
        return "bash"
    shell = Path(env.get("SHELL", "")).name
    return shell if shell in ("zsh", "bash") else "bash"


def _format_of(path: Path) -> str | None:
    kind = _sniff_file(path)
    if kind == "sqlite":
        return _sniff_database(path)
    return kind


def candidates(name: str, env: Mapping[str, str], home: Path) -> list[tuple[Path, str]]:
    """Where ``name``'s history may be; $HISTFILE only where its content fits the format."""
    found = []
    for path, how in load_format(name).candidates(env, home):
        if how == "$HISTFILE" and path.is_file():
            fmt = _format_of(path) or _guess_shell_file(path, env)
            if fmt != name:
                continue
        found.append((path, how))
    return found


def detect(env: Mapping[str, str] | None = None, home: Path | None = None) -> list[Source]:
    """Every history source of the user's that exists: what ``cmdai import auto`` imports."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    sources: list[Source] = []
    seen: set[Path] = set()
    for name in AUTO_ORDER:
        for path, how in candidates(name, env, home):
            if not path.is_file() or path.stat().st_size == 0:
                continue
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            sources.append(Source(name, path, how))
            if load_format(name).KIND == "text" and how != "$HISTFILE":
                break  # one default file per shell: the first that exists
    return sources


def resolve(
    fmt: str,
    file: Path | None = None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> list[Source]:
    """The sources ``cmdai import FMT [--file FILE]`` means. Raises if there are none."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    if fmt == "auto":
        if file is not None:
            if not file.exists():
                raise _missing(file, "auto")
            found = _format_of(file)
            if found is None:
                raise HistoryImportError(
                    f"cannot tell which shell wrote {file}",
                    f"name its format: cmdai import zsh|bash|fish|atuin|zsh-histdb --file {file}",
                )
            return [Source(found, file.absolute(), "--file")]
        sources = detect(env, home)
        if not sources:
            looked = [
                _display(p, home)
                for name in AUTO_ORDER
                for p, _ in load_format(name).candidates(env, home)
            ]
            raise HistoryImportError(
                f"no shell history found (looked in {', '.join(dict.fromkeys(looked))})",
                "point at a file: cmdai import zsh|bash|fish --file PATH",
            )
        return sources
    load_format(fmt)
    if file is not None:
        return [Source(fmt, file.absolute(), "--file")]
    looked = candidates(fmt, env, home)
    for path, how in looked:
        if path.is_file():
            return [Source(fmt, path, how)]
    where = ", ".join(dict.fromkeys(_display(p, home) for p, _ in looked))
    raise HistoryImportError(
        f"no {fmt} history found (looked in {where or 'no known place'})", _hint(fmt)
    )


def _hint(fmt: str) -> str:
    where = {
        "zsh": " (zsh prints it with: echo $HISTFILE)",
        "bash": " (bash prints it with: echo $HISTFILE)",
        "fish": " (usually ~/.local/share/fish/fish_history)",
        "atuin": " (atuin's db_path, usually ~/.local/share/atuin/history.db)",
        "zsh-histdb": " ($HISTDB_FILE, usually ~/.histdb/zsh-history.db)",
    }.get(fmt, "")
    return f"point at the right file with: cmdai import {fmt} --file PATH{where}"


def _missing(path: Path, fmt: str) -> HistoryImportError:
    return HistoryImportError(f"{path}: no such file", _hint(fmt))


# -- reading ------------------------------------------------------------------------------
def _open_readonly(path: Path) -> Any:
    import apsw

    if not path.is_file():
        raise HistoryImportError(f"{path}: no such file")
    uri = "file:" + str(path.absolute()).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    try:
        # Never write to another tool's database, and leave no file behind. A read-only
        # connection to a WAL database would create the -wal and -shm files, so when there is no
        # -wal (its owner is not writing right now) the file is opened as immutable; when there
        # is one, its committed rows are read through it.
        live = Path(f"{path}-wal").exists()
        conn = apsw.Connection(
            uri + ("?mode=ro" if live else "?mode=ro&immutable=1"),
            flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI,
        )
        conn.set_busy_timeout(5000)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
        return conn
    except apsw.Error as exc:
        raise HistoryImportError(f"{path} is not a readable SQLite database: {exc}") from exc


def _read_text(source: Source) -> bytes:
    path = source.path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _missing(path, source.format) from None
    except IsADirectoryError:
        raise HistoryImportError(
            f"{path} is a directory, not a history file", _hint(source.format)
        ) from None
    except OSError as exc:
        raise HistoryImportError(f"cannot read {path}: {exc.strerror or exc}") from None
    if data.startswith(_SQLITE_MAGIC):
        raise HistoryImportError(
            f"{path} is an SQLite database, not a {source.format} history file",
            f"for atuin's or zsh-histdb's database: cmdai import atuin|zsh-histdb --file {path}",
        )
    return data


def _rows(source: Source, module: ModuleType) -> tuple[Iterable[Any], int, Any]:
    if not source.path.exists():
        raise _missing(source.path, source.format)
    conn = _open_readonly(source.path)
    import apsw

    try:
        missing = module.missing_columns(conn)
        if missing:
            raise HistoryImportError(
                f"{source.path} does not look like {source.format}'s database"
                f" (missing {', '.join(missing)})",
                _hint(source.format),
            )
        return module.read_rows(conn), module.estimate(conn), conn
    except apsw.Error as exc:
        conn.close()
        raise HistoryImportError(f"cannot read {source.path}: {exc}") from exc
    except HistoryImportError:
        conn.close()
        raise


# -- progress -----------------------------------------------------------------------------
class Progress:
    """A one-line progress bar on a terminal; nothing at all when ``stream`` is not a tty."""

    def __init__(self, stream: TextIO | None, label: str, total: int) -> None:
        self.enabled = bool(stream is not None and _isatty(stream)) and total > 0
        self.stream = stream
        self.label = label
        self.total = max(total, 1)
        self._last = 0.0

    def update(self, done: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        done = min(done, self.total)
        width = 30
        filled = width * done // self.total
        bar = "#" * filled + "-" * (width - filled)
        percent = 100 * done // self.total
        assert self.stream is not None
        self.stream.write(f"\r{self.label} [{bar}] {percent:3d}% {done:,}/{self.total:,}")
        self.stream.flush()

    def finish(self, done: int) -> None:
        """Draw the bar full (the total was an estimate), then clear the line."""
        self.total = max(done, 1)
        self.update(done, force=True)
        self.close()

    def close(self) -> None:
        if self.enabled:
            assert self.stream is not None
            self.stream.write("\r\033[K")
            self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# -- importing ----------------------------------------------------------------------------
def _entries(items: Iterable[Entry | Problem], result: Result) -> Iterator[Entry]:
    """The entries of ``items``; problems go to ``result``."""
    problems = result.problems
    for item in items:
        if item.__class__ is Problem:
            problems.append(item)  # type: ignore[arg-type]
            continue
        yield item  # type: ignore[misc]


def _batches(entries: Iterable[Entry], size: int) -> Iterator[list[Entry]]:
    """Batches ready to store, their commands redacted (so that the dedup key is computed on
    what is stored)."""
    batch: list[Entry] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) >= size:
            yield _redacted(batch)
            batch = []
    if batch:
        yield _redacted(batch)


def _redacted(batch: list[Entry]) -> list[Entry]:
    for i, command in redact_many([e.command for e in batch]).items():
        batch[i] = dataclasses.replace(batch[i], command=command)
    return batch


def _already_present(store: Any, keys: list[bytes]) -> set[bytes]:
    found: set[bytes] = set()
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        marks = ",".join("?" * len(chunk))
        found.update(
            row[0]
            for row in store.conn.execute(
                f"SELECT dedup FROM history WHERE dedup IN ({marks})", chunk
            )
        )
    return found


def import_source(
    source: Source,
    store: Any,
    *,
    dry_run: bool = False,
    progress: TextIO | None = None,
    batch_size: int = BATCH,
) -> Result:
    """Import one source into ``store`` (a ``Store``; with ``dry_run`` it may be None: empty)."""
    module = load_format(source.format)
    result = Result(source, dry_run=dry_run)
    conn = None
    if module.KIND == "text":
        data = _read_text(source)
        # a history file on this machine was written here
        items = module.parse(data, hostname=socket.gethostname())
        total = module.estimate(data) if data else 0
    else:
        rows, total, conn = _rows(source, module)
        items = module.parse(rows)
    bar = Progress(progress, f"{source.format} {source.path.name}", total)
    seen: set[bytes] = set()  # dry run: keys met earlier in this source
    try:
        for batch in _batches(_entries(items, result), batch_size):
            if dry_run:
                keys = [e.dedup_key() for e in batch]
                present = _already_present(store, keys) if store is not None else set()
                for key in keys:
                    if key in present or key in seen:
                        result.present += 1
                    else:
                        seen.add(key)
                        result.imported += 1
            else:
                new = store.insert(batch)  # one transaction; present ones are ignored
                result.imported += new
                result.present += len(batch) - new
            bar.update(result.imported + result.present + result.skipped)
        bar.finish(result.imported + result.present + result.skipped)
    finally:
        bar.close()
        if conn is not None:
            conn.close()
    result.read = result.imported + result.present + result.skipped
    return result


def run(
    sources: list[Source],
    *,
    dry_run: bool = False,
    store_path: Path | None = None,
    progress: TextIO | None = None,
    keep_going: bool | None = None,
) -> list[Result]:
    """Import every source; with several (``auto``), a source that cannot be read is reported in
    its Result and the others still import. A single source's failure raises."""
    from cmdai.history.store import Store

    keep_going = len(sources) > 1 if keep_going is None else keep_going
    db = Path(store_path or paths.db_file())
    if dry_run:
        store = Store.open(db, readonly=True) if db.exists() else None
    else:
        store = Store.open(db)
        # per connection, gone when it closes: a 64 MB page cache keeps the index pages that
        # a large import touches from being read again and again (~10% faster at 100k rows)
        store.conn.execute("PRAGMA cache_size = -65536").fetchall()
    results = []
    try:
        for source in sources:
            try:
                results.append(import_source(source, store, dry_run=dry_run, progress=progress))
            except HistoryImportError as err:
                if not keep_going:
                    raise
                results.append(Result(source, dry_run=dry_run, error=str(err)))
    finally:
        if store is not None:
            store.close()
    return results


# -- reporting ----------------------------------------------------------------------------
def _reason_kind(reason: str) -> str:
    """Group skipped rows by what went wrong, not by their details."""
    kind = reason.split(" (", 1)[0].split(": ", 1)[0]
    return re.sub(r" \d\S*", "", kind)  # "timestamp 123 out of range" -> "timestamp out of range"


def found_lines(sources: list[Source], home: Path | None = None) -> list[str]:
    home = Path.home() if home is None else home
    return [f"found {s.format:<10} {_display(s.path, home)}  ({s.how})" for s in sources]


def summary(results: list[Result], home: Path | None = None) -> list[str]:
    """The report printed at the end: per source, counts, reasons and the first skipped rows."""
    home = Path.home() if home is None else home
    lines: list[str] = []
    for r in results:
        where = _display(r.source.path, home)
        lines.append(f"{r.source.format} {where}")
        if r.error is not None:
            lines.append(f"  not imported: {r.error}")
            continue
        verb = "would import" if r.dry_run else "imported"
        lines.append(
            f"  read {r.read:,} · {verb} {r.imported:,} · already present {r.present:,}"
            f" · skipped {r.skipped:,}"
        )
        if r.problems:
            kinds = Counter(_reason_kind(p.reason) for p in r.problems)
            lines.append(
                "  skipped: " + ", ".join(f"{n:,} {kind}" for kind, n in kinds.most_common())
            )
            for p in r.problems[:SHOW_PROBLEMS]:
                lines.append(f"  {r.source.path}:{p.line}: {p.reason}")
            if len(r.problems) > SHOW_PROBLEMS:
                lines.append(f"  ... and {len(r.problems) - SHOW_PROBLEMS:,} more skipped rows")
    if len(results) > 1:
        ok = [r for r in results if r.error is None]
        lines.append(
            f"total: read {sum(r.read for r in ok):,} · "
            f"{'would import' if ok and ok[0].dry_run else 'imported'} "
            f"{sum(r.imported for r in ok):,} · already present {sum(r.present for r in ok):,}"
            f" · skipped {sum(r.skipped for r in ok):,}"
        )
    return lines


def failed(results: list[Result]) -> bool:
    return any(r.error is not None for r in results)


__all__ = [
    "Result",
    "Source",
    "detect",
    "failed",
    "found_lines",
    "import_source",
    "redact",
    "redact_many",
    "resolve",
    "run",
    "sniff",
    "summary",
]
