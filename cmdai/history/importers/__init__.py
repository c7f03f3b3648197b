"""History importers: one module per format, each with a pure ``parse()``.

The contract every format module follows (the driver, ``driver.py``, is the only caller):

- ``NAME``: the name on the command line (``cmdai import NAME``) and the entries' ``source``.
- ``KIND``: ``"text"`` (parse gets the file's bytes) or ``"sqlite"`` (parse gets the rows that the
  module's ``read_rows(path)`` fetched from a read-only connection).
- ``candidates(env, home)``: where the format's history usually lives, most likely first, each
  with how it was found (``"$HISTFILE"``, ``"default"``...). Pure: no file system access.
- ``parse(data)``: yields ``Entry`` for each command and ``Problem`` for each row that cannot
  be imported (text formats also take the ``hostname`` to record). Never raises on bad input;
  never touches the file system or the clock.
- ``estimate(data)``: a cheap guess of how many rows ``parse`` will yield (for the progress bar).

Timestamps are nanoseconds. Shell history files only know seconds (or nothing), so ``Timeline``
turns them into distinct, deterministic nanosecond times: the dedup key (timestamp, session,
command) is then the same on every import of the same file, and a file that grew only adds its
new lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from cmdai.history.entry import Entry

FORMATS: dict[str, str] = {
    "zsh": "cmdai.history.importers.zsh",
    "bash": "cmdai.history.importers.bash",
    "fish": "cmdai.history.importers.fish",
    "atuin": "cmdai.history.importers.atuin",
    "zsh-histdb": "cmdai.history.importers.zsh_histdb",
}

NS = 1_000_000_000
# Entries sharing one second (or having none) are spaced by this much, in file order.
STEP_NS = 1_000
# Seconds beyond this do not fit a signed 64-bit nanosecond count (year 2262).
MAX_SECONDS = (2**63 - 1) // NS - 1


@dataclass(frozen=True, slots=True)
class Problem:
    """A row that was not imported: reported as ``path:line: reason``, counted, skipped."""

    line: int  # 1-based line of a text file, or the rowid of a database row
    reason: str


def decode(raw: bytes, line: int) -> str | Problem:
    """Strict UTF-8 for one row that starts on ``line`` (it may span several lines): the command
    is kept exactly, or the row is reported with the line and column of the first bad byte."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(
            *_where(raw, line, exc.start, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}")
        )
    if "\0" in text:
        return Problem(*_where(raw, line, raw.index(b"\0"), "contains a NUL byte (binary data?"))
    return text


def _where(raw: bytes, line: int, offset: int, what: str) -> tuple[int, str]:
    line += raw.count(b"\n", 0, offset)
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return line, f"{what} at column {column})"


def split_lines(
    data: bytes, unmeta: Callable[[bytes], bytes | None] | None = None
) -> tuple[list[str], bool]:
    """The lines of a history file as text, and whether they are all clean.

    Fast path: the whole file decodes (after ``unmeta``, zsh's unmetafy) as UTF-8. Otherwise each
    line is decoded on its own and bad bytes are kept as surrogates (``surrogateescape``) so the
    entry they belong to can be reported by ``check`` once it is complete.
    """
    if data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        return [], True
    whole: bytes | None = data
    if unmeta is not None and b"\x83" in data:
        whole = None if b"\x83\n" in data or data.endswith(b"\x83") else unmeta(data)
    if whole is not None:
        try:
            text = whole.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return text.split("\n"), "\0" not in text
    lines = []
    for raw in data.split(b"\n"):
        if unmeta is not None:
            raw = unmeta(raw) or raw  # a Meta byte ending the line stays, and is reported
        lines.append(raw.decode("utf-8", "surrogateescape"))
    return lines, False


