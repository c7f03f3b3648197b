"""The spool decoder against a table of nasty lines, and ingest that never loses a line."""

from __future__ import annotations

import os

import pytest

from cmdai.history import spool
from cmdai.history.entry import Entry
from cmdai.history.store import Store

GOOD = "v1\tzsh\t17.42.99\t1700000000.250000\t0\t12\t/home/u\tls -la"


def line(**over: str) -> str:
    fields = dict(zip(
        ["v", "shell", "session", "start", "exit", "dur", "cwd", "cmd"], GOOD.split("\t")))
    fields.update(over)
    return "\t".join(fields.values())


@pytest.mark.parametrize("text, command, cwd", [
    (line(), "ls -la", "/home/u"),
    (line(cmd="echo a\\tb"), "echo a\tb", "/home/u"),
    (line(cmd="echo 'a\\\\nb'"), "echo 'a\\nb'", "/home/u"),  # literal backslash-n
    (line(cmd="for i in 1\\ndo :\\ndone"), "for i in 1\ndo :\ndone", "/home/u"),
    (line(cmd="printf 'x\\r'"), "printf 'x\r'", "/home/u"),
    (line(cmd="echo \\\\\\\\"), "echo \\\\", "/home/u"),
    (line(cwd="/tmp/a\\tb"), "ls -la", "/tmp/a\tb"),
    (line(cwd=""), "ls -la", None),
    (line(cmd="echo héllo ✓ 日本 🚀"), "echo héllo ✓ 日本 🚀", "/home/u"),
])
def test_decode_good_lines(text, command, cwd):
    e = spool.decode(text, "host")
    assert (e.command, e.cwd, e.hostname, e.shell) == (command, cwd, "host", "zsh")


@pytest.mark.parametrize("start, ns", [
    ("1700000000", 1_700_000_000_000_000_000),
    ("1700000000.5", 1_700_000_000_500_000_000),
    ("1700000000,250000", 1_700_000_000_250_000_000),  # bash in a comma-decimal locale
    ("1700000000.1234567891", 1_700_000_000_123_456_789),  # zsh prints 10 digits
])
def test_decode_start_times(start, ns):
    assert spool.decode(line(start=start)).timestamp == ns


@pytest.mark.parametrize("text, reason", [
    ("", "expected 8"),
    ("v1\tzsh", "expected 8"),
    (GOOD + "\textra", "expected 8"),
    (line(v="v2"), "version"),
    (line(shell="tcsh"), "unknown shell"),
    (line(session=""), "session"),
    (line(session="a b"), "session"),
    (line(start="yesterday"), "start time"),
    (line(start="-5"), "start time"),
    (line(start="1e9"), "start time"),
    (line(exit="x"), "exit"),
    (line(exit=""), "exit"),
    (line(dur="-3"), "duration"),
    (line(dur="1.5"), "duration"),
    (line(cmd="echo \\q"), "unknown escape"),
    (line(cmd="trailing \\"), "unknown escape"),
    (line(cwd="C:\\Users"), "unknown escape"),
    (line(cmd=""), "empty command"),
    (line(cmd="   "), "empty command"),
])
def test_decode_rejects_bad_lines(text, reason):
    with pytest.raises(spool.SpoolError, match=reason):
        spool.decode(text)


@pytest.mark.parametrize("command", [
    "plain", "a\tb", "a\nb", "a\rb", "back\\slash", "lit\\nnot-newline", "\\\\t", "ünï ✓",
])
def test_encode_decode_round_trip(command):
    e = Entry(command=command, timestamp=1_700_000_000_123_456_000, session="s1",
              duration_ms=5, exit=2, cwd="/tmp/x\ty", shell="bash")
    back = spool.decode(spool.encode(e).rstrip("\n"))
    assert (back.command, back.cwd, back.timestamp, back.exit, back.duration_ms) == (
        command, "/tmp/x\ty", e.timestamp, 2, 5)


def test_chunk_decode_equals_line_decode():
    good = [line(), line(cmd="echo a\\tb"), line(cmd="for i in 1\\ndo :\\ndone"),
            line(cwd=""), line(cwd="/tmp/a\\tb"), line(start="1700000000,25"),
            line(start="1700000000.1234567891"), line(start="1700000000"),
            line(cmd="echo héllo ✓ 日本 🚀"), line(exit="-1", shell="fish", session="a_b:1.2")]
    text = "\n".join(good) + "\n\n"
    expected = [spool.decode(g, "h").row() for g in good]
    assert spool.decode_rows(text, "h") == expected
    # one bad line anywhere sends the whole chunk to the line-by-line path
    for bad in ("garbage", line(cmd="echo \\q"), line(cmd="  "), line(session="a b"),
                line(start="1e9"), GOOD + "\textra"):
        assert spool.decode_rows(text + bad + "\n", "h") is None


