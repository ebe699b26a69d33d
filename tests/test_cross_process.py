"""Two real Daphne processes sharing PostgreSQL and Redis: a post published through B reaches A.

Runs the production path end to end: an editor logs in to B's admin over HTTP and posts with the
composer; B renders the event once and sends one `group_send`; each process's hub (live/hub.py)
holds one group membership per blog and forwards the same bytes to its local sockets.

The WebSocket client is a minimal RFC 6455 client on asyncio streams that shows the raw frames
(autobahn's asyncio client cannot be imported once Daphne has set txaio to Twisted).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.cookiejar
import json
import os
import urllib.parse
import urllib.request

import pytest
import redis
import redis.asyncio
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from posts.models import Post
from tests.conftest import REDIS_URL
from tests.factories import EditorFactory, LiveBlogFactory
from tests.servers import HOST, DaphneServer, delete_redis_keys, new_layer_prefix, server_env

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
    started = []
    try:
        for name in ("A", "B"):
            started.append(DaphneServer(env, tmp_path / f"daphne-{name}.log", name=name).start())
        yield started
    finally:
        for server in started:
            server.stop()


WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Reader:
    """Just enough of a WebSocket client: handshake, unfragmented or fragmented frames, close."""

    def __init__(self, stream_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stream = stream_reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, path: str, origin: str) -> Reader:
        stream, writer = await asyncio.open_connection(HOST, port)
        key = base64.b64encode(os.urandom(16))
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n".encode()
        )
        head = (await stream.readuntil(b"\r\n\r\n")).decode("latin-1")
        assert head.startswith("HTTP/1.1 101"), head
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()  # noqa: S324
        assert f"sec-websocket-accept: {accept.lower()}" in head.lower(), head
        return cls(stream, writer)

    def _send(self, opcode: int, payload: bytes = b"") -> None:
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.writer.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)  # < 126 bytes

    async def next_frame(self) -> bytes:
        """The next text or binary message; answers pings, raises ConnectionError on close."""
        message = b""
        while True:
            first, second = await self.stream.readexactly(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(await self.stream.readexactly(2))
            elif length == 127:
                length = int.from_bytes(await self.stream.readexactly(8))
            payload = await self.stream.readexactly(length)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError(f"closed by the server: {payload[:2].hex()}")
            if opcode == 0x9:
                self._send(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            message += payload
            if first & 0x80:
                return message

    async def close(self) -> None:
        self._send(0x8, (1000).to_bytes(2))
        self.writer.close()
        await self.writer.wait_closed()


async def open_reader(server: DaphneServer, slug: str) -> Reader:
    reader = await asyncio.wait_for(
        Reader.open(server.port, f"/ws/live/{slug}/", server.origin), FRAME_TIMEOUT
    )
    hello = json.loads(await asyncio.wait_for(reader.next_frame(), FRAME_TIMEOUT))
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
                asyncio.gather(*(reader.next_frame() for reader in readers_a + readers_b)), DELIVERY_TIMEOUT
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
