"""`/deploy` subcommands: parse the words, call the domain, answer in one reply.

Everything here runs before the ack, on the store's thread (``Router.route`` is one
``store.run`` turn), so it only touches the database; provider calls and Slack posts are
left to tasks the domain submits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from shipbell.bot.clock import humanize
from shipbell.bot.deploys import grammar, lockops
from shipbell.bot.deploys.gates import FAIL, WAIT, Ask
from shipbell.bot.deploys.grammar import GrammarError
from shipbell.bot.deploys.locks import MAX_REASON
from shipbell.bot.deploys.models import ACTIVE, WAITING
from shipbell.bot.deploys.service import DeployService
from shipbell.bot.inputs import parse_id, user_text
from shipbell.handlers.common import SlashCommand, ephemeral, unknown_subcommand
from shipbell.handlers.deploy import messages
from shipbell.handlers.deploy.ids import COMMAND

SUBCOMMANDS = ["rollback", "status", "history", "lock", "unlock", "locks", "cancel", "explain",
               "help"]
DEPLOY_FLAGS = {"--reason", "--incident", "--break-glass", "--hotfix"}
HELP = """*`/deploy`*, ship from Slack:
• `/deploy <service>[@<ref>] [to] <env> [--reason "…"]`: deploy (ref and env have defaults)
   options: `--incident INC-42` (fixes an open incident), `--hotfix`, `--break-glass "why"`
