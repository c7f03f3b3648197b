"""`cmdai assist` (what Ctrl-G runs when no daemon answers) and `cmdai explain`."""

from __future__ import annotations

import json
import os
import sys

import click


def _run(text: str, mode: str, cwd: str | None, shell: str | None, session: str | None,
         stream: bool) -> dict:
    from cmdai import errors
    from cmdai.assist import assist
    from cmdai.history.spool import open_history

    store, _ = open_history()

    def on_event(message: dict) -> None:
        if stream:
            sys.stdout.write(json.dumps({"v": 1, **message}, ensure_ascii=False) + "\n")
            sys.stdout.flush()

    try:
        result = assist(text, cwd=cwd or os.getcwd(), shell=shell or _shell(),
                        session=session or os.environ.get("CMDAI_SESSION", ""), mode=mode,
                        on_event=on_event, store=store)
    except errors.CmdaiError as exc:
        if not stream:
            raise
        on_event({"type": "error", "code": int(exc.exit_code), "message": exc.message,
                  "hint": exc.hint})
        raise SystemExit(int(exc.exit_code))
    if stream:
        on_event(result)
    return result


def _shell() -> str:
    return os.path.basename(os.environ.get("SHELL", "bash")) or "bash"


@click.command()
@click.argument("text", nargs=-1, required=True)
@click.option("--mode", type=click.Choice(["auto", "generate", "explain"]), default="auto",
              help="auto: explain text that already is a command, else generate one.")
@click.option("--stream", is_flag=True, help="Print the daemon protocol's JSON lines.")
@click.option("--cwd", metavar="DIR")
@click.option("--shell", type=click.Choice(["zsh", "bash", "fish"]))
@click.option("--session", metavar="ID")
def assist(text, mode, stream, cwd, shell, session) -> None:
    """Do what Ctrl-G does with TEXT, in this process (the widget uses the daemon)."""
    result = _run(" ".join(text), mode, cwd, shell, session, stream)
    if not stream:
        click.echo(result["message"], err=True)
        if result["action"] == "insert":
            click.echo(result["command"])
        elif result["kind"] == "explanation":
            click.echo(result["explanation"])


@click.command()
@click.argument("command", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True)
def explain(command, as_json: bool) -> None:
    """Explain what a shell COMMAND does (with its safety verdict)."""
    result = _run(" ".join(command), "explain", None, None, None, stream=False)
    if as_json:
        click.echo(json.dumps({k: result[k] for k in ("command", "explanation", "safety",
                                                      "backend", "model", "latency_ms")}))
        return
    click.echo(result["explanation"])
    safety = result["safety"]
    if safety["level"] != "safe":
        reasons = "; ".join(r["reason"] for r in safety["rules"])
        click.echo(f"safety: {safety['level']}: {reasons}", err=True)
