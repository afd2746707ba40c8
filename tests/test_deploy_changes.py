"""What a deploy shipped: the changes since the previous deploy to that env, with commit times.

Lead time in the digest is only as good as these rows, so each provider that can know them
must record them, and the deploy message must show them.
"""

from __future__ import annotations

from typing import Any

from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import deploy_config
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.cast import DEPLOYS

pytest_plugins = ("fakes.fixtures",)


def top(bell: LocalShipbell, deploy_id: int) -> dict[str, Any]:
    return next(m for m in bell.double.messages(DEPLOYS)
                if m["text"].startswith(f"Deploy #{deploy_id}:"))


async def test_webhook_job_names_what_runs_now_and_ci_reports_the_range(
        make_bell: MakeBell, ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url))
    await bell.command("/deploy", "api@v1 to production")
    [first] = await ci.wait_jobs(1)
    assert first["previous_sha"] is None and first["previous_version"] is None
    await ci.callback(bell.runtime.url, 1, "succeeded", version="v1", sha="1111aaaa")
    await bell.command("/deploy", "api@v2 to production")
    second = (await ci.wait_jobs(2))[1]
    assert (second["previous_sha"], second["previous_version"]) == ("1111aaaa", "v1")
    # The CI lists the range as it starts; the final callback needn't repeat it.
    changes = [{"sha": "2222bbbb", "title": "Faster search", "author": "Dana",
                "committed_at": "2026-11-20T09:30:00+01:00"},
               {"sha": "3333cccc", "title": "Fix typo", "committed_at": "not a time"}]
    await ci.callback(bell.runtime.url, 2, "running", changes=changes)
    await ci.callback(bell.runtime.url, 2, "succeeded", version="v2", sha="3333cccc")
    await bell.idle()
    stored = bell.core.store.all("SELECT deploy_id, sha, committed_at FROM deploy_changes"
                                 " ORDER BY sha")
    assert stored == [
        {"deploy_id": 2, "sha": "2222bbbb", "committed_at": "2026-11-20T08:30:00.000000+00:00"},
        {"deploy_id": 2, "sha": "3333cccc", "committed_at": None},  # kept, not in lead time
    ]
    shown = str(top(bell, 2)["blocks"])
    assert "Shipped since the previous deploy" in shown
    assert "`2222bbb` Faster search (Dana)" in shown and "`3333ccc` Fix typo" in shown
    assert "Shipped since" not in str(top(bell, 1)["blocks"])  # the CI sent none for #1
