"""A hung service (stopped with SIGSTOP: the kernel still accepts connections, nothing answers) costs
a request seconds, with the right answer: 503 when nothing was saved, "saved, live delivery delayed"
when only the push could not be sent.

Each test hangs a throwaway instance of its own (a redis-server on a free port; a PostgreSQL cluster
made with initdb, as bench/faults' postgres-down makes it), never the shared ones, and always lets
it go on again. Bounds are generous (three times the configured timeouts): these check that a
request ends with the right answer, not how fast (bench/faults/hung_*.py measure that).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _missing
from tests.factories import LiveBlogFactory
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def hung(*pids: int) -> Iterator[None]:
    """The processes stopped (children first) for the block, and always continued after it."""
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        yield
    finally:
        for pid in reversed(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


# Redis ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def throwaway_redis() -> Iterator[tuple[str, int]]:
    """(url, pid) of a redis-server of this module's own: no persistence, a free port."""
    if not shutil.which("redis-server"):
        _missing("needs redis-server (a throwaway instance is hung here)")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port, socket_connect_timeout=1)
        for _ in range(100):
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", process.pid
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def hung_layer(settings, throwaway_redis):
    """The app's channel layer (as settings build it) on the throwaway Redis."""
    from liveblog.layers import redis_channel_layer

    url, pid = throwaway_redis
    settings.CHANNEL_LAYERS = {"default": redis_channel_layer(url)}
    settings.REDIS_URL = url
    return pid


@pytest.mark.django_db(transaction=True)  # real commits: the push runs after them, in the request
def test_a_publish_while_redis_hangs_is_saved_and_says_live_delivery_is_delayed(editor_client, hung_layer):
    from posts import broadcast
    from posts.models import Post

    blog = LiveBlogFactory()
    url = f"/admin/posts/liveblog/{blog.pk}/composer/"
    with hung(hung_layer):
        started = time.monotonic()
        response = editor_client.post(
            url, {"headline": "Eilmeldung", "body": "<p>Text</p>"}, headers={"HX-Request": "true"}
        )
        first = time.monotonic() - started
        # The next one finds the breaker open and does not wait for the layer at all.
        started = time.monotonic()
        second = editor_client.post(url, {"headline": "Zweite", "body": ""}, headers={"HX-Request": "true"})
        again = time.monotonic() - started
    html = response.content.decode()
    assert response.status_code == 200
    assert "Published: Eilmeldung" in html and "Live delivery is delayed" in html
    assert first < 3 * broadcast.SEND_TIMEOUT_SECONDS
    assert "Live delivery is delayed" in second.content.decode()
    assert again < broadcast.SEND_TIMEOUT_SECONDS
    assert set(Post.objects.filter(live_blog=blog).values_list("headline", flat=True)) == {
        "Eilmeldung",
        "Zweite",
    }


def test_the_layer_gives_up_on_a_hung_redis_after_its_socket_timeout(monkeypatch, throwaway_redis):
    # What a hub's join, refresh and receive do: without a socket timeout they would wait for ever,
    # and a hub stuck in a read would stay deaf after Redis came back.
    import asyncio

    import redis
    from channels_redis.core import RedisChannelLayer

    from liveblog.layers import redis_channel_layer

    monkeypatch.setenv("LIVEBLOG_REDIS_SOCKET_TIMEOUT", "5.5")
    url, pid = throwaway_redis
    layer = RedisChannelLayer(**redis_channel_layer(url)["CONFIG"])

    async def join() -> float:
        started = time.monotonic()
        with pytest.raises((redis.TimeoutError, TimeoutError)):
            await asyncio.wait_for(layer.group_add("hung-test", "hung-test.channel"), 60)
        return time.monotonic() - started

    with hung(pid):
        waited = asyncio.run(join())
    assert waited < 3 * 5.5


def test_a_hub_lets_readers_join_a_blog_while_redis_hangs(throwaway_redis):
    # The hub joins a blog's group under its lock: a hung Redis must not hold every other join and
    # leave of the process for its socket timeout. The reader is registered (it gets the heartbeat).
    import asyncio

    from channels_redis.core import RedisChannelLayer

    from live.hub import LAYER_TIMEOUT, Hub
    from liveblog.layers import redis_channel_layer

    url, pid = throwaway_redis
    layer = RedisChannelLayer(**redis_channel_layer(url)["CONFIG"])

    class Reader:
        async def send(self, text_data=None, bytes_data=None):
            pass

        async def close(self, code=None, reason=None):
            pass

    async def join_and_leave() -> tuple[float, bool, float]:
        hub, reader = Hub(layer, asyncio.get_running_loop()), Reader()
        started = time.monotonic()
        await hub.join(1, "hung-test-blog-1", reader)
        joined = time.monotonic() - started
        registered = reader in hub.readers[1]
        started = time.monotonic()
        await hub.leave(1, reader)
        return joined, registered, time.monotonic() - started

    with hung(pid):
        joined, registered, left = asyncio.run(join_and_leave())
    assert registered
    assert joined < 3 * LAYER_TIMEOUT and left < 3 * LAYER_TIMEOUT


