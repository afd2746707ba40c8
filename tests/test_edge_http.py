"""The Slack endpoint's trust boundary: verify raw bytes first, then parse into typed payloads.

Every request here goes over real HTTP to the real app; what matters is what came back,
what was stored, what /metrics shows and what reached the Slack double.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from fakes.waiting import until
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slack.server import LIMITS
from shipbell.bot.slackdouble.cast import ANA, DEPLOYS, GENERAL
from slack_bolt.async_app import AsyncBoltRequest

FORM = "application/x-www-form-urlencoded"


def rows(bell: LocalShipbell, table: str) -> int:
    return bell.core.store.one(f"SELECT COUNT(*) AS n FROM {table}")["n"]


async def metrics(bell: LocalShipbell) -> str:
    async with aiohttp.ClientSession() as http, http.get(bell.runtime.url + "/metrics") as resp:
        return await resp.text()


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def forged_action(bell: LocalShipbell, action_id: str = "/evil-action") -> bytes:
    """A block_actions body naming a response_url, as an attacker would send it."""
    url = bell.double.new_response_url(DEPLOYS, ANA)
    payload = {"type": "block_actions", "user": {"id": ANA}, "response_url": url,
               "actions": [{"action_id": action_id, "value": "1"}]}
    return urlencode({"payload": json.dumps(payload)}).encode()


def slack_headers(secret: str, body: bytes) -> dict[str, str]:
    """Slack's v0 signature over raw bytes (the SDK's signer can't sign non-UTF-8 bytes)."""
    stamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + mac.hexdigest()}


async def signed(bell: LocalShipbell, body: bytes, content_type: str = FORM) -> Any:
    headers = {"Content-Type": content_type, **slack_headers(bell.signing_secret, body)}
    return await bell.driver.raw(body, headers)


# ---- item 1: an unverified request is refused before anything reads it ---------------------
@pytest.mark.parametrize("stamp", ["abc", "", "1e3", " 12", "²", None, "9" * 40])
async def test_unverifiable_timestamp_is_401_and_nothing_is_sent_stored_or_named(
    bell: LocalShipbell, caplog: pytest.LogCaptureFixture, stamp: str | None
) -> None:
    body = forged_action(bell)
    headers = {"Content-Type": FORM, "X-Slack-Signature": "v0=" + "0" * 64}
    if stamp is not None:
        headers["X-Slack-Request-Timestamp"] = stamp
    before, tasks = len(bell.double.calls), rows(bell, "tasks")
    with caplog.at_level(logging.DEBUG):
        ack = await bell.driver.raw(body, headers)
        await bell.idle()
    assert ack.status == 401
    assert "Something went wrong" not in ack.body
    assert len(bell.double.calls) == before  # no response_url POST, no Web API call
    assert rows(bell, "tasks") == tasks and rows(bell, "idempotency_keys") == 0
    assert not tracebacks(caplog)
    assert "evil-action" not in await metrics(bell)


async def test_bad_signature_on_a_body_that_is_not_utf8_is_401(
    bell: LocalShipbell, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": str(int(time.time())),
               "X-Slack-Signature": "v0=" + "0" * 64}
    with caplog.at_level(logging.DEBUG):
        ack = await bell.driver.raw(b"command=%2Fdeploy&text=\xff\xfe", headers)
        odd = await bell.driver.raw(b"{}", {**headers, "X-Slack-Signature": "v0=\u00e9"})
    assert (ack.status, odd.status) == (401, 401)
    assert not tracebacks(caplog)


async def test_verified_request_that_fails_still_gets_its_sentence(bell: LocalShipbell) -> None:
    """The error handler's response_url path still works for a verified press."""

    @bell.runtime.app.action("explode")
    async def explode(ack: Any) -> None:
        raise RuntimeError("kaboom")

    ack = await bell.driver.action("explode", "1")
    assert ack.status == 200
    call = await bell.double.wait_for("response_url")
    assert "Something went wrong (error id" in call.args["text"]


# ---- item 2: verified but malformed bodies are 400 with one line, never 500 ----------------
def interactive(payload: Any) -> bytes:
    return urlencode({"payload": payload if isinstance(payload, str) else json.dumps(payload)}
                     ).encode()


