import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True)
def doctor(as_json: bool) -> None:
    """Show what is installed, where state lives and whether the shell hooks are active."""
    from cmdai.doctor import run

    report = run()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for c in report["checks"]:
        mark = click.style("ok", fg="green") if c["ok"] else click.style("--", fg="yellow")
        click.echo(f"  {mark}  {c['name']:<12} {c['detail']}")
    if report["backends"]:
        click.echo("\nbackends (generate.backends, tried in order):")
        for b in report["backends"]:
            mark = click.style("ok", fg="green") if b["ok"] else click.style("--", fg="yellow")
            last = (f"  median {b['median_ms']:.0f} ms over the last {len(b['last_ms'])}"
                    if b["median_ms"] is not None else "")
            click.echo(f"  {mark}  {b['backend']:<12} {b['detail']}{last}")
    click.echo("\nstate:")
    for name, where in report["paths"].items():
        click.echo(f"  {name:<8} {where}")
