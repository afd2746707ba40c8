"""Property-based fuzzing through the real HTTP endpoint, signed as Slack or the CI would.

Hostile command text, interactive payload shapes (real action ids with garbage values),
event envelopes and CI callbacks.  Whatever arrives, Shipbell answers below 500, logs no
traceback, never says "Something went wrong", and no `<!…>` typed by the user reaches a
message the Slack double receives.  One Shipbell per test; a bounded number of examples,
generated deterministically (``derandomize``) so a failure is the same failure every run.
Shrinking is off to keep the suite fast: a failing run prints the input it failed on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import MakeBell
from fakes.ci import FakeCI, post
from fakes.configs import deploy_config
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from shipbell.bot.deploys import signing
from shipbell.bot.local import LocalShipbell, merge
from shipbell.bot.slackdouble.cast import (
    ANA,
    BOB,
    DEPLOYS,
    EVE,
    GENERAL,
    INCIDENTS,
    ONCALL,
    RELEASES,
)
from shipbell.handlers.deploy.ids import Action as DeployAction
from shipbell.handlers.incident.ids import Action as IncidentAction
from shipbell.handlers.incident.ids import Block as IncidentBlock
from shipbell.handlers.incident.ids import Callback, Field

pytest_plugins = ("fakes.fixtures",)

EXAMPLES = int(os.environ.get("SHIPBELL_FUZZ_EXAMPLES", "40"))  # e.g. 500 for a deep run
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
    phases=[Phase.explicit, Phase.generate], report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MARK = "fz"  # every hostile mention carries it, so a leak is told apart from Shipbell's own
LEAK = re.compile(r"<![^>]*\|" + MARK)
TRAIN = {"channel": RELEASES, "services": ["web", "api"], "timezone": "Europe/Paris",
         "weekday": "tue", "time": "14:00", "freeze": "24h", "captains": [ANA, BOB]}

HOSTILE = [
    f"<!channel|{MARK}>", f"<!here|{MARK}>", f"<!everyone|{MARK}>",
    f"<!subteam^{ONCALL}|{MARK}>", f"<!date^1|{MARK}>", f"<@{EVE}>", f"<#{GENERAL}>",
    "&", "&lt;", "<", ">", "²", "١٢", "9" * 25, "-1", "0", "1e30", "#7", "INC-1",
    "INC-99999999999999999999", "`", "*bold*", "\u202e", "\x00", "🚀", "'", '"', "--",
    "--limit", "--service", "--reason", "--for", "--private", "--test", "--incident",
    "sev1", "sev9", "2026-02-30", "2026-11-03", "9999-99-99", "24h", "-3h", "99999h",
]
WORDS = {
    "/deploy": ["help", "status", "history", "cancel", "lock", "unlock", "locks", "rollback",
                "explain", "api", "web", "worker", "api@v1", "to", "staging", "production",
                "in", "1", "2", "stats"],
    "/incident": ["open", "list", "help", "status", "investigating", "resolved", "sev", "assign",
                  "commander", "comms", "update", "note", "link", "caused", "fixed", "followup",
                  "done", "due", "resolve", "postmortem", "close", "INC-1", "1", "api"],
    "/release": ["next", "calendar", "skip", "unskip", "freeze", "unfreeze", "captain", "help",
                 "web", "api", "3", "@ana", f"<@{BOB}>"],
}


def words_for(command: str) -> st.SearchStrategy[str]:
    token = st.one_of(st.sampled_from(WORDS[command]), st.sampled_from(HOSTILE),
                      st.text(max_size=12))
    return st.lists(token, max_size=8).map(" ".join)


def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40),
                     st.lists(st.sampled_from(HOSTILE), max_size=4).map(" ".join))


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=3),
    max_leaves=8,
)


def button_value() -> st.SearchStrategy[Any]:
    """What a forged button value might be: garbage, numbers, JSON aimed at the handlers."""
    forged = st.fixed_dictionaries({}, optional={
        "id": JSONISH, "deploy": JSONISH, "incident": JSONISH, "minutes": JSONISH,
        "channel": st.sampled_from([GENERAL, INCIDENTS, "nope"]),
        "reason": hostile_text(), "service": hostile_text(), "env": hostile_text(),
        "until": JSONISH, "user": hostile_text()}).map(json.dumps)
    return st.one_of(hostile_text(), forged, st.integers().map(str), JSONISH)


DEPLOY_ACTION_IDS = [str(a) for a in DeployAction]
INCIDENT_ACTION_IDS = [str(a) for a in IncidentAction] + [
    f"{IncidentAction.CAUSED}.1", f"{IncidentAction.ROLLBACK}.1", f"{IncidentAction.SNOOZE}.0",
    f"{IncidentAction.SNOOZE}.99999999999999999999", f"{IncidentAction.CAUSED}.²"]



def slack_headers(secret: str, body: bytes, content_type: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": "v0=" + mac.hexdigest()}


def mrkdwn(obj: Any) -> list[str]:
    """Every string Slack renders as mrkdwn in a call (plain_text objects never ping)."""
    if isinstance(obj, list):
        return [t for item in obj for t in mrkdwn(item)]
    if not isinstance(obj, dict) or obj.get("type") == "plain_text":
        return []
    found = []
    for key, value in obj.items():
        if key in ("text", "topic") and isinstance(value, str):
            found.append(value)
        else:
            found.extend(mrkdwn(value))
    return found


class Watch:
    """What one example did: the ack, new double calls, log records."""

    def __init__(self, bell: LocalShipbell, caplog: pytest.LogCaptureFixture) -> None:
        self.bell, self.caplog = bell, caplog
        self.start = len(bell.double.calls)
        caplog.clear()

    async def check(self, status: int, body: str, what: Any) -> None:
        await self.bell.idle()
        assert status < 500, (what, status, body)
        assert "Something went wrong" not in body, (what, body)
        for call in self.bell.double.calls[self.start:]:
            seen = json.dumps(call.args, ensure_ascii=False)
            assert "Something went wrong" not in seen, (what, call.method, seen[:300])
            leaks = [t for t in mrkdwn(call.args) if LEAK.search(t)]
            assert not leaks, (what, call.method, leaks)
        broken = [f"{r.name}: {r.getMessage()}" for r in self.caplog.records
                  if r.exc_info or "Traceback" in r.getMessage()]
        assert not broken, (what, broken)


@pytest.fixture
async def fuzz_bell(make_bell: MakeBell, ci: FakeCI) -> LocalShipbell:
    config = merge(deploy_config(ci.url), {"release": {"trains": {"web": TRAIN}}})
    bell = await make_bell(config)
    await bell.command("/incident", "open Checkout down sev2 --service api")
    await bell.command("/deploy", "api to production")
    await bell.idle()
    return bell


def incident_channel(bell: LocalShipbell) -> str:
    return bell.core.store.one("SELECT channel_id FROM incidents ORDER BY id LIMIT 1")["channel_id"]


# ---- slash commands ---------------------------------------------------------------------------
async def fuzz_command(bell: LocalShipbell, caplog: pytest.LogCaptureFixture, command: str,
                       text: str, where: str) -> None:
    watch = Watch(bell, caplog)
    channel = incident_channel(bell) if where == "incident" else DEPLOYS
    with caplog.at_level(logging.INFO):
        ack = await bell.command(command, text, channel=channel)
        await watch.check(ack.status, ack.body, (command, text, channel))


@FUZZ
@given(text=words_for("/deploy"), where=st.sampled_from(["deploys", "incident"]))
async def test_fuzz_deploy_command(fuzz_bell: LocalShipbell, caplog: pytest.LogCaptureFixture,
                                   text: str, where: str) -> None:
    await fuzz_command(fuzz_bell, caplog, "/deploy", text, where)


@FUZZ
@given(text=words_for("/incident"), where=st.sampled_from(["deploys", "incident"]))
async def test_fuzz_incident_command(fuzz_bell: LocalShipbell, caplog: pytest.LogCaptureFixture,
                                     text: str, where: str) -> None:
    await fuzz_command(fuzz_bell, caplog, "/incident", text, where)


@FUZZ
@given(text=words_for("/release"), where=st.sampled_from(["deploys", "incident"]))
async def test_fuzz_release_command(fuzz_bell: LocalShipbell, caplog: pytest.LogCaptureFixture,
                                    text: str, where: str) -> None:
    await fuzz_command(fuzz_bell, caplog, "/release", text, where)


# ---- interactive payloads ---------------------------------------------------------------------
async def send_interaction(bell: LocalShipbell, caplog: pytest.LogCaptureFixture,
                           payload: Any) -> None:
    watch = Watch(bell, caplog)
    raw = urlencode({"payload": json.dumps(payload)}).encode()
    with caplog.at_level(logging.INFO):
        ack = await bell.driver.raw(raw, slack_headers(bell.signing_secret, raw,
                                                       "application/x-www-form-urlencoded"))
        await watch.check(ack.status, ack.body, payload)


def base(bell: LocalShipbell, kind: str) -> dict[str, Any]:
    return bell.driver._base(kind, EVE)  # an outsider: no deploy or incident role


async def press_anything(bell: LocalShipbell, caplog: pytest.LogCaptureFixture,
                         action_id: str, value: Any, message: bool) -> None:
    payload = base(bell, "block_actions")
    payload["actions"] = [{"action_id": action_id, "block_id": "b", "type": "button",
                           "value": value, "action_ts": "1.0"}]
    channel = incident_channel(bell)
    payload["channel"] = {"id": channel}
    payload["container"] = {"type": "message", "channel_id": channel, "message_ts": "1.000001"}
    payload["response_url"] = bell.double.new_response_url(channel, EVE)
    if message:
        payload["message"] = {"ts": "1.000001", "text": "x", "blocks": []}
    await send_interaction(bell, caplog, payload)


@FUZZ
@given(action_id=st.one_of(st.sampled_from(DEPLOY_ACTION_IDS), st.text(max_size=30)),
       value=button_value(), message=st.booleans())
async def test_fuzz_deploy_buttons_and_unknown_actions(
    fuzz_bell: LocalShipbell, caplog: pytest.LogCaptureFixture, action_id: str, value: Any,
    message: bool,
) -> None:
    await press_anything(fuzz_bell, caplog, action_id, value, message)


@FUZZ
@given(action_id=st.sampled_from(INCIDENT_ACTION_IDS), value=button_value(),
       message=st.booleans())
async def test_fuzz_incident_buttons(fuzz_bell: LocalShipbell, caplog: pytest.LogCaptureFixture,
                                     action_id: str, value: Any, message: bool) -> None:
    await press_anything(fuzz_bell, caplog, action_id, value, message)


@FUZZ
@given(shape=st.dictionaries(
    st.sampled_from(["actions", "user", "view", "channel", "container", "message", "team",
                     "response_url", "state", "authorizations", "enterprise", "type"]),
    JSONISH, max_size=5))
async def test_fuzz_interactive_shapes(fuzz_bell: LocalShipbell,
                                       caplog: pytest.LogCaptureFixture,
                                       shape: dict[str, Any]) -> None:
    payload = {**base(fuzz_bell, "block_actions"), **shape}
    await send_interaction(fuzz_bell, caplog, payload)


@FUZZ
@given(title=hostile_text(), severity=st.one_of(hostile_text(), st.sampled_from(["1", "4"])),
       service=hostile_text(), description=hostile_text(), metadata=hostile_text(),
       private=st.booleans())
async def test_fuzz_view_submission(fuzz_bell: LocalShipbell, caplog: pytest.LogCaptureFixture,
                                    title: str, severity: str, service: str, description: str,
                                    metadata: str, private: bool) -> None:
    bell = fuzz_bell
    d = bell.driver
    values = {
        IncidentBlock.TITLE: {Field.TITLE: d.text_value(title)},
        IncidentBlock.SEVERITY: {Field.SEVERITY: d.select_value(severity)},
        IncidentBlock.SERVICE: {Field.SERVICE: d.select_value(service)},
        IncidentBlock.DESCRIPTION: {Field.DESCRIPTION: d.text_value(description)},
        IncidentBlock.PRIVATE: {Field.PRIVATE: d.checkbox_values(["private"] if private else [])},
    }
    payload = base(bell, "view_submission")
    payload["view"] = {"id": "V0FUZZ001", "callback_id": str(Callback.DECLARE), "type": "modal",
                       "private_metadata": metadata, "state": {"values": values},
                       "team_id": bell.double.team_id, "hash": "1.x"}
    payload["response_urls"] = []
    await send_interaction(bell, caplog, payload)


# ---- events -----------------------------------------------------------------------------------
@FUZZ
@given(event_type=st.one_of(st.sampled_from(["pin_added", "reaction_added", "app_mention",
                                             "channel_created", "message"]),
                            st.text(min_size=1, max_size=20)),
       fields=st.dictionaries(st.sampled_from(["user", "item", "channel", "reaction", "ts",
                                               "channel_id", "text", "team"]),
                              JSONISH, max_size=4),
       real_item=st.booleans())
async def test_fuzz_event_envelopes(fuzz_bell: LocalShipbell, caplog: pytest.LogCaptureFixture,
                                    event_type: str, fields: dict[str, Any],
                                    real_item: bool) -> None:
    bell = fuzz_bell
    event = {"type": event_type, **fields}
    if real_item:
        event["item"] = {"type": "message", "channel": incident_channel(bell),
                         "ts": "1700000000.000100",
                         "message": {"ts": "1700000000.000100", "text": HOSTILE[0]}}
        event.setdefault("reaction", "pushpin")
    watch = Watch(bell, caplog)
    with caplog.at_level(logging.INFO):
        ack = await bell.driver.event(event)
        await watch.check(ack.status, ack.body, event)
    assert ack.status in (200, 400), (event, ack.status)


# ---- CI callbacks -----------------------------------------------------------------------------
@FUZZ
@given(body=st.one_of(
    JSONISH,
    st.fixed_dictionaries({"deploy_id": st.one_of(JSONISH, st.sampled_from([1, "1", 1.0, True])),
                           "status": st.one_of(st.sampled_from(["running", "succeeded",
                                                                "failed", "cancelled"]),
                                               JSONISH)},
                          optional={"version": JSONISH, "error": JSONISH, "log_url": JSONISH,
                                    "sha": JSONISH, "changes": JSONISH})))
async def test_fuzz_deploy_callbacks(fuzz_bell: LocalShipbell, ci: FakeCI,
                                     caplog: pytest.LogCaptureFixture, body: Any) -> None:
    bell = fuzz_bell
    watch = Watch(bell, caplog)
    raw = json.dumps(body).encode()
    delivery = hashlib.sha256(raw).hexdigest()[:16]
    headers = signing.headers(ci.secret, int(ci.now().timestamp()), raw, delivery)
    with caplog.at_level(logging.INFO):
        status, answer = await post(bell.runtime.url + "/hooks/deploy", raw, headers)
        await watch.check(status, json.dumps(answer), body)
