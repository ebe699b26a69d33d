"""Two real Daphne processes sharing PostgreSQL and Redis: a post published through B reaches A.

Runs the production path end to end: an editor logs in to B's admin over HTTP and posts with the
composer; B renders the event once and sends one `group_send`; each process's hub (live/hub.py)
holds one group membership per blog and forwards the same bytes to its local sockets.

The WebSocket client is the benchmarks' minimal RFC 6455 client on asyncio streams
(bench/common/rawws.py), which shows the raw frames (autobahn's asyncio client cannot be imported
once Daphne has set txaio to Twisted).
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import urllib.parse
import urllib.request

import pytest
import redis
import redis.asyncio
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from bench.common.rawws import RawSocket
from posts.models import Post
from tests.conftest import REDIS_URL
from tests.factories import EditorFactory, LiveBlogFactory
from tests.servers import DaphneServer, daphne_servers, delete_redis_keys, new_layer_prefix, server_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PASSWORD = "cross process secret 42"
FRAME_TIMEOUT = 10.0
# From the composer's answer to the frame at every reader.
DELIVERY_TIMEOUT = 5.0


@pytest.fixture
def prefix():
    prefix = new_layer_prefix()
    yield prefix
    delete_redis_keys(REDIS_URL, prefix)


@pytest.fixture
def servers(tmp_path, prefix):
    env = server_env(REDIS_URL=REDIS_URL, CHANNEL_LAYER_PREFIX=prefix)
    with daphne_servers(env, tmp_path) as started:
        yield started


async def open_reader(server: DaphneServer, slug: str) -> RawSocket:
    reader = await asyncio.wait_for(RawSocket.open(server.port, f"/ws/live/{slug}/"), FRAME_TIMEOUT)
    hello = json.loads(await asyncio.wait_for(reader.next_message(), FRAME_TIMEOUT))
    assert hello["type"] == "hello"
    return reader


def publish_through_admin(server: DaphneServer, username: str, blog_id: int, headline: str) -> None:
    """Log in to the server's admin and post with the composer, as an editor's browser would."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    headers = {"Origin": server.origin, "Accept-Language": "en"}

    def csrf_token() -> str:
        return next(cookie.value for cookie in jar if cookie.name == "csrftoken")

    def post(path: str, data: dict) -> None:
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": csrf_token()}).encode()
        request = urllib.request.Request(
            server.origin + path,
            data=body,
            headers={**headers, "Referer": server.origin + path},
            method="POST",
        )
        with opener.open(request, timeout=FRAME_TIMEOUT) as response:
            assert response.status == 200, response.status

    login = "/admin/login/"
    with opener.open(
        urllib.request.Request(server.origin + login, headers=headers), timeout=FRAME_TIMEOUT
    ) as response:
        assert response.status == 200
    post(login, {"username": username, "password": PASSWORD, "next": "/admin/"})
    assert any(cookie.name == "sessionid" for cookie in jar), "login to the admin failed"
    post(f"/admin/posts/liveblog/{blog_id}/composer/", {"headline": headline, "body": "<p>Aus B.</p>"})


def test_post_published_through_one_process_reaches_readers_of_the_other(servers, prefix):
    server_a, server_b = servers
    blog = LiveBlogFactory()
    editor = EditorFactory()
    # The servers use Django's default hashers (the test settings use MD5, which they lack).
    hasher = PBKDF2PasswordHasher()
    editor.password = hasher.encode(PASSWORD, hasher.salt())
    editor.save(update_fields=["password"])
    headline = "Ergebnis aus Prozess B"

    async def scenario():
        readers_a = [await open_reader(server_a, blog.slug) for _ in range(3)]
        readers_b = [await open_reader(server_b, blog.slug) for _ in range(2)]
        try:
            # One membership per process and blog, not one per reader.
            store = redis.asyncio.Redis.from_url(REDIS_URL)
            try:
                members = await store.zrange(f"{prefix}:group:{blog.group_name}", 0, -1)
            finally:
                await store.aclose()
            await asyncio.to_thread(publish_through_admin, server_b, editor.username, blog.pk, headline)
            frames = await asyncio.wait_for(
                asyncio.gather(*(reader.next_message() for reader in readers_a + readers_b)), DELIVERY_TIMEOUT
            )
        finally:
            await asyncio.wait_for(
                asyncio.gather(*(reader.close() for reader in readers_a + readers_b), return_exceptions=True),
                FRAME_TIMEOUT,
            )
        return [m.decode() for m in members], frames

    members, frames = asyncio.run(asyncio.wait_for(scenario(), 60))

    assert len(members) == 2
    # Each process's layer names its channels with its own client prefix (before "!").
    assert len({member.split("!")[0] for member in members}) == 2

    post = Post.objects.get(live_blog=blog, headline=headline)
    event = json.loads(frames[0])
    assert event["type"] == "event"
    assert event["kind"] == "post.created"
    assert event["post_id"] == post.pk
    assert headline in event["html"]
    # Rendered once in B: readers of A and of B get the very same bytes.
    assert all(frame == frames[0] for frame in frames)
