"""The Slack gateway's one error taxonomy, class by class, through the Slack double.

transient → raised, so the persisted task is retried with back-off (429 waits out Retry-After
first; a post is never replayed after a dropped connection); gone → a typed Result the caller
explains; final → logged once, given up; already-done → success, logged at debug.
"""

from __future__ import annotations

import dataclasses
import logging

import aiohttp
import pytest
from fakes.waiting import tick
from shipbell.bot.clock import FakeClock
from shipbell.bot.core import build_client
from shipbell.bot.http import Http
from shipbell.bot.local import LocalShipbell
from shipbell.bot.settings import Settings
from shipbell.bot.slack import gateway, tagged
from shipbell.bot.slack.gateway import Kind
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, GENERAL
from slack_sdk.errors import SlackApiError
from test_deploy_calls import DropFirst

OLD = "C0OLD0001"
ROOM = "C0ROOM001"


def tasks(bell: LocalShipbell) -> list[tuple[str, str, int]]:
    return [(r["kind"], r["status"], r["attempts"]) for r in
            bell.core.store.all("SELECT kind, status, attempts FROM tasks ORDER BY id")]


def warnings_about(caplog: pytest.LogCaptureFixture, error: str) -> list[str]:
    return [r.levelname for r in caplog.records if error in r.getMessage()]


@pytest.mark.parametrize("error", ["internal_error", "fatal_error", "service_unavailable",
                                   "request_timeout"])
async def test_a_transient_error_raises_and_the_persisted_call_is_retried(
    bell: LocalShipbell, clock: FakeClock, error: str
) -> None:
    bell.double.fail_next("chat.postMessage", error)
    with pytest.raises(SlackApiError):
        await gateway.call(bell.core, "chat.postMessage", {"channel": GENERAL, "text": "a"})
    bell.double.fail_next("chat.postMessage", error)
    gateway.enqueue(bell.core, "chat.postMessage", {"channel": GENERAL, "text": "b"})
    await tick(clock, 2)  # the runner's back-off, on the fake clock
    await bell.idle()
    assert tasks(bell) == [("slack.call", "done", 2)]
    assert [m["text"] for m in bell.double.messages(GENERAL)] == ["b"]


async def test_a_429_waits_out_retry_after_and_lands_once(bell: LocalShipbell) -> None:
    bell.double.rate_limit_next("chat.postMessage", retry_after=0)
    posted = await gateway.post(bell.core, GENERAL, "once")
    assert posted.kind is Kind.OK and posted.ts and posted.channel == GENERAL
    assert [c.status for c in bell.double.calls_to("chat.postMessage")] == [429, 200]


async def test_rate_limited_past_the_clients_retries_is_transient(bell: LocalShipbell) -> None:
    retries = bell.core.settings.slack.retry_rate_limited
    bell.double.rate_limit_next("chat.update", retry_after=0, times=retries + 1)
    with pytest.raises(SlackApiError, match="ratelimited"):
        await gateway.update(bell.core, GENERAL, "1.000001", text="x")
    assert len(bell.double.calls_to("chat.update")) == retries + 1


async def test_a_post_is_never_replayed_after_a_dropped_connection_but_an_update_is(
    bell: LocalShipbell,
) -> None:
    for method, replayed in (("chat.postMessage", False), ("chat.update", True)):
        api = DropFirst()
        async with api as url:
            http = Http()
            client = build_client(Settings(slack={"api_url": url}), "xoxb-test", http)
            core = dataclasses.replace(bell.core, client=client)
            if replayed:
                assert (await gateway.call(core, method, {"channel": GENERAL, "ts": "1.0"})).ok
            else:
                with pytest.raises(aiohttp.ServerDisconnectedError):
                    await gateway.call(core, method, {"channel": GENERAL, "text": "hi"})
            await http.close()
        assert len(api.requests) == (2 if replayed else 1), method


@pytest.mark.parametrize(("method", "args", "error"), [
    ("chat.postMessage", {"channel": OLD, "text": "x"}, "is_archived"),
    ("chat.postMessage", {"channel": "C0NOWHERE", "text": "x"}, "channel_not_found"),
    ("chat.update", {"channel": GENERAL, "ts": "9.999999", "text": "x"},
     "message_not_found"),
    ("chat.postMessage", {"channel": GENERAL, "text": "x"}, "not_in_channel"),
    ("users.info", {"user": ANA}, "account_inactive"),
])
async def test_a_gone_target_is_a_typed_result_not_a_retry(
    bell: LocalShipbell, caplog: pytest.LogCaptureFixture,
    method: str, args: dict[str, str], error: str,
) -> None:
    bell.double.add_channel("old", channel_id=OLD, is_archived=True)
    if error in ("not_in_channel", "account_inactive"):
        bell.double.fail_next(method, error)
    result = await gateway.call(bell.core, method, args)
    assert (result.kind, result.error, result.gone, result.ok) == (Kind.GONE, error, True, False)
    assert result.failed == error
    assert len(bell.double.calls_to(method)) == 1
    assert warnings_about(caplog, error) == ["WARNING"]  # logged once


@pytest.mark.parametrize("error", ["invalid_blocks", "msg_too_long", "missing_scope",
                                   "invalid_auth", "an_error_slack_adds_tomorrow"])
