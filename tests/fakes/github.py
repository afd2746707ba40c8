"""A fake GitHub Actions API: workflow_dispatch with run details, runs, cancel."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from fakes.server import LocalServer


class FakeGitHub(LocalServer):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.dispatches: list[dict[str, Any]] = []
        self.runs: dict[int, dict[str, Any]] = {}
        self.cancelled: list[int] = []
        self.commits: list[dict[str, Any]] = []  # what /compare answers
        self.compared: list[str] = []
        self.fail_next: list[int] = []  # statuses to answer on the next requests
        self.requests = 0
        self.legacy = False  # an older GitHub Enterprise: 204 and no run id
        self.rate_limited_until = 0.0  # answer the next request with an exhausted quota

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v3/repos/{owner}/{repo}/actions/workflows/{wf}/dispatches",
                            self._dispatch)
        app.router.add_get("/api/v3/repos/{owner}/{repo}/actions/runs/{run}", self._run)
        app.router.add_post("/api/v3/repos/{owner}/{repo}/actions/runs/{run}/cancel", self._cancel)
        app.router.add_get("/api/v3/repos/{owner}/{repo}/compare/{spec}", self._compare)

    async def start(self) -> FakeGitHub:
        self.url = await self.serve("/api/v3")
        return self

    def _gate(self, request: web.Request) -> web.Response | None:
        self.requests += 1
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"message": "Bad credentials"}, status=401)
        if self.rate_limited_until:
            reset = str(int(self.rate_limited_until))
            self.rate_limited_until = 0.0
            return web.json_response(
                {"message": "API rate limit exceeded"}, status=403,
                headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
        if self.fail_next:
            return web.json_response({"message": "oops"}, status=self.fail_next.pop(0))
        return None

    async def _dispatch(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        body = await request.json()
        run_id = 9000 + len(self.dispatches)
        self.dispatches.append({**body, "path": request.path})
        self.runs[run_id] = {"id": run_id, "status": "queued", "conclusion": None,
                             "html_url": f"https://github.example/runs/{run_id}",
                             "head_sha": "f00dfacecafe0123456789"}
        if self.legacy or not body.get("return_run_details"):
            return web.Response(status=204)
        return web.json_response({"workflow_run_id": run_id,
                                  "run_url": f"{self.url}/runs/{run_id}",
                                  "html_url": f"https://github.example/runs/{run_id}"})

    async def _run(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        run = self.runs.get(int(request.match_info["run"]))
        if run is None:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(run)

    async def _compare(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        self.compared.append(request.match_info["spec"])
        return web.json_response({"status": "ahead", "commits": self.commits})

    async def _cancel(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        run_id = int(request.match_info["run"])
        self.cancelled.append(run_id)
        self.runs[run_id].update(status="completed", conclusion="cancelled")
        return web.json_response({}, status=202)
