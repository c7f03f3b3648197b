"""Ctrl-G proposals are linked to the command the user then ran (cmdai.history.generations),
on a real SQLite file: unedited, edited, corrected with another program, or not followed."""

from __future__ import annotations

import pytest

from cmdai.history import generations
from cmdai.history.entry import Entry
from cmdai.history.store import Store

T = 1_700_000_000 * 10**9
S = 10**9  # one second in ns


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "history.db")
    yield s
    s.close()


def propose(store: Store, command: str, *, at: int = T, session: str = "s1",
            request: str = "do it") -> int:
    return generations.record(store, generations.Generation(
        request=request, command=command, session=session, timestamp=at))


def ran(store: Store, command: str, *, at: int, session: str = "s1", exit: int = 0) -> int:
    store.insert([Entry(command, at, session, exit=exit, cwd="/w")])
    return store.conn.execute("SELECT max(id) FROM history").fetchall()[0][0]


def link_of(store: Store, gid: int) -> tuple:
    return store.conn.execute("SELECT history_id, edited FROM generations WHERE id = ?",
                              (gid,)).fetchall()[0]


def test_unedited_proposal_is_linked_not_edited(store):
    gid = propose(store, "ls -la")
    hid = ran(store, "ls -la", at=T + 3 * S)
    assert generations.link(store, now_ns=T + 4 * S) == 1
    assert link_of(store, gid) == (hid, 0)


def test_edited_proposal_is_linked_as_edited(store):
    gid = propose(store, "find . -name '*.log'")
    hid = ran(store, "find . -name '*.log' -mtime +7", at=T + 20 * S)
    assert generations.link(store, now_ns=T + 21 * S) == 1
    assert link_of(store, gid) == (hid, 1)


def test_whitespace_only_difference_is_not_an_edit(store):
    gid = propose(store, "ls -la")
    hid = ran(store, "ls -la  ", at=T + S)
    generations.link(store, now_ns=T + 2 * S)
    assert link_of(store, gid) == (hid, 0)


def test_same_program_is_linked_even_late_in_the_hour(store):
    gid = propose(store, "tar -czf a.tgz docs")
    hid = ran(store, "tar -cjf a.tbz docs", at=T + 30 * 60 * S)
    assert generations.link(store, now_ns=T + 31 * 60 * S) == 1
    assert link_of(store, gid) == (hid, 1)


@pytest.mark.parametrize("proposed, corrected", [
    ("du -sh .", "df -h"),                                  # similar lines
    ("grep -r foo src", "rg foo src"),                      # the same arguments
    ("tar -czf backup.tar.gz docs", "zip -r backup.zip docs"),
    ("ls -la /tmp", "exa -l /tmp"),
    ("cat notes.txt", "LESS=-R less notes.txt"),            # an assignment before the program
])
def test_a_correction_with_another_program_is_linked(store, proposed, corrected):
    gid = propose(store, proposed)
    hid = ran(store, corrected, at=T + 40 * S)
    assert generations.link(store, now_ns=T + 41 * S) == 1
    assert link_of(store, gid) == (hid, 1)


@pytest.mark.parametrize("proposed, other", [
    ("echo linked-ok", "ls -la"),
    ("echo linked-ok", "git status"),
    ("find . -name '*.py'", "cd ."),      # only a trivial argument in common
    ("echo hi", "make"),
])
def test_an_unrelated_command_is_not_linked(store, proposed, other):
    gid = propose(store, proposed)
    ran(store, other, at=T + 5 * S)
    assert generations.link(store, now_ns=T + 6 * S) == 0
    assert link_of(store, gid) == (-1, None)
    # and a later matching command does not revive it: the user moved on
    ran(store, proposed, at=T + 10 * S)
    assert generations.link(store, now_ns=T + 11 * S) == 0
    assert link_of(store, gid) == (-1, None)


def test_a_different_program_after_the_correction_window_is_not_linked(store):
    gid = propose(store, "grep -r foo src")
    ran(store, "rg foo src", at=T + (generations.CORRECTION_WINDOW_NS + 5 * S))
    assert generations.link(store, now_ns=T + 200 * S) == 0
    assert link_of(store, gid) == (-1, None)


def test_only_the_first_command_of_the_same_session_counts(store):
    gid = propose(store, "du -sh .")
    ran(store, "df -h", at=T + 2 * S, session="other-shell")  # another terminal
    hid = ran(store, "du -sh *", at=T + 3 * S)
    ran(store, "df -h", at=T + 4 * S)
    assert generations.link(store, now_ns=T + 5 * S) == 1
    assert link_of(store, gid) == (hid, 1)


def test_fish_whole_seconds_still_link(store):
    # fish records start times in whole seconds: the command may look up to 1 s older
    gid = propose(store, "ls -la", at=T + S // 2)
    hid = ran(store, "ls -la", at=T)
    generations.link(store, now_ns=T + 2 * S)
    assert link_of(store, gid) == (hid, 0)


def test_nothing_run_yet_stays_pending(store):
    gid = propose(store, "ls -la")
    assert generations.link(store, now_ns=T + S) == 0
    assert link_of(store, gid) == (None, None)
    hid = ran(store, "ls", at=T + 2 * S)
    assert generations.link(store, now_ns=T + 3 * S) == 1
    assert link_of(store, gid) == (hid, 1)


@pytest.mark.parametrize("proposed, ran_, edit", [
    ("du -sh .", "df -h", True),
    ("grep -r 'a b' src", 'ag "a b" src', True),
    ("echo 'unbalanced", "ls", False),  # no crash on a quote shlex cannot split
    ("", "ls", False),
])
def test_is_edit(proposed, ran_, edit):
    assert generations.is_edit(proposed, ran_) is edit
