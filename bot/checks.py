"""`shipbell check`: is the config valid, what does it say, and does Slack agree?

Prints a short summary (names beside ids once Slack has been asked), warnings about what
would bite at run time (unset provider secrets, trains naming unknown services, an app name
Slack refuses), the next release dates, then what Slack says of the token, its scopes and the
config's channels and people.  `--json` prints the same as one JSON document; `--offline`
leaves Slack out.  Exit 0: fine, 1: Slack refused or couldn't be reached, 2: the config
names something Slack doesn't know.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from shipbell.bot import logs
from shipbell.bot.core import build_client
from shipbell.bot.releases.preview import upcoming_lines
from shipbell.bot.sections import is_name
from shipbell.bot.settings import LoadedConfig, Settings
from shipbell.bot.slack.directory import (
    TOKEN_HINT,
    Directory,
    SlackUnreachable,
    fetch_directory,
    lists_for,
    place,
    references,
    slack_refusal,
    unreachable,
)
from shipbell.bot.slack.manifest import APP_NAME_MAX, missing_scopes
from slack_sdk.errors import SlackApiError

EXIT_OK, EXIT_SLACK, EXIT_CONFIG = 0, 1, 2
AUTH_ERRORS = ("invalid_auth", "not_authed", "token_revoked", "account_inactive",
               "not_allowed_token_type")


def masked(value: SecretStr | None) -> str:
    if not value:
        return "(unset)"
    raw = value.get_secret_value()
    return f"{raw[:5]}…({len(raw)} chars)" if len(raw) > 8 else "****"


def effective(config: LoadedConfig) -> dict[str, Any]:
    data = config.settings.model_dump(mode="json")
    data["secrets"] = {
        "SLACK_BOT_TOKEN": masked(config.secrets.slack_bot_token),
        "SLACK_SIGNING_SECRET": masked(config.secrets.slack_signing_secret),
        "SLACK_APP_TOKEN": masked(config.secrets.slack_app_token),
    }
    return data


def config_warnings(settings: Settings, environ: dict[str, str] | None = None) -> list[str]:
    """What validation lets through but would bite at run time."""
    env = os.environ if environ is None else environ
    found = [logs.DEPLOY_SECRET_MISSING % (name, variable)
             for name, variable in settings.deploy.missing_secrets(env)]
    known = sorted(settings.deploy.services)
    for name, train in settings.release.trains.items():
        for service in train.services:
            if service not in settings.deploy.services:
                found.append(f"Release train {name}: service {service!r} is not in"
                             f" [deploy.services] (known: {', '.join(known) or 'none'}), so"
                             " none of its deploys count as on the train")
    app_name = settings.slack.app_name
    if len(app_name) > APP_NAME_MAX:
        found.append(f"slack.app_name is {len(app_name)} characters; Slack allows at most"
                     f" {APP_NAME_MAX} and refuses the manifest: shorten it")
    return found


@dataclass
class SlackReport:
    """What Slack said, as lines to print and as data for --json."""

    checked: bool = False
    ok: bool = False
    lines: list[str] = field(default_factory=list)
    bot_user_id: str | None = None
    team_id: str | None = None
    error: str | None = None
    missing_scopes: list[str] = field(default_factory=list)
    directory: Directory | None = None
    name_errors: list[str] = field(default_factory=list)

    def fail(self, line: str, error: str) -> SlackReport:
        self.lines.append(line)
        self.error = error
        return self


async def ask_slack(config: LoadedConfig) -> SlackReport:
    """auth.test, the scopes it reports, then the lists that put names beside ids."""
    report = SlackReport(checked=True)
    token = config.secrets.slack_bot_token
    settings = config.settings
    if not token:
        return report.fail("Slack: not checked: SLACK_BOT_TOKEN is not set; set it to test the "
                           "token and resolve names (or run `shipbell check --offline`)",
                           "SLACK_BOT_TOKEN is not set")
    client = build_client(settings, token.get_secret_value())
    try:
        try:
            response = await client.auth_test()
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            hint = TOKEN_HINT if error in AUTH_ERRORS else "see Slack's auth.test documentation"
            return report.fail(f"Slack: auth.test failed: {error}; {hint}", error)
        except Exception as exc:  # no answer at all: network, DNS, TLS, proxy
            why = type(exc).__name__
            return report.fail(f"Slack: {unreachable(settings, why)}", why)
        report.bot_user_id = response.get("user_id")
        report.team_id = response.get("team_id")
        report.lines.append(f"Slack: authenticated as {report.bot_user_id} in {report.team_id}")
        header = response.headers.get("x-oauth-scopes") or ""
        scopes = [s.strip() for s in header.split(",") if s.strip()]
        report.missing_scopes = missing_scopes(scopes) if scopes else []
        if report.missing_scopes:
            report.lines.append(f"Slack: missing scopes: {', '.join(report.missing_scopes)} "
                                "(update the app from `shipbell manifest`, then reinstall it)")
        else:
            report.lines.append("Slack: all needed scopes granted" if scopes else
                                "Slack: scopes not reported by the API; compare with "
                                "`shipbell manifest`")
        try:
            report.directory = await fetch_directory(client, lists_for(
                {ref.kind for ref in references(settings)}))
        except SlackApiError as exc:
            report.lines.append(f"Slack: can't list names: {slack_refusal(exc)}")
            report.error = str(exc.response.get("error"))
        except SlackUnreachable as exc:
            report.lines.append(f"Slack: {unreachable(settings, str(exc))}")
            report.error = str(exc)
    finally:
        if client.session is not None:
            await client.session.close()
    report.ok = not report.missing_scopes and report.error is None
    if report.directory is not None:
        report.name_errors = place(settings, report.directory, config.source)
    return report


def name_rows(written: dict[str, str], settings: Settings, slack: SlackReport
              ) -> list[tuple[str, str, str]]:
    """(key, as written, what it is) for every Slack reference in the config."""
    rows = []
    for ref in references(settings):
        value = written.get(ref.dotted, ref.value)
        directory = slack.directory
        if directory is None:
            shown = "(resolved at start)" if is_name(value) else ""
        elif is_name(ref.value):
            shown = "not found"
        else:
            label = directory.label(ref.value)
            shown = (f"= {ref.value}" if is_name(value) else f"= {label}") if label else (
                "not visible to the bot: check the id, or invite the bot to the channel")
        rows.append((ref.dotted, value, shown))
    return rows


def summary(config: LoadedConfig, show: Any) -> list[str]:
    """A few lines a person can read: where things go, with names beside ids."""
    s = config.settings
    slack = s.slack
    lines = [
        f"  Slack     app {slack.app_name!r}; API {slack.api_url}; Slack sends requests to "
        f"{slack.public_url.rstrip('/')}{slack.request_path}",
        f"  Server    {s.server.host}:{s.server.port} (serve); database {s.storage.location};"
        f" time zone {s.timezone}",
        "  Secrets   " + "; ".join(f"{k} {v}" for k, v in effective(config)["secrets"].items()),
    ]
    services = [f"{name} via {svc.provider} ({', '.join(svc.environments)})"
                for name, svc in s.deploy.services.items()]
    lines.append(f"  Deploy    {'; '.join(services) or 'no services'}")
    inc = s.incident
    lines.append(
        f"  Incident  announced in {show(inc.announcements_channel) or 'no channel'};"
        f" responders {', '.join(map(show, inc.responders)) or 'none'};"
        f" escalation {show(inc.escalation_group) or 'none'}")
    for name, train in s.release.trains.items():
        when = train.cron or f"{train.weekday} {train.time}"
        lines.append(f"  Release   train {name}: {', '.join(train.services)} to"
                     f" {train.environment}, {when} {train.timezone or s.timezone},"
                     f" in {show(train.channel)}")
    digest = s.digest
    where = f"in {show(digest.channel)}" if digest.channel else "posted nowhere (no channel)"
    lines.append(f"  Digest    daily at {digest.time} {digest.timezone or s.timezone} {where},"
                 f" {digest.period_days}-day periods")
    return lines


def _captain_named(line: str, labels: dict[str, str | None]) -> str:
    head, sep, captain = line.partition("  captain ")
    slack_id, space, rest = captain.partition(" ")
    label = labels.get(slack_id)
    return f"{head}{sep}{label} ({slack_id}){space}{rest}" if sep and label else line


async def run_check(config: LoadedConfig, now: datetime | None = None, *,
                    offline: bool = False, as_json: bool = False) -> int:
    settings = config.settings
    written = {ref.dotted: ref.value for ref in references(settings)}  # before resolution
    warnings = config_warnings(settings)
    slack = SlackReport() if offline else await ask_slack(config)
    code = EXIT_OK
    if slack.checked and not slack.ok:
        code = EXIT_SLACK
    if slack.name_errors:
        code = EXIT_CONFIG
    rows = name_rows(written, settings, slack)
    releases = upcoming_lines(settings.release, settings.timezone, now or datetime.now(UTC))
    if slack.directory is not None:  # captains by name too
        known = {ref.value: slack.directory.label(ref.value) for ref in references(settings)}
        releases = [_captain_named(line, known) for line in releases]
    if as_json:
        print(json.dumps({
            "source": config.source,
            "config": effective(config),
            "warnings": warnings,
            "slack": {"checked": slack.checked, "ok": slack.ok, "error": slack.error,
                      "bot_user_id": slack.bot_user_id, "team_id": slack.team_id,
                      "missing_scopes": slack.missing_scopes},
            "names": {key: {"written": value, "resolved": shown} for key, value, shown in rows},
            "name_errors": slack.name_errors,
            "releases": releases,
        }, indent=2))
        return code

    def show(value: str | None) -> str:
        if not value:
            return ""
        label = slack.directory.label(value) if slack.directory else None
        return f"{label} ({value})" if label else value

    print(f"Config: {config.source} is valid.")
    for line in summary(config, show):
        print(line)
    for warning in warnings:
        print(f"Warning: {warning}")
    for line in releases:
        print(line)
    if offline:
        print("Slack: not checked (--offline)")
    for line in slack.lines:
        print(line)
    if slack.directory is not None and rows:
        print("Names and ids:")
        width = max(len(key) for key, _, _ in rows)
        for key, value, shown in rows:
            print(f"  {key:<{width}}  {value}  {shown}")
    for error in slack.name_errors:
        print(f"Error: {error}")
    return code
