"""Django in a benchmark's own process: environment, set-up, the database, a blog, an editor.

Nothing here imports Django at module level: a benchmark builds its environment first (the
servers it starts get the same one), then calls `setup_django`.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
import uuid

from bench.common.net import HOST


def server_env(
    database_url: str, redis_url: str | None = None, prefix: str = "", **extra: str
) -> dict[str, str]:
    """The environment for Daphne/uvicorn (and this process): production-like, plain HTTP.

    DEBUG off (no query log growing with every query), SSL redirect off (the servers speak plain
    HTTP on 127.0.0.1), a random secret key, warnings only. `extra` adds or overrides variables.
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "liveblog.settings",
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "DJANGO_ALLOWED_HOSTS": HOST,
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    if prefix:
        env["CHANNEL_LAYER_PREFIX"] = prefix
    env.update(extra)
    return env


def check_local(url: str) -> str | None:
    """An error message unless a postgres:// or redis:// URL points at 127.0.0.1 (or localhost)."""
    host = urllib.parse.urlsplit(url).hostname
    if url.startswith(("redis", "postgres")) and host not in (HOST, "localhost"):
        return f"stays on 127.0.0.1: {url}"
    return None


def admin_url(url: str) -> tuple[str, str]:
    """(database name, the URL of the server's `postgres` database) for a postgres:// URL."""
    parts = urllib.parse.urlsplit(url)
    name = urllib.parse.unquote(parts.path.lstrip("/"))
    return name, urllib.parse.urlunsplit(parts._replace(path="/postgres"))


def create_postgres_database(url: str, *, exist_ok: bool = False) -> bool:
    """The database a postgres:// URL names, created on its server (kept if it exists and
    `exist_ok`); whether it was created."""
    import psycopg

    name, admin = admin_url(url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        if exist_ok and conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(f'CREATE DATABASE "{name}"')
    return True


def drop_postgres_database(url: str) -> None:
    """The database a postgres:// URL names, dropped if it exists (its sessions ended first)."""
    import psycopg

    name, admin = admin_url(url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ensure_postgres_database(url: str) -> None:
    if create_postgres_database(url, exist_ok=True):
        print(f"created database {admin_url(url)[0]}", flush=True)


def setup_django(env: dict[str, str] | None = None, *, migrate: bool = True) -> None:
    """Django in this process, with `env` put into os.environ first; migrated unless told not to."""
    if env:
        os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def make_blog(prefix: str, tag: str, *, kicker: str = "Benchmark", title: str = "") -> tuple[int, str]:
    """A fresh live blog (slug `<prefix>-<tag>-<random>`): (pk, slug)."""
    from django.db import close_old_connections

    from posts.models import LiveBlog

    close_old_connections()
    blog = LiveBlog.objects.create(
        slug=f"{prefix}-{tag}-{uuid.uuid4().hex[:6]}" if tag else f"{prefix}-{uuid.uuid4().hex[:8]}",
        kicker=kicker,
        title=title or f"{kicker} {tag}".strip(),
        state=LiveBlog.State.LIVE,
    )
    return blog.pk, blog.slug


def make_editor(username: str, password: str, name: str) -> int:
    """A staff login in the "Editors" group with its Author; the author's pk."""
    from django.contrib.auth.models import Group, User

    from authors.models import Author

    user = User.objects.create_user(username, password=password, is_staff=True)
    user.groups.add(Group.objects.get(name="Editors"))
    return Author.objects.create(name=name, slug=username, user=user).pk


class LogCounter(logging.Handler):
    """Counts a logger's records (from `level` on) instead of printing them.

    `weigh(record)` says how much a record counts (default 1; 0 ignores it).
    """

    def __init__(self, level: int = logging.ERROR, weigh=None) -> None:
        super().__init__(level=level)
        self.count = 0
        self.weigh = weigh

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1 if self.weigh is None else self.weigh(record)  # handle() holds the lock


def count_log(name: str, level: int = logging.ERROR, weigh=None) -> LogCounter:
    """Attach a LogCounter to logger `name` and stop its records from reaching the root (printed)."""
    counter = LogCounter(level, weigh)
    logger = logging.getLogger(name)
    logger.addHandler(counter)
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    logger.propagate = False
    return counter
