"""The import driver and `cmdai import`: finding sources, whole-file failures, counting and the
summary, the progress bar, the redaction hook, and the command as a real process."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from pathlib import Path

import apsw
import pytest

from cmdai.errors import HistoryImportError, UsageError
from cmdai.history.importers import Problem, driver
from cmdai.history.store import Store

ZSH = b": 1700000000:0;git status\n: 1700000001:0;ls -la\n"


def home_with(tmp_path: Path, files: dict[str, bytes]) -> Path:
    home = tmp_path / "home"
    for name, data in files.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_bytes(data)
    home.mkdir(exist_ok=True)
    return home


def atuin_db(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = apsw.Connection(str(path))
    conn.execute(
        "create table history (id text primary key, timestamp integer not null,"
        " duration integer not null, exit integer not null, command text not null,"
        " cwd text not null, session text not null, hostname text not null,"
        " deleted_at integer, unique(timestamp, cwd, command));"
        "insert into history values ('x', 5, 0, 0, 'from atuin', '/', 's', 'h:u', null)"
    )
    conn.close()
    return path


# -- finding sources ----------------------------------------------------------------------
def test_auto_finds_every_source_and_says_how(tmp_path):
    home = home_with(
        tmp_path,
        {
            ".zsh_history": ZSH,
            ".bash_history": b"ls\n",
            ".local/share/fish/fish_history": b"- cmd: ls\n  when: 1\n",
            ".zhistory": ZSH,  # a second zsh default: the first one found wins
        },
    )
    atuin_db(home / ".local/share/atuin/history.db")
    sources = driver.resolve("auto", env={}, home=home)
    assert [(s.format, s.path.relative_to(home).as_posix(), s.how) for s in sources] == [
        ("zsh", ".zsh_history", "default"),
        ("bash", ".bash_history", "default"),
        ("fish", ".local/share/fish/fish_history", "default"),
        ("atuin", ".local/share/atuin/history.db", "default"),
    ]
    lines = driver.found_lines(sources, home)
    assert lines[0] == "found zsh        ~/.zsh_history  (default)"


def test_histfile_is_used_for_the_shell_whose_file_it_is(tmp_path):
    home = home_with(tmp_path, {"hist/custom": ZSH, ".bash_history": b"ls\n"})
    env = {"HISTFILE": str(home / "hist/custom")}
    sources = driver.resolve("auto", env=env, home=home)
    assert [(s.format, s.how) for s in sources] == [("zsh", "$HISTFILE"), ("bash", "default")]
    assert driver.resolve("zsh", env=env, home=home)[0].path == home / "hist/custom"
    # `cmdai import bash` does not take a zsh file just because HISTFILE names it
    assert driver.resolve("bash", env=env, home=home)[0].path == home / ".bash_history"


def test_xdg_and_tool_variables_are_followed(tmp_path):
    home = home_with(tmp_path, {"data/fish/fish_history": b"- cmd: ls\n", "h.db": b""})
    atuin_db(tmp_path / "elsewhere/atuin.db")
    env = {
        "XDG_DATA_HOME": str(home / "data"),
        "ATUIN_DB_PATH": str(tmp_path / "elsewhere/atuin.db"),
    }
    found = {s.format: s for s in driver.resolve("auto", env=env, home=home)}
    assert found["fish"].how == "$XDG_DATA_HOME" and found["atuin"].how == "$ATUIN_DB_PATH"


def test_nothing_found_says_where_it_looked(tmp_path):
    home = home_with(tmp_path, {})
    with pytest.raises(HistoryImportError) as err:
        driver.resolve("auto", env={}, home=home)
    assert "~/.zsh_history" in err.value.message and "~/.bash_history" in err.value.message
    assert "--file" in err.value.hint
    with pytest.raises(HistoryImportError) as err:
        driver.resolve("fish", env={}, home=home)
    assert err.value.message.startswith("no fish history found (looked in ~/.local/share/fish")
    assert err.value.hint.startswith("point at the right file with: cmdai import fish --file")


def test_auto_with_a_file_detects_its_format(tmp_path):
    files = {"z": ZSH, "b": b"#1700000000\nls\n", "f": b"- cmd: ls\n", "p": b"ls\n"}
    home = home_with(tmp_path, files)
    atuin_db(home / "a.db")
    got = {n: driver.resolve("auto", home / n, env={}, home=home)[0].format for n in "zbf"}
    assert got == {"z": "zsh", "b": "bash", "f": "fish"}
    assert driver.resolve("auto", home / "a.db", env={}, home=home)[0].format == "atuin"
    with pytest.raises(HistoryImportError, match="cannot tell which shell wrote"):
        driver.resolve("auto", home / "p", env={}, home=home)


def test_unknown_format_is_a_usage_error():
    with pytest.raises(UsageError):
        driver.resolve("powershell", env={}, home=Path("/nonexistent"))


# -- whole-source failures ----------------------------------------------------------------
def test_missing_file_is_one_clear_error(tmp_path):
    missing = tmp_path / "nope" / ".zsh_history"
    with pytest.raises(HistoryImportError) as err:
        driver.run([driver.Source("zsh", missing, "--file")], store_path=tmp_path / "c.db")
    assert err.value.message == f"{missing}: no such file"
    assert err.value.hint == (
        "point at the right file with: cmdai import zsh --file PATH"
        " (zsh prints it with: echo $HISTFILE)"
    )


def test_a_database_given_as_a_shell_history(tmp_path):
    db = atuin_db(tmp_path / "history.db")
    with pytest.raises(HistoryImportError, match="is an SQLite database, not a zsh history"):
        driver.run([driver.Source("zsh", db, "--file")], store_path=tmp_path / "c.db")


def test_a_directory(tmp_path):
    with pytest.raises(HistoryImportError, match="is a directory"):
        driver.run([driver.Source("bash", tmp_path, "--file")], store_path=tmp_path / "c.db")


def test_auto_keeps_going_when_one_source_fails(tmp_path):
    good = tmp_path / "zsh_history"
    good.write_bytes(ZSH)
    sources = [
        driver.Source("bash", tmp_path / "gone", "default"),
        driver.Source("zsh", good, "default"),
    ]
    bad, ok = driver.run(sources, store_path=tmp_path / "c.db")
    assert bad.error and "no such file" in bad.error and ok.imported == 2
    assert driver.failed([bad, ok])


# -- counting, bad rows, summary ----------------------------------------------------------
@pytest.mark.parametrize(
    "name,data,counts",
    [
        ("empty file", b"", (0, 0, 0, 0)),
        ("truncated", b": 1700000000:0;ls\n: 1700000001:0;echo a\\\n", (2, 2, 0, 0)),
        ("binary garbage", bytes(range(256)) * 8, None),
        ("a 1 MB line", b": 1700000000:0;echo " + b"x" * (1 << 20) + b"\n", (1, 1, 0, 0)),
        ("duplicate lines of one second", b": 1:0;ls\n: 1:0;ls\n", (2, 2, 0, 0)),
    ],
)
def test_every_row_is_counted(tmp_path, name, data, counts):
    path = tmp_path / "hist"
    path.write_bytes(data)
    (r,) = driver.run([driver.Source("zsh", path, "--file")], store_path=tmp_path / "c.db")
    assert r.read == r.imported + r.present + r.skipped
    if counts is not None:
        assert (r.read, r.imported, r.present, r.skipped) == counts
    else:
        assert r.skipped > 0  # garbage is reported, not silently dropped
    with Store.open(tmp_path / "c.db", readonly=True) as store:
        assert store.count() == r.imported


def test_summary_lists_reasons_and_rows(tmp_path):
    path = tmp_path / "hist"
    rows = [b": 1700000000:0;ok\n"] + [b"bad \xff %d\n" % i for i in range(25)] + [b"x\0y\n"]
    path.write_bytes(b"".join(rows))
    (r,) = driver.run([driver.Source("zsh", path, "--file")], store_path=tmp_path / "c.db")
    lines = driver.summary([r], home=tmp_path)
    assert lines[0] == "zsh ~/hist"
    assert lines[1] == "  read 27 · imported 1 · already present 0 · skipped 26"
    assert lines[2] == "  skipped: 25 not valid UTF-8, 1 contains a NUL byte"
    assert lines[3] == f"  {path}:2: not valid UTF-8 (byte 0xff at column 5)"
    assert lines[-1] == "  ... and 6 more skipped rows"
    assert len(lines) == 3 + driver.SHOW_PROBLEMS + 1


def test_dry_run_counts_against_the_store_and_writes_nothing(tmp_path):
    path = tmp_path / "hist"
    path.write_bytes(ZSH)
    db = tmp_path / "c.db"
    source = driver.Source("zsh", path, "--file")
    (dry,) = driver.run([source], store_path=db, dry_run=True)
    assert (dry.imported, dry.present) == (2, 0) and not db.exists()
    driver.run([source], store_path=db)
    path.write_bytes(ZSH + b": 1700000002:0;new\n: 1700000002:0;new\n")
    mtime = db.stat().st_mtime_ns
    (dry,) = driver.run([source], store_path=db, dry_run=True)
    assert (dry.imported, dry.present) == (2, 2)
    assert db.stat().st_mtime_ns == mtime
    assert driver.summary([dry], home=tmp_path)[1].startswith("  read 4 · would import 2")


def test_deleted_entries_do_not_come_back(tmp_path):
    path = tmp_path / "hist"
    path.write_bytes(ZSH)
    db = tmp_path / "c.db"
    driver.run([driver.Source("zsh", path, "--file")], store_path=db)
    with Store.open(db) as store:
        store.delete([store.search_prefix("git")[0].id])
    (again,) = driver.run([driver.Source("zsh", path, "--file")], store_path=db)
    assert (again.imported, again.present) == (0, 2)


def test_imported_entries_are_searchable(tmp_path):
    """Imports go through Store.insert, so the search indexes know them."""
    path = tmp_path / "hist"
    path.write_bytes(ZSH + "echo 你好 wörld\n".encode())
    db = tmp_path / "c.db"
    driver.run([driver.Source("zsh", path, "--file")], store_path=db)
    with Store.open(db, readonly=True) as store:
        assert [e.command for e in store.search_fulltext("status")] == ["git status"]
        assert [e.command for e in store.search_fulltext("wörld")] == ["echo 你好 wörld"]
        assert [e.command for e in store.search_prefix("ls -")] == ["ls -la"]
        (entry,) = store.search_prefix("git")
    assert (entry.session, entry.shell, entry.source) == ("import-zsh", "zsh", "zsh")
    assert entry.hostname == socket.gethostname()


# -- redaction hook and progress ----------------------------------------------------------
def test_redaction_hook_applies_before_storing_and_stays_idempotent(tmp_path, monkeypatch):
    monkeypatch.setattr(driver, "redact_many", lambda cs: {
        i: c.replace("hunter2", "<redacted>") for i, c in enumerate(cs) if "hunter2" in c})
    path = tmp_path / "hist"
    path.write_bytes(b": 1700000000:0;mysql -phunter2\n")
    db = tmp_path / "c.db"
    driver.run([driver.Source("zsh", path, "--file")], store_path=db)
    with Store.open(db, readonly=True) as store:
        assert [e.command for e in store.list()] == ["mysql -p<redacted>"]
    (again,) = driver.run([driver.Source("zsh", path, "--file")], store_path=db)
    assert (again.imported, again.present) == (0, 1)


def test_redaction_hook_uses_the_privacy_rules():
    assert driver.redact("export TOKEN=abc") == "export TOKEN=<redacted:secret-assignment>"
    assert driver.redact("git status") == "git status"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal(tmp_path):
    path = tmp_path / "hist"
    path.write_bytes(b"".join(b": %d:0;cmd %d\n" % (1700000000 + i, i) for i in range(300)))
    source = driver.Source("zsh", path, "--file")
    pipe, tty = io.StringIO(), Tty()
    driver.import_source(source, None, dry_run=True, progress=pipe, batch_size=100)
    assert pipe.getvalue() == ""
    driver.import_source(source, None, dry_run=True, progress=tty, batch_size=100)
    out = tty.getvalue()
    assert out.startswith("\rzsh hist [") and out.endswith("\r\033[K")
    assert "[" + "#" * 30 + "] 100% 300/300" in out


# -- the command, as a process ------------------------------------------------------------
def cmdai(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cmdai", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cmdai_import_end_to_end(tmp_path):
    home = home_with(tmp_path, {".zsh_history": ZSH + b"bad \xff\n"})
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "CMDAI_HOME": str(tmp_path / "state")}
    first = cmdai("import", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""  # stdout belongs to the shell; the report goes to stderr
    assert first.stderr.splitlines()[:3] == [
        "found zsh        ~/.zsh_history  (default)",
        "zsh ~/.zsh_history",
        "  read 3 · imported 2 · already present 0 · skipped 1",
    ]
    assert f"{home}/.zsh_history:3: not valid UTF-8 (byte 0xff at column 5)" in first.stderr
    again = cmdai("import", "zsh", env=env)
    assert "imported 0 · already present 2 · skipped 1" in again.stderr

    missing = cmdai("import", "bash", "--file", str(tmp_path / "nope"), env=env)
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        f"cmdai: {tmp_path / 'nope'}: no such file",
        (
            "  hint: point at the right file with: cmdai import bash --file PATH"
            " (bash prints it with: echo $HISTFILE)"
        ),
    ]
    usage = cmdai("import", "powershell", env=env)
    assert usage.returncode == 2


def test_problem_type_is_a_plain_record():
    assert Problem(3, "why") == Problem(3, "why")
