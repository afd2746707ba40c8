"""The wheel installs one import package, ``shipbell``, holding every module of the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from test_structure import FOLDERS, ROOT, modules

PROJECT_FILES = ("pyproject.toml", "setup.py", "README.md")


def test_the_wheel_holds_one_package_named_shipbell_with_every_module(tmp_path: Path) -> None:
    # Build from a copy, so the checkout gains no build/ or egg-info folders.
    src = tmp_path / "src"
    src.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, src / name)
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, src / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(tmp_path / "dist"), str(src)],
                   check=True, capture_output=True, text=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("shipbell-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    read = zipfile.ZipFile(wheel).read

    top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
    assert read(top_level).decode().split() == ["shipbell"]
    assert {n.split("/")[0] for n in names if not n.endswith(".dist-info/" + n.split("/")[-1])
            } == {"shipbell"}
    wanted = {m.replace(".", "/") + ("/__init__.py" if (ROOT / m.removeprefix("shipbell.")
              .replace(".", "/")).is_dir() else ".py") for m in modules()}
    assert wanted - set(names) == set()
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "shipbell = shipbell.bot.cli:main" in read(entry_points).decode()