• `/deploy rollback <service> [in] <env>`: redeploy the last good version before the current one
• `/deploy status [<service>]`: what runs where, and what's in flight
• `/deploy history <service> [<env>] [--limit N]`
• `/deploy lock <service> <env> <reason> [--for 2h]` · `/deploy unlock <service> <env>`
• `/deploy locks`: who holds what
• `/deploy cancel <deploy-id>`
• `/deploy explain <service>[@<ref>] [to] <env>`: every gate, without deploying
• `/deploy help`: this list"""


Subcommand = Callable[[Any, SlashCommand], Awaitable[None]]  # (ack, cmd): acks on its own


class Subcommands(dict[str, Subcommand]):
    """Words other features add to `/deploy`, e.g. `stats` from the digest feature: each adds
    its word here (``core.registry.ensure(Subcommands, Subcommands)``), the router calls it."""


class Router:
    def __init__(self, svc: DeployService, extra: Subcommands) -> None:
        self.svc = svc
        self.config = svc.config
        self.extra = extra  # word -> async fn(ack, cmd)

    def help(self) -> str:
        words = sorted(self.extra)
        more = ("\n• " + ", ".join(f"`/deploy {w}`" for w in words)) if words else ""
        return HELP + more

    def at_once(self, cmd: SlashCommand) -> dict[str, Any] | None:
        """The answer to a command that needs no database (help), else None: it is answered
        on the loop, without a turn on the store's thread."""
        words = cmd.words
        if not words or words[0] in ("help", "-h", "--help"):
            return ephemeral(self.help())
        return None

    def route(self, cmd: SlashCommand) -> dict[str, Any]:
        words = cmd.words
        if (answer := self.at_once(cmd)) is not None:
            return answer
        head, rest = words[0], words[1:]
        handler = getattr(self, f"do_{head}", None) if head in SUBCOMMANDS else None
        try:
            if handler is not None:
                return handler(cmd, rest)
            if not self.config.services:
                return ephemeral(unknown_subcommand(COMMAND, head, SUBCOMMANDS + sorted(self.extra))
                                 + " No services are configured yet (`[deploy.services]`).")
            return self.do_deploy(cmd, words)
        except GrammarError as exc:
            return ephemeral(str(exc))

    # -- deploying ---------------------------------------------------------------------------
    def do_deploy(self, cmd: SlashCommand, words: list[str]) -> dict[str, Any]:
        positional, opts = grammar.split_options(words, DEPLOY_FLAGS)
        habit = positional[0].lower() if len(positional) > 1 else ""
        if habit in ("deploy", "ship") and habit not in self.config.services:
            positional = positional[1:]  # `/deploy deploy api`: the hubot habit
        grammar.service_first(self.config, positional, "{service} to {env}")
        target = grammar.target(self.config, positional)
        ask = Ask(target.service, target.env, cmd.user, cmd.channel, opts.incident,
                  opts.break_glass)
        outcome = self.svc.request(ask, target.ref, key=_key(cmd), reason=opts.reason,
                                   hotfix=opts.hotfix)
        return ephemeral(outcome.text)

    def do_rollback(self, cmd: SlashCommand, words: list[str]) -> dict[str, Any]:
        positional, opts = grammar.split_options(words, {"--reason", "--incident",
                                                         "--break-glass"})
        if not positional:
            raise GrammarError("Roll back what? e.g. `/deploy rollback api production`.")
        grammar.service_first(self.config, positional, "rollback {service} in {env}")
        target = grammar.target(self.config, positional, joiner="in", allow_ref=False)
        outcome = self.svc.rollback(target.service, target.env, cmd.user, cmd.channel,
                                    key=_key(cmd), incident=opts.incident,
                                    break_glass=opts.break_glass, reason=opts.reason)
        return ephemeral(outcome.text)

    def do_explain(self, cmd: SlashCommand, words: list[str]) -> dict[str, Any]:
        positional, opts = grammar.split_options(words, DEPLOY_FLAGS)
        if not positional:
            raise GrammarError("Explain what? e.g. `/deploy explain api to production`.")
        grammar.service_first(self.config, positional, "explain {service} to {env}")
        target = grammar.target(self.config, positional)
        ask = Ask(target.service, target.env, cmd.user, cmd.channel, opts.incident,
                  opts.break_glass)
        results = self.svc.gates.check(ask, self.svc.core.clock.now(), stop_at_failure=False)
        if any(r.outcome == FAIL for r in results):
            verdict = "would be refused"
        elif results[-1].outcome == WAIT:
            verdict = "would wait for approval"
        elif results[2].outcome == WAIT:
            verdict = "would queue"
        else:
            verdict = "would start now"
        head = f"Dry run of {target.service}@{target.ref} to {target.env}: {verdict}."
        provider = self.config.services[target.service].provider
        kind = self.config.providers[provider].type
        tail = f"\nIt would run with `{provider}` ({kind}); nothing was deployed."
        return ephemeral(head + "\n" + messages.gate_lines(results) + tail)

    # -- looking -----------------------------------------------------------------------------
    def do_status(self, cmd: SlashCommand, words: list[str]) -> dict[str, Any]:
        positional, _ = grammar.split_options(words, set())
        if len(positional) > 1:
            raise GrammarError("`/deploy status` takes at most a service, e.g. "
                               "`/deploy status api`.")
        services = ([grammar.service_name(self.config, positional[0])] if positional
                    else list(self.config.services))
        if not services:
            return ephemeral("No services configured yet; add them under `[deploy.services]`.")
        now = self.svc.core.clock.now()
        lines: list[str] = []
        for service in services:
            lines.append(f"*{service}*")
            for env in self.config.services[service].environments:
                current = self.svc.repo.succeeded(service, env, limit=1)
                where = (f"`{messages.code(current[0].version or current[0].ref)}`"
                         f" (#{current[0].id}, "
                         f"{humanize(now - current[0].finished_at)} ago)"
                         if current and current[0].finished_at else "nothing deployed yet")
                lock = self.svc.locks.get(service, env, now)
                locked = f" · :lock: <@{lock.holder}>: {user_text(lock.reason)}" if lock else ""
                flight = self.svc.repo.in_states((*WAITING, *ACTIVE), service, env)
                moving = ("; in flight: " + ", ".join(
                    f"#{d.id} `{messages.code(d.ref)}` {d.state.label}" for d in flight[:5])
                          ) if flight else ""
                lines.append(f"• {env}: {where}{locked}{moving}")
        return ephemeral("\n".join(lines))

    def do_history(self, cmd: SlashCommand, words: list[str]) -> dict[str, Any]:
        positional, opts = grammar.split_options(words, {"--limit"})
        if not positional or len(positional) > 2:
            raise GrammarError("History of what? e.g. `/deploy history api production`.")
        grammar.service_first(self.config, positional, "history {service} {env}")
        service = grammar.service_name(self.config, positional[0])
        env = grammar.env_name(self.config, service, positional[1]) if len(positional) > 1 else None
        limit = opts.limit or self.config.history_limit
        found = self.svc.repo.history(service, env, limit)
        if not found:
            return ephemeral(f"No deploys of {service}{' to ' + env if env else ''} yet.")
        lines = [messages.deploy_line(d) for d in found]
        head = f"Last {len(found)} deploys" if len(found) > 1 else "Last deploy"
        return ephemeral(f"{head} of {service}:\n" + "\n".join(lines))

    def do_locks(self, cmd: SlashCommand, words: list[str]) -> dict[str, Any]:
        if words:
            raise GrammarError("`/deploy locks` takes nothing more; it lists every lock.")
        now = self.svc.core.clock.now()
        held = self.svc.locks.all(now)
        if not held:
            return ephemeral("Nothing is locked.")
        return ephemeral("\n".join(messages.lock_line(lock, now) for lock in held))

    # -- changing ----------------------------------------------------------------------------
    def do_lock(self, cmd: SlashCommand, words: list[str]) -> dict[str, Any]:
        positional, opts = grammar.split_options(words, {"--for", "--reason"})
        if len(positional) < 2:
            raise GrammarError("Lock what? e.g. `/deploy lock api production db migration`.")
        grammar.service_first(self.config, positional, "lock {service} {env}")
        service = grammar.service_name(self.config, positional[0])
        env = grammar.env_name(self.config, service, positional[1])
        reason = grammar.quiet(" ".join(positional[2:]).strip()) or (opts.reason or "")
        if not reason:
            raise GrammarError(f"A lock needs a reason: `/deploy lock {service} {env} "
                               "db migration`.")
        if len(reason) > MAX_REASON:
            raise GrammarError(f"Keep a lock reason under {MAX_REASON} characters (yours has "
                               f"{len(reason)}), e.g. `/deploy lock {service} {env} db migration`.")
        outcome = lockops.lock(self.svc, service, env, cmd.user, reason, opts.duration,
                               cmd.channel)
        if outcome.holder and outcome.request_id:
            return messages.takeover_offer(outcome.text, outcome.request_id, outcome.holder)
        return ephemeral(outcome.text)

    def do_unlock(self, cmd: SlashCommand, words: list[str]) -> dict[str, Any]:
        positional, _ = grammar.split_options(words, set())
        grammar.service_first(self.config, positional, "unlock {service} {env}")
        if len(positional) != 2:
            raise GrammarError("Unlock what? e.g. `/deploy unlock api production`.")
        service = grammar.service_name(self.config, positional[0])
        env = grammar.env_name(self.config, service, positional[1])
        outcome = lockops.unlock(self.svc, service, env, cmd.user, cmd.channel)
        if outcome.holder and outcome.request_id:  # someone else's lock: confirm first
            return messages.unlock_offer(outcome.text, outcome.request_id, outcome.holder)
        return ephemeral(outcome.text)

    def do_cancel(self, cmd: SlashCommand, words: list[str]) -> dict[str, Any]:
        positional, _ = grammar.split_options(words, set())
        deploy_id = parse_id(positional[0]) if len(positional) == 1 else None
        if deploy_id is None:
            raise GrammarError("Cancel which deploy? Give its number, e.g. `/deploy cancel 12`.")
        return ephemeral(self.svc.cancel(deploy_id, cmd.user, cmd.channel).text)


def _key(cmd: SlashCommand) -> str | None:
    """Slack's trigger_id is unique per invocation: a retried request reuses it."""
    return f"cmd:{cmd.trigger_id}" if cmd.trigger_id else None


