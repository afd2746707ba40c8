"""Tests of the Slack double itself: if these lie, every other test lies with them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from fakes.waiting import until
from shipbell.bot.slackdouble import SlackDouble, SlackDriver
from shipbell.bot.slackdouble.blockkit import validate_blocks, validate_view
from shipbell.bot.slackdouble.cast import ANA, DEPLOYS, SHIPBELL, TEAM
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

BEN = "U0BEN0001"
GHOST = "U0GHOST01"  # no such user

SECRET = "test-signing-secret"


@pytest.fixture
async def double() -> AsyncIterator[SlackDouble]:
    async with SlackDouble() as d:
        d.add_user(ANA, "ana")
        d.add_user(BEN, "ben")
        d.add_channel("deploys", channel_id=DEPLOYS, members=[ANA, SHIPBELL])
        yield d


@pytest.fixture
async def client(double: SlackDouble) -> AsyncIterator[AsyncWebClient]:
    c = AsyncWebClient(token=double.token, base_url=double.api_url)
    yield c
    if c.session is not None:
        await c.session.close()


def button(action_id: str, value: str, text: str = "Go") -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "value": value,
        "text": {"type": "plain_text", "text": text},
    }


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_post_update_and_ts_strings(double: SlackDouble, client: AsyncWebClient) -> None:
    first = await client.chat_postMessage(channel=DEPLOYS, text="one")
    second = await client.chat_postMessage(channel="#deploys", text="two", thread_ts=first["ts"])
    assert isinstance(first["ts"], str) and first["ts"].count(".") == 1
    assert len(first["ts"].split(".")[1]) == 6
    assert float(second["ts"]) > float(first["ts"])
    assert second["channel"] == DEPLOYS

    await client.chat_update(channel=DEPLOYS, ts=first["ts"], text="one, edited")
    msgs = double.messages(DEPLOYS)
    assert [m["text"] for m in msgs] == ["one, edited", "two"]
    assert msgs[0]["reply_count"] == 1 and msgs[1]["thread_ts"] == first["ts"]

    human = double.add_message(DEPLOYS, "hi", user=ANA)
    for ts, error in ((human, "cant_update_message"), ("1.000001", "message_not_found")):
        with pytest.raises(SlackApiError) as err:
            await client.chat_update(channel=DEPLOYS, ts=ts, text="x")
        assert err.value.response["error"] == error
    with pytest.raises(SlackApiError, match="no_text"):
        await client.chat_postMessage(channel=DEPLOYS, text="")
    with pytest.raises(SlackApiError, match="msg_too_long"):
        await client.chat_postMessage(channel=DEPLOYS, text="x" * 40_001)


async def test_channel_names(double: SlackDouble, client: AsyncWebClient) -> None:
    created = await client.conversations_create(name="inc-42-db_down", is_private=True)
    assert created["channel"]["id"].startswith("G")
    assert created["channel"]["is_member"] is True
    double.add_channel("old-release", is_archived=True)
    bad = {
        "inc-42-db_down": "name_taken",
        "old-release": "name_taken",
        "": "invalid_name_required",
        "x" * 81: "invalid_name_maxlength",
        "Has Caps": "invalid_name_specials",
        "dots.are.bad": "invalid_name_specials",
    }
    for name, error in bad.items():
        with pytest.raises(SlackApiError) as err:
            await client.conversations_create(name=name)
        assert err.value.response["error"] == error, name
    ok = await client.conversations_create(name="x" * 80)
    assert ok["channel"]["id"].startswith("C")


async def test_archive_blocks_posting(double: SlackDouble, client: AsyncWebClient) -> None:
    cid = double.add_channel("rel-1")
    await client.conversations_archive(channel=cid)
    with pytest.raises(SlackApiError, match="is_archived"):
        await client.chat_postMessage(channel=cid, text="hello")
    with pytest.raises(SlackApiError, match="already_archived"):
        await client.conversations_archive(channel=cid)
    await client.conversations_unarchive(channel=cid)
    with pytest.raises(SlackApiError, match="not_archived"):
        await client.conversations_unarchive(channel=cid)
    await client.chat_postMessage(channel=cid, text="hello")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await client.chat_postMessage(channel="C0NOPE001", text="hello")
    secret = double.add_channel("secret", is_private=True, members=[ANA])
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await client.chat_postMessage(channel=secret, text="bot is not a member")


async def test_invite_errors(double: SlackDouble, client: AsyncWebClient) -> None:
    cid = (await client.conversations_create(name="inc-1"))["channel"]["id"]
    cases = [(GHOST, "user_not_found"), (f"{ANA},{GHOST}", "user_not_found")]
    for users, error in cases:
        with pytest.raises(SlackApiError) as err:
            await client.conversations_invite(channel=cid, users=users)
        assert err.value.response["error"] == error
    await client.conversations_invite(channel=cid, users=f"{ANA},{BEN}")
    members = (await client.conversations_members(channel=cid))["members"]
    assert members == [SHIPBELL, ANA, BEN]
    with pytest.raises(SlackApiError, match="already_in_channel"):
        await client.conversations_invite(channel=cid, users=[ANA, BEN])
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await client.conversations_invite(channel="C0NOPE001", users=ANA)
    await client.conversations_archive(channel=cid)
    with pytest.raises(SlackApiError, match="is_archived"):
        await client.conversations_invite(channel=cid, users=ANA)


async def test_rate_limit_retried_by_sdk_handler(double: SlackDouble) -> None:
    double.rate_limit_next("chat.postMessage", retry_after=7)
    async with aiohttp.ClientSession() as s:
        headers = {"Authorization": f"Bearer {double.token}"}
        async with s.post(
            f"{double.api_url}chat.postMessage",
            headers=headers,
            json={"channel": DEPLOYS, "text": "x"},
        ) as resp:
            assert resp.status == 429 and resp.headers["Retry-After"] == "7"
            assert await resp.json() == {"ok": False, "error": "ratelimited"}

    double.rate_limit_next("chat.postMessage", retry_after=0)
    client = AsyncWebClient(
        token=double.token,
        base_url=double.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    resp = await client.chat_postMessage(channel=DEPLOYS, text="after retry")
    assert resp["ok"]
    assert [c.status for c in double.calls_to("chat.postMessage")] == [429, 429, 200]
    assert [m["text"] for m in double.messages(DEPLOYS)] == ["after retry"]


async def test_auth_and_injected_failures(double: SlackDouble, client: AsyncWebClient) -> None:
    auth = await client.auth_test()
    assert (auth["user_id"], auth["team_id"]) == (SHIPBELL, TEAM)
    for token, error in (
        ("xoxb-wrong", "invalid_auth"),
        (double.app_token, "not_allowed_token_type"),
    ):
        with pytest.raises(SlackApiError) as err:
            await AsyncWebClient(token=token, base_url=double.api_url).auth_test()
        assert err.value.response["error"] == error
    with pytest.raises(SlackApiError, match="not_authed"):
        await AsyncWebClient(base_url=double.api_url).auth_test()
    with pytest.raises(SlackApiError, match="unknown_method"):
        await client.api_call("chat.fly")
    assert double.problems and "chat.fly" in double.problems[0]
    double.problems.clear()

    double.fail_next("users.info", "missing_scope", needed="users:read")
    with pytest.raises(SlackApiError) as err:
        await client.users_info(user=ANA)
    assert err.value.response["needed"] == "users:read"
    assert (await client.users_info(user=ANA))["user"]["name"] == "ana"
    with pytest.raises(SlackApiError, match="user_not_found"):
        await client.users_info(user=GHOST)
    conn = await AsyncWebClient(
        token=double.app_token, base_url=double.api_url
    ).apps_connections_open(app_token=double.app_token)
    assert conn["url"].startswith("ws://127.0.0.1:")


async def test_trigger_single_use_and_expiry(double: SlackDouble, client: AsyncWebClient) -> None:
    clock = [1_000.0]
    double.now = lambda: clock[0]
    view = {
        "type": "modal",
        "callback_id": "deploy",
        "title": {"type": "plain_text", "text": "Deploy"},
        "blocks": [],
    }
    trigger = double.new_trigger_id()
    opened = await client.views_open(trigger_id=trigger, view=view)
    assert opened["view"]["id"].startswith("V") and opened["view"]["hash"]
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        await client.views_open(trigger_id=trigger, view=view)

    late = double.new_trigger_id()
    clock[0] += 3.5
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        await client.views_open(trigger_id=late, view=view)

    view_id, stale_hash = opened["view"]["id"], opened["view"]["hash"]
    clock[0] += 1
    await client.views_update(view_id=view_id, hash=stale_hash, view=view)
    with pytest.raises(SlackApiError, match="hash_conflict"):
        await client.views_update(view_id=view_id, hash=stale_hash, view=view)
    with pytest.raises(SlackApiError, match="not_found"):
        await client.views_update(view_id="VNOPE", view=view)


async def test_invalid_blocks_and_views(double: SlackDouble, client: AsyncWebClient) -> None:
    blocks = [
        {"type": "header", "text": {"type": "mrkdwn", "text": "*no*"}},
        {"type": "actions", "elements": [button("a", "1"), button("a", "2", "x" * 76)]},
        {"type": "carousel"},
    ]
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel=DEPLOYS, text="t", blocks=blocks)
    errors = err.value.response["errors"]
    assert err.value.response["error"] == "invalid_blocks" and len(errors) == 4
    assert any("duplicate action_id" in e for e in errors)
    assert double.problems and double.messages(DEPLOYS) == []

    big = [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 2999}}] * 5
    with pytest.raises(SlackApiError, match="msg_blocks_too_long"):
        await client.chat_postMessage(channel=DEPLOYS, text="t", blocks=big)
    assert validate_blocks([{"type": "divider"}] * 51) == ["blocks: 51 blocks, max 50"]
    assert validate_blocks([{"type": "divider"}] * 50) == []

    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "A" * 25},
        "blocks": [],
        "private_metadata": "m" * 3001,
    }
    assert len(validate_view(modal)) == 2
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        await client.views_open(trigger_id=double.new_trigger_id(), view=modal)


async def test_files_upload_v2(double: SlackDouble, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel=DEPLOYS, text="weekly report")
    done = await client.files_upload_v2(
        channel=DEPLOYS,
        content=b"\x89PNG...",
        filename="dora.png",
        title="DORA",
        initial_comment="charts",
        thread_ts=parent["ts"],
    )
    assert done["file"]["title"] == "DORA"
    methods = [c.method for c in double.calls]
    assert methods[-3:] == [
        "files.getUploadURLExternal",
        "file_upload",
        "files.completeUploadExternal",
    ]
    assert double.calls_to("files.completeUploadExternal")[0].args["files"][0]["title"] == "DORA"
    shared = double.messages(DEPLOYS)[-1]
    assert shared["text"] == "charts" and shared["thread_ts"] == parent["ts"]
    assert shared["files"][0]["name"] == "dora.png"
    assert double.state.files[shared["files"][0]["id"]]["content"] == b"\x89PNG..."


async def test_response_url_five_uses(double: SlackDouble) -> None:
    url = double.new_response_url(DEPLOYS, ANA)
    async with aiohttp.ClientSession() as s:
        statuses = []
        for i in range(6):
            async with s.post(url, json={"text": f"update {i}"}) as resp:
                statuses.append(resp.status)
        async with s.post(url, json={"text": "in", "response_type": "in_channel"}) as resp:
            assert resp.status == 404
    assert statuses == [200] * 5 + [404]
    calls = double.calls_to("response_url")
    assert len(calls) == 7 and calls[0].args["text"] == "update 0"
    assert double.messages(DEPLOYS) == []


async def test_held_response_url_waits_until_released(double: SlackDouble) -> None:
    """`hold("response_url")`: a post to a response URL parks (counted in `waiting`) and is
    answered, and recorded, only after `release`."""
    url = double.new_response_url(DEPLOYS, ANA)
    double.hold("response_url")
    async with aiohttp.ClientSession() as s:
        post = asyncio.create_task(s.post(url, json={"text": "later"}))
        await until(lambda: double.waiting.get("response_url") == 1)
        assert not post.done() and double.calls_to("response_url") == []
        double.release("response_url")
        async with await post as resp:
            assert resp.status == 200
    assert double.waiting["response_url"] == 0
    assert double.calls_to("response_url")[0].args["text"] == "later"


async def test_wait_for_wakes_and_reports(double: SlackDouble, client: AsyncWebClient) -> None:
    async def later() -> None:
        await asyncio.sleep(0)
        await client.chat_postMessage(channel=DEPLOYS, text="late")

    task = asyncio.create_task(later())
    call = await double.wait_for("chat.postMessage", lambda c: c.args["text"] == "late")
    await task
    assert call.response["ok"]
    with pytest.raises(AssertionError, match=r"chat\.postMessage"):
        await double.wait_for("pins.add", timeout=0.05)


class FakeApp:
    """A tiny signed endpoint standing in for the app, verifying like Bolt does."""

    def __init__(self) -> None:
        self.verifier = SignatureVerifier(SECRET)
        self.seen: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self.verifier.is_valid_request(body, dict(request.headers)):
            return web.Response(status=401, text="invalid signature")
        self.seen.append((dict(request.headers), body))
        return web.json_response({"text": "got it"})


@pytest.fixture
async def app_url() -> AsyncIterator[tuple[str, FakeApp]]:
    fake = FakeApp()
    web_app = web.Application()
    web_app.router.add_post("/slack/events", fake.handle)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events", fake
    await runner.cleanup()


async def test_driver_signs_requests(double: SlackDouble, app_url: tuple[str, FakeApp]) -> None:
    url, fake = app_url
    async with SlackDriver(url, SECRET, double) as driver:
        ack = await driver.command("/deploy", "api v1.2")
        assert ack.status == 200 and ack.text == "got it" and ack.latency > 0
        form = {k: v[0] for k, v in parse_qs(fake.seen[-1][1].decode()).items()}
        assert form["command"] == "/deploy" and form["channel_name"] == "deploys"
        assert form["response_url"].startswith(double.base_url)
        assert {"team_id", "user_name", "trigger_id", "api_app_id"} <= form.keys()

        assert (await driver.command("/deploy", timestamp=1_600_000_000)).status == 401
        assert (await driver.command("/deploy", signature="v0=forged")).status == 401

        ack = await driver.event({"type": "pin_added"}, event_id="Ev1", retry_num=2)
        headers, body = fake.seen[-1]
        assert ack.status == 200 and headers["X-Slack-Retry-Num"] == "2"
        assert json.loads(body)["event_id"] == "Ev1"


async def test_driver_press_and_submit(
    double: SlackDouble, client: AsyncWebClient, app_url: tuple[str, FakeApp]
) -> None:
    url, fake = app_url
    blocks = [{"type": "actions", "block_id": "approve", "elements": [button("ok", "dep-7")]}]
    posted = await client.chat_postMessage(channel=DEPLOYS, text="approve?", blocks=blocks)
    view = {
        "type": "modal",
        "callback_id": "rollback",
        "title": {"type": "plain_text", "text": "Rollback"},
        "submit": {"type": "plain_text", "text": "Go"},
        "blocks": [],
    }
    await client.views_open(trigger_id=double.new_trigger_id(), view=view)
    async with SlackDriver(url, SECRET, double) as driver:
        await driver.press(posted["message"], "ok", user=BEN)
        payload = json.loads(parse_qs(fake.seen[-1][1].decode())["payload"][0])
        assert payload["actions"][0] | {"action_ts": ""} == {
            "action_id": "ok",
            "block_id": "approve",
            "type": "button",
            "value": "dep-7",
            "text": {"type": "plain_text", "text": "Go"},
            "action_ts": "",
        }
        assert payload["container"]["message_ts"] == posted["ts"]
        assert payload["message"]["text"] == "approve?" and payload["user"]["name"] == "ben"

        values = {"reason": {"text": SlackDriver.text_value("bad build")}}
        await driver.submit_view(view, values)
        payload = json.loads(parse_qs(fake.seen[-1][1].decode())["payload"][0])
        assert payload["type"] == "view_submission"
        assert payload["view"]["id"].startswith("V")
        assert payload["view"]["state"]["values"]["reason"]["text"]["value"] == "bad build"
    assert double.problems == []


async def test_bolt_round_trip(double: SlackDouble) -> None:
    """The real consumer: Bolt's client, respond() and request verification against the double."""
    app = AsyncApp(
        client=AsyncWebClient(token=double.token, base_url=double.api_url), signing_secret=SECRET
    )

    @app.command("/deploy")
    async def deploy(ack: Any, respond: Any, client: AsyncWebClient, command: dict) -> None:
        await ack("on it")
        await client.chat_postMessage(
            channel=command["channel_id"],
            text="Deploy?",
            blocks=[{"type": "actions", "block_id": "b1", "elements": [button("approve", "v1")]}],
        )

    @app.action("approve")
    async def approve(ack: Any, respond: Any) -> None:
        await ack()
        await respond(replace_original=True, text="approved")

    runner = web.AppRunner(app.web_app(path="/slack/events"))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    try:
        async with SlackDriver(url, SECRET, double) as driver:
            ack = await driver.command("/deploy", "api")
            assert (ack.status, ack.text) == (200, "on it")
            posted = await double.wait_for("chat.postMessage")
            assert (await driver.press(posted.response["message"], "approve")).status == 200
            await double.wait_for("response_url")
            assert [m.get("blocks") for m in double.messages(DEPLOYS)] == [None]
            assert double.messages(DEPLOYS)[0]["text"] == "approved"
            assert (await driver.command("/deploy", timestamp=1_600_000_000)).status == 401
    finally:
        await runner.cleanup()
    assert double.calls[0].method == "auth.test" and double.problems == []


async def test_it_is_seeded_only_with_ids_slack_would_issue(double: SlackDouble) -> None:
    for seed in (lambda: double.add_user("U_ZED", "zed"),
                 lambda: double.add_channel("ops", channel_id="C_OPS"),
                 lambda: double.add_channel("ops", members=["u0ana0001"]),
                 lambda: double.add_usergroup("S_SRE", "sre", [ANA])):
        with pytest.raises(ValueError, match="is not an id Slack would issue"):
            seed()
    assert "U_ZED" not in double.state.users and "S_SRE" not in double.state.usergroups