MALFORMED = {
    "not utf-8": (b"command=%2Fdeploy&text=\xff\xfe", FORM),
    "json list": (b"[1, 2]", "application/json"),
    "json string": (b'"hello"', "application/json"),
    "json number": (b"12", "application/json"),
    "broken json": (b'{"type": ', "application/json"),
    "payload not json": (b"payload=%7Bnope", FORM),
    "payload a list": (interactive([1]), FORM),
    "actions not a list": (interactive({"type": "block_actions", "user": {"id": ANA},
                                        "actions": "deploy.approve"}), FORM),
    "action not an object": (interactive({"type": "block_actions", "user": {"id": ANA},
                                          "actions": ["deploy.approve"]}), FORM),
    "user a string": (interactive({"type": "block_actions", "user": ANA,
                                   "actions": [{"action_id": "deploy.approve"}]}), FORM),
    "view a string": (interactive({"type": "view_submission", "user": {"id": ANA},
                                   "view": "incident.declare"}), FORM),
    "state not an object": (interactive({"type": "view_submission", "user": {"id": ANA},
                                         "view": {"callback_id": "incident.declare",
                                                  "state": {"values": [1]}}}), FORM),
    "event not an object": (json.dumps({"type": "event_callback", "event_id": "Ev1",
                                        "event": "pin_added"}).encode(), "application/json"),
    "event without a type": (json.dumps({"type": "event_callback", "event_id": "Ev1",
                                         "event": {"user": ANA}}).encode(),
                             "application/json"),
    "command without a user": (b"command=%2Fdeploy&text=help", FORM),
    "bogus charset": (b"command=%2Fdeploy&text=help&user_id=U0ANA0001&channel_id=C0DEPLOYS",
                      FORM + "; charset=no-such-charset"),
    "utf-16": ('{"type": "url_verification", "challenge": "x"}'.encode("utf-16"),
               "application/json; charset=utf-16"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_malformed_verified_body_is_400_with_one_log_line(
    bell: LocalShipbell, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, content_type = MALFORMED[case]
    before = len(bell.double.calls)
    with caplog.at_level(logging.INFO, logger="shipbell"):
        ack = await signed(bell, body, content_type)
        await bell.idle()
    assert ack.status == 400, (case, ack.status, ack.body)
    assert not tracebacks(caplog)
    assert len([r for r in caplog.records if "malformed" in r.getMessage()]) == 1
    assert len(bell.double.calls) == before and rows(bell, "tasks") == 0


# ---- body size and read timeout -----------------------------------------------------------
async def test_oversized_body_is_413_without_reading_it(bell: LocalShipbell) -> None:
    body = b"command=%2Fdeploy&text=" + b"x" * (bell.runtime.web_app[LIMITS].max_body + 1)
    ack = await signed(bell, body)
    assert ack.status == 413


async def test_oversized_chunked_body_is_cut_off_at_the_limit(bell: LocalShipbell) -> None:
    limits = bell.runtime.web_app[LIMITS]
    limits.max_body = 64 * 1024

    async def chunks() -> Any:  # no Content-Length: the limit must hold while reading
        for _ in range(64):
            yield b"x" * 4096

    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": str(int(time.time())),
               "X-Slack-Signature": "v0=00"}
    async with aiohttp.ClientSession() as http, http.post(
            bell.runtime.slack_url, data=chunks(), headers=headers) as resp:
        assert resp.status == 413
    assert 'outcome="too_large"' in await metrics(bell)


async def raw_http(bell: LocalShipbell, head: bytes, body: bytes, *, close: bool = False
                   ) -> bytes:
    host, port = bell.runtime.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head + body)
    await writer.drain()
    if close:
        writer.close()
        await writer.wait_closed()
        return b""
    try:
        async with asyncio.timeout(5):
            return await reader.read(200)
    finally:
        writer.close()


def head_for(bell: LocalShipbell, length: int) -> bytes:
    path = bell.core.settings.slack.request_path
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\n"
            f"X-Slack-Request-Timestamp: {int(time.time())}\r\nX-Slack-Signature: v0=00\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


async def test_oversized_chunked_body_that_arrived_whole_is_413(bell: LocalShipbell) -> None:
    """No Content-Length, and every chunk there before the handler runs: the limit holds
    on what is already buffered too."""
    limits = bell.runtime.web_app[LIMITS]
    limits.max_body = 1024
    body = b"command=%2Fdeploy&text=" + b"x" * 2048
    path = bell.core.settings.slack.request_path
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\n"
            f"Transfer-Encoding: chunked\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in slack_headers(bell.signing_secret, body).items())
            + "\r\n").encode()
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    answer = await raw_http(bell, head, chunked)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert 'outcome="too_large"' in await metrics(bell)


async def test_stalled_partial_body_times_out_with_408(
    bell: LocalShipbell, caplog: pytest.LogCaptureFixture
) -> None:
    bell.runtime.web_app[LIMITS].read_timeout = 0.2
    with caplog.at_level(logging.INFO):
        answer = await raw_http(bell, head_for(bell, 1000), b"command=%2Fdep")
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert not tracebacks(caplog)


