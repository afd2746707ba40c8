"""One deploy, one message; one incident, one status message and one announcement: a crash
between posting and storing the posted ts is found again after restart, not posted twice.

The Slack double's ``lose_reply_next`` lets the post take effect and never answers it, the
way a process that dies mid-call experiences it; ``restart`` then starts a fresh process on
the same database, which resumes the unfinished tasks.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import deploy_config
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.cast import DEPLOYS, GENERAL, INCIDENTS, SHIPBELL
from test_incident_support import row as incident_row
from test_incident_support import start

pytest_plugins = ("fakes.fixtures",)


def top_level(bell: LocalShipbell, channel: str) -> list[dict[str, Any]]:
    return [m for m in bell.double.messages(channel)
            if m.get("thread_ts") in (None, m["ts"])]


def deploy_row(bell: LocalShipbell, deploy_id: int) -> dict[str, Any]:
    found = bell.core.store.one("SELECT * FROM deploys WHERE id = ?", (deploy_id,))
    assert found is not None
    return found


@pytest.fixture
async def bell(make_bell: MakeBell, ci: FakeCI) -> LocalShipbell:
    return await make_bell(deploy_config(ci.url))


async def test_a_crash_after_posting_a_deploy_message_keeps_one_message(
    bell: LocalShipbell, ci: FakeCI
) -> None:
    bell.double.lose_reply_next("chat.postMessage")
    await bell.command("/deploy", "api@v1.2.0 to production")
    await bell.double.wait_for("chat.postMessage", lambda c: c.args["channel"] == DEPLOYS)
    await ci.wait_jobs(1)
    assert deploy_row(bell, 1)["message_ts"] is None  # posted, but the ts never came back
    await bell.restart()
    await bell.idle()
    status, body = await ci.callback(bell.runtime.url, 1, "succeeded", version="v1.2.0")
    assert (status, body["state"]) == (200, "succeeded")
    await bell.idle()
    top = top_level(bell, DEPLOYS)
    assert len(top) == 1, [m["text"] for m in top]
    assert "succeeded" in top[0]["text"]
    assert deploy_row(bell, 1)["message_ts"] == top[0]["ts"]
    assert top[0]["metadata"]["event_payload"] == {"deploy_id": 1}
    thread = [m["text"] for m in bell.double.messages(DEPLOYS)
              if m.get("thread_ts") == top[0]["ts"] and m["ts"] != top[0]["ts"]]
    assert any("succeeded" in t for t in thread)  # its thread carries on under the adopted one


async def test_a_message_deleted_meanwhile_is_posted_again_after_restart(
    bell: LocalShipbell, ci: FakeCI
) -> None:
    bell.double.lose_reply_next("chat.postMessage")
    await bell.command("/deploy", "api@v1.2.0 to production")
    lost = await bell.double.wait_for("chat.postMessage",
                                      lambda c: c.args["channel"] == DEPLOYS)
    await ci.wait_jobs(1)
    bell.double.state.delete_message(DEPLOYS, lost.response["ts"])  # someone deleted it
    await bell.restart()
    await bell.idle()
    top = top_level(bell, DEPLOYS)
    assert len(top) == 1 and top[0]["ts"] != lost.response["ts"]
    assert deploy_row(bell, 1)["message_ts"] == top[0]["ts"]


async def test_a_crash_after_posting_an_incident_status_message_keeps_one(
    make_bell: MakeBell
) -> None:
    bell = await start(make_bell)
    bell.double.lose_reply_next("chat.postMessage")  # the first post is the status message
    ack = await bell.command("/incident", "open DB latency sev2", channel=GENERAL)
    assert ack.status == 200
    status = await bell.double.wait_for("chat.postMessage")
    await bell.restart()
    await bell.idle()
    inc = incident_row(bell)
    mine = [m for m in top_level(bell, inc["channel_id"])
            if (m.get("metadata") or {}).get("event_type") == "shipbell_incident_status"]
    assert len(mine) == 1 and mine[0]["ts"] == status.response["ts"]
    assert inc["status_message_ts"] == mine[0]["ts"]
    assert bell.double.state.pins.get(inc["channel_id"]) == [mine[0]["ts"]]
    assert len(top_level(bell, INCIDENTS)) == 1


async def test_a_crash_after_announcing_an_incident_keeps_one_announcement(
    make_bell: MakeBell
) -> None:
    bell = await start(make_bell)
    # the status message, then (after the restart adopted it) the announcement
    bell.double.lose_reply_next("chat.postMessage", times=2)
    await bell.command("/incident", "open DB latency sev2", channel=GENERAL)
    await bell.double.wait_for("chat.postMessage")
    await bell.restart()
    await bell.double.wait_for("chat.postMessage",
                               lambda c: c.args["channel"] == INCIDENTS)
    await bell.restart()
    await bell.idle()
    inc = incident_row(bell)
    announced = top_level(bell, INCIDENTS)
    assert len(announced) == 1 and inc["announcement_ts"] == announced[0]["ts"]
    assert announced[0]["metadata"] == {"event_type": "shipbell_incident_announcement",
                                        "event_payload": {"incident_id": inc["id"]}}
    tagged = [m for m in top_level(bell, inc["channel_id"]) if m.get("metadata")]
    assert [m["ts"] for m in tagged] == [inc["status_message_ts"]]


async def test_the_double_keeps_metadata_like_slack() -> None:
    """History returns metadata only when asked, bounded by ``oldest``; bad shapes refused."""
    from shipbell.bot.slackdouble import SlackDouble
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    async with SlackDouble() as double:
        double.add_channel("deploys", channel_id=DEPLOYS, members=[SHIPBELL])
        client = AsyncWebClient(token=double.token, base_url=double.api_url)
        try:
            tag = {"event_type": "shipbell_deploy", "event_payload": {"deploy_id": 7}}
            first = await client.chat_postMessage(channel=DEPLOYS, text="a", metadata=tag)
            plain = await client.conversations_history(channel=DEPLOYS)
            assert "metadata" not in plain["messages"][0]
            full = await client.conversations_history(channel=DEPLOYS,
                                                      include_all_metadata=True)
            assert full["messages"][0]["metadata"] == tag
            later = await client.conversations_history(channel=DEPLOYS,
                                                       oldest=first["ts"])
            assert later["messages"] == []  # oldest is exclusive unless inclusive
            both = await client.conversations_history(channel=DEPLOYS, oldest=first["ts"],
                                                      inclusive=True)
            assert [m["ts"] for m in both["messages"]] == [first["ts"]]
            reply = await client.chat_postMessage(channel=DEPLOYS, text="r", metadata=tag,
                                                  thread_ts=first["ts"])
            thread = await client.conversations_replies(channel=DEPLOYS, ts=first["ts"])
            assert [m["ts"] for m in thread["messages"]] == [first["ts"], reply["ts"]]
            assert all("metadata" not in m for m in thread["messages"])  # only when asked
            thread = await client.conversations_replies(channel=DEPLOYS, ts=first["ts"],
                                                        include_all_metadata=True)
            assert [m["metadata"] for m in thread["messages"]] == [tag, tag]
            with pytest.raises(SlackApiError) as refused:
                await client.chat_postMessage(channel=DEPLOYS, text="b",
                                              metadata={"event_type": "no spaces",
                                                        "event_payload": {}})
            assert refused.value.response["error"] == "invalid_metadata_format"
        finally:
            if client.session is not None:
                await client.session.close()
