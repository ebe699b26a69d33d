"""Real Daphne servers for tests that need more than the test client: several processes, a
browser, hostile sockets. Shared by the cross-process, WebSocket-security and browser tests.

A server runs the whole app on the *test* database (tests using it must be transactional: it has
its own connections and sees only committed rows) with the environment `server_env()` builds.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from bench.common.net import HOST, free_port

STARTUP_TIMEOUT = 30.0


def test_database_url() -> str:
    """The database this test process uses (settings_dict's NAME is already the test one)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"  # an absolute path: four slashes in all
    if connection.vendor != "postgresql":
        raise NotImplementedError(f"no DATABASE_URL for {connection.vendor}")
    user = urllib.parse.quote(s.get("USER") or "", safe="")
    password = urllib.parse.quote(s.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{s.get('HOST') or HOST}:{s.get('PORT') or 5432}/{urllib.parse.quote(s['NAME'])}"


test_database_url.__test__ = False  # a helper, not a test


def server_env(**extra: str) -> dict[str, str]:
    """The environment of a server process: the test database, DEBUG on, our hosts allowed.

    DEBUG on: with it off the server would need collectstatic's manifest and redirect to HTTPS.
    No REDIS_URL unless given: the server then has its own in-memory channel layer.
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "liveblog.settings",
        "DATABASE_URL": test_database_url(),
        "DJANGO_DEBUG": "1",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "test-servers-only",
        "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost",
    }
    # The server runs as in production: Django's async-safety checks on.
    for name in ("DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_TEST_DATABASE", "REDIS_URL", "CHANNEL_LAYER_PREFIX"):
        env.pop(name, None)
    env.update(extra)
    return env


class DaphneServer:
    """`daphne liveblog.asgi:application` in a child process; stop() and start() again on one port."""

    def __init__(self, env: dict[str, str], log: Path, name: str = "") -> None:
        self.env = env
        self.log = log
        self.name = name
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    origin = url

    def start(self) -> DaphneServer:
        assert self.process is None or self.process.poll() is not None, "already running"
        daphne = Path(sys.executable).with_name("daphne")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(daphne), "-b", HOST, "-p", str(self.port), "liveblog.asgi:application"],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        # Daphne loads the application before it listens; an HTTP answer (any status) means ready.
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(self.url + "/", timeout=1):
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"Daphne {self.name} did not start on {self.url}:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM (Daphne closes its sockets), SIGKILL if it does not exit."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@contextlib.contextmanager
def daphne_servers(
    env: dict[str, str], directory: Path, names: tuple[str, ...] = ("A", "B")
) -> Iterator[list[DaphneServer]]:
    """Several workers of one deployment (the same environment), stopped however the test ends."""
    started: list[DaphneServer] = []
    try:
        for name in names:
            started.append(DaphneServer(env, directory / f"daphne-{name}.log", name=name).start())
        yield started
    finally:
        for server in started:
            server.stop()


def new_layer_prefix(kind: str = "test") -> str:
    """A channel-layer prefix of its own, so concurrent runs on one Redis do not meet."""
    return f"liveblog-{kind}-{uuid.uuid4().hex[:12]}"


def redis_layer(redis_url: str, prefix: str) -> dict:
    """CHANNEL_LAYERS for this process, sharing Redis (under `prefix`) with a server."""
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": redis_url, "socket_timeout": None}], "prefix": prefix},
        }
    }


def delete_redis_keys(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
