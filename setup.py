"""The three source folders install under one import package, ``shipbell``.

``bot/``, ``handlers/`` and ``scheduled/`` become ``shipbell.bot``, ``shipbell.handlers`` and
``shipbell.scheduled``, so site-packages gains one name (``shipbell``) rather than three generic
ones that another distribution could silently overwrite.  The subpackages are found, not listed,
so a new one can't be left out of the wheel (tests/test_packaging.py builds one and checks).
Everything else about the project is in pyproject.toml.
"""

from setuptools import find_packages, setup

FOLDERS = ("bot", "handlers", "scheduled")

setup(
    package_dir={f"shipbell.{folder}": folder for folder in FOLDERS},
    packages=[
        f"shipbell.{name}"
        for name in find_packages(include=[f"{folder}*" for folder in FOLDERS])
    ],
)
