"""cmdai.retrieval.corrections: past Ctrl-G requests and the commands the user then ran, read
from a real SQLite history file."""

from __future__ import annotations

import pytest

from cmdai.history import generations
from cmdai.history.entry import Entry
from cmdai.history.store import Store
from cmdai.retrieval.corrections import corrections

T = 1_700_000_000 * 10**9
S = 10**9


class History:
    """A history file with Ctrl-G proposals, each followed by what the user ran."""

    def __init__(self, path):
        self.path = path
        self.store = Store.open(path)
        self.t = T

    def ask(self, request: str, proposed: str, ran: str | None, *, exit: int = 0,
            session: str = "s1", kind: str = "command") -> int:
        """Record a proposal and the next command run in its session; link them."""
        self.t += 300 * S
        gid = generations.record(self.store, generations.Generation(
            request=request, command=proposed, session=session, timestamp=self.t, kind=kind))
        if ran is not None:
            self.store.insert([Entry(ran, self.t + 5 * S, session, exit=exit, cwd="/w")])
        generations.link(self.store, now_ns=self.t + 6 * S)
        return gid

    def history_id(self, gid: int) -> int:
        return self.store.conn.execute("SELECT history_id FROM generations WHERE id = ?",
                                       (gid,)).fetchall()[0][0]

    def close(self):
        self.store.close()


@pytest.fixture
def hist(tmp_path):
    h = History(tmp_path / "history.db")
    yield h
    h.close()


def test_ranked_by_word_overlap_with_the_past_request(hist):
    hist.ask("compress the docs folder", "tar -czf docs.tgz docs", "tar -czf docs.tgz docs")
    hist.ask("compress the docs folder into a zip archive", "tar -czf docs.tgz docs",
             "zip -r docs.zip docs")  # a correction with another program
    hist.ask("count lines in python files", "wc -l *.py", "wc -l *.py")
    got = corrections("make a zip archive of the docs folder", 5, hist.path)
    assert got == [
        ("compress the docs folder into a zip archive", "zip -r docs.zip docs"),
        ("compress the docs folder", "tar -czf docs.tgz docs"),
    ]
    assert corrections("count lines", 5, hist.path) == [
        ("count lines in python files", "wc -l *.py")]


def test_edited_ones_first_on_ties_then_the_most_recent(hist):
    hist.ask("show disk usage here", "du -sh .", "du -sh .")            # accepted
    hist.ask("show disk usage", "du -sh .", "du -sh * | sort -h")        # edited
    hist.ask("disk usage of home", "du -sh ~", "du -sh ~")               # accepted, newer
    assert corrections("disk usage", 3, hist.path) == [
        ("show disk usage", "du -sh * | sort -h"),
        ("disk usage of home", "du -sh ~"),
        ("show disk usage here", "du -sh ."),
    ]


def test_successful_commands_are_preferred(hist):
    hist.ask("restart the web server", "systemctl restart nginx", "systemctl restart ngnix",
             exit=5)
    hist.ask("restart the web server", "systemctl restart nginx",
             "sudo systemctl restart nginx")
    assert corrections("restart web server", 2, hist.path) == [
        ("restart the web server", "sudo systemctl restart nginx"),
        ("restart the web server", "systemctl restart ngnix"),
    ]


def test_only_linked_commands_that_still_exist(hist):
    hist.ask("list open ports", "ss -tlnp", None)                  # nothing run yet
    hist.ask("list open ports now", "ss -tlnp", "echo unrelated")  # not followed: -1
    gone = hist.ask("list the open ports", "ss -tlnp", "ss -tlnp")
    hist.ask("open ports explained", "ss -tlnp", "ss -tlnp", kind="explanation")
    assert hist.history_id(gone) > 0
    assert corrections("open ports", 5, hist.path) == [("list the open ports", "ss -tlnp")]
    hist.store.delete([hist.history_id(gone)])  # `cmdai history delete`
    assert corrections("open ports", 5, hist.path) == []


def test_secrets_are_scrubbed(hist):
    token = "ghp_" + "a1" * 18
    hist.ask("call the api with my token", f"curl -H 'Authorization: token {token}' api",
             f"curl -H 'Authorization: token {token}' https://api.example.com")
    ((request, command),) = corrections("call the api", 5, hist.path)
    assert request == "call the api with my token"
    assert token not in command and "<redacted" in command, command


def test_limit_duplicates_and_poor_examples(hist):
    for _ in range(3):
        hist.ask("print the date", "date", "date -u")                # the same pair thrice
    hist.ask("print the date twice", "date", "date\ndate")           # multi-line: skipped
    hist.ask("print the date in iso", "date -I", "date --iso-8601=seconds " + "x" * 200)
    assert corrections("print date", 10, hist.path) == [("print the date", "date -u")]
    assert corrections("print date", 0, hist.path) == []
    hist.ask("print the time", "date +%T", "date +%H:%M")
    assert len(corrections("print date time", 1, hist.path)) == 1


def test_nothing_to_match_gives_nothing(hist, tmp_path):
    hist.ask("print the date", "date", "date -u")
    assert corrections("the and of", 5, hist.path) == []       # only stopwords
    assert corrections("launch rockets", 5, hist.path) == []   # no shared word
    assert corrections("print date", 5, tmp_path / "missing.db") == []
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database" * 100)
    assert corrections("print date", 5, broken) == []


def test_default_database_is_the_users(cmdai_home):
    from cmdai import paths

    h = History(paths.db_file())
    try:
        h.ask("print the date", "date", "date -u")
    finally:
        h.close()
    assert corrections("print date", 5) == [("print the date", "date -u")]