async def test_a_final_error_is_logged_once_and_given_up(
    bell: LocalShipbell, caplog: pytest.LogCaptureFixture, error: str
) -> None:
    bell.double.fail_next("chat.postMessage", error)
    gateway.enqueue(bell.core, "chat.postMessage", {"channel": GENERAL, "text": "x"})
    await bell.idle()
    assert tasks(bell) == [("slack.call", "done", 1)]  # not retried
    assert len(bell.double.calls_to("chat.postMessage")) == 1
    assert warnings_about(caplog, error) == ["WARNING"]
    assert (await gateway.call(bell.core, "chat.postMessage",
                               {"channel": GENERAL, "text": "y"})).kind is Kind.OK


async def test_already_done_is_success_logged_at_debug(
    bell: LocalShipbell, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    posted = await gateway.post(bell.core, GENERAL, "pin me")
    assert posted.ts is not None
    first = await gateway.pin(bell.core, GENERAL, posted.ts)
    again = await gateway.pin(bell.core, GENERAL, posted.ts)
    assert first.kind is Kind.OK
    assert (again.kind, again.ok, again.failed, again.error) == (
        Kind.ALREADY, True, None, "already_pinned")
    invited = await gateway.invite(bell.core, GENERAL, [ANA])  # already a member
    assert (invited.invited, invited.failed) == ([], {})
    assert {r.levelname for r in caplog.records
            if "already_" in r.getMessage()} == {"DEBUG"}


async def test_invite_lets_one_departed_user_block_no_one(bell: LocalShipbell) -> None:
    bell.double.add_channel("ops-room", channel_id=ROOM,
                            members=[bell.core.identity.bot_user_id])
    bell.double.fail_next("conversations.invite", "user_disabled")  # the batch
    bell.double.fail_next("conversations.invite", "account_inactive")  # bob alone
    invited = await gateway.invite(bell.core, ROOM, [BOB, CARL])
    assert invited.invited == [CARL]
    assert invited.failed == {BOB: "account_inactive"}
    assert CARL in bell.double.state.channels[ROOM].members


async def test_an_archived_channel_refuses_the_whole_batch_in_one_call(
    bell: LocalShipbell,
) -> None:
    bell.double.add_channel("old", channel_id=OLD, is_archived=True)
    invited = await gateway.invite(bell.core, OLD, [BOB, CARL])
    assert invited.failed == {BOB: "is_archived", CARL: "is_archived"}
    assert len(bell.double.calls_to("conversations.invite")) == 1


async def test_one_way_to_answer_a_person_is_a_persisted_response_url_post(
    bell: LocalShipbell,
) -> None:
    url = bell.double.new_response_url(GENERAL, ANA)
    await gateway.reply(bell.core, url, "Only you see this.")
    await bell.idle()
    assert tasks(bell) == [("slack.respond", "done", 1)]
    [answer] = bell.double.calls_to("response_url")
    assert answer.args["text"] == "Only you see this."
    assert answer.args["response_type"] == "ephemeral"


async def test_tell_falls_back_from_ephemeral_to_a_direct_message(bell: LocalShipbell) -> None:
    await gateway.tell(bell.core, ANA, "heard in the channel", channel=GENERAL)
    assert [c.args["text"] for c in bell.double.calls_to("chat.postEphemeral")] == [
        "heard in the channel"]
    bell.double.fail_next("chat.postEphemeral", "channel_not_found")
    await gateway.tell(bell.core, ANA, "heard in a DM", channel="C0GONE001")
    [dm] = bell.double.calls_to("chat.postMessage")
    assert (dm.args["channel"], dm.args["text"]) == (ANA, "heard in a DM")


async def test_tasks_stored_before_the_upgrade_still_run(bell: LocalShipbell) -> None:
    """Kinds are names in the tasks table: rows written by an older Shipbell keep working."""
    url = bell.double.new_response_url(GENERAL, ANA)
    for kind, payload in (
        ("slack.call", '{"method": "chat.postMessage",'
                       f' "args": {{"channel": "{GENERAL}", "text": "from before"}}}}'),
        ("slack.respond", '{"url": "' + url + '", "message": {"text": "answered"}}'),
    ):
        bell.core.store.execute(
            "INSERT INTO tasks (kind, payload, created_at, updated_at)"
            " VALUES (?, ?, '2026-11-30T00:00:00', '2026-11-30T00:00:00')", (kind, payload))
    assert await bell.core.tasks.resume() == 2
    await bell.idle()
    assert [s for _, s, _ in tasks(bell)] == ["done", "done"]
    assert [m["text"] for m in bell.double.messages(GENERAL)] == ["from before"]
    assert [c.args["text"] for c in bell.double.calls_to("response_url")] == ["answered"]


async def test_looking_for_an_own_post_does_not_post_afresh_on_a_transient_error(
    bell: LocalShipbell,
) -> None:
    """An interrupted post is looked up before posting again; if Slack can't answer right
    now the task is retried, since "not found" would post a second message."""
    since = bell.core.clock.now()
    bell.double.fail_next("conversations.history", "internal_error")
    with pytest.raises(SlackApiError):
        await tagged.find(bell.core, GENERAL, "shipbell_test", since, n=1)
    bell.double.fail_next("conversations.history", "missing_scope")  # final: post afresh
    assert await tagged.find(bell.core, GENERAL, "shipbell_test", since, n=1) is None
