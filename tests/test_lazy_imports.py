"""Heavy libraries load when first used, not when Shipbell starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("matplotlib", "numpy", "PIL", "holidays")


def test_serving_imports_no_charting_library() -> None:
    """Every module a server loads (all of them but the chart's drawing) leaves matplotlib out."""
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for top in ("bot", "handlers", "scheduled") for p in (ROOT / top).rglob("*.py")
        if p.name != "drawing.py"
    )
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"print(sorted(h for h in {HEAVY!r} if h in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    assert len(modules) > 50
    assert out.stdout.strip() == "[]", out.stdout
