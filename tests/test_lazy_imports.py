"""Heavy libraries load when first used, not when Shipbell starts."""

from __future__ import annotations

import subprocess
import sys

from test_structure import ROOT, modules

HEAVY = ("matplotlib", "numpy", "PIL", "holidays")


def test_serving_imports_no_charting_library() -> None:
    """Every module a server loads (all of them but the chart's drawing) leaves matplotlib out."""
    serving = [m for m in modules() if m != "shipbell.bot.dora.drawing"]
    code = ("import importlib, sys\n"
            f"for m in {serving!r}: importlib.import_module(m)\n"
            f"print(sorted(h for h in {HEAVY!r} if h in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    assert len(serving) > 50
    assert out.stdout.strip() == "[]", out.stdout
