"""`POST /hooks/deploy`: signed CI callbacks are validated by a model before they touch a deploy."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

import pytest
from conftest import MakeBell
from fakes.ci import FakeCI, post
from fakes.configs import deploy_config
from shipbell.bot.deploys import signing
from shipbell.bot.local import LocalShipbell

pytest_plugins = ("fakes.fixtures",)


@pytest.fixture
async def bell(make_bell: MakeBell, ci: FakeCI) -> LocalShipbell:
    bell = await make_bell(deploy_config(ci.url))
    await bell.command("/deploy", "api to production")
    await ci.wait_jobs(1)
    await bell.idle()
    return bell


def deploy_row(bell: LocalShipbell) -> dict[str, Any]:
    return bell.core.store.one("SELECT state, version, error FROM deploys WHERE id = 1")


async def send(bell: LocalShipbell, ci: FakeCI, raw: bytes) -> tuple[int, dict[str, Any]]:
    """POST exact bytes, correctly signed (so only the body can be at fault)."""
    stamp = str(int(ci.now().timestamp()))
    headers = signing.headers(ci.secret, int(stamp), raw, secrets.token_hex(8))
    return await post(bell.runtime.url + "/hooks/deploy", raw, headers)


BAD_BODIES: dict[str, Any] = {
    "deploy_id a huge float": b'{"deploy_id": 1e30, "status": "succeeded"}',
    "deploy_id true": {"deploy_id": True, "status": "succeeded"},
    "deploy_id 1.0": {"deploy_id": 1.0, "status": "succeeded"},
    "deploy_id too big": {"deploy_id": 2**70, "status": "succeeded"},
    "deploy_id superscript": {"deploy_id": "²", "status": "succeeded"},
    "deploy_id 20 digits": {"deploy_id": "9" * 20, "status": "succeeded"},
    "deploy_id zero": {"deploy_id": 0, "status": "succeeded"},
    "deploy_id missing": {"status": "succeeded"},
    "status a list": {"deploy_id": 1, "status": ["succeeded"]},
    "version an object": {"deploy_id": 1, "status": "succeeded", "version": {"x": 1}},
    "changes a string": {"deploy_id": 1, "status": "succeeded", "changes": "abc"},
    "body a list": [1],
    "body not json": b"{nope",
    "body not utf-8": b'{"deploy_id": 1, "status": "succeeded", "version": "\xff"}',
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
async def test_malformed_signed_callback_is_400_and_changes_nothing(
    bell: LocalShipbell, ci: FakeCI, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    value = BAD_BODIES[case]
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    before = deploy_row(bell)
    with caplog.at_level(logging.INFO):
        status, body = await send(bell, ci, raw)
    assert status == 400, (case, status, body)
    assert isinstance(body.get("error"), str) and body["error"]
    assert deploy_row(bell) == before == {"state": "triggered", "version": None, "error": None}
    assert not [r for r in caplog.records if r.exc_info]


async def test_deploy_id_as_ascii_digits_string_still_reports(bell: LocalShipbell,
                                                              ci: FakeCI) -> None:
    status, body = await send(bell, ci, json.dumps(
        {"deploy_id": "1", "status": "succeeded", "version": "v2"}).encode())
    assert (status, body["applied"], body["state"]) == (200, True, "succeeded")


@pytest.mark.parametrize("stamp", ["1e3", "", "abc", "\u0661\u0662", " 17"])
async def test_odd_timestamps_and_signatures_are_401(bell: LocalShipbell, ci: FakeCI,
                                                     caplog: pytest.LogCaptureFixture,
                                                     stamp: str) -> None:
    body = b'{"deploy_id": 1, "status": "succeeded"}'
    headers = {"Content-Type": "application/json", signing.TIMESTAMP_HEADER: stamp,
               signing.SIGNATURE_HEADER: signing.sign(ci.secret, stamp, body)}
    odd = {**headers, signing.SIGNATURE_HEADER: "sha256=\u00e9"}
    with caplog.at_level(logging.INFO):
        assert (await post(bell.runtime.url + "/hooks/deploy", body, headers))[0] == 401
        assert (await post(bell.runtime.url + "/hooks/deploy", body, odd))[0] == 401
    assert not [r for r in caplog.records if r.exc_info]
    assert deploy_row(bell)["state"] == "triggered"
