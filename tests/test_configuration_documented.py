"""Every environment variable the app or docker-compose.yml reads is in README's Configuration table.

An operator learns what can be set from that table alone; a variable that only the code knows is a
setting nobody will find on the night it matters. Variables are found in the code itself (calls that
read the environment with a literal name), so a new one fails here until it is documented.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.conf import settings

BASE = Path(settings.BASE_DIR)
APP_DIRS = ["accounts", "api", "archive", "authors", "demo", "images", "live", "liveblog", "ops", "posts"]
NAME = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")
# Read by the test set-up only (documented in the Tests section), or Django's own.
NOT_CONFIGURATION = {"DJANGO_TEST_DATABASE", "LIVEBLOG_REQUIRE_SERVICES", "DJANGO_SETTINGS_MODULE"}


def reads_environment(func: ast.expr) -> bool:
    text = ast.unparse(func)
    return "environ" in text or "getenv" in text or text.split(".")[-1].startswith("env_")


def variables_in(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        candidates: list[ast.expr] = []
        if isinstance(node, ast.Call) and reads_environment(node.func):
            candidates = node.args[:1]
        elif isinstance(node, ast.Call):  # dj_database_url.config(env="DATABASE_URL")
            candidates = [k.value for k in node.keywords if k.arg == "env"]
        elif isinstance(node, ast.Subscript) and "environ" in ast.unparse(node.value):
            candidates = [node.slice]
        elif isinstance(node, ast.Compare) and any("environ" in ast.unparse(c) for c in node.comparators):
            candidates = [node.left]
        found |= {c.value for c in candidates if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return {name for name in found if NAME.match(name)}


def code_variables() -> set[str]:
    paths = [BASE / "manage.py", *(p for d in APP_DIRS for p in (BASE / d).rglob("*.py"))]
    return (
        set().union(*(variables_in(ast.parse(p.read_text(encoding="utf-8"))) for p in paths))
        - NOT_CONFIGURATION
    )


def compose_variables() -> set[str]:
    return set(
        re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (BASE / "docker-compose.yml").read_text(encoding="utf-8"))
    )


def documented() -> set[str]:
    readme = (BASE / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1])}


def test_the_finder_sees_each_way_the_code_reads_the_environment():
    code = """
import os
a = os.environ.get("ONE", "1")
b = env_bool("TWO")
c = os.environ["THREE"]
d = "FOUR" in os.environ
e = int(os.getenv("FIVE", "5"))
f = {"NOT_AN_ENV": 1}
g = config(env="SIX")
"""
    assert variables_in(ast.parse(code)) == {"ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX"}


def test_every_variable_the_app_reads_is_in_the_readme_table():
    assert sorted(code_variables() - documented()) == []


def test_every_variable_docker_compose_reads_is_in_the_readme_table():
    assert sorted(compose_variables() - documented()) == []


def test_the_table_names_no_variable_that_nothing_reads():
    assert sorted(documented() - code_variables() - compose_variables()) == []
