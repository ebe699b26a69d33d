"""Backup and restore (scripts/backup, scripts/restore; docs/backup.md), end to end on PostgreSQL.

A realistic site in a fresh database of the test run's server (`liveblog_backup_src_<random>`):
migrate, `load_demo` (a live and an archived blog, authors with avatars, a chart), and through
`posts.services` an uploaded photo, an edited, a deleted and a pinned post (bench/backup/site.py).
Its reader pages, embeds, feeds, catch-up and API answers, sitemap, author pages and every image
rendition they name are rendered with Django's test client; `scripts/backup` writes the dump, the
media archive and the manifest; `scripts/restore` restores them into another fresh database
(`…_dst_<random>`, created by the restore) and an empty media directory; the same pages rendered
from the restored site must be identical. Only per-response values are normalised (the CSP nonce
and the CSRF token; see NORMALISE in bench/backup/site.py). Both databases are dropped at the end.

Each step runs in a process of its own, as an operator runs it. About 25 s on a shared 2-core
machine.
"""

import json
import shutil
import urllib.parse

import pytest

from bench.backup.drill import ROOT, Drill, differences, media_files

pytestmark = pytest.mark.postgres


def server_url() -> str:
    """postgres://user[:password]@host:port of the test run's PostgreSQL."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    user = urllib.parse.quote(db.get("USER") or "postgres", safe="")
    password = f":{urllib.parse.quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    """The realistic site, its pages, and one backup of it (made once for this module)."""
    drill = Drill(server_url(), tmp_path_factory.mktemp("backup-drill"))
    try:
        drill.populate()
        drill.before = drill.snapshot("source")
        drill.backup_dir, drill.backup_step = drill.backup()
        yield drill
    finally:
        drill.drop()


def test_restored_site_serves_identical_pages_and_media(drill):
    restored = drill.restore(drill.backup_dir)

    assert "created database liveblog_backup_dst_" in restored.output
    assert "2 blogs (1 archived, 1 live), 20 posts (1 deleted)" in restored.output, restored.output
    assert "migrations applied now: none (same release)" in restored.output
    after = drill.snapshot("restored")
    assert differences(drill.before, after) == []
    # What was compared: the archived blog, the feeds, catch-up and API answers, the uploaded
    # photo's renditions, a deleted post's permalink (a 404 before and after).
    before = drill.before
    archived = before["/live/sturmtief-demo/"]
    assert archived["status"] == 200 and "archive-notice" in archived["body"]
    assert archived["headers"]["ETag"] and archived["headers"]["Last-Modified"]
    assert "<entry>" in before["/live/wahlabend-demo/feed/"]["body"]
    assert json.loads(before["/live/wahlabend-demo/events/?after=0"]["body"])["events"]
    assert "Wahlbeteiligung höher als 2021" in before["/api/live/wahlabend-demo/"]["body"]
    renditions = [page for path, page in before.items() if path.startswith("/media/posts/")]
    assert len(renditions) >= 6 and all(page["status"] == 200 for page in renditions)
    assert 404 in {page["status"] for path, page in before.items() if path.startswith("/live/")}
    # Every file, not only those the pages name, byte for byte.
    source = media_files(drill.source_media)
    assert source and media_files(drill.target_media) == source


def test_manifest_describes_the_backup(drill):
    manifest = json.loads((drill.backup_dir / "manifest.json").read_text())

    for name in ("db.dump", "media.tar.gz"):
        path = drill.backup_dir / name
        assert manifest["files"][name]["bytes"] == path.stat().st_size
        assert len(manifest["files"][name]["sha256"]) == 64
        assert path.stat().st_mode & 0o077 == 0  # it holds password hashes and sessions
    assert manifest["database"]["name"].startswith("liveblog_backup_src_")
    assert "posts.0002_editors_group" in manifest["database"]["migrations"]
    assert manifest["database"]["server"].startswith(manifest["database"]["pg_dump"].split(".")[0])
    assert manifest["media"]["files"] == len(media_files(drill.source_media))
    assert manifest["app_commit"]


def test_backup_refuses_a_missing_media_root(drill, tmp_path):
    """A cron job without DJANGO_MEDIA_ROOT must not write a backup that lacks every image."""
    env = drill.env(drill.source_url, tmp_path / "nowhere")
    refused = drill.run(
        [str(ROOT / "scripts" / "backup"), "--out", str(tmp_path / "out")], env, 60, check=False
    )

    assert refused.returncode == 1
    assert "is not a directory: set DJANGO_MEDIA_ROOT" in refused.errors
    assert not (tmp_path / "out").exists()


def test_restore_refuses_a_database_with_content(drill, tmp_path):
    refused = drill.restore(drill.backup_dir, database_url=drill.source_url, media_root=tmp_path, check=False)

    assert refused.returncode == 1
    assert "is not empty" in refused.errors and "--force" in refused.errors
    assert list(tmp_path.iterdir()) == []  # nothing unpacked either


def test_restore_refuses_a_damaged_backup_before_writing_anything(drill, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(drill.backup_dir, damaged)
    with (damaged / "db.dump").open("r+b") as dump:
        dump.seek(2000)
        dump.write(b"\0\0\0\0")
    url = f"{drill.server_url}/liveblog_backup_damaged_{drill.tag}"

    refused = drill.restore(damaged, database_url=url, media_root=tmp_path / "media", check=False)

    assert refused.returncode == 1
    assert "does not match the manifest's size and sha256" in refused.errors
    assert not drill.database_exists(url)
    assert not (tmp_path / "media").exists()


def test_restore_refuses_a_backup_from_a_newer_release(drill, tmp_path):
    newer = tmp_path / "newer"
    shutil.copytree(drill.backup_dir, newer)
    manifest = json.loads((newer / "manifest.json").read_text())
    manifest["database"]["migrations"].append("posts.9999_from_the_future")
    (newer / "manifest.json").write_text(json.dumps(manifest))
    url = f"{drill.server_url}/liveblog_backup_newer_{drill.tag}"

    refused = drill.restore(newer, database_url=url, media_root=tmp_path / "media", check=False)

    assert refused.returncode == 1
    assert "newer release" in refused.errors and "posts.9999_from_the_future" in refused.errors
    assert not drill.database_exists(url)


def test_backup_of_an_older_release_is_migrated_on_restore(tmp_path):
    """A database one migration behind (no "Editors" group yet) comes back at this release's schema."""
    older = Drill(server_url(), tmp_path)
    try:
        older.create_source()
        older.manage("migrate", "posts", "0001_initial", "--noinput", "-v", "0")
        directory, _ = older.backup()

        restored = older.restore(directory)

        assert "posts.0002_editors_group" in restored.output.split("migrations applied now:")[1]
        assert older.query(older.target_url, "SELECT name FROM auth_group") == [("Editors",)]
    finally:
        older.drop()
