"""Odd and hostile `/deploy` input: huge texts, emoji, quotes, mentions, words out of order.

Whatever arrives, Slack must accept what Shipbell posts (the double records any Block Kit
violation and the fixture fails the test), and every mistake gets one sentence and an example.
"""

from __future__ import annotations

import pytest
from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import deploy_config
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.blockkit import validate_blocks
from shipbell.bot.slackdouble.cast import ANA, BOB, DEPLOYS, EVE
from shipbell.handlers.deploy.ids import Action

OPS = "C0OPS0001"

pytest_plugins = ("fakes.fixtures",)

EMOJI = "🚀"
MENTIONS = f'<@{EVE}|eve> <#{OPS}|ops> <!channel> "quoted" ‘smart’ '


def long_text(n: int) -> str:
    """Text of about ``n`` characters mixing emoji, quotes and Slack references."""
    unit = f"{EMOJI} fix ünïcode {MENTIONS}"
    return (unit * (n // len(unit) + 1))[:n].replace('"', "'")


def posted(bell: LocalShipbell) -> str:
    return str([c.args for c in bell.double.calls_to("chat.postMessage")]
               + [c.args for c in bell.double.calls_to("chat.update")])


@pytest.fixture
async def bell(make_bell: MakeBell, ci: FakeCI) -> LocalShipbell:
    return await make_bell(deploy_config(ci.url, approvals=1))


async def test_huge_reason_and_break_glass_stay_within_slack_limits(
        bell: LocalShipbell, ci: FakeCI) -> None:
    reason = long_text(1900)
    why = long_text(1900)
    ack = await bell.command("/deploy", f'api@v1 to production --reason "{reason}" '
                                        f'--break-glass "{why}"', user=ANA)
    assert ack.status == 200 and len(ack.text) < 600, ack.text
    await bell.idle()
    message = next(m for m in bell.double.messages(DEPLOYS) if m.get("blocks"))
    assert EMOJI in str(message["blocks"])
    await bell.driver.press(message, Action.APPROVE, user=BOB)
    await ci.wait_jobs(1)
    await ci.callback(bell.runtime.url, 1, "failed", error=long_text(5000),
                      log_url="https://ci.example/run/1|<!channel>",
                      version="v" * 500, changes=[{"sha": "a" * 40, "title": long_text(900),
                                                   "author": long_text(300)}] * 1)
    await bell.idle()
    everything = posted(bell)
    assert "<!channel>" not in everything  # quieted everywhere: never pings the channel
    row = bell.core.store.one("SELECT state, log_url FROM deploys WHERE id = 1")
    assert row == {"state": "failed", "log_url": None}  # a link that would break `<url|log>`


async def test_explain_with_a_huge_break_glass_reason_stays_short(make_bell: MakeBell,
                                                                  ci: FakeCI) -> None:
    forever = {"name": "forever", "timezone": "UTC", "start": "2000-01-01T00:00",
               "end": "2100-01-01T00:00"}
    bell = await make_bell(deploy_config(ci.url, approvals=1, break_glass=[ANA],
                                         freezes=[forever]))
    why = long_text(3500)
    ack = await bell.command("/deploy", f'explain api to production --break-glass "{why}"')
    assert ack.text.startswith("Dry run of api@main to production: would start now.")
    assert ack.text.count("break-glass: ") == 2 and len(ack.text) < 1500, ack.text


async def test_takeover_offer_for_a_long_emoji_reason_is_valid_block_kit(
        bell: LocalShipbell) -> None:
    await bell.command("/deploy", "lock api production db migration", user=BOB)
    reason = EMOJI * 400
    ack = await bell.command("/deploy", f"lock api production {reason}")
    data = ack.json or {}
    assert f"locked by <@{BOB}>" in ack.text
    assert data.get("blocks") and validate_blocks(data["blocks"]) == []
    await bell.driver.press({"blocks": data["blocks"], "ts": "1.0", "channel": DEPLOYS},
                            Action.TAKE_OVER, user=ANA)
    await bell.idle()
    lock = bell.core.store.one("SELECT holder, reason FROM locks")
    assert lock == {"holder": ANA, "reason": reason}


async def test_overlong_lock_reason_gets_one_sentence(bell: LocalShipbell) -> None:
    ack = await bell.command("/deploy", f"lock api production {EMOJI * 600}")
    assert ack.text == ("Keep a lock reason under 500 characters (yours has 600), e.g. "
                        "`/deploy lock api production db migration`.")
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM locks") == {"n": 0}


async def test_forgiving_words(bell: LocalShipbell) -> None:
    """Habits from other tools that are unambiguous still work."""
    ack = await bell.command("/deploy", "deploy api@v3 to staging")
    assert ack.text.startswith("Deploying api@v3 to staging (#1)")
    ack = await bell.command("/deploy", "rollback api to staging")
    assert ack.text == ("api has no successful deploy to staging yet, so there is nothing to "
                        "roll back.")


@pytest.mark.parametrize(("text", "expected"), [
    ("production api", "Name the service first: `/deploy api to production`."),
    ("to production api@v2", "Name the service first: `/deploy api@v2 to production`."),
    ("staging web", "Name the service first: `/deploy web to staging`."),
    ("lock production api db migration",
     "Name the service first: `/deploy lock api production db migration`."),
    ("rollback production api", "Name the service first: `/deploy rollback api in production`."),
    ("history production api", "Name the service first: `/deploy history api production`."),
    ("unlock production api", "Name the service first: `/deploy unlock api production`."),
    (f"api@{EMOJI} to production", f"`{EMOJI}` isn't a valid git ref"),
    ("ápi to production", "`ápi`? Never heard of it. Known services: web, api, worker."),
    (f"<@{EVE}|eve> to production", f"`&lt;@{EVE}|eve&gt;`? Never heard of it."),
    (f"api to <#{OPS}|ops>",
         f"api has no `&lt;#{OPS}|ops&gt;` environment (staging, production)."),
    ("api to production --force", "`--force` doesn't apply here; this takes"),
    ("api to production --break-glass", "`--break-glass` needs a value"),
    ('api to production --break-glass "  "', "`--break-glass` needs a reason"),
    ("cancel #abc", "Cancel which deploy? Give its number, e.g. `/deploy cancel 12`."),
    ("cancel 1 2", "Cancel which deploy? Give its number, e.g. `/deploy cancel 12`."),
    ("status api production", "`/deploy status` takes at most a service"),
    ("history api production staging", "History of what?"),
    ("locks api", "`/deploy locks` takes nothing more; it lists every lock."),
])
async def test_odd_words_get_one_sentence(bell: LocalShipbell, text: str, expected: str) -> None:
    ack = await bell.command("/deploy", text)
    assert expected in ack.text, ack.text
    assert ack.text.count(". ") <= 2 and len(ack.text) < 400, ack.text
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM deploys") == {"n": 0}
