"""`cmdai check [--json] [--policy P] COMMAND...`: the safety verdict; the exit code is the level."""

from __future__ import annotations

import click

from cmdai.errors import ExitCode

LEVEL_EXIT = {
    "safe": ExitCode.OK,
    "moderate": ExitCode.LEVEL_MODERATE,
    "high": ExitCode.LEVEL_HIGH,
    "critical": ExitCode.LEVEL_CRITICAL,
}


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as one JSON object.")
@click.option("--policy", type=click.Choice(["strict", "balanced", "permissive"]),
              help="Policy that maps the level to an action (default: [safety] policy).")
@click.option("--cwd", type=click.Path(file_okay=False), help="Directory for the blast radius.")
@click.option("--no-blast", is_flag=True, help="Do not look at the files the command would touch.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def check(as_json: bool, policy: str | None, cwd: str | None, no_blast: bool,
          command: tuple[str, ...]) -> None:
    """Judge COMMAND without running it.

    Prints the level (safe, moderate, high, critical), each matched rule with its reason and the
    part of the command it matched, and what the command would touch. Exit code: 0 safe,
    10 moderate, 11 high, 12 critical. Quote the command, or pass it after `--`.
    """
    from cmdai.safety import check as judge

    line = " ".join(command)
    verdict = judge(line, cwd=cwd, policy=policy, blast_radius=not no_blast)
    if as_json:
        click.echo(verdict.to_json())
    else:
        click.echo(f"{verdict.level} ({verdict.action} under the {verdict.policy} policy)")
        for m in verdict.rules:
            click.echo(f"  {m.level:<8} {m.id} [{m.category}]: {m.reason}")
            click.echo(f"           matched: {m.matched}")
            if m.resolved:
                click.echo(f"           runs as: {m.resolved}")
            if m.via:
                click.echo(f"           inside:  {' > '.join(m.via)}")
        if verdict.blast:
            click.echo(f"  blast radius: {verdict.blast}")
        if verdict.parse_error:
            click.echo("  note: the line does not parse cleanly; it was also read word by word")
    click.get_current_context().exit(int(LEVEL_EXIT[verdict.level]))