async def test_client_gone_mid_body_logs_one_line_and_no_traceback(
    bell: LocalShipbell, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        await raw_http(bell, head_for(bell, 1000), b"command=%2Fdep", close=True)
        await until(lambda: any("went away" in r.getMessage() for r in caplog.records))
    assert not tracebacks(caplog)


# ---- item 3: metric labels come from a fixed set --------------------------------------------
async def test_metric_names_come_from_registered_listeners_only(bell: LocalShipbell) -> None:
    for i in range(5):
        await bell.command(f"/unsigned-{i}", "", signature="v0=bad")
        await bell.command(f"/signed-{i}", "")
        await bell.driver.action(f"made.up.{i}", "1")
        await bell.driver.event({"type": f"made_up_event_{i}"})
    await bell.command("/deploy", "help")
    await bell.driver.action("incident.snooze.12345678", "1")
    text = await metrics(bell)
    assert "unsigned" not in text and "signed-" not in text and "made" not in text
    assert "12345678" not in text
    assert 'shipbell_requests_total{kind="command",name="/deploy",outcome="ok"} 1.0' in text
    assert 'kind="command",name="other"' in text
    assert 'kind="unverified",name="other",outcome="unauthorized"} 5.0' in text


# ---- item 8: every verified event delivery gets 200 -----------------------------------------
async def test_events_without_a_listener_get_200_counted_not_warned(
    bell: LocalShipbell, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        acks = [await bell.driver.event({"type": kind, "user": ANA})
                for kind in ("channel_created", "member_joined_channel", "emoji_changed")]
    assert [a.status for a in acks] == [200, 200, 200]
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert "Unhandled request" not in logged and "[Suggestion]" not in logged
    assert 'kind="event_callback",name="other",outcome="ignored"} 3.0' in await metrics(bell)


async def test_app_rate_limited_gets_200_logged_once_and_counted(
    bell: LocalShipbell, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps({"token": "t", "type": "app_rate_limited", "team_id": bell.double.team_id,
                       "minute_rate_limited": 1518467820, "api_app_id": bell.double.app_id})
    with caplog.at_level(logging.DEBUG):
        first = await signed(bell, body.encode(), "application/json")
        again = await signed(bell, body.encode(), "application/json")
    assert (first.status, again.status) == (200, 200)
    lines = [r for r in caplog.records if "rate-limit" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert "[Suggestion]" not in "\n".join(r.getMessage() for r in caplog.records)
    assert 'kind="app_rate_limited",name="other",outcome="ok"} 2.0' in await metrics(bell)


async def test_registered_event_still_reaches_its_listener(bell: LocalShipbell) -> None:
    seen: list[str] = []

    @bell.runtime.app.event("app_mention")
    async def on_mention(event: dict[str, Any]) -> None:
        seen.append(event["text"])

    ack = await bell.driver.event({"type": "app_mention", "user": ANA, "text": "hi",
                                   "channel": GENERAL})
    assert ack.status == 200 and seen == ["hi"]
    assert 'name="app_mention",outcome="ok"' in await metrics(bell)


async def test_bolt_behind_the_edge_still_refuses_and_its_error_handler_sends_nothing(
    bell: LocalShipbell, caplog: pytest.LogCaptureFixture
) -> None:
    """Second line: a request that reaches Bolt unverified (not through the edge) makes
    Bolt's own check raise on `int("abc")`; the error handler answers 401 and calls no one."""
    request = AsyncBoltRequest(body=forged_action(bell).decode(), headers={
        "content-type": FORM, "x-slack-request-timestamp": "abc", "x-slack-signature": "v0=0"})
    before = len(bell.double.calls)
    with caplog.at_level(logging.INFO, logger="shipbell"):
        response = await bell.runtime.app.async_dispatch(request)
        await bell.idle()
    assert response.status == 401 and "Something went wrong" not in response.body
    assert len(bell.double.calls) == before and rows(bell, "tasks") == 0
    assert [r.getMessage() for r in caplog.records] == [
        "Refused an unverified request that reached Bolt (ValueError); nothing was sent"]


def straight_to_bolt(bell: LocalShipbell, body: bytes, headers: dict[str, str]
                     ) -> AsyncBoltRequest:
    """A request handed to Bolt without passing the edge: it carries no edge mark."""
    return AsyncBoltRequest(body=body.decode(), headers={"content-type": FORM, **headers})


async def test_bolt_behind_the_edge_checks_the_signature_of_what_the_edge_did_not_mark(
    bell: LocalShipbell, caplog: pytest.LogCaptureFixture
) -> None:
    """The edge's mark lets Bolt skip a second HMAC only for requests the edge verified;
    a well-formed request that reaches Bolt another way is checked, and a wrong signature
    (or the mark's name written into the body) gets Bolt's 401 before any listener runs."""
    ran: list[str] = []

    @bell.runtime.app.action("second.line")
    async def second_line(ack: Any) -> None:
        ran.append("listener")
        await ack()

    payload = {"type": "block_actions", "user": {"id": ANA}, "shipbell_verified": True,
               "actions": [{"action_id": "second.line", "value": "1"}]}
    body = urlencode({"payload": json.dumps(payload), "shipbell_verified": "true"}).encode()
    forged = {**slack_headers(bell.signing_secret, body), "X-Slack-Signature": "v0=" + "0" * 64}
    before = len(bell.double.calls)
    response = await bell.runtime.app.async_dispatch(
        straight_to_bolt(bell, body, {k.lower(): v for k, v in forged.items()}))
    assert response.status == 401 and ran == []
    assert len(bell.double.calls) == before and rows(bell, "tasks") == 0

    signed_headers = slack_headers(bell.signing_secret, body)
    response = await bell.runtime.app.async_dispatch(
        straight_to_bolt(bell, body, {k.lower(): v for k, v in signed_headers.items()}))
    assert response.status == 200 and ran == ["listener"]
