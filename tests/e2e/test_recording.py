"""The hooks record what the user ran, byte for byte, in real zsh, bash and fish."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.e2e.shells import Shell

SHELLS = ["zsh", "bash", "fish"]
pytestmark = pytest.mark.e2e


def type_tab_command(sh: Shell) -> None:
    """Enter `echo "x<TAB>y"` with a literal TAB (a plain TAB key would complete)."""
    if sh.name == "fish":
        # fish's paste drops TABs; a key bound in the test's config inserts one
        before = sh.spool_lines()
        sh.send('echo "x\x14y"\r')
        sh.wait_spool(before + 1)
    else:
        sh.paste('echo "x\ty"')


@pytest.mark.parametrize("name", SHELLS)
def test_commands_arrive_byte_for_byte(shell_factory, name):
    sh = shell_factory(name, rc_lines=("bind \\ct 'commandline -i \\t'",) if name == "fish" else ())
    t0 = time.time()
    sh.run("true")
    sh.run("false")
    sh.run("nonexistent_cmd_cmdai_test")
    sh.run("sleep 0.4")
    sh.run("", records=0)  # empty Enter
    sh.run(" echo leading-space-secret", records=0)
    sh.run("echo 'a\\nb'")  # a literal backslash-n
    type_tab_command(sh)
    sh.paste('echo "line1\nline2"')  # multi-line
    sh.run("echo héllo ✓ 日本")
    sh.run("mkdir -p 'sub dir' && cd 'sub dir'")
    sh.run("pwd")
    home = str(sh.tmp / "home")
    got = [(e["command"], e["exit"], e["cwd"]) for e in sh.history()]
    assert got == [
        ("true", 0, home),
        ("false", 1, home),
        ("nonexistent_cmd_cmdai_test", 127, home),
        ("sleep 0.4", 0, home),
        ("echo 'a\\nb'", 0, home),
        ('echo "x\ty"', 0, home),
        ('echo "line1\nline2"', 0, home),
        ("echo héllo ✓ 日本", 0, home),
        ("mkdir -p 'sub dir' && cd 'sub dir'", 0, home),
        ("pwd", 0, home + "/sub dir"),
    ]
    entries = sh.history()
    sleep = entries[3]
    assert 380 <= sleep["duration_ms"] < 5000, sleep
    assert all(e["shell"] == name and e["session"] == entries[0]["session"] for e in entries)
    assert all(e["source"] == "shell" and e["hostname"] for e in entries)
    import datetime as dt

    for e in entries:
        ts = dt.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()
        assert t0 - 2 <= ts <= time.time() + 1, e


@pytest.mark.parametrize("name", SHELLS)
def test_ctrl_c_at_the_prompt_does_not_stop_recording(shell_factory, name):
    sh = shell_factory(name)
    sh.send("half typed")
    time.sleep(0.2)
    sh.send("\x03")
    time.sleep(0.2)
    sh.run("echo after-ctrl-c")
    assert [e["command"] for e in sh.history()] == ["echo after-ctrl-c"]


@pytest.mark.parametrize("name", SHELLS)
def test_interrupted_command_records_its_status(shell_factory, name):
    sh = shell_factory(name)
    before = sh.spool_lines()
    sh.send("sleep 30\r")
    time.sleep(0.5)
    sh.send("\x03")
    sh.wait_spool(before + 1)
    sh.run("echo next")
    entries = sh.history()
    assert [e["command"] for e in entries] == ["sleep 30", "echo next"]
    assert entries[0]["exit"] == 130, entries


@pytest.mark.parametrize("name", SHELLS)
def test_resourcing_is_harmless(shell_factory, name):
    sh = shell_factory(name)
    sh.run("echo one")
    sh.run(f"source {sh.plugin}")
    sh.run("echo two")
    entries = sh.history()
    assert [e["command"] for e in entries] == ["echo one", f"source {sh.plugin}", "echo two"]
    assert len({e["session"] for e in entries}) == 1


@pytest.mark.parametrize("histcontrol", ["ignoreboth", "ignorespace", "erasedups:ignorespace"])
def test_bash_histcontrol_ignorespace(shell_factory, histcontrol):
    sh = shell_factory("bash", rc_lines=(f"HISTCONTROL={histcontrol}",))
    sh.run("echo first")
    sh.run(" echo space-secret", records=0)
    sh.run("echo second")  # bash reuses the deleted line's history number for this one
    sh.run("echo second")  # a duplicate bash itself may drop from its history
    sh.run(" echo another-secret", records=0)
    sh.run("", records=0)  # an empty Enter records nothing
    sh.run("history > hist.txt")
    assert [e["command"] for e in sh.history()] == [
        "echo first", "echo second", "echo second", "history > hist.txt",
    ]
    # the space-prefixed line is kept out of bash's own history too
    assert "space-secret" not in (sh.tmp / "home" / "hist.txt").read_text()


def test_bash_histcontrol_erasedups(shell_factory):
    # erasedups moves a repeated line to the end of bash's history under the last number
    sh = shell_factory("bash", rc_lines=("HISTCONTROL=erasedups",))
    for line in ("echo a", "echo b", "echo a", "echo a", "echo b"):
        sh.run(line)
    sh.run("", records=0)
    assert [e["command"] for e in sh.history()] == ["echo a", "echo b", "echo a", "echo a", "echo b"]


def test_bash_ctrl_c_inside_a_widget_does_not_stop_recording(shell_factory):
    # pitfall 5: Ctrl-C in a bind -x widget leaves READLINE_POINT set
    sh = shell_factory("bash", rc_lines=("bind -x '\"\\C-t\": sleep 3'",))
    sh.send("\x14")
    time.sleep(0.3)
    sh.send("\x03")
    time.sleep(0.3)
    sh.run("echo after-widget")
    sh.run("echo again")
    assert [e["command"] for e in sh.history()] == ["echo after-widget", "echo again"]


def test_fish_private_mode_records_nothing(shell_factory):
    sh = shell_factory("fish", args=("--private",))
    sh.run("echo private-one", records=0)
    sh.run("echo private-two", records=0)
    assert sh.history() == []


@pytest.mark.parametrize("name", SHELLS)
def test_sourcing_prints_nothing(tmp_path, name):
    sh_tmp = tmp_path / "quiet"
    from tests.e2e.shells import cmdai

    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "CMDAI_HOME": str(sh_tmp),
           "TERM": "dumb", "LANG": "C.UTF-8"}
    script = tmp_path / f"plugin.{name}"
    script.write_text(cmdai("init", name, env=env).stdout)
    argv = {
        "zsh": ["zsh", "-f", "-i", "-c", f"source {script}; source {script}"],
        "bash": ["bash", "--norc", "--noprofile", "-i", "-c", f"source {script}; source {script}"],
        "fish": ["fish", "-i", "-c", f"source {script}; source {script}"],
    }[name]
    env["XDG_CONFIG_HOME"] = str(tmp_path / "cfg")
    out = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                         timeout=30)
    assert out.returncode == 0, out
    assert out.stdout == ""
    # bash -i without a terminal may warn about job control; nothing else may be printed
    noise = [l for l in out.stderr.splitlines() if "job control" not in l and "cannot set terminal" not in l]
    assert noise == []


@pytest.mark.parametrize("name", SHELLS)
def test_the_same_command_twice_in_a_second_is_recorded_twice(shell_factory, name):
    # fish only knows whole seconds; the ingester in between (cmdai history list) must not
    # fold the second run into the first
    sh = shell_factory(name)
    sh.run("echo twice")
    assert [e["command"] for e in sh.history()] == ["echo twice"]
    sh.run("echo twice")
    entries = sh.history()
    assert [e["command"] for e in entries] == ["echo twice", "echo twice"]
    assert entries[0]["timestamp"] <= entries[1]["timestamp"]
