"""The package's structure holds: each module imports on its own, and the layers are kept.

Layers (import-linter, configured in pyproject.toml and run by `make test`): entry points >
scheduled jobs > Slack handlers > Slack gateway > composition > domains > infrastructure.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


FOLDERS = ("bot", "handlers", "scheduled")  # installed as shipbell.bot, ... (setup.py)


def modules() -> list[str]:
    """Every module of ours, by the name it is installed under."""
    return sorted(
        "shipbell." + ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for top in FOLDERS for p in (ROOT / top).rglob("*.py")
    )


def source(module: str) -> Path:
    path = ROOT / module.removeprefix("shipbell.").replace(".", "/")
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


# Imports third-party libraries once, then forks a child per module that imports only that
# module: a fresh interpreter as far as our own modules go (a circular import among them shows
# only when its module is the first of ours imported), without a second of start-up each.
FORK_EACH = """
import os, sys, traceback
import aiohttp, apscheduler, pydantic, pydantic_settings, slack_bolt, slack_sdk, sqlite3
assert not any(m.split(".")[0] in ("shipbell", "bot", "handlers", "scheduled") for m in sys.modules)
bad = []
for name in sys.argv[1:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            __import__(name)
        except BaseException:
            os.write(write, traceback.format_exc().strip().splitlines()[-1].encode())
            os._exit(1)
        os._exit(0)
    os.close(write)
    message = os.read(read, 4096).decode()
    os.close(read)
    if os.waitpid(pid, 0)[1] != 0:
        bad.append((name, message))
print(bad)
"""


def test_every_module_imports_on_its_own_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """Run outside the checkout, so each module is found by its installed name only."""
    found = modules()
    out = subprocess.run([sys.executable, "-c", FORK_EACH, *found], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, check=True)
    assert len(found) > 80
    assert out.stdout.strip() == "[]", out.stdout


def test_no_import_hides_inside_a_function_to_dodge_a_cycle() -> None:
    """Function-level imports of our own modules are allowed only for start-up time, in the
    command-line entry point (a verb loads what it needs)."""
    import ast

    hidden = []
    for name in modules():
        tree = ast.parse(source(name).read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                target = (node.module if isinstance(node, ast.ImportFrom) else
                          node.names[0].name if isinstance(node, ast.Import) else None)
                if target and target.split(".")[0] in ("shipbell", *FOLDERS):
                    hidden.append(f"{name}: {target}")
    assert [h for h in hidden if not h.startswith("shipbell.bot.cli:")] == []
