"""What backup and restore share: the libpq environment, the manifest, checksums, commands."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
MANIFEST = "manifest.json"
DUMP = "db.dump"
MEDIA = "media.tar.gz"
FORMAT = 1


class BackupError(Exception):
    """A refusal or a failed step: printed as one line, exit status 1."""


def libpq_env(database_url: str) -> tuple[dict[str, str], str]:
    """(environment for psql/pg_dump/pg_restore, database name) from a postgres:// URL.

    The password goes into PGPASSWORD, never onto a command line (which `ps` shows to every user).
    """
    parts = urllib.parse.urlsplit(database_url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise BackupError(
            f"DATABASE_URL must be postgres://…; backups of {parts.scheme or 'SQLite'} are not supported"
        )
    name = urllib.parse.unquote(parts.path.lstrip("/"))
    if not name:
        raise BackupError("DATABASE_URL names no database")
    env = {**os.environ, "PGHOST": parts.hostname or "127.0.0.1", "PGPORT": str(parts.port or 5432)}
    if parts.username:
        env["PGUSER"] = urllib.parse.unquote(parts.username)
    if parts.password:
        env["PGPASSWORD"] = urllib.parse.unquote(parts.password)
    sslmode = urllib.parse.parse_qs(parts.query).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = sslmode[0]
    # Never prompt (cron has no terminal) and never wait long for an unreachable server.
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    env.pop("PGDATABASE", None)
    return env, name


def run(command: list[str], env: dict[str, str], *, what: str) -> str:
    """Run a client program; its stdout, or BackupError with its stderr."""
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} not found: install PostgreSQL's client programs") from None
    if done.returncode != 0:
        raise BackupError(f"{what} failed ({command[0]} exited {done.returncode}):\n{done.stderr.strip()}")
    return done.stdout


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def dump_header(dump: Path, env: dict[str, str]) -> dict[str, str]:
    """Server and pg_dump versions from a custom-format dump's table of contents."""
    found = {}
    for line in run(["pg_restore", "--list", str(dump)], env, what="reading the dump").splitlines():
        for label, key in (
            ("Dumped from database version:", "server"),
            ("Dumped by pg_dump version:", "pg_dump"),
        ):
            if label in line:
                found[key] = line.split(label, 1)[1].strip()
    return found


def dump_migrations(dump: Path, env: dict[str, str]) -> list[str]:
    """The migrations applied in a dump ("app.name", in applied order), read from the dump itself,
    so they describe exactly the snapshot it holds."""
    script = run(
        ["pg_restore", "--data-only", "--table=django_migrations", "--file=-", str(dump)],
        env,
        what="reading the dump's migrations",
    )
    rows, inside = [], False
    for line in script.splitlines():
        if line.startswith("COPY ") and "django_migrations" in line:
            inside = True
        elif inside and line == "\\.":
            break
        elif inside:
            fields = line.split("\t")  # id, app, name, applied
            rows.append((int(fields[0]), f"{fields[1]}.{fields[2]}"))
    return [name for _, name in sorted(rows)]


def write_manifest(directory: Path, manifest: dict) -> None:
    # Written last and renamed into place: a directory without manifest.json is an unfinished backup.
    partial = directory / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    partial.chmod(0o600)
    partial.replace(directory / MANIFEST)


def read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    if not path.is_file():
        raise BackupError(f"{path} is missing: not a backup, or an unfinished one")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: format {manifest.get('format')!r}, this restore reads format {FORMAT}")
    return manifest


def human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def fail(error: BackupError) -> int:
    print(f"{Path(sys.argv[0]).name}: {error}", file=sys.stderr)
    return 1
