#!/usr/bin/env python3
"""Run a command with one docker-compose.yml service's environment, without a Docker engine.

    python scripts/compose_env.py web -- python manage.py check --deploy --fail-level WARNING

The service's `environment` is read from docker-compose.yml and its ${VAR}, ${VAR:-default},
${VAR-default}, ${VAR:?error}, ${VAR?error} filled in as compose does, from this process's
environment (and `.env` beside the file, which compose reads too; the environment wins). The
command gets that environment and PATH only: nothing else this shell has set can make the
check pass. CI runs `check --deploy` this way (.ci/run), so compose's own settings are checked.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def dotenv(path: Path) -> dict[str, str]:
    values = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.strip().partition("=")
            if sep and not name.startswith("#"):
                values[name.removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def interpolate(text: str, variables: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.groups()
        value = variables.get(name)
        unset = value is None or (operator is not None and operator.startswith(":") and value == "")
        if operator and operator.endswith("?") and unset:
            raise SystemExit(f"docker-compose.yml needs {name}: {argument or 'not set'}")
        if operator and operator.endswith("-") and unset:
            return argument
        return value or ""

    return VARIABLE.sub(fill, text)


def service_environment(service: str, compose: Path, variables: dict[str, str]) -> dict[str, str]:
    spec = yaml.safe_load(compose.read_text(encoding="utf-8"))
    environment = spec["services"][service].get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    return {
        name: interpolate(str(value), variables) for name, value in environment.items() if value is not None
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service")
    parser.add_argument("command", nargs="+", help="after --")
    parser.add_argument("--file", type=Path, default=ROOT / "docker-compose.yml")
    options = parser.parse_args(argv)
    variables = {**dotenv(options.file.with_name(".env")), **os.environ}
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **service_environment(options.service, options.file, variables),
    }
    return subprocess.run(options.command, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