@pytest.mark.django_db
def test_readyz_names_a_hung_redis_within_a_second(client, hung_layer):
    with hung(hung_layer):
        started = time.monotonic()
        response = client.get("/readyz")
        waited = time.monotonic() - started
    assert response.status_code == 503
    assert response.json() == {"ready": False, "checks": {"database": "ok", "redis": "timeout"}}
    assert waited < 3.0


# PostgreSQL -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def throwaway_postgres():
    """A PostgreSQL cluster of this module's own (bench/faults' ThrowawayPostgres), started."""
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or not shutil.which("runuser"):
        _missing("needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) and runuser")
    if os.geteuid() != 0:
        _missing("the throwaway cluster runs as the postgres OS user (runuser): needs root")
    from bench.faults.postgres_down.cluster import ThrowawayPostgres

    cluster = ThrowawayPostgres()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()


# A process of the app on the throwaway cluster, as a Daphne worker would be (settings from the
# environment, the pool): it holds a connection, then, once told the server hangs, asks it again.
APP_ON_HUNG_DATABASE = """
import json, sys, time

import django

django.setup()
from django.db import connection
from django.test import Client

from liveblog.middleware import is_database_unavailable


def timed(call):
    started = time.monotonic()
    try:
        result = call()
    except Exception as error:
        result = error
    return result, round(time.monotonic() - started, 2)


def query():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()[0]


query()  # this thread now holds a pooled connection, as a request in the middle of its work
print("ready", flush=True)
sys.stdin.readline()
error, seconds = timed(query)
report = {"query": [type(error).__name__, is_database_unavailable(error), seconds]}
connection.close()
client = Client(headers={"Accept-Language": "en"})
response, seconds = timed(lambda: client.get("/live/any-blog/"))
report["page"] = [response.status_code, response.has_header("Retry-After"), seconds]
response, seconds = timed(lambda: client.get("/readyz"))
report["readyz"] = [response.status_code, json.loads(response.content)["checks"]["database"], seconds]
print(json.dumps(report), flush=True)
sys.stdin.readline()
connection.close()
print(json.dumps({"after": timed(query)[0]}), flush=True)
"""


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_slow_but_live_postgres_is_waited_for():
    # Silent past the answer timeout, but the server answers the probe: the query goes on, and
    # only PostgreSQL's own statement_timeout could end it.
    from django.db import connection

    from liveblog.postgresql.base import WatchedConnection

    with connection.cursor() as cursor:
        assert isinstance(connection.connection, WatchedConnection)
        seconds = connection.connection.answer_timeout + 0.5
        cursor.execute("SELECT pg_sleep(%s), 1", [seconds])
        assert cursor.fetchone()[1] == 1


@pytest.mark.postgres
def test_a_hung_postgres_costs_a_request_seconds_and_answers_503(throwaway_postgres):
    answer_timeout = 1.0  # DJANGO_DB_ANSWER_TIMEOUT; the probe of a silent server adds at most 2 s
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "liveblog.settings",
        "DJANGO_DEBUG": "1",
        "DJANGO_SECRET_KEY": "hung-" + uuid.uuid4().hex,
        "DATABASE_URL": throwaway_postgres.url.rsplit("/", 1)[0] + "/postgres",
        "DJANGO_DB_ANSWER_TIMEOUT": str(answer_timeout),
        "DJANGO_ALLOWED_HOSTS": "testserver",
    }
    env.pop("REDIS_URL", None)
    app = subprocess.Popen(
        [sys.executable, "-c", APP_ON_HUNG_DATABASE],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert app.stdout.readline().strip() == "ready", app.stderr.read()
        throwaway_postgres.pause()
        try:
            app.stdin.write("go\n")
            app.stdin.flush()
            report = json.loads(app.stdout.readline() or "null")
        finally:
            throwaway_postgres.resume()
        app.stdin.write("resumed\n")
        app.stdin.flush()
        after = json.loads(app.stdout.readline() or "null")
    finally:
        if app.poll() is None:
            app.kill()
        app.communicate(timeout=10)
    bound = 3 * (answer_timeout + 2)
    assert report is not None
    # A query on the connection the request already holds: an error the 503 middleware answers.
    name, unavailable, seconds = report["query"]
    assert name == "OperationalError" and unavailable and seconds < bound
    # A request that needs a connection (the pool checks it first): 503 + Retry-After.
    status, retry_after, seconds = report["page"]
    assert (status, retry_after) == (503, True) and seconds < bound
    status, database, seconds = report["readyz"]
    assert (status, database) == (503, "timeout") and seconds < 3.0
    # And once the server goes on, so does the process.
    assert after == {"after": 1}
