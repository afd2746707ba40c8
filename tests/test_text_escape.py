"""What people type is echoed as text: never a ping, never a disguised link (issue 9, item 6).

Hostile words go through every command that echoes text, signed, through the real endpoint;
then everything the Slack double received (Web API calls, response_url posts, uploads) and
every ack is searched for a live `<!…>` broadcast, a forged link or an unescaped `&`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import MakeBell
from fakes.configs import deploy_config
from shipbell.bot.clock import FakeClock
from shipbell.bot.incidents.demo import DEMO_CONFIG
from shipbell.bot.inputs import escape, user_text
from shipbell.bot.local import LocalShipbell, merge
from shipbell.bot.slackdouble.cast import ANA, BOB, DEPLOYS, GENERAL, LEADS, ONCALL, RELEASES
from shipbell.bot.slackdouble.driver import SlackDriver
from shipbell.handlers.incident.ids import Block, Field

TRAIN: dict[str, Any] = {
    "channel": RELEASES, "services": ["web", "api"], "timezone": "UTC",
    "weekday": "tue", "time": "14:00", "freeze": "24h", "captains": [ANA, BOB],
}
CONFIG = merge(merge(deploy_config(), {"incident": DEMO_CONFIG}),
               {"release": {"trains": {"web": TRAIN}}})

HOSTILE = {
    "channel": "<!channel> now",
    "here": "<!here|@here> now",
    "everyone": "<!everyone>",
    "group": f"<!subteam^{LEADS}|@leads> paged",
    "link": "<https://evil.example/login|the runbook>",
    "ampersand": "R&D <b>bold</b>",
}
PINGS_AND_LINKS = ("<!channel", "<!here", "<!everyone", f"<!subteam^{LEADS}", "<https://evil",
                   "[the runbook]")
UNESCAPED = ("R&D", "<b>")  # in mrkdwn; the post-mortem file is Markdown and reads `R&D`


def everything(bell: LocalShipbell, acks: list[Any]) -> str:
    """All the text that reached Slack's API and response_urls, plus the acks."""
    calls = [{"method": c.method, "args": c.args} for c in bell.double.calls]
    return json.dumps([calls, [a.body for a in acks]], ensure_ascii=False, default=str)


def uploaded(bell: LocalShipbell) -> str:
    files = [f.get("content", b"") for f in bell.double.state.files.values()]
    assert files, "no post-mortem was uploaded"
    return " ".join(f.decode("utf-8", "replace") if isinstance(f, bytes) else str(f)
                    for f in files)


def live_tokens(text: str, tokens: tuple[str, ...]) -> list[str]:
    return [token for token in tokens if token in text]


async def echoing_commands(bell: LocalShipbell, clock: FakeClock, words: str) -> list[Any]:
    """Every command that echoes someone's text, with ``words`` in each place text goes."""
    q = json.dumps(words)  # a quoted argument, as people type reasons
    acks = []

    async def say(command: str, text: str, **kw: Any) -> None:
        acks.append(await bell.command(command, text, **kw))
        await bell.idle()

    # /deploy: reasons, lock reasons, refs, break-glass, unknown words, limits
    await say("/deploy", f"web to staging --reason {q}")  # ci has no secret: fails fast
    await say("/deploy", f"lock web production {words}")
    await say("/deploy", "locks")
    await say("/deploy", "status web")
    await say("/deploy", "web to production", user=BOB)
    await say("/deploy", "explain web to production", user=BOB)
    await say("/deploy", f"lock web production {words}", user=BOB)
    await say("/deploy", f"api to production --break-glass {q}")
    await say("/deploy", f"web@{q} to staging")
    await say("/deploy", f"history web --limit {q}")
    await say("/deploy", f"cancel {q}")
    await say("/deploy", words)
    # /incident: title, service, status text, updates, notes, follow-ups, summary, post-mortem
    await say("/incident", f"open {words} sev2 --service api", channel=GENERAL)
    inc = bell.core.store.one("SELECT channel_id FROM incidents ORDER BY id DESC LIMIT 1")
    assert inc and inc["channel_id"]
    here = {"channel": inc["channel_id"]}
    await say("/incident", f"open Checkout down --service {q}", channel=GENERAL)
    await say("/incident", f"status identified {words}", **here)
    await say("/incident", f"status {q}", **here)
    await say("/incident", f"update {words}", **here)
    await say("/incident", f"note {words}", **here)
    await say("/incident", f"followup {words} <@{BOB}> due 2026-12-01", **here)
    await say("/incident", f"followup {words} <@{BOB}> due {q}", **here)
    await say("/incident", f"link {q}", **here)
    await say("/incident", "list")
    await say("/incident", f"resolve {words}", **here)
    await say("/incident", "postmortem", **here)
    await say("/incident", q)
    # the declare form
    acks.append(await bell.command("/incident", "", channel=GENERAL))
    view = (await bell.double.wait_for("views.open")).response["view"]
    acks.append(await bell.driver.submit_view(view, {
        Block.TITLE: {Field.TITLE: SlackDriver.text_value(f"Form {words}")},
        Block.SEVERITY: {Field.SEVERITY: SlackDriver.select_value("2", "SEV2")},
        Block.SERVICE: {Field.SERVICE: SlackDriver.text_value("api")},
        Block.DESCRIPTION: {Field.DESCRIPTION: SlackDriver.text_value(words)},
        Block.PRIVATE: {Field.PRIVATE: SlackDriver.checkbox_values([])},
    }))
    await bell.idle()
    # /release: skip and freeze reasons, and their announcements
    await say("/release", f"skip web 2026-11-03 {words}")
    await say("/release", "calendar web")
    await say("/release", f"freeze web 2h {words}")
    await say("/release", "next web")
    await say("/deploy", "explain api to production")  # the freeze gate quotes the reason
    await say("/release", f"freeze web 2h {words}")  # "already frozen by …: <reason>"
    await say("/release", "unfreeze web")
    await say("/release", q)
    await say("/release", f"skip {q} 2026-11-03 x")
    return acks