def test_hostname_from_file_name(tmp_path):
    assert spool.hostname_of(tmp_path / "my-laptop-17.42.99.tsv") == "my-laptop"
    assert spool.hostname_of(tmp_path / "my-laptop-17.42.99.tsv.123.ingesting") == "my-laptop"


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "h.db")
    yield s
    s.close()


def test_ingest_keeps_bad_lines_in_quarantine(store, tmp_path):
    sp = tmp_path / "spool"
    sp.mkdir()
    q = tmp_path / "quarantine.tsv"
    (sp / "box-s1.tsv").write_bytes(
        (line(session="s1", cmd="echo one") + "\n").encode()
        + b"garbage without tabs\n"
        + (line(session="s1", cmd="echo \xff") + "\n").encode("latin-1")
        + (line(session="s1", cmd="echo two", start="1700000001") + "\n").encode()
    )
    report = spool.ingest(store, sp, q)
    assert report.inserted == 2 and report.lines == 4 and report.files == 1
    assert [b.split(": ", 1)[0] for b in report.bad] == ["box-s1.tsv:2", "box-s1.tsv:3"]
    assert "not valid UTF-8" in report.bad[1]
    kept = q.read_bytes().splitlines()
    assert len(kept) == 2 and kept[0].endswith(b"garbage without tabs")
    assert kept[1].endswith(b"echo \xff")  # the original bytes, not a replacement
    assert [e.command for e in store.list()] == ["echo two", "echo one"]
    assert [e.hostname for e in store.list()] == ["box", "box"]
    assert list(sp.iterdir()) == []


def test_ingest_is_idempotent_after_a_crash(store, tmp_path):
    """An ingester that died after committing but before deleting leaves *.ingesting behind:
    the next run reads it again and adds nothing twice."""
    sp = tmp_path / "spool"
    sp.mkdir()
    text = line(session="s2", cmd="make test") + "\n"
    (sp / "h-s2.tsv.999.ingesting").write_text(text)
    (sp / "h-s2.tsv").write_text(text + line(session="s2", cmd="make", start="1700000009") + "\n")
    report = spool.ingest(store, sp, tmp_path / "q")
    assert report.inserted == 2 and report.lines == 3
    assert sorted(e.command for e in store.list()) == ["make", "make test"]


def test_ingest_picks_up_lines_appended_after_the_rename(store, tmp_path, monkeypatch):
    sp = tmp_path / "spool"
    sp.mkdir()
    (sp / "h-s3.tsv").write_text(line(session="s3", cmd="first") + "\n")
    real_read = spool._read_text
    calls = []

    def read_then_append(path, start=0):
        out = real_read(path, start)
        if not calls:  # a shell that opened the file before the rename writes now
            with open(path, "a") as fh:
                fh.write(line(session="s3", cmd="late", start="1700000005") + "\n")
        calls.append(start)
        return out

    monkeypatch.setattr(spool, "_read_text", read_then_append)
    report = spool.ingest(store, sp, tmp_path / "q")
    assert report.inserted == 2
    assert sorted(e.command for e in store.list()) == ["first", "late"]


def test_a_bad_line_appended_after_the_rename_is_reported_without_a_line_number(
        store, tmp_path, monkeypatch):
    sp = tmp_path / "spool"
    sp.mkdir()
    (sp / "h-s4.tsv").write_text(line(session="s4", cmd="first") + "\n")
    real_read = spool._read_text

    def read_then_append(path, start=0):
        out = real_read(path, start)
        if start == 0:
            with open(path, "a") as fh:
                fh.write(line(session="s4", cmd="late", start="1700000005") + "\nnot a line\n")
        return out

    monkeypatch.setattr(spool, "_read_text", read_then_append)
    report = spool.ingest(store, sp, tmp_path / "q")
    assert report.inserted == 2 and report.lines == 3
    assert report.bad == ["h-s4.tsv:?: expected 8 TAB-separated fields, found 1"]


def test_ingest_without_spool_dir(store, tmp_path):
    assert spool.ingest(store, tmp_path / "missing", tmp_path / "q").lines == 0


def test_open_history_uses_cmdai_home(cmdai_home):
    store, report = spool.open_history()
    assert str(store.path).startswith(str(cmdai_home))
    assert report.files == 0
    assert os.path.exists(cmdai_home / "data" / "history.db")
