"""Shared set-up for the incident tests (no tests here): config, seeding, declaring."""

from __future__ import annotations

from typing import Any

from shipbell.bot.clock import to_db
from shipbell.bot.incidents.demo import DEMO_CONFIG
from shipbell.bot.local import LocalShipbell, merge
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, DANA, EVE, GENERAL, LEADS, ONCALL

CONFIG: dict[str, Any] = {"incident": DEMO_CONFIG}


async def start(
    make_bell: Any, extra: dict[str, Any] | None = None, *, other: dict[str, Any] | None = None
) -> LocalShipbell:
    """A Shipbell with the demo [incident] section (plus ``extra``) and other sections."""
    config = merge(merge(CONFIG, {"incident": extra or {}}), other or {})
    bell: LocalShipbell = await make_bell(config)
    bell.double.add_usergroup(ONCALL, "oncall", [BOB, CARL])
    bell.double.add_usergroup(LEADS, "leads", [EVE])
    return bell


def row(bell: LocalShipbell, incident_id: int | None = None) -> dict[str, Any]:
    store = bell.core.store
    if incident_id is None:
        found = store.one("SELECT * FROM incidents ORDER BY id DESC LIMIT 1")
    else:
        found = store.one("SELECT * FROM incidents WHERE id = ?", (incident_id,))
    assert found is not None
    return found


async def declare(
    bell: LocalShipbell, text: str = "open DB latency sev2 --service api", *,
    user: str = ANA, channel: str = GENERAL,
) -> dict[str, Any]:
    ack = await bell.command("/incident", text, user=user, channel=channel)
    assert ack.status == 200, ack.body
    assert "Declared" in ack.text, ack.text
    await bell.idle()
    return row(bell)


async def run(bell: LocalShipbell, text: str, incident: dict[str, Any], *,
              user: str = ANA) -> str:
    """A command typed in the incident's channel; returns the ack's text after tasks settle."""
    ack = await bell.command("/incident", text, user=user, channel=incident["channel_id"])
    assert ack.status == 200, ack.body
    await bell.idle()
    return ack.text


def timeline(bell: LocalShipbell, incident_id: int) -> list[dict[str, Any]]:
    return bell.core.store.all(
        "SELECT at, kind, actor, text, permalink FROM incident_timeline"
        " WHERE incident_id = ? ORDER BY at, id", (incident_id,))


def seed_deploy(bell: LocalShipbell, *, service: str = "api", env: str = "production",
                version: str = "v42", state: str = "succeeded", minutes_ago: int = 30) -> int:
    from datetime import timedelta

    now = bell.core.clock.now()
    finished = to_db(now - timedelta(minutes=minutes_ago))
    cursor = bell.core.store.execute(
        "INSERT INTO deploys (service, env, ref, version, state, requester, requested_at,"
        f" started_at, finished_at) VALUES (?, ?, 'main', ?, ?, '{DANA}', ?, ?, ?) RETURNING id",
        (service, env, version, state, finished, finished, finished))
    return int(cursor.fetchone()[0])


def responses(bell: LocalShipbell) -> list[str]:
    return [c.args.get("text", "") for c in bell.double.calls_to("response_url")]
