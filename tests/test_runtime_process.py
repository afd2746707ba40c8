"""`serve` as a process meeting an operator's mistakes: each is one line and an exit code."""

from __future__ import annotations

import socket
from pathlib import Path

from fakes.process import clean_env, run


async def test_serve_on_a_taken_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = await run(
            "serve", cwd=tmp_path, env=clean_env(
                SLACK_BOT_TOKEN="xoxb-x", SLACK_SIGNING_SECRET="s" * 32,
                SHIPBELL_SLACK__API_URL="http://127.0.0.1:9/api/",
                SHIPBELL_SERVER__PORT=str(port), SHIPBELL_STORAGE__PATH=str(tmp_path / "s.db")))
    assert code == 2, err
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and f"Can't listen on 127.0.0.1:{port}" in errors[0], err
    assert "Traceback" not in err
