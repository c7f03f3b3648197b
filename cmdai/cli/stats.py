"""`cmdai stats [day|week|month|all] [--json]`."""

from __future__ import annotations

import json
import shutil

import click


@click.command()
@click.argument("period", type=click.Choice(["day", "week", "month", "all"]), default="week")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Rows in each top list.")
def stats(period: str, as_json: bool, top: int) -> None:
    """Most used commands and subcommands, commands per day, failure rate, directories."""
    from cmdai.cli.history import _open
    from cmdai.history.stats import compute, render

    store, _ = _open()
    result = compute(store, period, top=top)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
        return
    width = max(10, min(60, shutil.get_terminal_size((80, 24)).columns - 30))
    for line in render(result, width=width):
        click.echo(line)
