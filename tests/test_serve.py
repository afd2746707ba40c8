"""`shipbell serve` as a real process: answers signed requests, exits 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

from shipbell.bot.slackdouble import SlackDouble, SlackDriver
from shipbell.bot.slackdouble.cast import ANA, DEPLOYS

SECRET = "serve-test-signing-secret"


async def test_serve_answers_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with SlackDouble() as double:
        double.add_user(ANA, "ana")
        double.add_channel("deploys", channel_id=DEPLOYS, members=[ANA])
        config = tmp_path / "shipbell.toml"
        config.write_text(
            f'[slack]\napi_url = "{double.api_url}"\n[server]\nport = 0\n'
            f'[storage]\npath = "{tmp_path / "serve.db"}"\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SHIPBELL_"))}
        env.update(SLACK_BOT_TOKEN=double.token, SLACK_SIGNING_SECRET=SECRET)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "shipbell.bot.cli", "--config", str(config), "serve",
            stderr=asyncio.subprocess.PIPE, env=env,
        )
        assert proc.stderr is not None
        url = None
        async with asyncio.timeout(30):
            while url is None:
                line = (await proc.stderr.readline()).decode()
                assert line, "serve exited before listening"
                if match := re.search(r"listening on (http://\S+)", line):
                    url = match.group(1)
        async with SlackDriver(url, SECRET, double) as driver:
            ack = await driver.command("/deploy", "definitely-not-a-subcommand")
            assert ack.status == 200 and "definitely-not-a-subcommand" in ack.text
            forged = await driver.command("/deploy", "help", signature="v0=" + "1" * 64)
            assert forged.status == 401
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            rest = (await proc.stderr.read()).decode()
            code = await proc.wait()
        assert code == 0, rest
        assert "Traceback" not in rest
        assert double.token not in rest and SECRET not in rest
