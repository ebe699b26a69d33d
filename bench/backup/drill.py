"""The backup drill's steps, for tests/test_backup_restore.py and `python -m bench.backup`.

Two fresh databases on one PostgreSQL server (`liveblog_backup_src_<random>` and `…_dst_<random>`)
and two media directories under a work directory; every step runs as a process of its own, as an
operator would run it: the site (bench.backup.site), `scripts/backup`, `scripts/restore`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.common.db import create_postgres_database, drop_postgres_database
from bench.common.servers import ROOT


@dataclass
class Step:
    seconds: float
    output: str  # stdout
    errors: str = ""  # stderr
    returncode: int = 0


@dataclass
class Drill:
    server_url: str  # postgres://user[:password]@host:port (no database)
    workdir: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def source_url(self) -> str:
        return f"{self.server_url}/liveblog_backup_src_{self.tag}"

    @property
    def target_url(self) -> str:
        return f"{self.server_url}/liveblog_backup_dst_{self.tag}"

    @property
    def source_media(self) -> Path:
        return self.workdir / "media-source"

    @property
    def target_media(self) -> Path:
        return self.workdir / "media-restored"

    def env(self, database_url: str, media_root: Path) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "liveblog.settings",
            "DATABASE_URL": database_url,
            "DJANGO_MEDIA_ROOT": str(media_root),
            # The test client's host; DEBUG for static files without collectstatic's manifest.
            "DJANGO_DEBUG": "1",
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "DJANGO_LOG_LEVEL": "WARNING",
        }
        # No broadcasts into the shared Redis: the site's processes use the in-memory layer.
        for name in ("REDIS_URL", "DJANGO_TEST_DATABASE", "CHANNEL_LAYER_PREFIX"):
            env.pop(name, None)
        return env

    def run(self, command: list[str], env: dict[str, str], timeout: float, *, check: bool = True) -> Step:
        started = time.perf_counter()
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        step = Step(time.perf_counter() - started, done.stdout, done.stderr, done.returncode)
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr[-6000:]}"
            )
        return step

    def create_source(self) -> None:
        create_postgres_database(self.source_url)
        self.source_media.mkdir(parents=True)

    def manage(self, *args: str, timeout: float = 300) -> Step:
        """`manage.py ARGS` on the source site."""
        command = [sys.executable, "manage.py", *args]
        return self.run(command, self.env(self.source_url, self.source_media), timeout)

    def populate(self, posts: int = 0, images: int = 0, timeout: float = 600) -> Step:
        self.create_source()
        command = [
            sys.executable,
            "-m",
            "bench.backup.site",
            "populate",
            f"--posts={posts}",
            f"--images={images}",
        ]
        return self.run(command, self.env(self.source_url, self.source_media), timeout)

    def snapshot(self, which: str, timeout: float = 600) -> dict[str, dict]:
        """Every reader page, feed, catch-up answer and image of the source or the restored site."""
        url, media = (
            (self.source_url, self.source_media)
            if which == "source"
            else (self.target_url, self.target_media)
        )
        out = self.workdir / f"pages-{which}.json"
        self.run(
            [sys.executable, "-m", "bench.backup.site", "snapshot", str(out)], self.env(url, media), timeout
        )
        return json.loads(out.read_text(encoding="utf-8"))

    def backup(self, timeout: float = 600) -> tuple[Path, Step]:
        step = self.run(
            [str(ROOT / "scripts" / "backup"), "--out", str(self.workdir / "backups")],
            self.env(self.source_url, self.source_media),
            timeout,
        )
        directory = Path(step.output.rsplit("backup: ", 1)[1].strip())
        return directory, step

    def restore(
        self,
        directory: Path,
        *options: str,
        database_url: str = "",
        media_root: Path | None = None,
        check: bool = True,
        timeout: float = 600,
    ) -> Step:
        """`scripts/restore` into the target database and media directory (or those given)."""
        # Production settings, as an operator's shell has them: DEBUG off, no secret key needed.
        env = self.env("", Path())
        for name in ("DJANGO_DEBUG", "DJANGO_SECRET_KEY", "DATABASE_URL", "DJANGO_MEDIA_ROOT"):
            env.pop(name, None)
        command = [str(ROOT / "scripts" / "restore"), str(directory), *options]
        command += ["--database-url", database_url or self.target_url]
        command += ["--media-root", str(media_root or self.target_media)]
        return self.run(command, env, timeout, check=check)

    def query(self, url: str, statement: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:
            return conn.execute(statement, params).fetchall()

    def database_exists(self, url: str) -> bool:
        name = urllib.parse.urlsplit(url).path.lstrip("/")
        return bool(
            self.query(f"{self.server_url}/postgres", "SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        )

    def drop(self) -> None:
        for url in (self.source_url, self.target_url):
            drop_postgres_database(url)

    def database_bytes(self, url: str) -> int:
        return int(self.query(url, "SELECT pg_database_size(current_database())")[0][0])


def media_files(root: Path) -> dict[str, str]:
    """{path relative to root: sha256} of every file under root."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def differences(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """What differs between two snapshots, one line per page (empty: identical)."""
    lines = [f"{path}: only before the backup" for path in before.keys() - after.keys()]
    lines += [f"{path}: only after the restore" for path in after.keys() - before.keys()]
    for path in sorted(before.keys() & after.keys()):
        old, new = before[path], after[path]
        for key in sorted(old.keys() | new.keys()):
            if old.get(key) != new.get(key):
                lines.append(
                    f"{path}: {key} differs: {str(old.get(key))[:200]!r} != {str(new.get(key))[:200]!r}"
                )
    return lines
