"""`scripts/restore BACKUP_DIR`: a backup into a fresh database and media directory.

    scripts/restore backups/20261203T020000Z                  # into DATABASE_URL, DJANGO_MEDIA_ROOT
    scripts/restore backups/20261203T020000Z --database-url postgres://…/liveblog_restored \
        --media-root /srv/liveblog/media-restored

Checks before it writes anything: the files' sha256 against the manifest, that this release knows
every migration the backup has applied (a backup from a newer release needs that release), that
the media directory is empty and the database empty or missing (it is created then). `--force`
restores over a non-empty database (its `public` schema is dropped first) and media directory
(files are added, same names replaced). Then pg_restore in one transaction (all or nothing),
the media unpacked, and `migrate` (a backup from an older release is upgraded). It prints what it
restored and fails if a row names a media file the backup does not have.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tarfile
import time
import urllib.parse
from collections import Counter
from pathlib import Path

from .common import DUMP, MEDIA, ROOT, BackupError, fail, human, libpq_env, read_manifest, run, sha256


def verify(directory: Path) -> dict:
    manifest = read_manifest(directory)
    for name in (DUMP, MEDIA):
        expected, path = manifest["files"][name], directory / name
        if not path.is_file():
            raise BackupError(f"{path} is missing")
        if path.stat().st_size != expected["bytes"] or sha256(path) != expected["sha256"]:
            raise BackupError(f"{path} does not match the manifest's size and sha256: damaged or changed")
    return manifest


def setup_django(database_url: str, media_root: Path) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_MEDIA_ROOT"] = str(media_root)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")
    # migrate and counting sign nothing: a key of this process's own where none is configured.
    os.environ.setdefault("DJANGO_SECRET_KEY", "restore-" + secrets.token_hex(16))
    import django

    django.setup()


def check_migrations_known(manifest: dict) -> None:
    from django.db.migrations.loader import MigrationLoader

    known = {
        f"{app}.{name}" for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    }
    unknown = [name for name in manifest["database"]["migrations"] if name not in known]
    if unknown:
        raise BackupError(
            f"the backup is from a newer release ({manifest['app_commit']}): this code lacks the "
            f"migrations {', '.join(unknown[:5])}{' …' if len(unknown) > 5 else ''}; "
            "restore with that release"
        )


def check_media_root(media_root: Path, force: bool) -> None:
    if media_root.exists() and any(media_root.iterdir()) and not force:
        raise BackupError(f"{media_root} is not empty; restore into an empty directory, or pass --force")


def prepare_database(database_url: str, force: bool) -> str:
    """Create the database if missing; refuse a non-empty one unless forced. Its name."""
    import psycopg
    from psycopg import sql

    name = urllib.parse.unquote(urllib.parse.urlsplit(database_url).path.lstrip("/"))
    try:
        conn = psycopg.connect(database_url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as error:
        if "does not exist" not in str(error):
            raise BackupError(f"cannot connect to {name}: {error}") from None
        maintenance = urllib.parse.urlunsplit(urllib.parse.urlsplit(database_url)._replace(path="/postgres"))
        with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"created database {name}")
        return name
    with conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname <> 'information_schema' "
            "AND n.nspname NOT LIKE 'pg\\_%'"
        ).fetchone()
        relations = row[0] if row else 0
        if relations and not force:
            raise BackupError(
                f"database {name} is not empty ({relations} tables, views or sequences); restore into a "
                "fresh database, or pass --force to drop its public schema first"
            )
        if relations:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
            print(f"dropped the public schema of {name} (--force)")
    return name


def restore_dump(database_url: str, dump: Path) -> None:
    env, name = libpq_env(database_url)
    command = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    run([*command, "--no-password", f"--dbname={name}", str(dump)], env, what="pg_restore")


def unpack_media(archive: Path, media_root: Path) -> tuple[int, int]:
    media_root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        # The "data" filter refuses absolute paths, "..", links out of the directory and devices.
        tar.extractall(media_root, filter="data")
    return len(members), sum(m.size for m in members)


def migrate() -> list[str]:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    call_command("migrate", interactive=False, verbosity=0)
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def missing_media() -> list[str]:
    """Files the restored rows name (every rendition) that the media directory lacks."""
    from django.core.files.storage import default_storage

    from authors.models import Author
    from images.processing import AVATAR_SIZES, photo_widths, rendition_of
    from posts.models import Post

    names: set[str] = set()
    for image, width in Post.objects.exclude(image="").values_list("image", "image_width"):
        names |= {image, *(rendition_of(image, w) for w in photo_widths(width))}
    for avatar in Author.objects.exclude(avatar="").values_list("avatar", flat=True):
        names |= {avatar, *(rendition_of(avatar, size) for size in AVATAR_SIZES)}
    return sorted(name for name in names if not default_storage.exists(name))


def summary() -> str:
    from django.contrib.auth.models import User

    from authors.models import Author
    from posts.models import Event, LiveBlog, Post

    states = Counter(LiveBlog.objects.values_list("state", flat=True))
    posts = Post.objects.count()
    deleted = Post.objects.filter(deleted_at__isnull=False).count()
    blogs = ", ".join(f"{count} {state}" for state, count in sorted(states.items())) or "none"
    return (
        f"{sum(states.values())} blogs ({blogs}), {posts} posts ({deleted} deleted), "
        f"{Event.objects.count()} events, {Author.objects.count()} authors, {User.objects.count()} users"
    )


def restore(directory: Path, database_url: str, media_root: Path, force: bool) -> None:
    manifest = verify(directory)
    libpq_env(database_url)  # refuses anything but postgres:// before anything is written
    setup_django(database_url, media_root)
    check_migrations_known(manifest)
    check_media_root(media_root, force)
    name = prepare_database(database_url, force)
    clock = time.perf_counter()
    restore_dump(database_url, directory / DUMP)
    database_seconds = time.perf_counter() - clock
    clock = time.perf_counter()
    files, size = unpack_media(directory / MEDIA, media_root)
    media_seconds = time.perf_counter() - clock
    applied = migrate()
    print(f"backup of {manifest['created_at']} (app {manifest['app_commit']}) restored into {name}:")
    print(f"  database in {database_seconds:.1f} s: {summary()}")
    print(f"  media in {media_seconds:.1f} s: {files} files, {human(size)} into {media_root}")
    print(f"  migrations applied now: {', '.join(applied) if applied else 'none (same release)'}")
    missing = missing_media()
    if missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        raise BackupError(
            f"restored, but {len(missing)} media files named in the database are missing "
            f"(replaced during the backup?): {shown}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/restore",
        description="Restore a backup into a fresh database and media directory (docs/backup.md).",
    )
    parser.add_argument("backup", type=Path, help="a directory written by scripts/backup")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument(
        "--media-root", type=Path, default=Path(os.environ.get("DJANGO_MEDIA_ROOT") or ROOT / "media")
    )
    parser.add_argument(
        "--force", action="store_true", help="restore over a non-empty database and media root"
    )
    args = parser.parse_args(argv)
    try:
        if not args.database_url:
            raise BackupError("set DATABASE_URL (or --database-url)")
        restore(args.backup, args.database_url, args.media_root, args.force)
    except BackupError as error:
        return fail(error)
    return 0
