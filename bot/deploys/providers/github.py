"""`github`: GitHub Actions `workflow_dispatch`, then poll the run it started.

A dispatch is not idempotent, so it is never repeated blindly. The dispatch asks for
`return_run_details` (the run id comes back in a 200); where GitHub answers the classic 204
with no body (older GitHub Enterprise Server) the run is looked up, and so it is when the
reply was lost (a timeout, a dropped connection, a 5xx): Shipbell lists the workflow's
`workflow_dispatch` runs on the same branch by the same actor created since the dispatch, and
only dispatches again when none turned up within a grace period. A workflow whose `run-name`
contains `shipbell #${{ inputs.deploy_id }}` makes that lookup exact.

`ref` must be a branch or tag (GitHub refuses a SHA with 422), so a deploy of a commit SHA (a
rollback) runs the workflow from the configured branch with the SHA in the `sha` input.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field, model_validator
from shipbell.bot.deploys.models import Deploy, ReportState
from shipbell.bot.deploys.providers import http
from shipbell.bot.deploys.providers.base import (
    Job,
    ProviderConfig,
    ProviderContext,
    ProviderError,
    Report,
    Triggered,
)
from shipbell.bot.deploys.providers.http import HttpError
from shipbell.bot.inputs import parse_int

API_VERSION = "2022-11-28"
USER_AGENT = "Shipbell (deploy provider)"
CONCLUSIONS = {"success": ReportState.SUCCEEDED, "cancelled": ReportState.CANCELLED,
               "skipped": ReportState.CANCELLED}
# Statuses of a run that was created but does not run yet: shown as waiting, never running.
WAITING = {
    "queued": "queued at GitHub, waiting for a runner",
    "waiting": "waiting at GitHub for an environment approval (a protection rule holds the "
               "run: approve it on the run's page)",
    "pending": "pending at GitHub (waiting for its concurrency group or a runner)",
    "requested": "requested at GitHub, not started yet",
}
INPUTS = ("service", "environment", "deploy_id", "sha")
SHA = re.compile(r"^[0-9a-f]{7,64}$")
MARKER = re.compile(r"shipbell #(\d{1,19})\b", re.IGNORECASE)
SKEW = timedelta(minutes=2)  # our clock against GitHub's, for the `created` filter
LOST_REPLY_GRACE = 15.0  # seconds a run may take to show after a dispatch whose reply was lost
LOOK_EVERY = 5.0
PENDING = "pending:"  # provider_ref of a dispatch GitHub accepted (204) whose run isn't seen yet
PENDING_LIMIT = timedelta(minutes=10)


def _when(text: object) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GithubConfig(ProviderConfig):
    api_url: str = "https://api.github.com"
    repository: str | None = None  # owner/name; default: the service's repository
    workflow: str | None = None  # file name such as deploy.yml, or its id
    token_env: str | None = None
    branch: str | None = None  # runs a commit-SHA deploy from here; default: the default_ref
    request_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    poll_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _needs(self) -> GithubConfig:
        self.require("workflow", "token_env")
        return self

    def secret_variables(self) -> list[str]:
        return [self.token_env] if self.token_env else []


class GitHubProvider:
    """Polls the run, cancels it, and lists the commits a deploy shipped."""

    Config = GithubConfig

    def __init__(self, name: str, config: GithubConfig, context: ProviderContext) -> None:
        self.name = name
        self.http = context.http
        self.clock = context.clock
        self.config = config
        self.services = context.services
        self.poll_seconds = config.poll_seconds
        self.retries = config.retries
        self.workflow = config.workflow or ""
        # deploy id -> when a dispatch whose answer never came was sent: look before resending
        self._unanswered: dict[int, datetime] = {}
        self._login: str | None = None
        self._login_known = False

    # -- plumbing ------------------------------------------------------------------------
    def _repo(self, service: str) -> str:
        svc = self.services.get(service)
        repo = self.config.repository or (svc.repository if svc else "")
        if not repo:
            raise ProviderError(f"no GitHub repository configured for {service} "
                                f"(provider {self.name})", retryable=False)
        return repo

    def _target(self, service: str, ref: str) -> tuple[str, str]:
        """The branch or tag to dispatch on, and the commit SHA input ("" for a branch/tag)."""
        if not SHA.match(ref) or ref.isdigit():
            return ref, ""
        svc = self.services.get(service)
        branch = self.config.branch or (svc.default_ref if svc else "")
        if not branch or SHA.match(branch):
            raise ProviderError(
                f"`{ref}` is a commit SHA and GitHub dispatches only on a branch or tag: set "
                f"`branch` on provider {self.name} (the workflow then gets the SHA as its "
                "`sha` input)", retryable=False)
        return branch, ref

    def _where(self, repo: str) -> str:
        return (f"provider {self.name}, repository {repo}, workflow {self.workflow}, "
                f"token in {self.config.token_env}")

    def _refusal(self, status: int, message: str, repo: str) -> str:
        said = f"HTTP {status}: {message}" if message else f"HTTP {status}"
        if status == 401:
            return (f"GitHub refused the token in {self.config.token_env} ({said}); "
                    f"{self._where(repo)}")
        if status == 404:
            return (f"GitHub answered {said} for repository {repo}, workflow {self.workflow}: "
                    f"check both names and that the token in {self.config.token_env} can see "
                    f"the repository (GitHub answers 404 to a token without access); "
                    f"provider {self.name}")
        if status == 403:
            return (f"GitHub refused ({said}): the token in {self.config.token_env} needs "
                    f"actions:write on {repo}; {self._where(repo)}")
        hint = ""
        if status == 422 and "unexpected inputs" in message.lower():
            hint = (" (the workflow must declare the workflow_dispatch inputs "
                    f"{', '.join(INPUTS)})")
        elif status == 422 and "no ref found" in message.lower():
            hint = " (the ref must be a branch or tag that exists)"
        return f"GitHub refused ({said}){hint}; {self._where(repo)}"

    async def _call(self, method: str, path: str, repo: str, body: dict[str, Any] | None = None,
                    query: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        token = os.environ.get(self.config.token_env or "")
        if not token:
            raise ProviderError(f"the GitHub token variable {self.config.token_env} is not set",
                                retryable=False)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": API_VERSION, "User-Agent": USER_AGENT}
        try:
            answer = await http.call(
                self.http, self.clock, method, self.config.api_url.rstrip("/") + path,
                who="GitHub", timeout=self.config.request_timeout_seconds, json_body=body,
                params=query, headers=headers,
                refusal=lambda status, message: self._refusal(status, message, repo))
        except HttpError as exc:
            # GitHub's rate limits: a 403 or 429 naming a wait or saying so; at least a minute.
            limited = exc.wait is not None or "rate limit" in exc.message.lower()
            if exc.status in (403, 429) and limited:
                raise HttpError("GitHub rate limit reached", status=exc.status, retryable=True,
                                wait=exc.wait if exc.wait is not None else 60.0) from None
            if exc.status == 429:
                raise HttpError(str(exc), status=429, retryable=True, wait=60.0) from None
            raise
        return answer.status, answer.data

    async def _actor(self, repo: str) -> str | None:
        """The login the token acts as (runs it dispatches carry it); None if it can't say
        (a GitHub App installation token has no user)."""
        if not self._login_known:
            try:
                _, me = await self._call("GET", "/user", repo)
            except HttpError as exc:
                if exc.retryable:
                    raise
                me = {}
            login = me.get("login")
            self._login = login if isinstance(login, str) and login else None
            self._login_known = True
        return self._login

    # -- finding the run a dispatch started -----------------------------------------------
    async def _find_run(self, repo: str, deploy_id: int, ref: str, since: datetime
                        ) -> dict[str, Any] | None:
        """The run deploy ``deploy_id`` dispatched on ``ref`` at ``since``, if GitHub shows it.

        Candidates: `workflow_dispatch` runs of the workflow on ``ref``, by the token's actor,
        created from ``since`` minus a clock skew. A run-name carrying `shipbell #<id>` picks
        exactly; without run-names a single candidate is ours, several are refused (guessing
        could follow, or cancel, someone else's run).
        """
        actor = await self._actor(repo)
        earliest = since - SKEW
        query = {"event": "workflow_dispatch", "branch": ref, "created": f">={_stamp(earliest)}",
                 "per_page": "100"}
        if actor:
            query["actor"] = actor
        _, data = await self._call(
            "GET", f"/repos/{repo}/actions/workflows/{self.workflow}/runs", repo, query=query)
        runs = []
        for run in data.get("workflow_runs") or []:
            if not isinstance(run, dict) or parse_int(str(run.get("id", ""))) is None:
                continue
            created = _when(run.get("created_at"))
            who = (run.get("actor") or {}).get("login") if isinstance(run.get("actor"),
                                                                       dict) else None
            if (run.get("event") == "workflow_dispatch" and run.get("head_branch") == ref
                    and created is not None and created >= earliest
                    and (actor is None or who == actor)):
                runs.append(run)
        runs.sort(key=lambda r: (str(r.get("created_at")), int(r["id"])))
        marks = [MARKER.search(str(r.get("display_title") or "")) for r in runs]
        ours = [r for r, m in zip(runs, marks, strict=True)
                if m is not None and int(m.group(1)) == deploy_id]
        if ours:
            return ours[0]
        if any(marks) or not runs:
            return None  # the workflow names its runs, and none is ours (yet)
        if len(runs) == 1:
            return runs[0]
        links = ", ".join(str(r.get("html_url")) for r in runs[:3])
        raise ProviderError(
            f"{len(runs)} runs of {self.workflow} on {ref} started since "
            f"{earliest:%H:%M} UTC and Shipbell can't tell which one is deploy #{deploy_id}: "
            "give the workflow a run-name containing `shipbell #${{ inputs.deploy_id }}` "
            f"(see README); runs: {links}", retryable=False)

    async def _await_run(self, repo: str, deploy_id: int, ref: str, since: datetime
                         ) -> dict[str, Any] | None:
        """Look until the run shows or the grace period after ``since`` has passed."""
        while True:
            run = await self._find_run(repo, deploy_id, ref, since)
            waited = (self.clock.now() - since).total_seconds()
            if run is not None or waited >= LOST_REPLY_GRACE:
                return run
            await self.clock.sleep(min(LOOK_EVERY, LOST_REPLY_GRACE - waited))

    @staticmethod
    def _triggered(run: dict[str, Any]) -> Triggered:
        url = run.get("html_url")
        return Triggered(str(run["id"]), str(url) if url else None)

    # -- the provider interface ----------------------------------------------------------
    async def trigger(self, job: Job) -> Triggered:
        repo = self._repo(job.service)
        ref, sha = self._target(job.service, job.ref)
        earlier = self._unanswered.get(job.deploy_id)
        if earlier is not None:  # an earlier dispatch got no answer: did it start a run?
            run = await self._await_run(repo, job.deploy_id, ref, earlier)
            if run is not None:
                self._unanswered.pop(job.deploy_id, None)
                return self._triggered(run)
        body = {"ref": ref, "return_run_details": True,
                "inputs": {"service": job.service, "environment": job.env,
                           "deploy_id": str(job.deploy_id), "sha": sha}}
        sent = self.clock.now()
        self._unanswered[job.deploy_id] = earlier or sent
        try:
            status, data = await self._call(
                "POST", f"/repos/{repo}/actions/workflows/{self.workflow}/dispatches", repo,
                body)
        except HttpError as exc:
            if not exc.uncertain:
                self._unanswered.pop(job.deploy_id, None)
                raise
            run = await self._find_run(repo, job.deploy_id, ref, earlier or sent)
            if run is not None:
                self._unanswered.pop(job.deploy_id, None)
                return self._triggered(run)
            raise ProviderError(f"{exc}; no run of {self.workflow} has shown yet, so Shipbell "
                                "looks again before it dispatches again", retryable=True) from None
        except ProviderError:
            self._unanswered.pop(job.deploy_id, None)
            raise
        self._unanswered.pop(job.deploy_id, None)
        run_id = parse_int(str(data.get("workflow_run_id", "")), lo=1)
        if status == 200 and run_id is not None:
            url = data.get("html_url")
            return Triggered(str(run_id), str(url) if url else None)
        # 204 (no run details): GitHub accepted the dispatch; find the run it started.
        run = await self._find_run(repo, job.deploy_id, ref, sent)
        if run is not None:
            return self._triggered(run)
        return Triggered(f"{PENDING}{int(sent.timestamp())}")

    async def _resolve(self, deploy: Deploy, repo: str) -> dict[str, Any] | None:
        """The run behind the deploy's provider_ref (looked up while it is still pending)."""
        ref_id = deploy.provider_ref or ""
        if ref_id.startswith(PENDING):
            stamp = parse_int(ref_id.removeprefix(PENDING))
            since = datetime.fromtimestamp(stamp or 0, UTC)
            ref, _ = self._target(deploy.service, deploy.ref)
            return await self._find_run(repo, deploy.id, ref, since)
        _, run = await self._call("GET", f"/repos/{repo}/actions/runs/{ref_id}", repo)
        return run

    async def status(self, deploy: Deploy) -> Report:
        repo = self._repo(deploy.service)
        run = await self._resolve(deploy, repo)
        if run is None:  # a 204 dispatch whose run GitHub doesn't list yet
            stamp = parse_int((deploy.provider_ref or "").removeprefix(PENDING)) or 0
            since = datetime.fromtimestamp(stamp, UTC)
            if self.clock.now() - since > PENDING_LIMIT:
                ref, _ = self._target(deploy.service, deploy.ref)
                return Report(ReportState.FAILED, error=(
                    f"GitHub accepted the dispatch of {self.workflow} on {ref} at "
                    f"{since:%H:%M} UTC, but no run of it appeared within "
                    f"{int(PENDING_LIMIT.total_seconds() // 60)} min; {self._where(repo)}"))
            return Report(ReportState.WAITING,
                          note="GitHub accepted the dispatch; waiting for its run to show")
        return self._report(deploy, run)

    def _report(self, deploy: Deploy, run: dict[str, Any]) -> Report:
        number = parse_int(str(run.get("id", "")), lo=1)
        run_id = str(number) if number is not None else ""
        found = run_id if run_id and run_id != deploy.provider_ref else None
        log_url = run.get("html_url") if isinstance(run.get("html_url"), str) else None
        # A SHA deploy ran the workflow from a branch: the branch head is not what shipped.
        sha = deploy.ref if self._target(deploy.service, deploy.ref)[1] else run.get("head_sha")
        sha = sha if isinstance(sha, str) and sha else None
        status = str(run.get("status") or "")
        if status in WAITING:
            return Report(ReportState.WAITING, log_url=log_url,
                          note=f"run {run_id} {WAITING[status]}", provider_ref=found)
        if status != "completed":
            return Report(ReportState.RUNNING, log_url=log_url, sha=sha, provider_ref=found)
        conclusion = str(run.get("conclusion") or "failure")
        state = CONCLUSIONS.get(conclusion, ReportState.FAILED)
        error = None if state == ReportState.SUCCEEDED else f"the workflow run ended: {conclusion}"
        return Report(state, log_url=log_url, sha=sha, version=(sha or "")[:12] or None,
                      error=error, provider_ref=found)

    async def changes(self, deploy: Deploy, since_sha: str, sha: str) -> list[dict[str, Any]]:
        """Commits between the previous deploy and this one, with their times (lead time).

        Read page by page: unpaged, GitHub lists only the 250 newest and drops the oldest,
        which are exactly the ones that make lead time long.
        """
        repo = self._repo(deploy.service)
        out: list[dict[str, Any]] = []
        per_page, page = 100, 1
        while page <= 50:
            _, data = await self._call("GET", f"/repos/{repo}/compare/{since_sha}...{sha}",
                                       repo, query={"per_page": str(per_page),
                                                    "page": str(page)})
            items = [i for i in data.get("commits") or [] if isinstance(i, dict)]
            for item in items:
                commit = item.get("commit") or {}
                author = commit.get("author") or {}
                # Lead time runs from when the change landed: the committer's date (a rebase
                # or a merge queue re-commits), falling back to when it was written.
                landed = (commit.get("committer") or {}).get("date") or author.get("date")
                out.append({"sha": str(item.get("sha", ""))[:64],
                            "title": str(commit.get("message") or "").split("\n")[0][:200],
                            "author": author.get("name"),
                            "committed_at": landed})
            total = data.get("total_commits")
            if len(items) < per_page or (isinstance(total, int) and len(out) >= total):
                break
            page += 1
        return [c for c in out if c["sha"]]

    async def cancel(self, deploy: Deploy) -> Report | None:
        """Ask GitHub to cancel the run; if it had already finished (409), say how it ended."""
        if not deploy.provider_ref:
            return None
        repo = self._repo(deploy.service)
        run = await self._resolve(deploy, repo)
        if run is None:
            raise ProviderError("GitHub shows no run for this deploy yet, so nothing was "
                                "cancelled there; cancel the run on GitHub if one appears",
                                retryable=False)
        run_id = str(run.get("id"))
        try:
            await self._call("POST", f"/repos/{repo}/actions/runs/{run_id}/cancel", repo)
        except HttpError as exc:
            if exc.status != 409:
                raise
            _, run = await self._call("GET", f"/repos/{repo}/actions/runs/{run_id}", repo)
            if run.get("status") == "completed":
                return self._report(deploy, run)
            raise ProviderError(f"GitHub refused to cancel run {run_id} ({exc})",
                                retryable=False) from None
        return None
