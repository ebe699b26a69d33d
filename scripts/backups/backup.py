"""`scripts/backup`: the database (pg_dump) and the uploads (tar.gz) with a manifest.

    scripts/backup                       # into backups/<UTC timestamp>/
    scripts/backup --out /srv/backups    # into /srv/backups/<UTC timestamp>/

Runs while the site is live. The database is dumped first: pg_dump reads one consistent snapshot
(a repeatable-read transaction) and the app stores an upload's files before the row that names
them commits, so every file a dumped row refers to exists when the media archive is made after it.
Files that appear meanwhile are archived too (orphans no row names, harmless); a file deleted
meanwhile (an image replaced during the backup) is left out, and the restore reports it if a row
still names it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path

from .common import (
    DUMP,
    FORMAT,
    MEDIA,
    ROOT,
    BackupError,
    dump_header,
    dump_migrations,
    fail,
    human,
    libpq_env,
    run,
    sha256,
    write_manifest,
)


def dump_database(database_url: str, target: Path) -> dict:
    env, name = libpq_env(database_url)
    command = [
        "pg_dump",
        "--format=custom",
        # Restorable under any role: no ALTER OWNER, no GRANTs of this server's roles.
        "--no-owner",
        "--no-privileges",
        "--no-password",
        # pg_dump queues for a share lock on every table; behind a migration's exclusive lock it
        # would make the site's queries queue behind it. Better to fail and be retried.
        "--lock-wait-timeout=10s",
        f"--file={target}",
        name,
    ]
    run(command, env, what="pg_dump")
    target.chmod(0o600)
    return {"name": name, **dump_header(target, env), "migrations": dump_migrations(target, env)}


def archive_media(media_root: Path, target: Path) -> dict:
    """Every regular file under media_root, paths relative to it, modification times kept."""
    members = vanished = 0
    # Renditions are WebP, which gzip cannot shrink: the fastest level costs least for the same size.
    with tarfile.open(target, "w:gz", compresslevel=1) as tar:
        for directory, subdirs, files in os.walk(media_root):
            subdirs.sort()
            for filename in sorted(files):
                path = Path(directory, filename)
                try:
                    tar.add(path, arcname=str(path.relative_to(media_root)), recursive=False)
                except FileNotFoundError:
                    vanished += 1  # deleted since the walk listed it: see the module docstring
                    continue
                members += 1
    target.chmod(0o600)
    return {"root": str(media_root), "files": members, "vanished": vanished}


def git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--abbrev=40"],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown"  # e.g. an image without .git


def backup(database_url: str, media_root: Path, parent: Path) -> Path:
    if not media_root.is_dir():
        # Most likely DJANGO_MEDIA_ROOT is not set where this runs (cron): a backup without the
        # images would look complete until the day it is restored.
        raise BackupError(
            f"media root {media_root} is not a directory: set DJANGO_MEDIA_ROOT (or --media-root)"
        )
    started = datetime.now(UTC)
    directory = parent / started.strftime("%Y%m%dT%H%M%SZ")
    parent.mkdir(parents=True, exist_ok=True)
    try:
        # Private: the dump holds password hashes, two-step secrets and sessions.
        directory.mkdir(mode=0o700)
    except FileExistsError:
        raise BackupError(f"{directory} exists already (two backups within a second?)") from None
    try:
        clock = time.perf_counter()
        database = dump_database(database_url, directory / DUMP)
        database_seconds = time.perf_counter() - clock
        clock = time.perf_counter()
        media = archive_media(media_root, directory / MEDIA)
        media_seconds = time.perf_counter() - clock
    except BaseException:
        shutil.rmtree(directory)  # no half backup that looks like one
        raise
    files = {
        name: {"bytes": (directory / name).stat().st_size, "sha256": sha256(directory / name)}
        for name in (DUMP, MEDIA)
    }
    write_manifest(
        directory,
        {
            "format": FORMAT,
            "created_at": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "app_commit": git_commit(),
            "database": database,
            "media": media,
            "files": files,
            "seconds": {"database": round(database_seconds, 2), "media": round(media_seconds, 2)},
        },
    )
    print(
        f"database {database['name']}: {human(files[DUMP]['bytes'])} in {database_seconds:.1f} s "
        f"({len(database['migrations'])} migrations applied)\n"
        f"media {media_root}: {media['files']} files, {human(files[MEDIA]['bytes'])} in {media_seconds:.1f} s"
        + (f" ({media['vanished']} deleted during the backup)" if media["vanished"] else "")
    )
    print(f"backup: {directory}")
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/backup", description="Back up the database and the uploaded media (docs/backup.md)."
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "backups", help="parent directory (default: backups/)"
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument(
        "--media-root", type=Path, default=Path(os.environ.get("DJANGO_MEDIA_ROOT") or ROOT / "media")
    )
    args = parser.parse_args(argv)
    try:
        if not args.database_url:
            raise BackupError("set DATABASE_URL (or --database-url)")
        backup(args.database_url, args.media_root, args.out)
    except BackupError as error:
        return fail(error)
    return 0
