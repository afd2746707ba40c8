"""A fake GitHub REST API for the `github` provider, written from GitHub's documentation.

What it follows (docs.github.com, REST "Actions" and "Commits"):
- `POST …/actions/workflows/{wf}/dispatches` takes `ref` (a branch or tag: a commit SHA gets
  422 "No ref found for: …") and `inputs` (each must be declared by the workflow, else 422
  "Unexpected inputs provided: [...]"). With `return_run_details: true` it answers 200
  `{workflow_run_id, run_url, html_url}`; without it, and on older GitHub Enterprise Server
  (`legacy`), 204 with no body.
- Runs: `status` queued, waiting, pending, requested, in_progress, completed; `conclusion` only
  once completed. `display_title` is the workflow's `run-name` (else the workflow's name).
- `GET …/actions/workflows/{wf}/runs` filters by `event`, `branch`, `actor`, `status` and
  `created` (`>=2026-11-02T09:00:00Z`), newest first, `{total_count, workflow_runs}`.
- `POST …/runs/{id}/cancel`: 202, or 409 when the run has already completed.
- `GET …/compare/{base}...{head}`: commits oldest first; without `per_page`/`page` at most the
  250 newest (the oldest are dropped); with them, pages of up to 100 and `total_commits`.
- 401 "Bad credentials"; 404 "Not Found" for an unknown repository or workflow; 403/429 with
  `x-ratelimit-remaining: 0` and `x-ratelimit-reset` (primary) or `retry-after` (secondary).

A lost reply: with `lose_reply` set to "drop" the dispatch is acted on and the connection is
closed without an answer; "stall" acts on it and never answers (the client times out);
"before" drops the connection without creating anything (the request never got through).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from fakes.server import LocalServer

DECLARED = ("service", "environment", "deploy_id", "sha")
STATUSES = ("queued", "waiting", "pending", "requested", "in_progress", "completed")
CONCLUSIONS = ("success", "failure", "cancelled", "timed_out", "action_required", "neutral",
               "skipped", "startup_failure")
SHA_LIKE = re.compile(r"^[0-9a-f]{7,64}$")
UNPAGED_LIMIT = 250
HEAD = "f00dfacecafe0123456789abcdef0123456789ab"


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeGitHub(LocalServer):
    def __init__(self, token: str, now: Callable[[], datetime] | None = None, *,
                 login: str = "shipbell-bot") -> None:
        super().__init__()
        self.token = token
        self.now = now or (lambda: datetime.now(UTC))
        self.login = login
        self.repos: set[str] | None = None  # None: any owner/name exists
        self.workflows = {"deploy.yml"}
        self.declared: tuple[str, ...] = DECLARED  # the workflow's `on.workflow_dispatch.inputs`
        # The workflow's `run-name`, filled from its inputs; None: GitHub shows the workflow name.
        self.run_name: str | None = None
        self.heads: dict[str, str] = {}  # branch/tag -> the commit a run on it checks out
        self.dispatches: list[dict[str, Any]] = []  # every dispatch GitHub acted on
        self.refused: list[tuple[int, str]] = []  # (status, message) answered to dispatches
        self.runs: dict[int, dict[str, Any]] = {}
        self.cancelled: list[int] = []
        self.cancel_refused: list[int] = []
        self.commits: list[dict[str, Any]] = []  # what /compare lists, oldest first
        self.compared: list[str] = []
        self.compare_queries: list[dict[str, str]] = []
        self.listed: list[dict[str, str]] = []  # queries of the list-runs endpoint
        self.fail_next: list[int] = []  # statuses to answer on the next requests
        self.requests = 0
        self.user_agents: set[str] = set()
        self.legacy = False  # an older GitHub Enterprise Server: 204 and no run id
        self.lose_reply: str | None = None  # "drop", "stall" or "before", for the next dispatch
        self.rate_limited_until = 0.0  # answer the next request with an exhausted quota (403)
        self.secondary_retry_after: int | None = None  # the next request: 429 + retry-after
        self.on_dispatch: Callable[[int], None] | None = None  # called with each new run's id
        self._release = asyncio.Event()
        self._next_id = 9000

    def routes(self, app: web.Application) -> None:
        base = "/api/v3/repos/{owner}/{repo}"
        app.router.add_post(base + "/actions/workflows/{wf}/dispatches", self._dispatch)
        app.router.add_get(base + "/actions/workflows/{wf}/runs", self._list_runs)
        app.router.add_get(base + "/actions/runs/{run}", self._run)
        app.router.add_post(base + "/actions/runs/{run}/cancel", self._cancel)
        app.router.add_get(base + "/compare/{spec}", self._compare)
        app.router.add_get("/api/v3/user", self._user)

    async def start(self) -> FakeGitHub:
        self.url = await self.serve("/api/v3")
        return self

    async def stop(self) -> None:
        self._release.set()  # let stalled handlers finish so the server can close
        await super().stop()

    # -- what tests drive --------------------------------------------------------------
    def add_run(self, **fields: Any) -> dict[str, Any]:
        """A run someone else started (another dispatch, a push): what a lookup must skip."""
        run_id = self._next_id
        self._next_id += 1
        run = self._new_run(run_id, fields.pop("head_branch", "main"), {}, self.login)
        run.update(fields)
        self.runs[run_id] = run
        return run

    def finish(self, run_id: int, conclusion: str = "success") -> None:
        assert conclusion in CONCLUSIONS, conclusion
        self.runs[run_id].update(status="completed", conclusion=conclusion)

    def move(self, run_id: int, status: str) -> None:
        assert status in STATUSES and status != "completed", status
        self.runs[run_id].update(status=status, conclusion=None)

    # -- the API ------------------------------------------------------------------------
    def _gate(self, request: web.Request) -> web.Response | None:
        self.requests += 1
        self.user_agents.add(request.headers.get("User-Agent", ""))
        if not request.headers.get("User-Agent"):
            return _error(403, "Request forbidden by administrative rules. Please make sure "
                               "your request has a User-Agent header")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "Bad credentials")
        if self.rate_limited_until:
            reset = str(int(self.rate_limited_until))
            self.rate_limited_until = 0.0
            return _error(403, "API rate limit exceeded for user ID 1.",
                          headers={"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0",
                                   "x-ratelimit-reset": reset})
        if self.secondary_retry_after is not None:
            wait, self.secondary_retry_after = self.secondary_retry_after, None
            return _error(429, "You have exceeded a secondary rate limit. Please wait a few "
                               "minutes before you try again.",
                          headers={"retry-after": str(wait)})
        if self.fail_next:
            return _error(self.fail_next.pop(0), "Server Error")
        if self.repos is not None and _repo(request) not in self.repos:
            return _error(404, "Not Found")
        wf = request.match_info.get("wf")
        if wf is not None and wf not in self.workflows:
            return _error(404, "Not Found")
        return None

    async def _user(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        return web.json_response({"login": self.login, "id": 1, "type": "User"})

    def _new_run(self, run_id: int, ref: str, inputs: dict[str, str], actor: str
                 ) -> dict[str, Any]:
        title = self.run_name.format(**inputs) if self.run_name and inputs else "Deploy"
        who = {"login": actor, "id": 1, "type": "User"}
        return {"id": run_id, "name": "Deploy", "display_title": title,
                "event": "workflow_dispatch", "head_branch": ref,
                "head_sha": self.heads.get(ref, HEAD), "status": "queued", "conclusion": None,
                "path": ".github/workflows/deploy.yml", "run_attempt": 1,
                "created_at": stamp(self.now()), "updated_at": stamp(self.now()),
                "actor": who, "triggering_actor": who,
                "url": f"{self.url}/repos/acme/api/actions/runs/{run_id}",
                "html_url": f"https://github.example/runs/{run_id}"}

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._gate(request)) is not None:
            self.refused.append((refused.status, str(refused.text)))
            return refused
        if self.lose_reply == "before":
            self.lose_reply = None
            return await self._hang_up(request)
        body = await request.json()
        ref, inputs = body.get("ref"), body.get("inputs") or {}
        if not isinstance(ref, str) or not ref:
            return self._refuse(422, "Invalid request.\n\n\"ref\" wasn't supplied.")
        if SHA_LIKE.match(ref) and ref not in self.heads:
            return self._refuse(422, f"No ref found for: {ref}")
        unexpected = sorted(set(inputs) - set(self.declared))
        if unexpected:
            listed = ", ".join(f'"{name}"' for name in unexpected)
            return self._refuse(422, f"Unexpected inputs provided: [{listed}]")
        if any(not isinstance(v, str) for v in inputs.values()):
            return self._refuse(422, "Invalid request.\n\nFor 'properties/inputs', values "
                                     "must be strings.")
        run_id = self._next_id
        self._next_id += 1
        self.dispatches.append({**body, "path": request.path, "run_id": run_id})
        self.runs[run_id] = self._new_run(run_id, ref, inputs, self.login)
        if self.on_dispatch is not None:
            self.on_dispatch(run_id)
        if self.lose_reply is not None:
            mode, self.lose_reply = self.lose_reply, None
            if mode == "stall":
                await self._release.wait()
            return await self._hang_up(request)
        if self.legacy or not body.get("return_run_details"):
            return web.Response(status=204)
        run = self.runs[run_id]
        return web.json_response({"workflow_run_id": run_id, "run_url": run["url"],
                                  "html_url": run["html_url"]})

    def _refuse(self, status: int, message: str) -> web.Response:
        self.refused.append((status, message))
        return _error(status, message)

    async def _hang_up(self, request: web.Request) -> web.StreamResponse:
        """Close the connection without an answer: the client sees the reply lost."""
        if request.transport is not None:  # a stalled client may have given up already
            request.transport.close()
        raise asyncio.CancelledError  # aiohttp drops the handler quietly

    async def _list_runs(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        query = dict(request.query)
        self.listed.append(query)
        runs = sorted(self.runs.values(), key=lambda r: (r["created_at"], r["id"]), reverse=True)
        for name, field in (("event", "event"), ("branch", "head_branch"),
                            ("status", "status")):
            if name in query:
                runs = [r for r in runs if r[field] == query[name]
                        or (name == "status" and r["conclusion"] == query[name])]
        if "actor" in query:
            runs = [r for r in runs if r["actor"]["login"] == query["actor"]]
        if created := query.get("created"):
            if not created.startswith(">="):
                return _error(422, "Validation Failed")
            since = datetime.fromisoformat(created[2:].replace("Z", "+00:00"))
            runs = [r for r in runs if datetime.fromisoformat(
                r["created_at"].replace("Z", "+00:00")) >= since]
        per_page = min(int(query.get("per_page", "30")), 100)
        page = int(query.get("page", "1"))
        chunk = runs[(page - 1) * per_page: page * per_page]
        return web.json_response({"total_count": len(runs), "workflow_runs": chunk})

    async def _run(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        run = self.runs.get(int(request.match_info["run"]))
        if run is None:
            return _error(404, "Not Found")
        return web.json_response(run)

    async def _cancel(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        run_id = int(request.match_info["run"])
        run = self.runs.get(run_id)
        if run is None:
            return _error(404, "Not Found")
        if run["status"] == "completed":
            self.cancel_refused.append(run_id)
            return _error(409, "Cannot cancel a workflow run that is completed.")
        self.cancelled.append(run_id)
        run.update(status="completed", conclusion="cancelled")
        return web.json_response({}, status=202)

    async def _compare(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        self.compared.append(request.match_info["spec"])
        query = dict(request.query)
        self.compare_queries.append(query)
        total = len(self.commits)
        body: dict[str, Any] = {"status": "ahead", "ahead_by": total, "behind_by": 0,
                                "total_commits": total}
        if "per_page" not in query and "page" not in query:
            body["commits"] = self.commits[-UNPAGED_LIMIT:]  # the oldest are dropped
            return web.json_response(body)
        per_page = min(int(query.get("per_page", "30")), 100)
        page = int(query.get("page", "1"))
        body["commits"] = self.commits[(page - 1) * per_page: page * per_page]
        return web.json_response(body)


def _repo(request: web.Request) -> str:
    return f"{request.match_info['owner']}/{request.match_info['repo']}"


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        {"message": message, "documentation_url": "https://docs.github.com/rest",
         "status": str(status)}, status=status, headers=headers)


def commit(sha: str, when: str, title: str = "change", author: str = "Dana") -> dict[str, Any]:
    """One entry of a compare answer, the way GitHub shapes it."""
    return {"sha": sha, "commit": {"message": title,
                                   "author": {"name": author, "date": when},
                                   "committer": {"name": author, "date": when}}}
