"""The `ipwarn` command line. Area commands are loaded lazily from their own packages."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from warning.app import App
from warning.errors import ConfigError, InputError, IpwarnError, StoreError
from warning.logging import configure_logging

#: command name -> ("module:attribute", one-line help shown by `ipwarn --help`)
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "db": ("warning.cli_core:db", "Create or migrate the database schema (Alembic)."),
    "config": ("warning.cli_core:config", "Show the effective configuration, secrets masked."),
    "run": ("warning.cli_core:run", "Run the pipeline stages once, in order, and print a summary."),
    "serve": ("warning.cli_core:serve", "Run the scheduler (one per database) until SIGTERM."),
    "status": (
        "warning.cli_core:status",
        "Show sources, job history, stale sources and the outbox.",
    ),
    "health": (
        "warning.cli_core:health_cmd",
        "Check for stale sources and a stuck outbox; alert operators.",
    ),
    "demo": (
        "warning.demo:demo",
        "Run the whole pipeline once on bundled samples; print where output went.",
    ),
    "parse": (
        "crawlers.cli:parse",
        "Parse local bulletin files and print one JSON document per line.",
    ),
    "crawl": (
        "crawlers.cli:crawl",
        "Run one source's spider (as a subprocess) and store what it finds.",
    ),
    "classify": ("models.cli:classify", "Tag JSON-lines documents with sectors and sub-fields."),
    "model": ("models.cli:model", "Train, evaluate, list and activate sector-classifier versions."),
    "rules": ("rules.cli:rules", "Check, back-test, activate and retire expert warning rules."),
    "subscriptions": (
        "rules.cli:subscriptions",
        "Import, list, unsubscribe, resubscribe and remove enterprise subscriptions.",
    ),
    "alerts": (
        "rules.alerts_cli:alerts",
        "List stored alerts with their explanations (--test: test-rule matches).",
    ),
    "quarantine": (
        "crawlers.quarantine_cli:quarantine",
        "List, show and retry quarantined (unparseable) records.",
    ),
    "deliver": (
        "warning.delivery.cli:deliver",
        "Send the outbox messages that are due, then exit.",
    ),
    "outbox": (
        "warning.delivery.cli:outbox",
        "Show outbox counts per status and the oldest pending age.",
    ),
    "silence": (
        "warning.delivery.cli:silence",
        "Mute a rule, an enterprise or a document family until a date.",
    ),
    "forecast": (
        "warning.forecast.cli:forecast",
        "Forecast weekly publications, grants and foreign share 12 weeks ahead, with flags.",
    ),
    "expiring": (
        "warning.forecast.cli:expiring",
        "List rights whose term ends or annual fee falls due in the next N months.",
    ),
    "disputes": (
        "warning.forecast.cli:disputes",
        "Rank fields by the dispute-prone index, with each component shown.",
    ),
    "indicators": (
        "warning.indicators.cli:indicators",
        "The strategy's indicators: applications, grants, applicant types, targets.",
    ),
    "digest": (
        "warning.digest.cli:digest",
        "Build, show, approve and send the weekly risk digest.",
    ),
    "search": ("warning.search.cli:search", "Search stored documents (boolean query, BM25)."),
    "screen": (
        "warning.search.cli:screen",
        "Screen a product text or patent: similar documents to review or free to use.",
    ),
    "search-index": (
        "warning.search.cli:search_index",
        "Update, rebuild or show the full-text search index.",
    ),
    "web": ("warning.web.cli:web", "Serve the web console and JSON API (uvicorn)."),
    "users": (
        "warning.web.cli:users",
        "Add, list, disable console users; reset passwords; issue and revoke API tokens.",
    ),
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs (fast `--help`, small start-up)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            target, _ = LAZY_COMMANDS[cmd_name]
            module_name, _, attr = target.partition(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name and module_name.startswith(exc.name):
                    return _not_built(cmd_name, target)
                raise
            command = getattr(module, attr, None)
            return command if isinstance(command, click.Command) else _not_built(cmd_name, target)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, LAZY_COMMANDS[name][1]) for name in sorted(LAZY_COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _not_built(name: str, target: str) -> click.Command:
    @click.command(name=name, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def missing(args: tuple[str, ...]) -> None:
        raise click.ClickException(f"`ipwarn {name}` is not built yet ({target}).")

    return missing


@click.group(cls=LazyGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $IPWARN_CONFIG, else ./ipwarn.toml if present).",
)
@click.option(
    "--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR (default: from config)."
)
@click.version_option(package_name="ipwarn")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_level: str | None) -> None:
    """ipwarn: intellectual-property early warning for a city's key industries."""
    app = App(config_path)
    ctx.obj = app
    try:
        settings = app.settings
    except ConfigError:
        if ctx.invoked_subcommand in (None, "parse", "classify") or "--help" in sys.argv:
            configure_logging(log_level or "WARNING")
            return
        raise
    configure_logging(log_level or settings.log_level, settings.log_format)


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="ipwarn", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (ConfigError, InputError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except StoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    except IpwarnError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
