"""Form bodies are read field for field as the standard library reads them."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from hypothesis import given
from hypothesis import strategies as st
from shipbell.bot.slack.payloads import form_fields
from shipbell.bot.slackdouble.cast import ANA, DEPLOYS

PIECES = st.sampled_from(["&", "=", "+", "%", "%2", "%2F", "%zz", "%C3%A9", "%FF", "a", "é",
                          " ", "payload", "text", ";", "&&", "=="])


@given(st.lists(PIECES, max_size=25).map("".join) | st.text(max_size=40))
def test_any_text_reads_as_parse_qsl_reads_it(text: str) -> None:
    assert form_fields(text) == dict(parse_qsl(text, keep_blank_values=True))


@given(st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=6))
def test_encoded_fields_come_back(fields: dict[str, str]) -> None:
    assert form_fields(urlencode(fields)) == fields


def test_a_slash_command_body() -> None:
    body = (f"command=%2Fdeploy&text=api+to+production+--reason+%22caf%C3%A9%22&user_id={ANA}"
            f"&channel_id={DEPLOYS}&response_url=https%3A%2F%2Fhooks.example%2Fx&empty=&bare")
    assert form_fields(body) == {
        "command": "/deploy", "text": 'api to production --reason "café"', "user_id": ANA,
        "channel_id": DEPLOYS, "response_url": "https://hooks.example/x", "empty": "",
        "bare": ""}
