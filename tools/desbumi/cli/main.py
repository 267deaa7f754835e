"""The desbumi-sync group, its global options, and the one place errors become messages and exit codes."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

import click

from .. import __version__
from ..errors import DesbumiError
from .demo import demo
from .forms import forms
from .output import AppState
from .sandbox import sandbox
from .sync import assets, pull, status

EXIT_OK, EXIT_PROBLEMS, EXIT_INPUT, EXIT_SERVER = 0, 1, 2, 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help="desbumi.toml to use (default: ./desbumi.toml if present).")
@click.option("--server", metavar="URL", help="Kobo server URL; overrides desbumi.toml and DESBUMI_SERVER.")
@click.option("--store", metavar="DIR", help="Local store folder; overrides desbumi.toml and DESBUMI_STORE.")
@click.option("-v", "--verbose", is_flag=True, help="Say more, and show tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Say nothing but errors and data.")
@click.version_option(__version__, "--version", prog_name="desbumi-sync")
@click.pass_context
def cli(ctx: click.Context, config_path, server, store, verbose, quiet):
    """desbumi-sync: DESBUMI survey forms, Kobo sync, panel and labelled exports.

    Start with `desbumi-sync demo`, or `desbumi-sync forms check` to check the instruments.
    """
    if verbose and quiet:
        raise click.UsageError("-v/--verbose and -q/--quiet cannot be used together.")
    ctx.obj = AppState(config_path=config_path, server=server, store=store, verbose=verbose, quiet=quiet)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


cli.add_command(forms)
cli.add_command(demo)
cli.add_command(pull)
cli.add_command(status)
cli.add_command(assets)
cli.add_command(sandbox)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error ends here as one paragraph on stderr and a meaningful exit code."""
    verbose = any(a in ("-v", "--verbose") for a in (argv if argv is not None else sys.argv[1:]))
    try:
        cli.main(args=argv, prog_name="desbumi-sync", standalone_mode=False)
    except DesbumiError as exc:
        if verbose:
            traceback.print_exc()
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:  # --help, --version
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors: exit 2
        exc.show()
        sys.exit(EXIT_INPUT if exc.exit_code == 2 else exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug: say so plainly, show the traceback only with -v
        if verbose:
            traceback.print_exc()
        click.echo(f"Internal error: {type(exc).__name__}: {exc}\n"
                   "This is a bug in desbumi-sync; run again with -v and report the traceback.", err=True)
        sys.exit(70)
    sys.exit(EXIT_OK)


if __name__ == "__main__":
    main()
