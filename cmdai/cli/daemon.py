"""`cmdai daemon start|stop|status|run`."""

from __future__ import annotations

import json

import click


@click.group()
def daemon() -> None:
    """The background process that keeps the model warm and ingests history."""


@daemon.command()
@click.option("--auto", is_flag=True, hidden=True,
              help="Started by Ctrl-G: do nothing (exit 3) when daemon.autostart is false.")
def start(auto: bool) -> None:
    """Start the daemon in the background (nothing happens if it runs)."""
    from cmdai import config
    from cmdai.daemon.lifecycle import start as start_

    if auto and not config.load().daemon.autostart:
        raise SystemExit(3)

    pid, new = start_()
    click.echo(f"cmdai daemon {'started' if new else 'already running'} (pid {pid})", err=True)


@daemon.command()
def stop() -> None:
    """Stop the daemon."""
    from cmdai.daemon.lifecycle import stop as stop_

    click.echo("cmdai daemon stopped" if stop_() else "cmdai daemon was not running", err=True)


@daemon.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Show whether the daemon runs, its model, memory and counters (exit 1 if it is down)."""
    from cmdai.daemon.lifecycle import status as status_

    st = status_()
    if as_json:
        click.echo(json.dumps(st or {"running": False}))
    elif st is None:
        click.echo("cmdai daemon is not running", err=True)
    else:
        models = ", ".join(f"{b['name']}:{b['model']}" for b in st["backends"]) or "none"
        click.echo(f"running: pid {st['pid']}, up {st['uptime_s']:.0f} s, {st['rss_kb'] // 1024} MB,"
                   f" {st['requests']} requests ({st['errors']} failed), model "
                   f"{'loaded' if st['model_loaded'] else 'not loaded'} ({models})"
                   + (f", last load error: {st['backend_error']}" if st["backend_error"] else ""))
    if st is None:
        raise SystemExit(1)


@daemon.command()
@click.option("--lazy", is_flag=True,
              help="Load the language model at the first request, not at start.")
def run(lazy: bool) -> None:
    """Run the daemon in the foreground (what `start` runs in the background)."""
    from cmdai.daemon.server import run_foreground

    run_foreground(lazy=lazy)
