"""`POST /hooks/deploy`: signed status callbacks from a webhook provider's CI.

Order matters: the signature is checked (against every webhook provider's secret, in
constant time) before the body is trusted; then the deploy must exist (404) and belong to
the provider whose secret signed it; a delivery id seen before is ignored; the report is
applied by compare-and-set, so an out-of-order or repeated status changes nothing.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aiohttp import web

from bot.core import Core
from bot.deploys import signing
from bot.deploys.providers import Report
from bot.deploys.reports import REPORT_STATES, normalise_changes
from bot.deploys.runner import Runner


def handler(core: Core, runner: Runner) -> Any:
    svc = runner.svc

    def signed_by(raw: bytes, headers: Any) -> list[str]:
        stamp = headers.get(signing.TIMESTAMP_HEADER, "")
        signature = headers.get(signing.SIGNATURE_HEADER, "")
        now = core.clock.now().timestamp()
        names = []
        for name, pc in svc.config.providers.items():
            secret = os.environ.get(pc.secret_env or "") if pc.type == "webhook" else None
            if secret and signing.verify(secret, stamp, raw, signature, now):
                names.append(name)
        return names

    async def hook(request: web.Request) -> web.Response:
        raw = await request.read()
        providers = signed_by(raw, request.headers)
        if not providers:
            runner.callbacks.labels("bad_signature").inc()
            return web.json_response({"error": "bad or expired signature"}, status=401)
        try:
            body = json.loads(raw)
            deploy_id = int(body["deploy_id"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "expected JSON with deploy_id"}, status=400)
        status = body.get("status")
        if status not in REPORT_STATES:
            return web.json_response(
                {"error": "status must be running, succeeded, failed or cancelled"}, status=400)
        deploy = svc.repo.get(deploy_id)
        if deploy is None:
            runner.callbacks.labels("unknown_deploy").inc()
            return web.json_response({"error": f"no deploy {deploy_id}"}, status=404)
        if deploy.provider not in providers:
            runner.callbacks.labels("bad_signature").inc()
            return web.json_response({"error": "signed for another provider"}, status=401)
        delivery = request.headers.get(signing.DELIVERY_HEADER) or request.headers.get(
            signing.SIGNATURE_HEADER, "")
        if not core.claim_key(f"deployhook:{deploy.provider}:{delivery}"):
            runner.callbacks.labels("replayed").inc()
            return web.json_response({"ok": True, "ignored": "replayed delivery"})
        report = Report(
            state=status,
            log_url=str(body["log_url"])[:2000] if body.get("log_url") else None,
            version=str(body["version"])[:200] if body.get("version") else None,
            sha=str(body["sha"])[:64] if body.get("sha") else None,
            error=str(body["error"])[:1000] if body.get("error") else None,
            changes=normalise_changes(body.get("changes")),
        )
        applied = runner.apply(deploy_id, report, f"ci:{deploy.provider}")
        runner.callbacks.labels("applied" if applied else "stale").inc()
        current = svc.repo.get(deploy_id)
        return web.json_response({"ok": True, "applied": applied,
                                  "state": str(current.state) if current else None})

    return hook
