"""The provider seam: a provider defined here, registered with one call, deploys end to end
(signed `/deploy`, its own HTTP job, a signed callback on `/hooks/deploy`) without any
Shipbell file knowing it; an unknown type is refused at config load, naming the valid ones;
the one HTTP helper classifies transient and final failures the same for every provider."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from conftest import MakeBell
from fakes.ci import post
from fakes.server import LocalServer
from fakes.waiting import tick, until
from shipbell.bot.clock import FakeClock
from shipbell.bot.deploys import signing
from shipbell.bot.deploys.providers import (
    REGISTRY,
    Cancels,
    Job,
    ListsChanges,
    Polls,
    ProviderConfig,
    ProviderContext,
    Triggered,
    VerifiesCallbacks,
    build,
)
from shipbell.bot.deploys.providers import http as provider_http
from shipbell.bot.deploys.providers.http import HttpError
from shipbell.bot.deploys.service import DeployService
from shipbell.bot.http import Http
from shipbell.bot.local import LocalShipbell
from shipbell.bot.settings import ConfigError, Settings, load_config
from shipbell.bot.shell.sandbox import plan_sandbox
from shipbell.bot.slackdouble.cast import DEPLOYS

RELAY_SECRET = "relay-secret-0123456789"


# -- a provider that lives only in this test -----------------------------------------------
class RelayConfig(ProviderConfig):
    url: str
    secret: str  # a test shortcut: real providers name an environment variable


class RelayProvider:
    """Triggers over HTTP and verifies callbacks; neither polls, cancels nor lists changes."""

    Config = RelayConfig

    def __init__(self, name: str, config: RelayConfig, context: ProviderContext) -> None:
        self.name = name
        self.config = config
        self.context = context
        self.retries = config.retries

    async def trigger(self, job: Job) -> Triggered:
        answer = await provider_http.call(
            self.context.http, self.context.clock, "POST", self.config.url, who="the relay",
            timeout=5.0, json_body=job.as_dict())
        return Triggered(str(answer.data["run"]), str(answer.data["log_url"]))

    def verifies(self, stamp: str, raw: bytes, signature: str, now: float) -> bool:
        return signing.verify(self.config.secret, stamp, raw, signature, now)


class FakeRelay(LocalServer):
    """Takes jobs on POST /run; ``answers`` are statuses to give first (then 200)."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[dict[str, Any]] = []
        self.answers: list[tuple[int, dict[str, str]]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/run", self._run)

    async def _run(self, request: web.Request) -> web.Response:
        if self.answers:
            status, headers = self.answers.pop(0)
            return web.json_response({"message": "not now"}, status=status, headers=headers)
        self.jobs.append(await request.json())
        return web.json_response({"run": f"r-{len(self.jobs)}",
                                  "log_url": f"https://relay.example/r/{len(self.jobs)}"})


@pytest.fixture
def relay_type() -> Iterator[None]:
    REGISTRY.add("relay", RelayProvider)  # the one call that plugs the provider in
    yield
    REGISTRY.remove("relay")


@pytest.fixture
async def relay() -> AsyncIterator[FakeRelay]:
    fake = FakeRelay()
    fake.url = await fake.serve("/run")
    yield fake
    await fake.stop()


def relay_config(url: str) -> dict[str, Any]:
    envs: dict[str, Any] = {"production": {}}
    return {"deploy": {
        "providers": {"rl": {"type": "relay", "url": url, "secret": RELAY_SECRET}},
        "services": {"api": {"repository": "acme/api", "provider": "rl", "environments": envs}},
    }}


def row(bell: LocalShipbell, deploy_id: int = 1) -> dict[str, Any]:
    return bell.core.store.one("SELECT * FROM deploys WHERE id = ?", (deploy_id,)) or {}


async def callback(bell: LocalShipbell, clock: FakeClock, secret: str, **payload: Any
                   ) -> int:
    body = json.dumps(payload).encode()
    headers = signing.headers(secret, int(clock.now().timestamp()), body, secrets.token_hex(8))
    status, _ = await post(bell.runtime.url + "/hooks/deploy", body, headers)
    return status


async def test_a_provider_registered_in_a_test_deploys_end_to_end(
        relay_type: None, relay: FakeRelay, make_bell: MakeBell, clock: FakeClock) -> None:
    bell = await make_bell(relay_config(relay.url))
    provider = bell.core.registry.need(DeployService).providers["rl"]
    assert isinstance(provider, VerifiesCallbacks)
    assert not isinstance(provider, Polls | Cancels | ListsChanges)
    relay.answers = [(503, {})]  # transient: the shared helper's classification retries it
    await bell.command("/deploy", "api to production")
    await tick(clock, 1)
    await until(lambda: row(bell).get("provider_ref") == "r-1")
    assert relay.jobs[0]["service"] == "api" and relay.jobs[0]["environment"] == "production"
    assert row(bell)["log_url"] == "https://relay.example/r/1"
    # Only the provider that signed may report: another secret is refused, its own accepted.
    assert await callback(bell, clock, "someone-else", deploy_id=1, status="succeeded") == 401
    assert row(bell)["state"] != "succeeded"
    assert await callback(bell, clock, RELAY_SECRET, deploy_id=1, status="succeeded",
                          version="v7") == 200
    await until(lambda: row(bell).get("state") == "succeeded")
    await bell.idle()
    top = [m for m in bell.double.messages(DEPLOYS) if "Deploy #1:" in m["text"]]
    assert top and "succeeded" in top[0]["text"] and "v7" in row(bell)["version"]


async def test_a_final_refusal_from_the_helper_fails_the_deploy_at_once(
        relay_type: None, relay: FakeRelay, make_bell: MakeBell) -> None:
    bell = await make_bell(relay_config(relay.url))
    relay.answers = [(403, {})]
    await bell.command("/deploy", "api to production")
    await until(lambda: row(bell).get("state") == "failed")
    assert row(bell)["error"] == "the relay refused (HTTP 403)" and not relay.jobs


def test_an_unknown_type_is_refused_at_load_naming_file_key_and_valid_types(
        tmp_path: Path, relay_type: None) -> None:
    path = tmp_path / "shipbell.toml"
    path.write_text('[deploy.providers.ci]\ntype = "gitlab"\nurl = "https://ci"\n'
                    '[deploy.services.api]\nprovider = "ci"\n'
                    "[deploy.services.api.environments.production]\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    assert str(caught.value) == (
        f"{path}: `deploy.providers.ci.type`: unknown provider type; valid types: webhook, "
        "github, command, dry-run, relay (got 'gitlab')")


def test_a_missing_type_and_a_foreign_key_are_refused() -> None:
    with pytest.raises(ValueError, match="a provider needs a `type`; valid types: webhook"):
        Settings(deploy={"providers": {"ci": {"url": "https://ci"}}})
    # A key of another type is unknown here: a webhook has no `workflow`.
    with pytest.raises(ValueError, match=r"providers\.ci\.workflow\n  Extra inputs"):
        Settings(deploy={"providers": {"ci": {"type": "webhook", "url": "https://ci",
                                              "secret_env": "X", "workflow": "d.yml"}}})


def test_a_settings_dump_reloads_every_provider_key(relay_type: None) -> None:
    settings = Settings(**relay_config("http://127.0.0.1:9/run"))
    again = Settings(**settings.model_dump(by_alias=True))
    relay = again.deploy.providers["rl"]
    assert isinstance(relay, RelayConfig) and relay.url == "http://127.0.0.1:9/run"


def test_the_shell_stands_in_for_a_registered_type(tmp_path: Path, relay_type: None) -> None:
    path = tmp_path / "real.toml"
    path.write_text(f'[storage]\npath = "{tmp_path / "real.db"}"\n'
                    '[deploy.providers.rl]\ntype = "relay"\nurl = "https://relay.example/run"\n'
                    f'secret = "{RELAY_SECRET}"\n'
                    '[deploy.services.api]\nprovider = "rl"\n'
                    "[deploy.services.api.environments.production]\n")
    sandbox = plan_sandbox(load_config(str(path)), db=str(tmp_path / "scratch.db"), live=False,
                           fresh=False, demo=None)
    assert sandbox.stand_ins == [("rl", "relay", "")]
    assert sandbox.settings.deploy.providers["rl"].type == "dry-run"


# -- the one HTTP helper's classification ---------------------------------------------------
@pytest.mark.parametrize(("status", "headers", "retryable", "wait"), [
    (500, {}, True, None),
    (502, {}, True, None),
    (429, {"Retry-After": "7"}, True, 7.0),
    (429, {}, True, None),
    (400, {}, False, None),
    (404, {}, False, None),
])
async def test_one_retry_classification(relay: FakeRelay, clock: FakeClock, status: int,
                                        headers: dict[str, str], retryable: bool,
                                        wait: float | None) -> None:
    http = Http()
    relay.answers = [(status, headers)]
    try:
        with pytest.raises(HttpError) as caught:
            await provider_http.call(http, clock, "POST", relay.url, who="the relay",
                                     timeout=5.0, json_body={})
    finally:
        await http.close()
    assert (caught.value.status, caught.value.retryable, caught.value.wait) == (
        status, retryable, wait)
    assert caught.value.uncertain == (status >= 500)


async def test_an_unreachable_server_is_transient_and_certain(clock: FakeClock) -> None:
    http = Http()
    try:
        with pytest.raises(HttpError) as caught:
            await provider_http.call(http, clock, "GET", "http://127.0.0.1:9/x", who="the relay",
                                     timeout=5.0)
    finally:
        await http.close()
    assert str(caught.value) == "couldn't reach the relay (ClientConnectorError)"
    assert caught.value.retryable and not caught.value.uncertain


async def test_providers_share_the_process_session(relay_type: None, clock: FakeClock) -> None:
    http = Http()
    settings = Settings(**relay_config("http://127.0.0.1:9/run"))
    try:
        built = build(settings.deploy, clock, http)
        assert isinstance(built["rl"], RelayProvider) and built["rl"].context.http is http
    finally:
        await http.close()


async def test_a_type_the_registry_lost_is_never_built_as_a_stand_in(clock: FakeClock) -> None:
    REGISTRY.add("relay", RelayProvider)
    settings = Settings(**relay_config("http://127.0.0.1:9/run"))
    REGISTRY.remove("relay")
    with pytest.raises(ValueError, match=r"not registered: rl \(relay\); valid types: webhook"):
        build(settings.deploy, clock, Http())


async def test_the_built_in_types_and_their_capabilities(clock: FakeClock) -> None:
    settings = Settings(deploy={"providers": {
        "ci": {"type": "webhook", "url": "https://ci", "secret_env": "X"},
        "gh": {"type": "github", "workflow": "d.yml", "token_env": "Y"},
        "sh": {"type": "command", "command": ["/bin/true"]},
        "sim": {"type": "dry-run"},
    }})
    http = Http()
    built = build(settings.deploy, clock, http)
    capabilities = (Polls, Cancels, ListsChanges, VerifiesCallbacks)
    assert {name: [c.__name__ for c in capabilities if isinstance(p, c)]
            for name, p in built.items()} == {
        "ci": ["Cancels", "VerifiesCallbacks"],
        "gh": ["Polls", "Cancels", "ListsChanges"],
        "sh": ["Polls", "Cancels"],
        "sim": ["Polls"],
    }
    assert settings.deploy.missing_secrets({"Y": "set"}) == [("ci", "X")]
    assert REGISTRY.types() == ["webhook", "github", "command", "dry-run"]
