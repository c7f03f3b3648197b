"""Ctrl-G end to end in real zsh, bash and fish: the widget, the stdlib client, the daemon."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import apsw
import pytest

from tests.e2e.shells import DEADLINE, Shell, cmdai

ROOT = Path(__file__).resolve().parents[2]
SHELLS = ["zsh", "bash", "fish"]
pytestmark = pytest.mark.e2e
# The first Ctrl-G starts the daemon, and every history check starts a `cmdai` process: on a
# loaded shared machine (fish children run ~2x slower, pitfall 17) give those waits headroom.
# A wait still returns as soon as the screen shows its state; only a failure takes this long.
SLOW_DEADLINE = max(DEADLINE, 60.0)


def make_shell(tmp: Path, name: str, *, backend: str, answer: str = "", delay: float = 0,
               model_src: Path | None = None) -> Shell:
    home = tmp / "cmdai"
    (home / "config").mkdir(parents=True, exist_ok=True)
    if backend == "double":
        # FixedBackend that marks when it starts generating (tests/daemon/doubles.py)
        backends = '["tests.daemon.doubles:StartedBackend"]'
    else:
        backends = '["llama_cpp"]'
    (home / "config" / "config.toml").write_text(
        f'[generate]\nbackends = {backends}\nmodel = "qwen2.5-coder-0.5b"\nhistory_examples = 0\n'
        "docs = false\n"
    )
    if model_src is not None:
        dest = home / "data" / "models"
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / model_src.name
        target.symlink_to(model_src)
        shutil.copy(str(model_src) + ".verified", str(target) + ".verified")
    env = {"PYTHONPATH": str(ROOT), "CMDAI_TEST_ANSWER": answer, "CMDAI_TEST_DELAY": str(delay),
           "CMDAI_TEST_STARTED": str(tmp / "generating"),
           "CMDAI_DAEMON__AUTOSTART": "true"}  # Ctrl-G starts the daemon, as for a user
    return Shell(name, tmp, extra_env=env, deadline=SLOW_DEADLINE)


@pytest.fixture
def shells(tmp_path):
    opened: list[Shell] = []

    def make(name: str, **kw) -> Shell:
        sh = make_shell(tmp_path / name, name, **kw)
        opened.append(sh)
        return sh

    yield make
    for sh in opened:
        cmdai("daemon", "stop", env=sh.env, check=False)
        sh.close()


def ctrl_g(sh: Shell, text: str) -> None:
    sh.send(text)
    sh.wait_for(lambda: sh.prompt_line() == text, "the typed text")
    sh.send("\x07")


def wait_generating(sh: Shell) -> None:
    """Until the test double has started generating: the client is then connected and reads
    the terminal itself with signals off, so a cancel key goes to it (not to the shell)."""
    marker = sh.tmp / "generating"
    sh.wait_for(marker.exists, "the backend to start generating")


def generations(sh: Shell) -> list[tuple]:
    db = sh.tmp / "cmdai" / "data" / "history.db"
    conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return conn.execute(
            "SELECT request, command, kind, level, inserted, history_id, edited FROM generations"
            " ORDER BY id").fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("name", SHELLS)
def test_real_model_puts_a_command_in_the_buffer_and_does_not_run_it(shells, installed, name):
    src = installed("qwen2.5-coder-0.5b")
    sh = shells(name, backend="llama_cpp", model_src=src)
    text = "list all files in this directory with their sizes"
    before = sh.spool_lines()
    ctrl_g(sh, text)
    sh.wait_for(lambda: sh.prompt_line() not in (None, "", text) and "cmdai: " in sh.text()
                and "working" not in sh.text().splitlines()[-1],
                "a generated command", deadline=240)
    command = sh.prompt_line()
    assert "safe" in sh.text() or "moderate" in sh.text(), sh.text()
    time.sleep(0.4)
    assert sh.spool_lines() == before, "the generated command must not run"
    # the buffer holds the command for editing: clear it and recording still works
    sh.send("\x15")
    sh.wait_for(lambda: sh.prompt_line() == "", "an empty line")
    sh.run_recorded("echo still-recording")
    assert sh.history()[-1]["command"] == "echo still-recording"
    (row,) = generations(sh)
    assert row[0] == text and row[1] == command.strip() and row[2] == "command"


@pytest.mark.parametrize("name", SHELLS)
def test_inserted_command_runs_only_on_enter_and_is_linked(shells, name):
    sh = shells(name, backend="double", answer="echo linked-ok\n# prints a word")
    ctrl_g(sh, "say linked ok")
    sh.wait_for(lambda: sh.prompt_line() == "echo linked-ok", "the proposal in the buffer")
    assert "cmdai: safe" in sh.text()
    time.sleep(0.3)
    assert sh.history() == []
    sh.send("\r")  # the user presses Enter: the proposal runs
    sh.wait_for(lambda: [e["command"] for e in sh.history()] == ["echo linked-ok"],
                "the proposal run and recorded")
    rows = generations(sh)
    assert rows[0][:5] == ("say linked ok", "echo linked-ok", "command", "safe", 1)
    assert rows[0][5] is not None and rows[0][6] == 0  # linked, not edited


@pytest.mark.parametrize("name", SHELLS)
def test_critical_command_is_not_inserted(shells, name):
    sh = shells(name, backend="double", answer="rm -rf / --no-preserve-root\n# wipe everything")
    text = "free some disk space"
    ctrl_g(sh, text)
    sh.wait_for(lambda: "not inserted" in sh.text() and sh.prompt_line() == text,
                "the refusal message and the text kept")
    assert "critical" in sh.text()
    sh.send("\x15")
    sh.run_recorded("echo after-refusal")
    assert [e["command"] for e in sh.history()] == ["echo after-refusal"]


@pytest.mark.parametrize("name", SHELLS)
@pytest.mark.parametrize("key", ["\x03", "\x1b"], ids=["ctrl-c", "esc"])
def test_cancel_restores_the_text_exactly(shells, name, key):
    sh = shells(name, backend="double", answer="echo never\n# never", delay=60)
    text = "find   the 'big' files ✓"
    ctrl_g(sh, text)
    wait_generating(sh)  # the request is under way (the double waits 60 s)
    sh.send(key)
    sh.wait_for(lambda: "cancelled" in sh.text() and sh.prompt_line() == text,
                "the text restored after cancel")
    sh.send("\x15")
    sh.run_recorded("echo after-cancel")
    assert [e["command"] for e in sh.history()] == ["echo after-cancel"]


@pytest.mark.parametrize("name", SHELLS)
def test_empty_line_gives_a_hint_and_a_command_gets_an_explanation(shells, name):
    sh = shells(name, backend="double", answer="It lists the files with details.")
    sh.send("\x07")
    sh.wait_for(lambda: "type what you want" in sh.text() and sh.prompt_line() == "", "the hint")
    ctrl_g(sh, "ls -la /tmp")
    sh.wait_for(lambda: "It lists the files with details." in sh.text()
                and sh.prompt_line() == "ls -la /tmp", "the explanation and the line kept")
    assert sh.history() == []


@pytest.mark.parametrize("name", SHELLS)
def test_high_command_is_inserted_with_a_warning(shells, name):
    command = "git push --force origin main"
    sh = shells(name, backend="double", answer=command + "\n# overwrite the remote branch")
    ctrl_g(sh, "overwrite the remote branch with mine")
    sh.wait_for(lambda: sh.prompt_line() == command and "HIGH" in sh.text(),
                "the high command in the buffer and its warning")
    assert "Force-push overwrites the remote branch" in sh.text(), sh.text()
    assert "not inserted" not in sh.text()
    time.sleep(0.3)
    assert sh.history() == [], "the generated command must not run"
    rows = generations(sh)
    assert rows[0][:5] == ("overwrite the remote branch with mine", command, "command", "high", 1)


@pytest.mark.parametrize("name", SHELLS)
def test_cursor_is_left_at_the_end_of_the_inserted_command(shells, name):
    # non-ASCII: bash counts READLINE_POINT in characters (pitfall 18)
    command = "echo 'héllo ✓ 日本'"
    sh = shells(name, backend="double", answer=command + "\n# prints a greeting")
    ctrl_g(sh, "greet the world")
    sh.wait_for(lambda: sh.prompt_line() == command, "the proposal in the buffer")
    sh.send("X")  # typed where the cursor is
    sh.wait_for(lambda: sh.prompt_line() == command + "X", "the typed character at the end")
    sh.send("\x02Y")  # Ctrl-B then Y: the line editor agrees the cursor was at the end
    sh.wait_for(lambda: sh.prompt_line() == command + "YX", "a character before the last one")


@pytest.mark.parametrize("name", SHELLS)
def test_progress_is_shown_while_generating(shells, name):
    sh = shells(name, backend="double", answer="echo never\n# never", delay=60)
    text = "something slow"
    ctrl_g(sh, text)
    wait_generating(sh)
    # zsh: zle -M under the prompt; bash and fish: the client's status line on /dev/tty
    sh.wait_for(lambda: "cmdai: " in sh.text() and "working…" in sh.text(),
                "the progress message while the backend generates")
    sh.send("\x1b")
    sh.wait_for(lambda: "cancelled" in sh.text() and sh.prompt_line() == text,
                "the text restored after cancel")


@pytest.mark.parametrize("name", SHELLS)
def test_edited_proposal_is_linked_as_edited(shells, name):
    sh = shells(name, backend="double", answer="echo linked-ok\n# prints a word")
    ctrl_g(sh, "say linked ok")
    sh.wait_for(lambda: sh.prompt_line() == "echo linked-ok", "the proposal in the buffer")
    sh.send(" edited")  # the user changes the proposal, then runs it
    sh.wait_for(lambda: sh.prompt_line() == "echo linked-ok edited", "the edit")
    sh.send("\r")
    sh.wait_for(lambda: [e["command"] for e in sh.history()] == ["echo linked-ok edited"],
                "the edited command run and recorded")
    (entry,) = sh.history()
    (row,) = generations(sh)
    assert row[:5] == ("say linked ok", "echo linked-ok", "command", "safe", 1)
    assert row[5] == entry["id"] and row[6] == 1  # linked to what ran, marked edited


@pytest.mark.parametrize("name", SHELLS)
def test_a_correction_with_another_program_is_linked(shells, name):
    # the user replaces the proposal by what they really wanted: retrieval learns from it
    sh = shells(name, backend="double", answer="grep -rn TODO .\n# find the TODOs")
    ctrl_g(sh, "find the TODO comments")
    sh.wait_for(lambda: sh.prompt_line() == "grep -rn TODO .", "the proposal in the buffer")
    sh.send("\x15")  # Ctrl-U: clear it
    sh.wait_for(lambda: sh.prompt_line() == "", "an empty line")
    sh.run_recorded("git grep -n TODO")  # another program, the same search
    (entry,) = sh.history()
    (row,) = generations(sh)
    assert row[5] == entry["id"] and row[6] == 1
