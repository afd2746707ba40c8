"""The `shipbell` command: shell, manifest, check, serve, socket, digest, storage copy."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from shipbell.bot import __version__, logs
from shipbell.bot.settings import ConfigError, LoadedConfig, load_config

EXIT_CONFIG = 2
CONFIG_HELP = "TOML config file (default: $SHIPBELL_CONFIG, else built-in defaults)"
SECRETS = ("Tokens are read from the environment (or files of the same names in "
           "$SHIPBELL_SECRETS_DIR), never from the config file.")
VERBS: dict[str, tuple[str, str]] = {
    "shell": (
        "try Shipbell in a terminal against a simulated Slack",
        "Needs no tokens and no network: Slack is simulated in-process.",
    ),
    "manifest": (
        "print the Slack app manifest (YAML) to create or update the app with",
        "Needs no tokens and no network. Uses [slack] app_name, public_url and request_path.",
    ),
    "check": (
        "validate the config, resolve #channel/@name, test the bot token with Slack",
        "Validates the config, warns about what would fail at run time (unset provider "
        "secrets, trains naming unknown services, an app name over 35 characters) and prints "
        "a summary. Needs SLACK_BOT_TOKEN to call auth.test at [slack] api_url, compare the "
        "granted scopes with the manifest and print channel and people names beside their "
        "ids; --offline skips Slack, --json prints one JSON document. " + SECRETS +
        " Exit 0: fine, 1: Slack refused or is unreachable, 2: the config is invalid.",
    ),
    "serve": (
        "run the bot over HTTP (Events API, commands, interactivity)",
        "Needs SLACK_BOT_TOKEN (xoxb-…) and SLACK_SIGNING_SECRET. " + SECRETS + " Listens on "
        "[server] host and port (default 127.0.0.1:3000; override with SHIPBELL_SERVER__HOST "
        "and SHIPBELL_SERVER__PORT); Slack must reach [slack] public_url + request_path. "
        "Reaches Slack's Web API at [slack] api_url; #channel and @name in the config are "
        "resolved to ids at start.",
    ),
    "socket": (
        "run the bot in Socket Mode (no public URL needed)",
        "Needs SLACK_BOT_TOKEN (xoxb-…) and SLACK_APP_TOKEN (xapp-…, scope connections:write). "
        + SECRETS + " Connects out to Slack; Slack needs nothing to reach this machine. "
        "Still serves /healthz, /metrics and the CI callbacks (/hooks/deploy) on [server] "
        "host:port. #channel and @name in the config are resolved to ids at start.",
    ),
    "digest": (
        "print the delivery (DORA) digest as text",
        "Needs no tokens and no network. Reads the database at [storage] path read-only.",
    ),
    "storage": (
        "move the whole history to another database (storage copy --from URL --to URL)",
        "Needs no tokens. `storage copy` applies the migrations on the target, copies every "
        "table (ids kept) in one transaction, and compares the row counts; it refuses a "
        "target that holds rows, or the source itself. URLs: sqlite:///path/shipbell.db or "
        "postgresql://user@host:5432/db; a PostgreSQL password comes from "
        "SHIPBELL_STORAGE__PASSWORD or PGPASSWORD. Stop Shipbell before copying.",
    ),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="shipbell",
        description="Shipbell: deploys, incidents, release trains and delivery metrics in Slack."
                    " Commands: " + ", ".join(VERBS) + ".",
        epilog="Every command takes -c/--config PATH, before or after its name; "
               "`shipbell COMMAND --help` says what it needs (tokens, host, port).",
    )
    top.add_argument("--version", action="version", version=f"shipbell {__version__}")
    top.add_argument("-c", "--config", metavar="PATH", help=CONFIG_HELP)
    sub = top.add_subparsers(dest="verb", metavar="COMMAND")
    verbs: dict[str, argparse.ArgumentParser] = {}
    for verb, (summary, needs) in VERBS.items():
        verbs[verb] = sub.add_parser(verb, help=summary, description=f"{summary[0].upper()}"
                                     f"{summary[1:]}. {needs}")
        # SUPPRESS: when only given before the verb, the subparser must not reset it to None.
        verbs[verb].add_argument("-c", "--config", metavar="PATH", help=CONFIG_HELP,
                                 default=argparse.SUPPRESS)
    verbs["manifest"].add_argument("--socket", action="store_true",
                                   help="a Socket Mode manifest")
    check = verbs["check"]
    check.add_argument("--offline", action="store_true",
                       help="validate and summarise the config only; don't call Slack")
    check.add_argument("--json", action="store_true",
                       help="print everything as one JSON document instead of a summary")
    shell = verbs["shell"]
    shell.add_argument("--as", dest="user",
                       help="act as this person, by name (bob) or user id; default ana")
    shell.add_argument("--in", dest="channel",
                       help="act in this channel (its id); default #deploys")
    shell.add_argument("--db", help="scratch SQLite file (default: ./<config name>.shell.db,"
                       " or ./shipbell-shell.db without a config); never [storage] path")
    shell.add_argument("--fresh", action="store_true",
                       help="start over: delete the scratch database and its simulated Slack")
    shell.add_argument("--live", action="store_true",
                       help="DANGER: use the real [storage] database and the real deploy"
                       " providers (asks to confirm)")
    digest = verbs["digest"]
    digest.add_argument("--as-of", metavar="DATE",
                        help="the digest that would be posted on DATE (YYYY-MM-DD); default now")
    digest.add_argument("--chart", metavar="FILE", help="also write the trend chart as PNG")
    storage = verbs["storage"].add_subparsers(dest="action", metavar="ACTION", required=True)
    copy = storage.add_parser("copy", help="copy every row into an empty database",
                              description=VERBS["storage"][1])
    copy.add_argument("--from", dest="source", metavar="URL",
                      help="the database to copy (default: the configured [storage])")
    copy.add_argument("--to", dest="target", metavar="URL", required=True,
                      help="the empty database to copy into")
    return top


def fail(exc: ConfigError) -> None:
    """A config problem on stderr, one `shipbell: …` line per problem."""
    for line in str(exc).splitlines():
        print(f"shipbell: {line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.verb is None:
        parser().print_help()
        return 0
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        fail(exc)
        return EXIT_CONFIG
    # check prints its own report; library INFO lines (retries) would only interleave with it
    quiet = args.verb in ("shell", "manifest", "check")
    logs.setup("WARNING" if quiet else config.settings.log_level)
    verbs: dict[str, Callable[[argparse.Namespace, LoadedConfig], int]] = {
        "serve": lambda a, c: _serve(c, socket_mode=False),
        "socket": lambda a, c: _serve(c, socket_mode=True),
        "check": _check,
        "manifest": _manifest,
        "shell": _shell,
        "digest": _digest,
        "storage": _storage_copy,
    }
    try:
        return verbs[args.verb](args, config)
    except ConfigError as exc:  # e.g. a [storage] path that can't be used
        fail(exc)
        return EXIT_CONFIG


def _manifest(args: argparse.Namespace, config: LoadedConfig) -> int:
    from shipbell.bot.slack.manifest import manifest_yaml

    print(manifest_yaml(config.settings, socket_mode=args.socket), end="")
    return 0


def _shell(args: argparse.Namespace, config: LoadedConfig) -> int:
    from shipbell.bot.shell import run_shell, run_terminal
    from shipbell.bot.slackdouble.cast import ANA, DEPLOYS

    options = {"user": args.user or ANA, "channel": args.channel or DEPLOYS, "db": args.db,
               "live": args.live, "fresh": args.fresh}
    if sys.stdin.isatty():
        return run_terminal(config, **options)
    try:
        return asyncio.run(run_shell(config, **options))
    except KeyboardInterrupt:  # Ctrl-C: the shell has already stopped cleanly
        return 130


def _digest(args: argparse.Namespace, config: LoadedConfig) -> int:
    from datetime import UTC, datetime

    from shipbell.bot.preview import run_preview

    return run_preview(config.settings, as_of=args.as_of, chart=args.chart,
                       now=datetime.now(UTC))


def _storage_copy(args: argparse.Namespace, config: LoadedConfig) -> int:
    from shipbell.bot.schema import all_migrations
    from shipbell.bot.storage import open_store, parse_url
    from shipbell.bot.storage.copy import copy_store, same_place
    from shipbell.bot.storage.db import StorageError
    from shipbell.bot.storage.url import Backend

    storage = config.settings.storage
    try:
        source = parse_url(args.source) if args.source else storage.location
        target = parse_url(args.target)
    except ValueError as exc:
        raise ConfigError(f"storage copy: {exc}") from None
    if source.backend is Backend.SQLITE and not Path(source.target).is_file():
        raise StorageError(f"storage copy: {source} is not a file; give --from the SQLite"
                           " file Shipbell has been using (its [storage] path)")
    if same_place(source, target):
        raise StorageError(f"storage copy: {source} and {target} are the same database; copy"
                           " into a different, empty database")
    password = storage.password.get_secret_value() if storage.password else None
    stores = []
    try:
        for location in (source, target):
            stores.append(open_store(location, pool_size=1, password=password))
        print(f"Copying {source} to {target}")
        report = copy_store(stores[0], stores[1], all_migrations())
    finally:
        for store in stores:
            store.close()
    print(f"Verified: {len(report.tables)} tables, {report.rows:,} rows; every table's row"
          " count matches the source.")
    if report.source_changed:
        print(f"shipbell: the source changed during the copy ({', '.join(report.source_changed)}"
              "); stop Shipbell, empty the target and copy again", file=sys.stderr)
        return 1
    print(f"Point [storage] url at {target} and start Shipbell.")
    return 0


def _check(args: argparse.Namespace, config: LoadedConfig) -> int:
    from shipbell.bot.checks import run_check

    return asyncio.run(run_check(config, offline=args.offline, as_json=args.json))


def _serve(config: LoadedConfig, *, socket_mode: bool) -> int:
    missing = config.secrets.missing(socket=socket_mode)
    if missing:
        print(f"shipbell: missing {' and '.join(missing)} in the environment; "
              "set them (see README, 'Connect a workspace') and try again", file=sys.stderr)
        return EXIT_CONFIG
    try:
        return asyncio.run(_run_until_signal(config, socket_mode))
    except ConfigError as exc:  # a name the workspace doesn't have, or Slack unreachable
        fail(exc)
        return EXIT_CONFIG


async def _resolve_names(config: LoadedConfig) -> None:
    from shipbell.bot.slack.directory import resolve_names

    token = config.secrets.slack_bot_token
    await resolve_names(config.settings, token.get_secret_value() if token else None,
                        source=config.source)


async def _run_until_signal(config: LoadedConfig, socket_mode: bool) -> int:
    from shipbell.bot.core import build_core
    from shipbell.bot.runtime import Runtime, run_until_signal
    from shipbell.bot.storage import allow_loop

    async def prepare() -> Runtime:
        # Before anything reads the config: #names and @names become ids, or we stop here
        # (SIGTERM and Ctrl-C already work while Slack is slow to answer).
        await _resolve_names(config)
        with allow_loop("start-up"):  # migrations and job registration, before serving
            return Runtime(build_core(config.settings, config.secrets), socket_mode=socket_mode)

    app_token = config.secrets.slack_app_token if socket_mode else None
    return await run_until_signal(
        prepare, app_token=app_token.get_secret_value() if app_token else None)


if __name__ == "__main__":
    sys.exit(main())
