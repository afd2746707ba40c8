"""`POST /hooks/deploy`: signed status callbacks from a webhook provider's CI.

Order matters: the body is read within the edge's size and time limits; the signature is
checked (against every webhook provider's secret, in constant time; the timestamp must be
ASCII digits) before the body is trusted; the body is validated by ``Callback`` (400 naming
the field otherwise: ``deploy_id`` is an int or a string of ASCII digits, never a bool or a
float); then the deploy must exist (404) and belong to the provider whose secret signed it;
a delivery id seen before is ignored; the report is applied by compare-and-set, so an
out-of-order or repeated status changes nothing.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictStr,
    ValidationError,
)
from shipbell.bot.core import Core
from shipbell.bot.deploys import signing
from shipbell.bot.deploys.models import ReportState
from shipbell.bot.deploys.providers import Report, VerifiesCallbacks
from shipbell.bot.deploys.reports import REPORT_STATES, normalise_changes
from shipbell.bot.deploys.runner import Runner
from shipbell.bot.inbound import LIMITS, Refused, read_body
from shipbell.bot.inputs import parse_id, parse_int, strict_int


def _deploy_id(value: object) -> int:
    found = parse_id(value) if isinstance(value, str) else strict_int(value, lo=1)
    if found is None:
        raise ValueError("must be a deploy number: a whole number from 1, as an int or digits")
    return found


def _status(value: str) -> str:
    if value not in REPORT_STATES:
        raise ValueError("not a report state")
    return value


class Callback(BaseModel):
    """What a CI may report; unknown keys are ignored, known ones must have their type."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    deploy_id: Annotated[int, BeforeValidator(_deploy_id)]
    status: Annotated[StrictStr, AfterValidator(_status)]
    log_url: StrictStr | None = None
    version: StrictStr | None = None
    sha: StrictStr | None = None
    error: StrictStr | None = None
    changes: list[Any] | None = None


def parse_callback(raw: bytes) -> Callback | str:
    """The validated callback, or one sentence saying what is wrong (no body text echoed)."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return "expected a JSON object with deploy_id and status"
    if not isinstance(body, dict):
        return "expected a JSON object with deploy_id and status"
    try:
        return Callback.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        if where == "status":
            return f"status must be {', '.join(REPORT_STATES)}"
        return f"{where[:60]}: {first['msg'].removeprefix('Value error, ')[:120]}"


def handler(core: Core, runner: Runner) -> Any:
    svc = runner.svc

    def signed_by(raw: bytes, headers: Any) -> list[str]:
        stamp = headers.get(signing.TIMESTAMP_HEADER, "")
        signature = headers.get(signing.SIGNATURE_HEADER, "")
        if str(parse_int(stamp)) != stamp or not signature.isascii():
            return []  # "١٢", " 17", "1e3": not a timestamp; non-ASCII: not a signature
        now = core.clock.now().timestamp()
        names = []
        for name, provider in svc.providers.items():
            if (isinstance(provider, VerifiesCallbacks)
                    and provider.verifies(stamp, raw, signature, now)):
                names.append(name)
        return names

    async def hook(request: web.Request) -> web.Response:
        try:
            raw = await read_body(request, request.app[LIMITS])
        except Refused as refused:
            runner.callbacks.labels(refused.outcome).inc()
            return web.json_response({"error": refused.reason}, status=refused.status)
        providers = signed_by(raw, request.headers)
        if not providers:
            runner.callbacks.labels("bad_signature").inc()
            return web.json_response({"error": "bad or expired signature"}, status=401)
        body = parse_callback(raw)
        if isinstance(body, str):
            runner.callbacks.labels("malformed").inc()
            return web.json_response({"error": body}, status=400)
        delivery = request.headers.get(signing.DELIVERY_HEADER) or request.headers.get(
            signing.SIGNATURE_HEADER, "")
        outcome, answer, status = await core.store.run(deliver, body, providers, delivery)
        runner.callbacks.labels(outcome).inc()
        return web.json_response(answer, status=status)

    def deliver(body: Callback, providers: list[str], delivery: str | None
                ) -> tuple[str, dict[str, Any], int]:
        """(On the store's thread, one turn.)  A signed, valid callback applied to its deploy:
        (outcome for the metric, the answer, its HTTP status)."""
        deploy_id = body.deploy_id
        deploy = svc.repo.get(deploy_id)
        if deploy is None:
            return "unknown_deploy", {"error": f"no deploy {deploy_id}"}, 404
        if deploy.provider not in providers:
            return "bad_signature", {"error": "signed for another provider"}, 401
        if not core.claim_key(f"deployhook:{deploy.provider}:{delivery}"):
            return "replayed", {"ok": True, "ignored": "replayed delivery"}, 200
        report = Report(
            state=ReportState(body.status),
            log_url=body.log_url[:2000] if body.log_url else None,
            version=body.version[:200] if body.version else None,
            sha=body.sha[:64] if body.sha else None,
            error=body.error[:1000] if body.error else None,
            changes=normalise_changes(body.changes),
        )
        applied = runner.apply(deploy_id, report, f"ci:{deploy.provider}")
        current = svc.repo.get(deploy_id)
        return ("applied" if applied else "stale"), {
            "ok": True, "applied": applied,
            "state": str(current.state) if current else None}, 200

    return hook
