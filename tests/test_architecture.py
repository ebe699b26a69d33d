"""The tree shows the architecture: apps depend downwards only, and modules stay readable.

`posts` is the domain; `live`, `api`, `archive` and `demo` are built on it. An import that runs
back up (posts → live) would tie the domain to one delivery mechanism and make import order matter.
"""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings

APPS = ["accounts", "authors", "images", "posts", "live", "api", "archive", "demo", "ops", "liveblog"]
# Who may import whom (besides itself). liveblog/ is the wiring: it imports everyone, nobody it.
ALLOWED = {
    "images": set(),
    "authors": {"images"},
    "accounts": {"authors"},
    # ops is infrastructure, the bottom layer (it imports no app): the broadcast records its
    # metrics there (ops/metrics.py), as live, api and the wiring do.
    "posts": {"authors", "images", "ops"},
    "live": {"posts", "authors", "images", "ops"},
    "api": {"posts", "live", "authors", "images", "ops"},
    "archive": {"posts", "authors", "images"},
    "demo": {"posts", "authors", "images"},
    "ops": set(),
}
MAX_LINES = 320  # "about 300": a module past it holds two concerns


def app_modules(app: str) -> list[Path]:
    root = Path(settings.BASE_DIR) / app
    return [p for p in root.rglob("*.py") if "migrations" not in p.parts]


def imported_apps(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found |= {name.split(".")[0] for name in names} & set(APPS)
    return found


def test_apps_import_only_the_apps_below_them():
    wrong = [
        f"{path.relative_to(settings.BASE_DIR)} imports {other}"
        for app, allowed in ALLOWED.items()
        for path in app_modules(app)
        for other in imported_apps(path) - allowed - {app}
    ]
    assert wrong == []


def test_no_app_module_passes_about_300_lines():
    long = [
        f"{path.relative_to(settings.BASE_DIR)}: {lines}"
        for app in [*APPS, "bench"]
        for path in app_modules(app)
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]
    assert long == []