@pytest.mark.parametrize("words", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_hostile_text_through_every_echoing_command_reaches_slack_inert(
    make_bell: MakeBell, clock: FakeClock, words: str
) -> None:
    bell = await make_bell(CONFIG)
    acks = await echoing_commands(bell, clock, words)
    assert all(a.status == 200 for a in acks), [a.body for a in acks if a.status != 200]
    assert not any("Something went wrong" in a.body for a in acks)
    seen = everything(bell, acks)
    assert live_tokens(seen, PINGS_AND_LINKS + UNESCAPED) == []
    assert live_tokens(uploaded(bell), PINGS_AND_LINKS) == []
    # …and it was echoed at all, as words: the test would pass vacuously otherwise
    if words.startswith("<!here"):
        assert "@here now" in seen
    if words.startswith("R&D"):
        assert "R&amp;D &lt;b&gt;bold&lt;/b&gt;" in seen


async def test_an_incident_service_is_one_of_the_configured_ones(make_bell: MakeBell) -> None:
    bell = await make_bell(CONFIG)
    ack = await bell.command("/incident", "open X --service <!here|@here>", channel=GENERAL)
    assert ack.text == ("`&lt;!here|@here&gt;` isn't a configured service; use one of `api`,"
                        " `web`, `worker`, e.g. `/incident open API errors on checkout sev2"
                        " --service api`.")
    await bell.idle()
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM incidents")["n"] == 0
    assert "<!here" not in json.dumps([c.args for c in bell.double.calls])


async def test_with_no_services_configured_any_plain_slug_is_a_service(
    make_bell: MakeBell,
) -> None:
    bell = await make_bell({"incident": {**DEMO_CONFIG, "services": {}}})
    ack = await bell.command("/incident", "open X --service <b>", channel=GENERAL)
    assert ack.text.startswith("`&lt;b&gt;` isn't a service name; use lower-case letters,")
    ack = await bell.command("/incident", "open Disk full --service Billing-v2",
                             channel=GENERAL)
    assert ack.text.startswith("Declared INC-1 (SEV3): Disk full.")
    await bell.idle()
    assert bell.core.store.one("SELECT service FROM incidents")["service"] == "billing-v2"


async def test_the_declare_form_refuses_an_unknown_service(make_bell: MakeBell) -> None:
    bell = await make_bell(CONFIG)
    await bell.command("/incident", "", channel=GENERAL)
    view = (await bell.double.wait_for("views.open")).response["view"]
    ack = await bell.driver.submit_view(view, {
        Block.TITLE: {Field.TITLE: SlackDriver.text_value("Checkout down")},
        Block.SERVICE: {Field.SERVICE: SlackDriver.text_value("<!channel>")},
    })
    assert ack.json and ack.json["response_action"] == "errors"
    assert ack.json["errors"][Block.SERVICE].startswith(
        "`&lt;!channel&gt;` isn't a configured service; use one of `api`, `web`, `worker`")
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM incidents")["n"] == 0


async def test_a_severity_word_outside_the_configured_ones_is_refused(
    make_bell: MakeBell,
) -> None:
    bell = await make_bell(CONFIG)
    for text in ("open Checkout down sev9", "open Checkout down SEV0", "open Checkout down sev12"):
        ack = await bell.command("/incident", text, channel=GENERAL)
        word = text.rsplit(" ", 1)[1]
        assert ack.text == (f"`{word}` isn't a severity; use sev1 (worst) to sev4, e.g."
                            " `/incident open API errors on checkout sev2 --service api`.")
    await bell.idle()
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM incidents")["n"] == 0
    ack = await bell.command("/incident", "open Checkout down Sev1", channel=GENERAL)
    assert ack.text.startswith("Declared INC-1 (SEV1): Checkout down.")


async def test_mentions_of_people_stay_mentions_and_are_not_escaped_twice(
    make_bell: MakeBell,
) -> None:
    bell = await make_bell(CONFIG)
    await bell.command("/incident", "open Checkout down sev2 --service api", channel=GENERAL)
    await bell.idle()
    channel = bell.core.store.one("SELECT channel_id FROM incidents")["channel_id"]
    # Slack delivers `&` already escaped, and mentions as <@U…|name>
    await bell.command("/incident", f"update asked <@{BOB}|bob> to check R&amp;D <#C0OPS0001|ops>",
                       channel=channel)
    await bell.idle()
    posted = [m["text"] for m in bell.double.messages(channel)]
    assert any(t.endswith(f"update: asked <@{BOB}> to check R&amp;D <#C0OPS0001>") for t in posted)
    topic = bell.double.calls_to("conversations.setTopic")[-1].args["topic"]
    assert f"Commander <@{ANA}>" in topic  # the mention Shipbell builds from a stored id


def test_user_text_is_idempotent_and_keeps_people() -> None:
    for text in [*HOSTILE.values(), "a &amp; b", f"<@{ANA}|ana> <#{GENERAL}|general> <https://ok.example>"]:
        once = user_text(text)
        assert user_text(once) == once and escape(escape(text)) == escape(text)
    assert user_text(f"<@{ANA}|ana> & <!here>") == f"<@{ANA}> &amp; @here"
    assert user_text("<https://evil.example|click>") == "&lt;https://evil.example|click&gt;"


async def test_an_open_incident_title_quoted_by_the_deploy_gate_is_inert(
    make_bell: MakeBell,
) -> None:
    bell = await make_bell(CONFIG)
    await bell.command("/incident", "open <!channel> <https://evil.example|login> sev1"
                       " --service web", channel=GENERAL)
    await bell.idle()
    refused = await bell.command("/deploy", "web to production")
    explained = await bell.command("/deploy", "explain web to production")
    for ack in (refused, explained):
        assert "has an open incident INC-1 (SEV1, @channel &lt;https://evil.example|login&gt;)" \
            in ack.text, ack.text


def test_a_provider_log_is_linked_only_when_it_is_a_plain_address() -> None:
    from shipbell.handlers.deploy.messages import log_link

    assert log_link("https://ci.example/run?id=1&try=2") == \
        "<https://ci.example/run?id=1&amp;try=2|open log>"
    for bad in ("https://ci.example/1|<!channel>", "javascript:alert(1)", "https://a b", None):
        assert log_link(bad) == "—"


async def test_the_group_mention_shipbell_builds_for_approvers_still_pings(
    make_bell: MakeBell,
) -> None:
    bell = await make_bell(deploy_config(approvals=1, approvers=[ONCALL]))
    ack = await bell.command("/deploy", f'web to production --reason "<!subteam^{LEADS}|@leads>"')
    assert f"needs 1 approval from <!subteam^{ONCALL}>" in ack.text
    await bell.idle()
    thread = [m["text"] for m in bell.double.messages(DEPLOYS) if m.get("thread_ts")]
    assert any(f"needs 1 approval from <!subteam^{ONCALL}>" in t for t in thread), thread
    assert f"<!subteam^{LEADS}" not in json.dumps(bell.double.messages(DEPLOYS))
