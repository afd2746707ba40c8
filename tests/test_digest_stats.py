"""`/deploy stats` through the deploy router: instant ack, ephemeral answer via response_url."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fakes.slow import answered
from fakes.waiting import until
from shipbell.bot.clock import FakeClock
from shipbell.bot.slackdouble.cast import ANA, CARL, DEPLOYS, GENERAL, ONCALL
from shipbell.handlers.digest.stats import parse
from test_digest_post import seeded, texts

CONFIG = {"timezone": "Europe/Paris"}
NOW = datetime(2026, 11, 25, 8, tzinfo=UTC)


async def test_stats_for_a_service_answers_only_the_asker(make_bell: Any, clock: FakeClock) -> None:
    bell = await seeded(make_bell, clock, NOW, CONFIG)
    bell.double.hold("response_url")
    ack = await answered(bell.command("/deploy", "stats api", user=CARL))
    assert ack.status == 200 and ack.text == ""
    # Acked empty; the answer comes after, computed and waiting to be delivered.
    await until(lambda: bell.double.waiting.get("response_url") == 1)
    bell.double.release("response_url")
    call = await bell.double.wait_for("response_url")
    assert call.args["response_type"] == "ephemeral"
    body = texts(call.args["blocks"])
    assert "Delivery digest · api · Nov 18–24" in body
    assert "production · api · 4 deploys" in body
    assert "*Change failure rate:* 50.0% (2 of 4)" in body
    assert "By service" not in body  # one service: no breakdown
    assert "Secret" not in body and "a private SEV1 incident: open 19 h" in body
    assert [e["user"] for e in bell.double.state.ephemerals] == [CARL]
    assert bell.double.messages(DEPLOYS) == []  # nothing public


async def test_stats_28_days_for_everything(make_bell: Any, clock: FakeClock) -> None:
    bell = await seeded(make_bell, clock, NOW, CONFIG)
    await bell.command("/deploy", "stats 28d")
    call = await bell.double.wait_for("response_url")
    body = texts(call.args["blocks"])
    assert "Oct 28–Nov 24 vs Sep 30–Oct 27 · production · 10 deploys" in body
    assert "• api: 7 deploys" in body and "• web: 3 deploys" in body


async def test_unknown_service_gets_the_known_ones(make_bell: Any, clock: FakeClock) -> None:
    bell = await seeded(make_bell, clock, NOW, CONFIG)
    await bell.command("/deploy", "stats paymnts 7d")
    call = await bell.double.wait_for("response_url")
    assert call.args["text"] == (
        "`paymnts`? I have no deploys of it on record. Services with deploys: `api`, `web`."
    )
    await bell.command("/deploy", "stats API")
    call = await bell.double.wait_for("response_url", lambda c: "API" in c.args["text"])
    assert call.args["text"] == (
        "`API`? I have no deploys of it on record; did you mean `/deploy stats api`?"
    )


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("stats api 30d", "`30d` isn't a period I keep; Try `/deploy stats`"),
        ("stats api web", "One service at a time (`api` or `web`)."),
        (f"stats <@{ANA}|ana>", "That's a person or a group; stats are per service. Try"),
        (f"stats <!subteam^{ONCALL}|@oncall>", "That's a person or a group"),
        (f"stats <#{GENERAL}|general> 7d", "That's a channel; stats are per service. Try"),
        ("stats api 7", "`7` needs a unit: `7d`."),
        ("stats 7d api 28d", "One period at a time (`7d` or `28d`)."),
        ("stats 2w", "`2w` isn't a period I keep"),
        ("stats <!channel>", "`&lt;!channel&gt;` isn't a service name."),
        ("stats 🚀 api", "`🚀` isn't a service name."),
        ("stats '`rm -rf`'", "`'rm -rf'` isn't a service name."),
        ("stats " + "x" * 3990 + "!", "`" + "x" * 39 + "…` isn't a service name."),
    ],
)
async def test_bad_input_is_answered_in_one_sentence_at_once(
    make_bell: Any, text: str, answer: str
) -> None:
    bell = await make_bell()
    ack = await bell.command("/deploy", text)
    assert answer in ack.text and "/deploy stats api 28d" in ack.text
    assert len(ack.text) < 300 and "<!channel>" not in ack.text
    await bell.idle()
    assert bell.double.calls_to("response_url") == []


def test_parse_accepts_any_order() -> None:
    assert parse(["28d", "api"]) == ("api", 28, None)
    assert parse(["7days"]) == (None, 7, None)
    assert parse(["api", "4w"]) == ("api", 28, None) and parse(["1week"]) == (None, 7, None)
    assert parse([]) == (None, None, None)
