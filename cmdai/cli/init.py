import click


@click.command()
@click.argument("shell", type=click.Choice(["zsh", "bash", "fish"]))
@click.option("--disable-up-arrow", is_flag=True, help="Leave the Up arrow to the shell.")
@click.option("--disable-ctrl-r", is_flag=True, help="Leave Ctrl-R to the shell.")
@click.option("--key", metavar="KEY", default=None,
              help="The key for command generation: ctrl-<letter>, alt-<letter> or none "
                   "(default: keys.generate, ctrl-g).")
def init(shell: str, disable_up_arrow: bool, disable_ctrl_r: bool, key: str | None) -> None:
    """Print the shell integration script for SHELL.

    \b
    zsh:  eval "$(cmdai init zsh)"     in ~/.zshrc
    bash: eval "$(cmdai init bash)"    in ~/.bashrc
    fish: cmdai init fish | source     in ~/.config/fish/config.fish
    """
    from cmdai.shellinit import render

    click.echo(render(shell, up_arrow=not disable_up_arrow, ctrl_r=not disable_ctrl_r, key=key),
               nl=False)
