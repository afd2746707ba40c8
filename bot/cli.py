"""The `shipbell` command: serve, socket, check, manifest, shell."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from bot import __version__, logs
from bot.settings import ConfigError, LoadedConfig, load_config

EXIT_CONFIG = 2


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="shipbell", description=__doc__)
    top.add_argument("--version", action="version", version=f"shipbell {__version__}")
    top.add_argument("--config", metavar="PATH",
                     help="TOML config file (default: $SHIPBELL_CONFIG, else built-in defaults)")
    sub = top.add_subparsers(dest="verb", metavar="COMMAND")
    sub.add_parser("serve", help="serve Slack over HTTP (Events API, commands, interactivity)")
    sub.add_parser("socket", help="connect to Slack in Socket Mode (no public URL needed)")
    sub.add_parser("check", help="validate config, show effective settings, test the token")
    manifest = sub.add_parser("manifest", help="print the Slack app manifest (YAML)")
    manifest.add_argument("--socket", action="store_true", help="a Socket Mode manifest")
    shell = sub.add_parser("shell", help="try Shipbell locally against a simulated Slack")
    shell.add_argument("--as", dest="user", default="U_ANA", help="act as this user id")
    shell.add_argument("--in", dest="channel", default="C_DEPLOYS", help="act in this channel")
    shell.add_argument("--db", help="SQLite file (default: [storage] path if configured,"
                       " else ./shipbell-shell.db)")
    digest = sub.add_parser("digest", help="print the delivery (DORA) digest as text")
    digest.add_argument("--as-of", metavar="DATE",
                        help="the digest that would be posted on DATE (YYYY-MM-DD); default now")
    digest.add_argument("--chart", metavar="FILE", help="also write the trend chart as PNG")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.verb is None:
        parser().print_help()
        return 0
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"shipbell: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    logs.setup("WARNING" if args.verb in ("shell", "manifest") else config.settings.log_level)
    verbs: dict[str, Callable[[argparse.Namespace, LoadedConfig], int]] = {
        "serve": lambda a, c: _serve(c, socket_mode=False),
        "socket": lambda a, c: _serve(c, socket_mode=True),
        "check": _check,
        "manifest": _manifest,
        "shell": _shell,
        "digest": _digest,
    }
    return verbs[args.verb](args, config)


def _manifest(args: argparse.Namespace, config: LoadedConfig) -> int:
    from bot.slack.manifest import manifest_yaml

    print(manifest_yaml(config.settings, socket_mode=args.socket), end="")
    return 0


def _shell(args: argparse.Namespace, config: LoadedConfig) -> int:
    from bot.shell import run_shell

    return asyncio.run(run_shell(config, user=args.user, channel=args.channel, db=args.db))


def _digest(args: argparse.Namespace, config: LoadedConfig) -> int:
    from datetime import UTC, datetime

    from bot.dora.preview import run_preview

    return run_preview(config.settings, as_of=args.as_of, chart=args.chart,
                       now=datetime.now(UTC))


def _check(args: argparse.Namespace, config: LoadedConfig) -> int:
    from bot.checks import run_check

    return asyncio.run(run_check(config))


def _serve(config: LoadedConfig, *, socket_mode: bool) -> int:
    missing = config.secrets.missing(socket=socket_mode)
    if missing:
        print(f"shipbell: missing {' and '.join(missing)} in the environment; "
              "set them (see README, 'Connect a workspace') and try again", file=sys.stderr)
        return EXIT_CONFIG
    return asyncio.run(_run_until_signal(config, socket_mode))


async def _run_until_signal(config: LoadedConfig, socket_mode: bool) -> int:
    from bot.core import build_core
    from bot.runtime import Runtime

    core = build_core(config.settings, config.secrets)
    runtime = Runtime(core, socket_mode=socket_mode)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    closers: list[Callable[[], Coroutine[Any, Any, None]]] = []
    if socket_mode:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        await runtime.start(http=False)
        assert config.secrets.slack_app_token is not None
        handler = AsyncSocketModeHandler(
            runtime.app, config.secrets.slack_app_token.get_secret_value()
        )
        await handler.connect_async()
        closers.append(handler.close_async)
        logs.logger.info(logs.SOCKET_MODE, __version__)
    else:
        await runtime.start()
        logs.logger.info(logs.SERVING, __version__, runtime.slack_url)
    await stop.wait()
    for close in closers:
        with contextlib.suppress(Exception):
            await close()
    await runtime.stop()
    core.store.close()
    return 0


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
