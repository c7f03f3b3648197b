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


@pytest.mark.parametrize("name", SHELLS)
def test_the_first_picker_starts_a_lazy_daemon_that_draws_the_next(tmp_path, name):
    """No daemon: Up runs the picker as a process, which then starts the daemon (without the
    language model) so that the next Up is drawn by the daemon."""
    sh = Shell(name, tmp_path / name, extra_env={"CMDAI_DAEMON__AUTOSTART": "true"})
    try:
        sh.run_recorded("echo autostart-one")
        assert cmdai("daemon", "status", env=sh.env, check=False).returncode == 1
        sh.send(UP)
        sh.wait_for(lambda: "search>" in sh.text() and "autostart-one" in sh.text(),
                    "the picker process")
        sh.send("\x1b")
        sh.wait_for(lambda: "search>" not in sh.text(), "the picker closed")

        def up() -> dict | None:
            st = cmdai("daemon", "status", "--json", env=sh.env, check=False)
            return json.loads(st.stdout) if st.returncode == 0 else None

        sh.wait_for(lambda: up() is not None, "the daemon started by the picker")
        assert up()["model_loaded"] is False and up()["picks"] == 0  # lazy: no model yet
        sh.send(UP)
        sh.wait_for(lambda: "search>" in sh.text() and "autostart-one" in sh.text(),
                    "the picker drawn by the daemon")
        sh.send("\x1b")
        sh.wait_for(lambda: "search>" not in sh.text(), "the picker closed")
        assert up()["picks"] == 1
    finally:
        cmdai("daemon", "stop", env=sh.env, check=False)
        sh.close()
