"""The ``gridshift`` command.

User mistakes print one line on stderr and exit 2; never a traceback.
"""

from __future__ import annotations

import sys

import click
import typer

from gridshift import __version__
from gridshift.cli import bench, config, demo, signals
from gridshift.cli.output import err_console
from gridshift.cli.plan import plan_command
from gridshift.cli.remote import clusters_command, jobs_app, submit_command
from gridshift.cli.server import server_command
from gridshift.cli.simulate import simulate_command
from gridshift.domain import GridshiftError, UserError

app = typer.Typer(
    name="gridshift",
    help="Energy-aware orchestration for AI workloads: compute that follows price and carbon.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(signals.app, name="signals")
app.add_typer(config.app, name="config")
app.add_typer(bench.app, name="bench")
app.command("demo")(demo.demo)
app.command("plan")(plan_command)
app.command("simulate")(simulate_command)
app.command("server")(server_command)
app.command("submit")(submit_command)
app.add_typer(jobs_app, name="jobs")
app.command("clusters")(clusters_command)


def _version(value: bool) -> None:
    if value:
        print(f"gridshift {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """gridshift: energy-aware orchestration for AI workloads."""


def _error(message: str) -> None:
    err_console.print(f"gridshift: error: {message}", markup=False, highlight=False)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (2 for a user mistake)."""
    try:
        result = app(args=argv, prog_name="gridshift", standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.exceptions.Abort:
        _error("aborted")
        return 130
    except click.exceptions.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        _error(f"{exc.format_message()}{hint}")
        return 2
    except click.exceptions.ClickException as exc:
        _error(exc.format_message())
        return 2
    except UserError as exc:
        _error(exc.one_line())
        return 2
    except GridshiftError as exc:
        _error(exc.one_line())
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    return int(result) if isinstance(result, int) else 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
