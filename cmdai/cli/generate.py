"""`cmdai generate [--json] TEXT...`: the command alone on stdout, everything else on stderr.

stdout belongs to the shell widget that reads it. On a terminal, stderr shows progress at once
and the command as it streams; Ctrl-C cancels cleanly (exit 130, no traceback).
"""

from __future__ import annotations

import json
import sys
import threading

import click


class _Progress:
    """Progress on stderr, only when stderr is a terminal (never in a pipe or a log)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.text = ""

    def start(self) -> None:
        if self.tty:
            sys.stderr.write("\r\x1b[2m cmdai: thinking…\x1b[0m\x1b[K")
            sys.stderr.flush()

    def token(self, piece: str) -> None:
        if not self.tty:
            return
        self.text += piece
        line = self.text.split("\n", 1)[0][-200:]
        sys.stderr.write(f"\r\x1b[2m {line}\x1b[0m\x1b[K")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.tty:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.argument("text", nargs=-1, required=True)
def generate(as_json: bool, text: tuple[str, ...]) -> None:
    """Turn TEXT (natural language) into one shell command, printed on stdout."""
    progress = _Progress()
    progress.start()  # before any heavy import: visible within a few ms
    from cmdai import config
    from cmdai.errors import BlockedError, Cancelled
    from cmdai.generate import generate as run

    cfg = config.load().generate
    cancel = threading.Event()

    def warn(msg: str) -> None:
        progress.clear()
        print(f"cmdai: {msg}", file=sys.stderr)

    try:
        answer = run(" ".join(text), cfg=cfg, on_token=progress.token, cancel=cancel, warn=warn)
    except KeyboardInterrupt:
        cancel.set()
        progress.clear()
        raise Cancelled() from None
    finally:
        progress.clear()
    safety = answer.safety_json()
    blocked = safety.get("action") == "block"
    if as_json:
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
    elif not blocked:
        click.echo(answer.command)
    else:  # never handed to the shell: shown on stderr only
        click.echo(f"cmdai: blocked by the safety policy: {answer.command}", err=True)
    if answer.explanation and not as_json:
        click.echo(f"# {answer.explanation}", err=True)
    rules = ", ".join(r.get("id", "") for r in safety.get("rules", []))
    click.echo(
        f"cmdai: {safety['level']}{' (' + rules + ')' if rules else ''} · "
        f"{answer.latency_ms / 1000:.1f} s · {answer.model} ({answer.backend})",
        err=True,
    )
    if blocked:
        raise BlockedError(f"the command is {safety['level']}: not printed on stdout",
                           "run `cmdai check` on it, or change safety.policy")
