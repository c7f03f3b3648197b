"""Drive real zsh, bash and fish in a pty, isolated in a temp dir, with cmdai's script loaded.

The environment is built from nothing (env -i style): HOME, PATH, TERM, LANG and cmdai's own
variables, all pointing into the temp dir, so the user's rc files never run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pyte

DEADLINE = 30.0 if os.environ.get("CI") else 10.0
PROMPT = "P> "
BRACKETED_PASTE = ("\x1b[200~", "\x1b[201~")


def cmdai(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cmdai", *args], env=env, capture_output=True, text=True,
        check=check,
    )


class Shell:
    def __init__(self, shell: str, tmp: Path, *, rc_lines: tuple[str, ...] = (),
                 args: tuple[str, ...] = (), init_args: tuple[str, ...] = (),
                 load_plugin: bool = True, extra_env: dict[str, str] | None = None,
                 deadline: float = DEADLINE) -> None:
        if shutil.which(shell) is None:
            raise RuntimeError(f"{shell} is not installed (./install.sh --dev installs it)")
        self.name = shell
        self.tmp = tmp
        # how long a wait may take before it fails (a wait returns as soon as its state shows):
        # tests whose waits span a daemon start or a generation on a loaded machine pass more
        self.deadline = deadline
        home = tmp / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            "HOME": str(home),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "TMPDIR": str(tmp),
            "CMDAI_HOME": str(tmp / "cmdai"),
            "XDG_CONFIG_HOME": str(tmp / "config"),
            "XDG_DATA_HOME": str(tmp / "data"),
            "XDG_CACHE_HOME": str(tmp / "cache"),
            "XDG_RUNTIME_DIR": str(tmp / "run"),
            # no daemon unless a test asks for one: a daemon empties the spool that run()
            # counts (Ctrl-G tests and the picker's autostart test turn this on)
            "CMDAI_DAEMON__AUTOSTART": "false",
        }
        self.env.update(extra_env or {})
        for d in ("config", "data", "cache", "run"):
            (tmp / d).mkdir(mode=0o700, exist_ok=True)
        plugin = tmp / f"plugin.{shell}"
        plugin.write_text(cmdai("init", shell, *init_args, env=self.env).stdout)
        self.plugin = plugin
        rc = "\n".join(rc_lines)
        source = f"source {plugin}" if load_plugin else ""
        if shell == "zsh":
            zdot = tmp / "zdot"
            zdot.mkdir(exist_ok=True)
            (zdot / ".zshrc").write_text(
                f"PROMPT='{PROMPT}'\nunsetopt PROMPT_SP\nbindkey -e\n{rc}\n{source}\n"
            )
            self.env["ZDOTDIR"] = str(zdot)
            argv = ["zsh", "--no-globalrcs", "-i", *args]
        elif shell == "bash":
            bashrc = tmp / "bashrc"
            bashrc.write_text(
                # /etc/bash.bashrc still runs (pitfall 16): neutralise what it sets
                f"PS1='{PROMPT}'\nPROMPT_COMMAND=\nunset -f command_not_found_handle\n"
                f"{rc}\n{source}\n"
            )
            self.env["INPUTRC"] = "/dev/null"
            argv = ["bash", "--noprofile", "--rcfile", str(bashrc), "-i", *args]
        elif shell == "fish":
            conf = tmp / "config" / "fish"
            conf.mkdir(parents=True, exist_ok=True)
            (conf / "config.fish").write_text(
                "set -g fish_greeting ''\n"
                f"function fish_prompt; printf '%s' '{PROMPT}'; end\n"
                "set -g fish_autosuggestion_enabled 0\n"
                f"{rc}\n{source}\n"
            )
            argv = ["fish", "-i", *args]
        else:
            raise ValueError(shell)
        self.proc = pexpect.spawn(
            argv[0], argv[1:], env=self.env, cwd=str(home), encoding="utf-8",
            codec_errors="replace", dimensions=(40, 200), timeout=DEADLINE,
        )
        self.proc.delaybeforesend = None
        self.screen = pyte.Screen(200, 40)
        # answer the terminal queries (cursor position) a real terminal would (pitfall 4)
        self.screen.write_process_input = self.proc.send
        self.stream = pyte.Stream(self.screen)
        self.wait_for(lambda: PROMPT.rstrip() in self.text(), "the first prompt")

    # -- typing ----------------------------------------------------------------------------
    def send(self, text: str) -> None:
        self.proc.send(text)

    def run(self, line: str, *, records: int = 1) -> None:
        """Type ``line`` and Enter, then wait until the hook has written ``records`` lines
        (for 0: give the shell a moment and check that nothing arrived)."""
        before = self.spool_lines()
        self.proc.send(line + "\r")
        self.wait_spool(before + records, settle=records == 0)

    def run_recorded(self, line: str) -> None:
        """Type ``line`` and Enter, then wait until it is in the history. For shells with a
        running daemon, which empties the spool as it arrives (``run`` counts spool lines)."""
        before = len(self.history())
        self.proc.send(line + "\r")
        self.wait_for(lambda: len(self.history()) > before
                      and self.history()[-1]["command"] == line, f"{line!r} in the history")

    def paste(self, text: str, *, records: int = 1) -> None:
        """Paste ``text`` with bracketed paste (a TAB or newline goes in literally), then Enter."""
        before = self.spool_lines()
        self.proc.send(BRACKETED_PASTE[0] + text + BRACKETED_PASTE[1])
        time.sleep(0.1)
        self.proc.send("\r")
        self.wait_spool(before + records, settle=records == 0)

    # -- what the hook recorded ------------------------------------------------------------
    @property
    def spool_dir(self) -> Path:
        return self.tmp / "cmdai" / "data" / "spool"

    def spool_lines(self) -> int:
        return sum(p.read_bytes().count(b"\n") for p in self.spool_dir.glob("*.tsv"))

    def wait_spool(self, count: int, *, settle: bool = False) -> None:
        deadline = time.monotonic() + self.deadline
        settle_until = time.monotonic() + (0.4 if settle else 0.0)
        while True:
            self._drain()
            n = self.spool_lines()
            if n > count:
                raise AssertionError(f"{self.name}: expected {count} recorded lines, found {n}")
            if n == count and time.monotonic() >= settle_until:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: expected {count} recorded lines, found {n}; screen:\n"
                    f"{self.text()}"
                )
            time.sleep(0.02)

    def _drain(self) -> None:
        while True:
            try:
                data = self.proc.read_nonblocking(65536, timeout=0)
            except (pexpect.TIMEOUT, pexpect.EOF):
                return
            self.stream.feed(data)

    # -- the rendered screen -----------------------------------------------------------------
    def text(self) -> str:
        """The screen as text, trailing blanks removed."""
        self._drain()
        return "\n".join(line.rstrip() for line in self.screen.display).rstrip()

    def prompt_line(self) -> str | None:
        """The line being edited, without the prompt: the cursor's row, when it shows the
        prompt (None otherwise). Not the last prompt on screen: after a picker erases itself,
        that is an earlier command's line, and a test that waits for it types too early."""
        self._drain()
        row = self.screen.display[self.screen.cursor.y].rstrip()
        return row[len(PROMPT):] if row.startswith(PROMPT.rstrip()) else None

    def wait_for(self, predicate, what: str, deadline: float | None = None) -> None:
        end = time.monotonic() + (deadline or self.deadline)
        while not predicate():
            if time.monotonic() > end:
                raise AssertionError(f"{self.name}: timed out waiting for {what}; screen:\n"
                                     f"{self.text()}")
            time.sleep(0.02)

    def history(self) -> list[dict]:
        import json

        out = cmdai("history", "list", "--json", "--limit", "1000", env=self.env)
        return json.loads(out.stdout)

    def close(self) -> None:
        self.proc.close(force=True)
