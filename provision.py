"""`provision`: the click shell. Commands parse options and hand over to the package."""

from __future__ import annotations

import sys

import click

from chameleon_provision import __version__
from chameleon_provision.errors import ProvisionError
from chameleon_provision.twin.cli import twin_group


class DefaultGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, is the repository to provision."""

    default_command = "up"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="provision")
def cli() -> None:
    """Bring up a Chameleon Cloud bare-metal node for a GitHub repository.

    \b
    Examples:
      provision https://github.com/owner/repo
      provision ./my-repo --plan-only --json
      provision twin serve --port 8774
    """


cli.add_command(twin_group)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: the one place errors become a message and an exit code."""
    traceback_wanted = "--traceback" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="provision", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ProvisionError as exc:
        if traceback_wanted:
            raise
        line = f"Error: {exc.message}"
        if exc.hint:
            line += f" ({exc.hint})"
        click.echo(line, err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    sys.exit(0)


if __name__ == "__main__":
    main()
