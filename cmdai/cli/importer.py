"""`cmdai import`: parse the arguments, call the import driver, print its summary to stderr."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cmdai.errors import ExitCode

CHOICES = ("auto", "bash", "zsh", "fish", "atuin", "zsh-histdb")


@click.command("import")
@click.argument("format", type=click.Choice(CHOICES), default="auto", required=False)
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PATH",
    help="Import this file instead of the format's usual place.",
)
@click.option("--dry-run", is_flag=True, help="Read and count, but store nothing.")
def import_(format: str, file: Path | None, dry_run: bool) -> None:
    """Import shell history: bash, zsh, fish, atuin's or zsh-histdb's database.

    `auto` (the default) imports every source it finds: $HISTFILE, the shells' usual history
    files, atuin's and zsh-histdb's databases. Importing again adds only what is new. Rows that
    cannot be imported are skipped and listed as PATH:LINE: REASON.
    """
    from cmdai.history.importers import driver

    sources = driver.resolve(format, file)
    if format == "auto" and file is None:
        for line in driver.found_lines(sources):
            click.echo(line, err=True)
    results = driver.run(sources, dry_run=dry_run, progress=sys.stderr)
    for line in driver.summary(results):
        click.echo(line, err=True)
    if driver.failed(results):
        sys.exit(int(ExitCode.ERROR))