def check(text: str, line: int) -> str | Problem:
    """An entry's text from ``split_lines``' slow path: bad bytes and NULs are reported with the
    line and column where they are; clean text is returned as is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        byte = ord(text[exc.start]) - 0xDC00
        what = (
            "zsh Meta byte (0x83) at the end of a line (truncated write?"
            if byte == 0x83
            else f"not valid UTF-8 (byte 0x{byte:02x}"
        )
        return Problem(*_where_text(text, line, exc.start, what))
    if "\0" in text:
        return Problem(
            *_where_text(text, line, text.index("\0"), "contains a NUL byte (binary data?")
        )
    return text


def _where_text(text: str, line: int, offset: int, what: str) -> tuple[int, str]:
    line += text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, f"{what} at column {column})"


def parse_seconds(text: bytes | str, line: int) -> int | Problem:
    """A decimal epoch in seconds, or a Problem if it is out of range."""
    if len(text) > 19 or int(text) > MAX_SECONDS:  # (int() refuses over 4300 digits)
        shown = text if isinstance(text, str) else text.decode("ascii", "replace")
        return Problem(
            line, f"timestamp {shown[:30]}{'...' if len(shown) > 30 else ''} out of range"
        )
    return int(text)


class Timeline:
    """Turns (seconds or None) in file order into distinct, deterministic nanoseconds.

    - An entry with a time gets ``second + k * STEP_NS`` where k counts the earlier entries placed
      in that second, so commands repeated within one second stay distinct.
    - An entry without a time after a known one takes the next free slot of the last known second.
    - Entries without a time before the first known one sit just before it, in file order; in a
      file with no time at all they count up from the epoch.

    Every entry's time depends only on the lines before it (and, for the leading untimed ones,
    on the first known time), so appending to a file never moves an earlier entry.
    """

    def __init__(self) -> None:
        self._used: dict[int, int] = {}
        self._last: int | None = None

    def place(self, second: int | None) -> int | None:
        """The nanosecond time of the next entry, or None while it must wait for a known time."""
        if second is None:
            if self._last is None:
                return None
            second = self._last
        else:
            self._last = second
        k = self._used.get(second, 0)
        self._used[second] = k + 1
        return second * NS + k * STEP_NS


# (line, command, seconds or None, duration in ms or None): what a shell history file knows
Record = tuple[int, str, "int | None", "int | None"]


def place_in_time(
    records: Iterable[Record | Problem], *, name: str, shell: str, hostname: str = ""
) -> Iterator[Entry | Problem]:
    """Entries (session ``import-<name>``) from records in file order, timed as ``Timeline``
    says (inlined here: this loop runs once per imported command)."""
    session = f"import-{name}"
    used: dict[int, int] = {}
    last: int | None = None
    pending: list[Record] = []
    waiting: list[Record | Problem] = []  # problems met while entries wait, kept in order
    for record in records:
        if record.__class__ is Problem:
            if pending:
                waiting.append(record)
            else:
                yield record  # type: ignore[misc]
            continue
        _, command, second, duration = record  # type: ignore[misc]
        if second is None:
            if last is None:
                pending.append(record)  # type: ignore[arg-type]
                waiting.append(record)
                continue
            second = last
        else:
            last = second
        k = used.get(second, 0)
        used[second] = k + 1
        ts = second * NS + k * STEP_NS
        if pending:
            yield from _release(
                waiting, ts - len(pending) * STEP_NS, session, shell, name, hostname
            )
            pending, waiting = [], []
        yield Entry(command, ts, session, duration, None, None, hostname, shell, name)
    if pending:
        yield from _release(waiting, STEP_NS, session, shell, name, hostname)


def _release(
    waiting: list[Record | Problem], start: int, session: str, shell: str, name: str, hostname: str
) -> Iterator[Entry | Problem]:
    """The entries that waited for a known time (spaced by STEP_NS from ``start``), and the
    problems met meanwhile, in file order."""
    i = 0
    for item in waiting:
        if item.__class__ is Problem:
            yield item  # type: ignore[misc]
        else:
            _, text, _, took = item  # type: ignore[misc]
            yield Entry(text, start + i * STEP_NS, session, took, None, None, hostname, shell, name)
            i += 1
