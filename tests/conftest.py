import os
import shutil

import pytest
from django.db import connection

# In CI a missing service must fail the run, not skip quietly (see .ci/run).
REQUIRE_SERVICES = os.environ.get("LIVEBLOG_REQUIRE_SERVICES") == "1"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def _missing(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (LIVEBLOG_REQUIRE_SERVICES=1: services are required here)")
    pytest.skip(reason)


def _redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def pytest_collection_modifyitems(items):
    # Playwright's sync API keeps an event loop in the main thread for the rest of the session,
    # which makes async_to_sync (consumer tests) refuse to run after it: browser tests go last.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _missing("needs PostgreSQL: set DATABASE_URL=postgres://…")
    if item.get_closest_marker("redis") and not _redis_reachable():
        _missing(f"needs Redis at {REDIS_URL}")
    if item.get_closest_marker("browser") and not shutil.which("chromium"):
        _missing("needs Debian's chromium (apt-get install -y chromium)")


@pytest.fixture(autouse=True)
def empty_cache():
    # The catch-up endpoint caches answers per process (live/views.py); SQLite reuses primary keys
    # after a rolled-back test, so one test's answer must never reach the next.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def closed_broadcast_breaker():
    # A test whose layer fails opens posts.broadcast's breaker; the next test starts with it closed.
    from posts import broadcast

    broadcast._breaker.open_until = 0.0


@pytest.fixture(autouse=True)
def fresh_catch_up_rate(monkeypatch):
    # Every test is a new client as far as the per-client catch-up limit is concerned.
    from live import views
    from live.clients import CatchUpRate

    monkeypatch.setattr(views, "catch_up_rate", CatchUpRate())


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def plain_http(settings):
    # CI runs with production settings; the test client speaks plain HTTP, as the app does behind
    # its TLS-terminating proxy. The redirect itself is covered by `check --deploy`.
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Test users do not need a slow hash; real logins are covered with the real one elsewhere.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def in_memory_channel_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def client(client):
    # Assertions read English messages; the site's default language is German. Tests of the
    # German UI ask for it with their own Accept-Language header.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def editor(db):
    from tests.factories import EditorFactory

    return EditorFactory()


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client
