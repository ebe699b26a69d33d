"""Per-client catch-up limit (live/clients.py CatchUpRate): a client asking too often gets 429 with
Retry-After, other clients are not affected, and behind a trusted proxy each client behind it is
counted as itself while a forged X-Forwarded-For from anyone else buys nothing."""

from __future__ import annotations

import pytest

from live import views as live_views
from live.clients import CatchUpRate
from tests.factories import LiveBlogFactory


@pytest.fixture
def two_per_client(monkeypatch):
    monkeypatch.setattr(live_views, "catch_up_rate", CatchUpRate(burst=2, window=60))


def catch_up(client, blog, remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.get(f"/live/{blog.slug}/events/", {"after": 0}, **extra)


def test_a_bucket_allows_its_burst_then_names_the_wait_and_refills():
    rate = CatchUpRate(burst=3, window=3)  # one token a second

    assert [rate.wait_seconds("198.51.100.1") for _ in range(3)] == [0, 0, 0]
    assert rate.wait_seconds("198.51.100.1") == 1
    assert rate.wait_seconds("198.51.100.2") == 0  # another client has its own bucket
    assert rate.wait_seconds(None) == 0  # no address known: nothing to count under
    assert CatchUpRate(burst=0).wait_seconds("198.51.100.1") == 0  # 0 turns the limit off


@pytest.mark.django_db
def test_a_client_asking_too_often_gets_429_with_retry_after_and_others_do_not(client, two_per_client):
    blog = LiveBlogFactory(state="live")

    answers = [catch_up(client, blog, "198.51.100.7").status_code for _ in range(3)]
    refused = catch_up(client, blog, "198.51.100.7")
    other = catch_up(client, blog, "198.51.100.8")

    assert answers == [200, 200, 429]
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1 and refused["Cache-Control"] == "no-store"
    assert other.status_code == 200


@pytest.mark.django_db
def test_behind_the_trusted_proxy_each_client_has_its_own_limit(client, settings, two_per_client):
    settings.LIVEBLOG_TRUSTED_PROXIES = ["10.0.0.1"]
    blog = LiveBlogFactory(state="live")

    first = [catch_up(client, blog, "10.0.0.1", "198.51.100.1").status_code for _ in range(3)]
    second = catch_up(client, blog, "10.0.0.1", "198.51.100.2").status_code
    # A client forging its own hop: nginx appends the real address, which is what counts.
    forged = catch_up(client, blog, "10.0.0.1", "203.0.113.9, 198.51.100.1").status_code

    assert first == [200, 200, 429]
    assert second == 200
    assert forged == 429


@pytest.mark.django_db
def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(client, settings, two_per_client):
    settings.LIVEBLOG_TRUSTED_PROXIES = ["10.0.0.1"]
    blog = LiveBlogFactory(state="live")

    answers = [catch_up(client, blog, "203.0.113.5", f"198.51.100.{n}").status_code for n in range(3)]

    assert answers == [200, 200, 429]
