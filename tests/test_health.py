"""ops/views.py: /healthz (alive) and /readyz (database and Redis answer within a second)."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError

from ops import views
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_asking_any_service(client, monkeypatch):
    monkeypatch.setattr(views, "checks", lambda: pytest.fail("healthz must not check services"))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert "no-store" in response["Cache-Control"]


def test_readyz_is_ready_when_the_database_answers(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "checks": {"database": "ok"}}
    assert "no-store" in response["Cache-Control"]


@pytest.mark.redis
def test_readyz_asks_redis_when_the_channel_layer_uses_it(client, settings):
    settings.REDIS_URL = REDIS_URL
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_is_503_when_redis_refuses(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # discard port: nothing listens
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"ready": False, "checks": {"database": "ok", "redis": "unavailable"}}


def test_readyz_is_503_when_the_database_refuses(client, settings, monkeypatch):
    settings.REDIS_URL = ""

    def refused() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(views, "_database", refused)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"ready": False, "checks": {"database": "unavailable"}}


def test_readyz_gives_up_on_a_hung_database_and_says_so(client, settings, monkeypatch):
    settings.REDIS_URL = ""
    release = threading.Event()
    monkeypatch.setattr(views, "_database", lambda: release.wait(30))
    try:
        response = client.get("/readyz")
    finally:
        release.set()
    assert response.status_code == 503
    assert response.json() == {"ready": False, "checks": {"database": "timeout"}}


def test_only_get_and_head(client):
    assert client.post("/readyz").status_code == 405
    assert client.head("/healthz").status_code == 200
