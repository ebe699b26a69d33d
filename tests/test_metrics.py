"""Prometheus metrics per worker (ops/metrics.py): who may scrape them, and that they move.

Every figure is read the way Prometheus reads it: a scrape of `/metrics` with the bearer token,
parsed with prometheus-client's own parser. The metrics live in the process, so each test compares
a scrape before with a scrape after what it does.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import urllib.error
import urllib.request

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import OperationalError
from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from live import views as live_views
from liveblog.asgi import application
from ops import views as ops_views
from posts import broadcast, services
from posts.models import Event, Post
from tests.factories import EditorFactory, LiveBlogFactory
from tests.servers import HOST, DaphneServer, server_env

TOKEN = "metrics-test-token-0123456789"
ORIGIN = [(b"origin", b"http://localhost")]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.LIVEBLOG_METRICS_TOKEN = TOKEN
    settings.LIVEBLOG_METRICS_NETWORKS = []


def scrape_response(client: Client, token: str | None = TOKEN, **extra):
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    return client.get("/metrics", headers=headers, **extra)


def parse(text: str) -> tuple[Samples, set[str]]:
    """Samples by (name, labels without `worker`), and the worker labels seen."""
    samples: Samples = {}
    workers = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = dict(sample.labels)
            workers.add(labels.pop("worker", None))
            samples[(sample.name, tuple(sorted(labels.items())))] = sample.value
    return samples, workers


def scrape(client: Client | None = None) -> Samples:
    response = scrape_response(client or Client())
    assert response.status_code == 200
    return parse(response.content.decode())[0]


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def publish(blog, headline="Eilmeldung"):
    return services.publish_post(Post(live_blog=blog, headline=headline))


# Who may scrape ----------------------------------------------------------------------------------


def test_without_a_configured_token_there_is_no_endpoint(client, settings):
    settings.LIVEBLOG_METRICS_TOKEN = ""
    assert scrape_response(client).status_code == 404
    assert scrape_response(client, token="").status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"],
)
def test_a_missing_or_wrong_token_is_refused(client, authorization):
    headers = {"authorization": authorization} if authorization is not None else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 403
    assert b"liveblog_" not in response.content


def test_the_right_token_gets_this_workers_metrics_never_cached(client):
    response = scrape_response(client)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "no-store" in response["Cache-Control"]
    samples, workers = parse(response.content.decode())
    # Every sample names its worker: two workers' series never merge.
    assert workers == {f"{socket.gethostname()}:{os.getpid()}"}
    names = {name for name, _ in samples}
    assert "process_resident_memory_bytes" in names  # the worker's own memory and CPU too


def test_the_worker_label_can_be_named(client, settings):
    settings.LIVEBLOG_WORKER_NAME = "web-2"
    assert parse(scrape_response(client).content.decode())[1] == {"web-2"}


def test_an_address_allow_list_refuses_other_addresses_even_with_the_token(client, settings):
    settings.LIVEBLOG_METRICS_NETWORKS = ["10.0.0.0/8", "127.0.0.1"]
    assert scrape_response(client, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert scrape_response(client, REMOTE_ADDR="127.0.0.1").status_code == 200
    assert scrape_response(client, REMOTE_ADDR="203.0.113.9").status_code == 403
    # A forged X-Forwarded-For from an untrusted peer does not get in.
    assert (
        scrape_response(client, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403
    )


@pytest.mark.django_db
def test_the_metrics_are_not_in_the_sitemap(client):
    assert "/metrics" not in client.get("/sitemap.xml").content.decode()


# Readers, frames, latency ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_publish_to_a_connected_reader_moves_sockets_frames_and_latency():
    blog = LiveBlogFactory(slug="wahlabend-metriken")
    before = scrape()

    async def scenario():
        communicator = WebsocketCommunicator(application, f"/ws/live/{blog.slug}/", headers=ORIGIN)
        assert (await communicator.connect())[0]
        assert json.loads(await communicator.receive_from())["type"] == "hello"
        during = await sync_to_async(scrape)()
        assert value(during, "liveblog_reader_sockets", blog=blog.slug) == 1

        await database_sync_to_async(publish)(blog)
        frame = json.loads(await communicator.receive_from())
        assert (frame["type"], frame["kind"]) == ("event", "post.created")
        # The hub records its fan-out right after handing the frame over.
        for _ in range(50):
            counted = await sync_to_async(scrape)()
            if moved(during, counted, "liveblog_broadcast_latency_seconds_count", stage="fanout"):
                break
            await asyncio.sleep(0.02)
        await communicator.disconnect()

    async_to_sync(scenario)()
    after = scrape()

    assert moved(before, after, "liveblog_frames_sent_total", kind="hello") == 1
    assert moved(before, after, "liveblog_frames_sent_total", kind="post.created") == 1
    for stage in ("layer_send", "fanout"):
        assert moved(before, after, "liveblog_broadcast_latency_seconds_count", stage=stage) == 1
        assert 0 <= moved(before, after, "liveblog_broadcast_latency_seconds_sum", stage=stage) < 10
        assert moved(before, after, "liveblog_broadcast_latency_seconds_bucket", stage=stage, le="+Inf") == 1
    # The last socket gone, the blog's series is gone: labels stay as few as the blogs with readers.
    assert ("liveblog_reader_sockets", (("blog", blog.slug),)) not in after


@pytest.mark.django_db
def test_failed_pushes_and_breaker_opens_are_counted(monkeypatch):
    class RefusingLayer:
        async def group_send(self, group, message):
            raise ConnectionError("redis is down")

    class HungLayer:
        async def group_send(self, group, message):
            await asyncio.sleep(60)

    blog = LiveBlogFactory()
    events = [Event.objects.get(post=publish(blog, f"Meldung {n}")).pk for n in range(3)]
    before = scrape()
    monkeypatch.setattr(broadcast, "get_channel_layer", RefusingLayer)
    broadcast.send_events(events)
    monkeypatch.setattr(broadcast, "get_channel_layer", HungLayer)
    monkeypatch.setattr(broadcast, "SEND_TIMEOUT_SECONDS", 0.1)
    broadcast.send_events(events)  # times out: the breaker opens
    broadcast.send_events(events[:2])  # not tried
    after = scrape()

    assert moved(before, after, "liveblog_broadcast_failures_total", reason="error") == 3
    assert moved(before, after, "liveblog_broadcast_failures_total", reason="timeout") == 3
    assert moved(before, after, "liveblog_broadcast_failures_total", reason="breaker_open") == 2
    assert moved(before, after, "liveblog_broadcast_breaker_opens_total") == 1
    assert moved(before, after, "liveblog_broadcast_latency_seconds_count", stage="layer_send") == 0


# Catch-ups and 503s --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_catch_ups_are_counted_by_outcome(client, monkeypatch):
    blog = LiveBlogFactory()
    publish(blog)
    url = reverse("liveblog-events", kwargs={"slug": blog.slug})
    before = scrape(client)
    assert client.get(url, {"after": 0}).status_code == 200
    assert client.get(url, {"after": 0}).status_code == 200  # the same answer, from the cache
    assert client.get(url, {"after": "x"}).status_code == 400
    assert client.get(reverse("liveblog-events", kwargs={"slug": "gibt-es-nicht"})).status_code == 404
    monkeypatch.setattr(live_views, "_catch_up_slots", live_views.threading.BoundedSemaphore(1))
    monkeypatch.setattr(live_views, "CATCH_UP_QUEUE_SECONDS", 0.01)
    live_views._catch_up_slots.acquire()  # every slot taken by other readers
    assert client.get(url, {"after": 0}).status_code == 503
    after = scrape(client)

    for outcome in ("rendered", "cached", "bad_request", "not_found", "busy"):
        assert moved(before, after, "liveblog_catch_up_requests_total", outcome=outcome) == 1, outcome
    assert moved(before, after, "liveblog_http_503_responses_total", reason="catch_up_busy") == 1


@pytest.mark.django_db
def test_503s_for_an_unreachable_database_and_an_unready_worker_are_counted(client, monkeypatch):
    def unreachable(request, slug):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    def hung_redis():
        raise ConnectionError("redis timed out")

    blog = LiveBlogFactory()
    before = scrape(client)
    monkeypatch.setattr(live_views, "_events_response", unreachable)
    assert client.get(reverse("liveblog-events", kwargs={"slug": blog.slug})).status_code == 503
    monkeypatch.setattr(ops_views, "checks", lambda: {"redis": hung_redis})
    assert client.get("/readyz").status_code == 503
    after = scrape(client)

    assert moved(before, after, "liveblog_http_503_responses_total", reason="database") == 1
    assert moved(before, after, "liveblog_http_503_responses_total", reason="not_ready") == 1


# Logins ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_login_lockout_is_counted(client, settings):
    EditorFactory(username="ed", password="the-right-password")

    def fail():
        form = {"username": "ed", "password": "wrong", "next": "/admin/"}
        return client.post("/admin/login/", form, REMOTE_ADDR="198.51.100.9")

    before = scrape()
    statuses = [fail().status_code for _ in range(settings.AXES_FAILURE_LIMIT - 1)]
    assert 429 not in statuses
    assert moved(before, scrape(), "liveblog_login_lockouts_total") == 0
    assert fail().status_code == 429
    assert moved(before, scrape(), "liveblog_login_lockouts_total") == 1


# A real worker -----------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_daphne_worker_serves_its_own_metrics_and_logs_json(tmp_path):
    from websockets.sync.client import connect

    env = server_env(LIVEBLOG_METRICS_TOKEN=TOKEN, LIVEBLOG_LOG_FORMAT="json")
    server = DaphneServer(env, tmp_path / "daphne.log", name="metrics").start()
    blog = LiveBlogFactory(slug="ein-worker")

    def server_scrape(token: str = TOKEN) -> tuple[Samples, set[str]]:
        request = urllib.request.Request(
            server.url + "/metrics", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return parse(response.read().decode())

    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            server_scrape("wrong")
        assert refused.value.code == 403
        url = f"ws://{HOST}:{server.port}/ws/live/{blog.slug}/"
        with (
            connect(url, origin=server.origin, proxy=None, open_timeout=10) as first,
            connect(url, origin=server.origin, proxy=None, open_timeout=10) as second,
        ):
            for ws in (first, second):
                assert json.loads(ws.recv(timeout=10))["type"] == "hello"
            samples, workers = server_scrape()
            assert value(samples, "liveblog_reader_sockets", blog=blog.slug) == 2
            assert value(samples, "liveblog_frames_sent_total", kind="hello") == 2
            # The server's own process, not this one.
            assert workers == {f"{socket.gethostname()}:{server.process.pid}"}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            samples, _ = server_scrape()
            if ("liveblog_reader_sockets", (("blog", blog.slug),)) not in samples:
                break
            time.sleep(0.1)
        assert ("liveblog_reader_sockets", (("blog", blog.slug),)) not in samples
    finally:
        server.stop()

    # Our lines are JSON (Daphne's own access log, in its own format, is separate).
    ours = [json.loads(line) for line in server.log_tail(10**6).splitlines() if line.startswith("{")]
    access = [line for line in ours if line["logger"] == "liveblog.access" and line["path"] == "/metrics"]
    assert [line["status"] for line in access][:1] == [403]
    assert {line["status"] for line in access[1:]} == {200}
    assert all(line["client"] == HOST and line["duration_ms"] >= 0 for line in access)


@pytest.mark.django_db
def test_a_scraper_reaches_a_worker_by_its_address_over_plain_http(client, settings):
    """Prometheus finds workers by address (compose's DNS service discovery): that Host is not in
    DJANGO_ALLOWED_HOSTS and the private network has no TLS; neither stops the scrape."""
    settings.ALLOWED_HOSTS = ["liveblog.example.org"]
    settings.SECURE_SSL_REDIRECT = True

    scrape = scrape_response(client, HTTP_HOST="172.31.240.7:8000")
    wrong = scrape_response(client, token="wrong", HTTP_HOST="172.31.240.7:8000")
    page = client.get("/", HTTP_HOST="172.31.240.7:8000")

    assert scrape.status_code == 200 and b"liveblog_frames_sent_total" in scrape.content
    assert wrong.status_code == 403
    assert page.status_code == 400  # everything else still checks the Host
