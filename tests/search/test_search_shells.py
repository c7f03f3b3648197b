"""The picker behind Up and Ctrl-R in real zsh, bash and fish (pty + pyte screen)."""

from __future__ import annotations

import time

import pytest

from tests.e2e.shells import Shell

SHELLS = ["zsh", "bash", "fish"]
pytestmark = pytest.mark.e2e
UP = "\x1b[A"
UP_KEYPAD = "\x1bOA"
PICKER = "search>"


def picker_open(sh: Shell) -> bool:
    return PICKER in sh.text()


def bracketed_paste_on(sh: Shell) -> bool:
    sh.text()
    return (2004 << 5) in sh.screen.mode  # pyte keeps private modes shifted by 5


def settle(sh: Shell, seconds: float = 0.4) -> None:
    time.sleep(seconds)
    sh.text()


@pytest.mark.parametrize("name", SHELLS)
def test_up_on_empty_line_opens_picker_and_enter_inserts(shell_factory, name):
    sh = shell_factory(name)
    sh.run("echo alpha-one")
    sh.run("echo beta-two")
    # the hook records before the shell draws its prompt: wait for the line editor
    sh.wait_for(lambda: bracketed_paste_on(sh), "bracketed paste on at the prompt")
    recorded = len(sh.history())
    sh.send(UP)
    sh.wait_for(lambda: picker_open(sh) and "echo beta-two" in sh.text(), "the picker")
    # the most recent command of this session comes first
    rows = [ln for ln in sh.text().splitlines() if "✓" in ln]
    assert "beta-two" in rows[0], sh.text()
    sh.send("\r")
    sh.wait_for(lambda: not picker_open(sh) and sh.prompt_line() == "echo beta-two",
                "the chosen command in the line")
    settle(sh)
    assert len(sh.history()) == recorded  # inserted, not run (the picker ingests the spool)
    sh.wait_for(lambda: bracketed_paste_on(sh), "bracketed paste back on")  # pitfall 3
    # the inserted line runs and is recorded like any other
    sh.run("")
    assert sh.history()[-1]["command"] == "echo beta-two"
    sh.run("echo after-the-picker")
    assert sh.history()[-1]["command"] == "echo after-the-picker"


@pytest.mark.parametrize("name", SHELLS)
def test_up_on_a_non_empty_line_keeps_native_history(shell_factory, name):
    sh = shell_factory(name)
    sh.run("echo first-entry")
    sh.send("echo first")
    sh.wait_for(lambda: sh.prompt_line() == "echo first", "the typed text")
    for key in (UP, UP_KEYPAD):
        sh.send(key)
        settle(sh)
        assert not picker_open(sh), sh.text()
    # zsh and bash step back through history; fish searches it with the typed text
    sh.wait_for(lambda: sh.prompt_line() == "echo first-entry", "the native history motion")


@pytest.mark.parametrize("name", SHELLS)
def test_keypad_up_and_escape_cancel(shell_factory, name):
    sh = shell_factory(name)
    sh.run("echo gamma")
    sh.send(UP_KEYPAD)
    sh.wait_for(lambda: picker_open(sh), "the picker on \\eOA")
    sh.send("\x1b")
    sh.wait_for(lambda: not picker_open(sh), "the picker to close")
    sh.wait_for(lambda: sh.prompt_line() == "" and bracketed_paste_on(sh),
                "the empty line back, bracketed paste on")
    sh.run("echo still-recording")
    assert sh.history()[-1]["command"] == "echo still-recording"


@pytest.mark.parametrize("name", SHELLS)
def test_ctrl_r_opens_seeded_with_the_line(shell_factory, name):
    sh = shell_factory(name)
    sh.run("echo héllo-ünïcode")
    sh.run("echo other")
    sh.send("héllo")
    sh.wait_for(lambda: sh.prompt_line() == "héllo", "the typed text")
    sh.send("\x12")
    sh.wait_for(lambda: PICKER + " héllo" in sh.text(), "the picker seeded with the line")
    sh.wait_for(lambda: "echo héllo-ünïcode" in sh.text(), "the match")
    sh.send("\t")  # Tab: insert for editing
    sh.wait_for(lambda: sh.prompt_line() == "echo héllo-ünïcode", "the chosen command")
    # the cursor sits at the end (READLINE_POINT in characters, pitfall 18): typing appends
    sh.send("X")
    sh.wait_for(lambda: sh.prompt_line() == "echo héllo-ünïcodeX", "typing at the end")
    sh.run("")
    assert sh.history()[-1]["command"] == "echo héllo-ünïcodeX"


@pytest.mark.parametrize("name", SHELLS)
def test_enter_runs_when_configured(shell_factory, name):
    sh = shell_factory(name, extra_env={"CMDAI_SEARCH__ENTER": '"run"'})
    sh.run("echo run-me")
    sh.send(UP)
    sh.wait_for(lambda: picker_open(sh) and "echo run-me" in sh.text(), "the picker")
    sh.send("\r")  # the picker ingested the spool: this run is the only line in it
    sh.wait_spool(1)
    assert [e["command"] for e in sh.history()] == ["echo run-me", "echo run-me"]


@pytest.mark.parametrize("name", SHELLS)
def test_disabled_keys_and_nobind(shell_factory, name):
    sh = shell_factory(name, init_args=("--disable-up-arrow", "--disable-ctrl-r"))
    sh.run("echo native")
    sh.send(UP)
    sh.wait_for(lambda: sh.prompt_line() == "echo native", "the native history motion")
    assert not picker_open(sh)
    sh.send("\x15")  # clear the line
    sh.send("\x12")  # Ctrl-R: the shell's own search
    settle(sh)
    assert not picker_open(sh)


@pytest.mark.parametrize("name", SHELLS)
def test_cmdai_nobind_leaves_keys_alone(shell_factory, name):
    sh = shell_factory(name, extra_env={"CMDAI_NOBIND": "1"})
    sh.run("echo native")
    sh.send(UP)
    sh.wait_for(lambda: sh.prompt_line() == "echo native", "the native history motion")
    settle(sh)
    assert not picker_open(sh)
