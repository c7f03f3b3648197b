"""`cmdai pause`, `cmdai resume` (this shell session) and `cmdai history prune`."""

from __future__ import annotations

import json
import os

import click

from cmdai.errors import UsageError


def _session() -> str:
    session = os.environ.get("CMDAI_SESSION", "")
    if not session:
        raise UsageError(
            "no cmdai shell session here (CMDAI_SESSION is not set)",
            "run it in a shell that loads `cmdai init`; pausing applies to that shell only",
        )
    return session


@click.command()
def pause() -> None:
    """Stop recording commands in this shell session until `cmdai resume`."""
    from cmdai import privacy

    changed = privacy.set_paused(_session(), True)
    click.echo("cmdai: recording paused in this shell" + ("" if changed else " (it already was)")
               + "; `cmdai resume` turns it back on", err=True)


@click.command()
def resume() -> None:
    """Record commands in this shell session again."""
    from cmdai import privacy

    changed = privacy.set_paused(_session(), False)
    click.echo("cmdai: recording resumed in this shell" + ("" if changed else " (it was not paused)"),
               err=True)


@click.command()
@click.option("--dry-run", is_flag=True, help="Count what would change; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with the counts.")
def prune(dry_run: bool, as_json: bool) -> None:
    """Apply the current redaction rules and filters to the stored history.

    Commands holding a secret are rewritten with <redacted:KIND>; commands the filters
    (history.ignore_commands, history.ignore_dirs, history.store_failed) keep out are deleted.
    """
    from cmdai.cli.history import _open
    from cmdai.privacy import load_policy
    from cmdai.privacy.prune import prune as run

    policy = load_policy()
    store, _ = _open()
    report = run(store, policy, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(report.to_json()))
        return
    would = "would be " if dry_run else ""
    click.echo(f"scanned {report.scanned} entries", err=True)
    click.echo(f"  {report.redacted} {would}rewritten with secrets redacted"
               + (f" ({', '.join(f'{k} {n}' for k, n in report.kinds.most_common())})"
                  if report.kinds else ""), err=True)
    click.echo(f"  {report.deleted} {would}deleted by filters"
               + (f" ({', '.join(f'{k} {n}' for k, n in report.reasons.most_common())})"
                  if report.reasons else ""), err=True)
    if report.duplicates:
        click.echo(f"  {report.duplicates} deleted: their redacted form was already stored", err=True)
    if report.generations:
        click.echo(f"  {report.generations} Ctrl-G record(s) {would}redacted", err=True)
    if dry_run and report.examples:
        for line in report.examples:
            click.echo(f"    {line}", err=True)
