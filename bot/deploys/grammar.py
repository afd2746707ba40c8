"""The `/deploy` grammar, as pure functions: words in, a parsed request or one sentence out.

Kept free of Slack so every mistake's answer can be tested directly and through the app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from shipbell.bot import durations
from shipbell.bot.deploys.config import DeploySettings
from shipbell.bot.inputs import escape, inline, parse_count, parse_id, user_text

# A git ref: no shell metacharacters, no leading dash (so it can't become an option).
REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]{0,199}$")
INCIDENT = re.compile(r"^(?:INC-?)?([0-9]+)$", re.IGNORECASE)
FLAGS = {"--reason": True, "--for": True, "--limit": True, "--incident": True,
         "--break-glass": True, "--hotfix": False}


def quiet(text: str) -> str:
    """Reasons are stored and echoed into channels as safe mrkdwn: mentions of people stay,
    @channel/@here/group pings become words, links can't be disguised, `&<>` are escaped."""
    return user_text(text)


shown = inline  # a word the user typed, echoed inside a `code span` of an answer


class GrammarError(ValueError):
    """A mistake in the command, already phrased as the one sentence the user sees."""


@dataclass
class Options:
    reason: str | None = None
    duration: timedelta | None = None
    limit: int | None = None
    incident: int | None = None
    break_glass: str | None = None
    hotfix: bool = False


@dataclass(frozen=True)
class Target:
    service: str
    env: str
    ref: str


def split_options(words: list[str], allowed: set[str]) -> tuple[list[str], Options]:
    """Pull `--flag value` pairs out of ``words``; refuse flags this subcommand doesn't take."""
    positional: list[str] = []
    opts = Options()
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("--"):
            positional.append(word)
            i += 1
            continue
        name, _, inline = word.partition("=")
        if name not in FLAGS or name not in allowed:
            takes = ", ".join(f"`{f}`" for f in sorted(allowed)) or "no options"
            raise GrammarError(f"`{shown(name)}` doesn't apply here; this takes {takes}.")
        value: str | None = None
        if FLAGS[name]:
            if inline:
                value = inline
            elif i + 1 < len(words) and not words[i + 1].startswith("--"):
                value = words[i + 1]
                i += 1
            else:
                raise GrammarError(f"`{name}` needs a value, e.g. {_example(name)}.")
        _apply(opts, name, value)
        i += 1
    return positional, opts


def _example(name: str) -> str:
    return {"--reason": '`--reason "hotfix for login"`', "--for": "`--for 2h`",
            "--limit": "`--limit 20`", "--incident": "`--incident INC-42`",
            "--break-glass": '`--break-glass "site down, fix ready"`'}.get(name, name)


def _apply(opts: Options, name: str, value: str | None) -> None:
    if name == "--reason":
        opts.reason = quiet((value or "").strip()) or None
    elif name == "--break-glass":
        opts.break_glass = quiet((value or "").strip()) or None
        if opts.break_glass is None:
            raise GrammarError('`--break-glass` needs a reason, e.g. `--break-glass "site down"`.')
    elif name == "--for":
        opts.duration = parse_duration(value or "")
    elif name == "--limit":
        limit = parse_count(value, 1, 50)
        if limit is None:
            raise GrammarError(f"`--limit {shown(value or '')}`: give a number from 1 to 50,"
                               " e.g. `--limit 20`.")
        opts.limit = limit
    elif name == "--incident":
        opts.incident = parse_incident(value or "")
    elif name == "--hotfix":
        opts.hotfix = True


def parse_duration(text: str) -> timedelta:
    """A lock's length in the shared grammar (``bot.durations``), from 1m to 14d."""
    out_of_range = f"`{shown(text)}` is out of range; locks last from `1m` to `14d`."
    try:
        delta = durations.parse_duration(text)
    except durations.DurationError as exc:
        raise GrammarError(out_of_range if exc.too_long else
                           f"`{shown(text)}` isn't a duration; try `30m`, `2h` or `1d`.") from None
    if not timedelta(minutes=1) <= delta <= timedelta(days=14):
        raise GrammarError(out_of_range)
    return delta


def parse_incident(text: str) -> int:
    match = INCIDENT.match(text.strip())
    number = parse_id(match.group(1)) if match else None
    if number is None:
        raise GrammarError(f"`{shown(text)}` isn't an incident; name one like `INC-42` or `42`.")
    return number


def service_first(config: DeploySettings, words: list[str], usage: str) -> None:
    """Catch `production api` (env before service); ``usage`` is e.g. "lock {service} {env}"."""
    rest = words[1:] if words and words[0].lower() in ("to", "in") else words
    if len(rest) < 2 or rest[0].lower() in config.services:
        return
    named, env = rest[1], rest[0].lower()
    service = config.services.get(named.partition("@")[0].lower())
    if service is None or env not in service.environments:
        return
    example = " ".join([usage.format(service=named, env=env), *rest[2:]])
    raise GrammarError(f"Name the service first: `/deploy {escape(example)}`.")


def known_services(config: DeploySettings) -> str:
    return ", ".join(config.services) or "none configured yet"


def service_name(config: DeploySettings, word: str) -> str:
    if word.lower() in config.services:
        return word.lower()
    if word not in config.services:
        raise GrammarError(
            f"`{shown(word)}`? Never heard of it. Known services: {known_services(config)}."
        )
    return word


def env_name(config: DeploySettings, service: str, word: str) -> str:
    envs = config.services[service].environments
    if word.lower() in envs:
        return word.lower()
    if word not in envs:
        raise GrammarError(f"{service} has no `{shown(word)}` environment ({', '.join(envs)}).")
    return word


def target(config: DeploySettings, words: list[str], *, joiner: str = "to",
           allow_ref: bool = True) -> Target:
    """`<service>[@<ref>] [to] <env>`; env falls back to the service's default."""
    if not words:
        raise GrammarError(f"Which service? Known services: {known_services(config)}.")
    head, _, ref = ("", "", "") if words[0].startswith("<") else words[0].partition("@")
    service = service_name(config, head or words[0])
    svc = config.services[service]
    if "@" in words[0]:
        if not allow_ref:
            raise GrammarError(f"Leave out `@{shown(ref)}` here: name the service alone,"
                               f" e.g. `{head}`.")
        if not REF.match(ref):
            raise GrammarError(
                f"`{shown(ref)}` isn't a valid git ref; use a branch, tag or sha "
                "such as `main` or `v1.4.2`."
            )
    rest = words[1:]
    if rest and rest[0].lower() in ("to", "in"):  # `rollback api to prod` reads fine too
        rest = rest[1:]
    if len(rest) > 1:
        raise GrammarError(
            f"I read `{shown(' '.join(rest))}` as more than one environment; "
            f"quote reasons with `--reason \"…\"`."
        )
    if not rest:
        if svc.default_env is None:
            raise GrammarError(
                f"Where to? {service} has {', '.join(svc.environments)}: "
                f"e.g. `/deploy {service} {joiner} {next(iter(svc.environments))}`."
            )
        env = svc.default_env
    else:
        env = env_name(config, service, rest[0])
    return Target(service, env, ref or svc.default_ref)
