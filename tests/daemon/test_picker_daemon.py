"""The history picker drawn by a running daemon on the shell's terminal (tty over SCM_RIGHTS)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.shells import Shell, cmdai

SHELLS = ["zsh", "bash", "fish"]
pytestmark = pytest.mark.e2e
UP = "\x1b[A"


@pytest.fixture
def shell_with_daemon(tmp_path):
    opened: list[Shell] = []

    def make(name: str) -> Shell:
        sh = Shell(name, tmp_path / name)
        cmdai("daemon", "start", env=sh.env)
        opened.append(sh)
        return sh

    yield make
    for sh in opened:
        cmdai("daemon", "stop", env=sh.env, check=False)
        sh.close()


def status(sh: Shell) -> dict:
    return json.loads(cmdai("daemon", "status", "--json", env=sh.env).stdout)


@pytest.mark.parametrize("name", SHELLS)
def test_daemon_draws_the_picker_and_enter_inserts(shell_with_daemon, name):
    sh = shell_with_daemon(name)
    sh.run_recorded("echo from-the-daemon-one")
    sh.run_recorded("echo from-the-daemon-two")
    sh.send(UP)
    sh.wait_for(lambda: "search>" in sh.text() and "from-the-daemon-two" in sh.text(),
                "the picker")
    sh.send("\r")
    sh.wait_for(lambda: "search>" not in sh.text()
                and sh.prompt_line() == "echo from-the-daemon-two", "the chosen command")
    assert status(sh)["picks"] == 1  # drawn by the daemon, not a picker process
    # Ctrl-R seeded with the line, then Esc: the line is left as it was
    sh.send("\x15")
    sh.send("one")
    sh.wait_for(lambda: sh.prompt_line() == "one", "typed text")
    sh.send("\x12")
    sh.wait_for(lambda: "search> one" in sh.text(), "the seeded picker")
    sh.send("\x1b")
    sh.wait_for(lambda: "search>" not in sh.text() and sh.prompt_line() == "one",
                "the line unchanged after Esc")
    assert status(sh)["picks"] == 2
    sh.send("\x15")
    sh.run_recorded("echo still-recording")
