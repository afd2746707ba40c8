"""What the fuzz test found in handler code the edge does not own, one input → symptom each.

Each failed on the main of its day (a traceback and "Something went wrong", or a `<!channel>`
posted unescaped); the handler fixes have since been merged, so they stay as regression
tests.  A new finding goes here as ``xfail(strict=True)`` until its fix lands.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import pytest
from shipbell.bot.slackdouble.cast import EVE
from shipbell.handlers.incident.ids import Action, Block, Callback, Field
from test_fuzz_edge import LEAK, Watch, base, fuzz_bell, incident_channel, slack_headers

pytest_plugins = ("fakes.fixtures",)
__all__ = ["fuzz_bell"]  # the fixture, shared with the fuzz test

BUTTONS = [
    (str(Action.JOIN), "²", "int('²') at on_join"),
    (str(Action.JOIN), "{}", "int('{}') at on_join"),
    (f"{Action.CAUSED}.1", "\x16", "json.loads of a non-JSON value"),
    (f"{Action.ROLLBACK}.1", "", "KeyError 'i' on an empty value"),
    (f"{Action.ROLLBACK}.1", "-102274", "JSON that is not an object: int has no .get"),
    (str(Action.FOLLOWUP_DONE), "<!channel|fz>", "int('<!channel') after split('|')"),
    (str(Action.FOLLOWUP_DONE), '{"id": []}', "unpack of split('|') with no '|'"),
    (f"{Action.SNOOZE}.0", "--private", "unpack of split('|') expecting 3 parts"),
    (f"{Action.SNOOZE}.0", "", "int('') of the minutes"),
]


@pytest.mark.parametrize(("action_id", "value", "symptom"), BUTTONS,
                         ids=[f"{a}={v!r}" for a, v, _ in BUTTONS])
async def test_incident_button_with_garbage_value_gets_a_sentence(
    fuzz_bell: Any, caplog: pytest.LogCaptureFixture, action_id: str, value: str, symptom: str
) -> None:
    """Before the handler fix: a traceback, and "Something went wrong" via response_url."""
    bell = fuzz_bell
    channel = incident_channel(bell)
    payload = base(bell, "block_actions")
    payload["actions"] = [{"action_id": action_id, "block_id": "b", "type": "button",
                           "value": value}]
    payload["channel"] = {"id": channel}
    payload["response_url"] = bell.double.new_response_url(channel, EVE)
    watch = Watch(bell, caplog)
    raw = urlencode({"payload": json.dumps(payload)}).encode()
    with caplog.at_level(logging.INFO):
        ack = await bell.driver.raw(raw, slack_headers(bell.signing_secret, raw,
                                                       "application/x-www-form-urlencoded"))
        await watch.check(ack.status, ack.body, symptom)


async def declare(bell: Any, caplog: pytest.LogCaptureFixture, *, description: str,
                  metadata: str) -> None:
    d = bell.driver
    values = {
        Block.TITLE: {Field.TITLE: d.text_value("Checkout is down")},
        Block.SEVERITY: {Field.SEVERITY: d.select_value("2")},
        Block.SERVICE: {Field.SERVICE: d.select_value("api")},
        Block.DESCRIPTION: {Field.DESCRIPTION: d.text_value(description)},
        Block.PRIVATE: {Field.PRIVATE: d.checkbox_values([])},
    }
    payload = base(bell, "view_submission")
    payload["view"] = {"id": "V0FUZZ001", "callback_id": str(Callback.DECLARE), "type": "modal",
                       "private_metadata": metadata, "state": {"values": values}}
    watch = Watch(bell, caplog)
    raw = urlencode({"payload": json.dumps(payload)}).encode()
    with caplog.at_level(logging.INFO):
        ack = await bell.driver.raw(raw, slack_headers(bell.signing_secret, raw,
                                                       "application/x-www-form-urlencoded"))
        await watch.check(ack.status, ack.body, (description, metadata))


async def test_declare_modal_description_is_escaped(
    fuzz_bell: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await declare(fuzz_bell, caplog, description="<!channel|fz> look", metadata="{}")
    posted = [t for c in fuzz_bell.double.calls_to("chat.postMessage")
              for t in json.dumps(c.args).split("\\n") if LEAK.search(t)]
    assert not posted


@pytest.mark.parametrize("metadata", ["0", "null", "1e30", "[]"])
async def test_declare_modal_with_odd_private_metadata_still_declares(
    fuzz_bell: Any, caplog: pytest.LogCaptureFixture, metadata: str
) -> None:
    await declare(fuzz_bell, caplog, description="plain", metadata=metadata)
