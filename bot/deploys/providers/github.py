"""`github`: GitHub Actions `workflow_dispatch`, then poll the run it returns.

The dispatch asks for `return_run_details` so the run id comes back in the response
(no guessing which run is ours). Only failures where GitHub cannot have started a run
(connection refused, 5xx, 429) are retried; polls are reads and always safe to repeat.
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp

from bot.clock import Clock
from bot.deploys.config import ProviderConfig
from bot.deploys.models import Deploy
from bot.deploys.providers.base import Job, ProviderError, Report, Triggered

CONCLUSIONS = {"success": "succeeded", "cancelled": "cancelled", "skipped": "cancelled"}


def _rate_limit_wait(headers: Any, now: float) -> float | None:
    """Seconds GitHub asks us to wait (Retry-After, or an exhausted quota's reset time)."""
    if headers.get("retry-after", "").isdigit():
        return float(headers["retry-after"])
    reset = headers.get("x-ratelimit-reset", "")
    if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        return max(float(reset) - now, 1.0)
    return None


class GitHubProvider:
    polls = True

    def __init__(self, name: str, config: ProviderConfig, repository: dict[str, str],
                 clock: Clock) -> None:
        self.name = name
        self.clock = clock
        self.config = config
        self.repositories = repository  # service -> owner/name
        self.poll_seconds = config.poll_seconds
        self.retries = config.retries

    def clock_now(self) -> float:
        return self.clock.now().timestamp()

    def _repo(self, service: str) -> str:
        repo = self.config.repository or self.repositories.get(service, "")
        if not repo:
            raise ProviderError(f"no GitHub repository configured for {service}",
                                retryable=False)
        return repo

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None
                    ) -> tuple[int, dict[str, Any]]:
        token = os.environ.get(self.config.token_env or "")
        if not token:
            raise ProviderError(f"the GitHub token variable {self.config.token_env} is not set",
                                retryable=False)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": "2022-11-28"}
        url = self.config.api_url.rstrip("/") + path
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as s, \
                    s.request(method, url, json=body, headers=headers) as resp:
                data = await resp.json(content_type=None) if resp.status != 204 else {}
                status = resp.status
                wait = _rate_limit_wait(resp.headers, self.clock_now())
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ProviderError(f"couldn't reach GitHub ({type(exc).__name__})",
                                retryable=True) from None
        message = str((data or {}).get("message", "")) if isinstance(data, dict) else ""
        if status in (403, 429) and (wait is not None or "rate limit" in message.lower()):
            raise ProviderError("GitHub rate limit reached", retryable=True,
                                wait=wait if wait is not None else 60.0)
        if status >= 500 or status == 429:
            raise ProviderError(f"GitHub answered HTTP {status}", retryable=True)
        if status >= 400:
            raise ProviderError(f"GitHub refused (HTTP {status}): {message}".rstrip(": "),
                                retryable=False)
        return status, data if isinstance(data, dict) else {}

    async def trigger(self, job: Job) -> Triggered:
        repo = self._repo(job.service)
        body = {"ref": job.ref, "return_run_details": True,
                "inputs": {"service": job.service, "environment": job.env,
                           "deploy_id": str(job.deploy_id)}}
        _, data = await self._call(
            "POST", f"/repos/{repo}/actions/workflows/{self.config.workflow}/dispatches", body)
        run_id = data.get("workflow_run_id")
        if not run_id:
            raise ProviderError("GitHub didn't return the run id (needs the 2026 dispatch API)",
                                retryable=False)
        return Triggered(str(run_id), data.get("html_url"))

    async def status(self, deploy: Deploy) -> Report:
        repo = self._repo(deploy.service)
        _, run = await self._call("GET", f"/repos/{repo}/actions/runs/{deploy.provider_ref}")
        log_url, sha = run.get("html_url"), run.get("head_sha")
        if run.get("status") != "completed":
            return Report("running", log_url=log_url, sha=sha)
        conclusion = str(run.get("conclusion") or "failure")
        state = CONCLUSIONS.get(conclusion, "failed")
        error = None if state == "succeeded" else f"the workflow run ended: {conclusion}"
        return Report(state, log_url=log_url, sha=sha, version=(sha or "")[:12] or None,
                      error=error)

    async def changes(self, deploy: Deploy, since_sha: str, sha: str) -> list[dict[str, Any]]:
        """Commits between the previous deploy and this one, with their times (lead time)."""
        repo = self._repo(deploy.service)
        _, data = await self._call("GET", f"/repos/{repo}/compare/{since_sha}...{sha}")
        out = []
        for item in data.get("commits") or []:
            commit = item.get("commit") or {}
            author = commit.get("author") or {}
            # Lead time runs from when the change landed: the committer's date (a rebase or a
            # merge queue re-commits), falling back to when it was written.
            landed = (commit.get("committer") or {}).get("date") or author.get("date")
            out.append({"sha": str(item.get("sha", ""))[:64],
                        "title": str(commit.get("message") or "").split("\n")[0][:200],
                        "author": author.get("name"),
                        "committed_at": landed})
        return [c for c in out if c["sha"]]

    async def cancel(self, deploy: Deploy) -> None:
        if deploy.provider_ref:
            repo = self._repo(deploy.service)
            await self._call("POST", f"/repos/{repo}/actions/runs/{deploy.provider_ref}/cancel")
