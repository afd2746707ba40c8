"""The HTTP endpoint: signatures, replays, fast acks, dedupe, errors, health and metrics."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import aiohttp
import pytest
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.cast import ANA, GENERAL


def task_count(bell: LocalShipbell) -> int:
    return bell.core.store.one("SELECT COUNT(*) AS n FROM tasks")["n"]


async def test_signed_command_is_acked_with_usage(bell: LocalShipbell) -> None:
    ack = await bell.command("/deploy", "")
    assert ack.status == 200
    assert "/deploy help" in ack.text


async def test_unknown_subcommand_gets_one_sentence_with_what_works(bell: LocalShipbell) -> None:
    ack = await bell.command("/release", "frobnicate now")
    assert ack.status == 200
    assert "`/release frobnicate`?" in ack.text and "/release help" in ack.text


async def test_over_long_text_is_refused(bell: LocalShipbell) -> None:
    ack = await bell.command("/deploy", "x" * 4001)
    assert ack.status == 200
    assert "4,001 characters" in ack.text and "up to 4,000" in ack.text


async def test_health_reports_a_bad_token(make_bell: Any) -> None:
    bell = await make_bell()
    bell.double.fail_next("auth.test", "invalid_auth")
    await bell.runtime.refresh_identity()
    async with aiohttp.ClientSession() as http, http.get(bell.runtime.url + "/healthz") as resp:
        body = await resp.json()
    assert body["slack"] == "invalid_auth"


async def test_forged_signature_gets_401_and_changes_nothing(bell: LocalShipbell) -> None:
    before = len(bell.double.calls)
    ack = await bell.command("/deploy", "help", signature="v0=" + "0" * 64)
    assert ack.status == 401
    assert len(bell.double.calls) == before
    assert task_count(bell) == 0


async def test_replayed_request_outside_five_minutes_gets_401(bell: LocalShipbell) -> None:
    ack = await bell.command("/deploy", "help", timestamp=int(time.time()) - 301)
    assert ack.status == 401


async def test_unsigned_request_gets_401(bell: LocalShipbell) -> None:
    ack = await bell.driver.raw(b"command=%2Fdeploy&text=help",
                                {"Content-Type": "application/x-www-form-urlencoded"})
    assert ack.status == 401


async def test_url_verification_echoes_the_challenge(bell: LocalShipbell) -> None:
    ack = await bell.driver.url_verification("c-123")
    assert ack.status == 200 and "c-123" in ack.body


async def test_event_retries_are_acknowledged_but_processed_once(bell: LocalShipbell) -> None:
    seen: list[str] = []

    @bell.runtime.app.event("app_mention")
    async def on_mention(event: dict[str, Any]) -> None:
        seen.append(event["text"])

    event = {"type": "app_mention", "user": ANA, "text": "hi", "channel": GENERAL}
    first = await bell.driver.event(event, event_id="Ev1")
    retry = await bell.driver.event(event, event_id="Ev1", retry_num=1)
    other = await bell.driver.event(event, event_id="Ev2")
    assert (first.status, retry.status, other.status) == (200, 200, 200)
    assert seen == ["hi", "hi"]  # Ev1 once, Ev2 once


async def test_listener_error_becomes_ephemeral_with_error_id_logged(
    bell: LocalShipbell, caplog: pytest.LogCaptureFixture
) -> None:
    @bell.runtime.app.command("/boom")
    async def boom(ack: Any) -> None:
        raise RuntimeError("kaboom")

    with caplog.at_level(logging.ERROR, logger="shipbell"):
        ack = await bell.command("/boom", "")
    assert ack.status == 200
    match = re.search(r"Something went wrong \(error id ([0-9a-f]{8})\)", ack.text)
    assert match, ack.body
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "kaboom" not in ack.text


async def test_health_reports_store_and_slack(bell: LocalShipbell) -> None:
    async with aiohttp.ClientSession() as http, http.get(bell.runtime.url + "/healthz") as resp:
        body = await resp.json()
    assert resp.status == 200
    assert body["store"] is True and body["slack"] == "ok"
    assert body["schema_version"] >= 3


async def test_metrics_count_requests_and_ack_latency(bell: LocalShipbell) -> None:
    await bell.command("/deploy", "help")
    await bell.command("/deploy", "help", signature="v0=bad")
    async with aiohttp.ClientSession() as http, http.get(bell.runtime.url + "/metrics") as resp:
        text = await resp.text()
    assert resp.status == 200
    assert 'shipbell_requests_total{kind="command",name="/deploy",outcome="ok"} 1.0' in text
    assert 'outcome="unauthorized"' in text
    assert 'shipbell_ack_latency_seconds_count{kind="command"} 1.0' in text
    assert 'shipbell_ack_latency_seconds_count{kind="unverified"} 1.0' in text  # body unread


async def test_secrets_never_reach_logs(
    bell: LocalShipbell, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        await bell.command("/deploy", "help")
        await bell.command("/nothing", "")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert bell.signing_secret not in logged and bell.double.token not in logged
    assert "xoxb" not in repr(bell.core.secrets)  # typed as secrets: never printed


async def test_action_error_reaches_the_user_through_response_url(bell: LocalShipbell) -> None:
    @bell.runtime.app.action("explode")
    async def explode(ack: Any) -> None:
        raise RuntimeError("kaboom")

    ack = await bell.driver.action("explode", "1")
    assert ack.status == 200
    call = await bell.double.wait_for("response_url")
    assert "Something went wrong (error id" in call.args["text"]
    assert call.args["response_type"] == "ephemeral"
