"""Hostile WebSocket clients: foreign origins, malformed frames, floods, too many sockets.

Unit-level tests drive `liveblog.asgi.application` with WebsocketCommunicator; one test runs a real
Daphne subprocess (the pattern of tests/test_cross_process.py) and attacks it with the `websockets`
client, which can also send what the communicator cannot: invalid UTF-8 and messages over Daphne's
1 MiB limit.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.security.websocket import OriginValidator
from channels.testing import WebsocketCommunicator
from django.db import connection

from live import clients, consumers, hub, protocol
from live.protocol import Close
from live.routing import websocket_urlpatterns
from liveblog.asgi import OriginRequired, application
from posts import services
from posts.models import Event, Post
from tests.conftest import REDIS_URL
from tests.factories import LiveBlogFactory
from tests.servers import HOST, DaphneServer, delete_redis_keys, new_layer_prefix, redis_layer, server_env

OWN_ORIGIN = (b"origin", b"http://localhost")
ADDRESS = "203.0.113.7"
OTHER_ADDRESS = "198.51.100.9"


def run(scenario):
    return async_to_sync(scenario)()


def publish(blog, headline="Eilmeldung"):
    return services.publish_post(Post(live_blog=blog, headline=headline))


def communicator(slug, headers=(OWN_ORIGIN,), client=None, app=application):
    comm = WebsocketCommunicator(app, f"/ws/live/{slug}/", headers=list(headers))
    if client is not None:
        # Daphne puts the peer address here; the communicator leaves it out.
        comm.scope["client"] = (client, 50000)
    return comm


async def open_reader(slug, **kwargs):
    comm = communicator(slug, **kwargs)
    connected, _ = await comm.connect()
    assert connected
    hello = json.loads(await comm.receive_from())
    assert hello["type"] == "hello"
    return comm


async def next_event(comm, timeout=2):
    while True:
        frame = json.loads(await comm.receive_from(timeout))
        if frame["type"] == "event":
            return frame


@pytest.fixture(autouse=True)
def no_leftover_client_slots():
    yield
    assert not clients._client_sockets, "a socket kept its per-client slot after it ended"


# Origin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        [(b"origin", b"https://evil.example")],
        [(b"origin", b"http://localhost.evil.example")],
        [],
        [(b"origin", b"null")],
        [(b"origin", b"")],
        [OWN_ORIGIN, (b"origin", b"https://evil.example")],
    ],
    ids=["foreign", "lookalike", "missing", "null", "empty", "repeated"],
)
def test_handshakes_without_our_origin_are_refused(headers):
    async def scenario():
        comm = communicator("any-blog", headers=headers)
        connected, _ = await comm.connect()
        assert not connected
        await comm.wait()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_our_origin_is_accepted():
    blog = LiveBlogFactory()

    async def scenario():
        comm = await open_reader(blog.slug)
        await comm.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("headers", [[], [(b"origin", b"null")]], ids=["missing", "null"])
def test_missing_and_null_origin_are_refused_even_when_all_hosts_are_allowed(headers):
    # With ALLOWED_HOSTS = ["*"], Channels' validator alone lets both through.
    blog = LiveBlogFactory()
    permissive = OriginValidator(URLRouter(websocket_urlpatterns), ["*"])

    async def scenario():
        comm = communicator(blog.slug, headers=headers, app=permissive)
        assert (await comm.connect())[0], "the bare validator should accept (else this test is moot)"
        await comm.disconnect()

        comm = communicator(blog.slug, headers=headers, app=OriginRequired(permissive))
        assert not (await comm.connect())[0]
        await comm.wait()

    run(scenario)


# Malformed frames and floods --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_each_kind_of_malformed_frame_gets_an_error_and_the_socket_keeps_working():
    blog = LiveBlogFactory()
    two_mib = 2 * 1024 * 1024

    async def scenario():
        comm = await open_reader(blog.slug)
        for frame, error in [
            ({"text_data": "not json {"}, "frames must be JSON"),
            ({"text_data": "[" * 4000}, "frames must be JSON"),  # nesting past the recursion limit
            ({"text_data": "\udcff"}, "frames must be JSON"),  # a lone surrogate, as far as ASGI goes
            ({"bytes_data": b"\x00\xff"}, "binary frames are not supported"),
            ({"bytes_data": b"\x00" * two_mib}, "binary frames are not supported"),
            ({"text_data": "x" * two_mib}, "frame too large"),
            ({"text_data": json.dumps({"pad": "x" * consumers.MAX_CLIENT_FRAME})}, "frame too large"),
        ]:
            await comm.send_to(**frame)
            assert json.loads(await comm.receive_from()) == {"type": "error", "error": error}
        # Well-formed but meaningless: ignored without an answer.
        for text in ['{"type": "subscribe", "blog": "other"}', "[]", "null", '"hello"']:
            await comm.send_to(text_data=text)
        assert await comm.receive_nothing()

        post = await database_sync_to_async(publish)(blog)
        assert (await next_event(comm))["post_id"] == post.pk
        await comm.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_socket_over_the_frame_rate_is_closed_with_4008_and_only_that_socket(settings):
    settings.LIVEBLOG_WS_MAX_FRAMES = 50
    settings.LIVEBLOG_WS_FRAME_WINDOW = 10
    blog = LiveBlogFactory()

    async def scenario():
        noisy = await open_reader(blog.slug)
        quiet = await open_reader(blog.slug)
        for _ in range(50):
            await noisy.send_to(text_data="{}")
        assert await noisy.receive_nothing()
        await noisy.send_to(text_data="{}")  # the 51st within 10 s
        assert await noisy.receive_output() == {
            "type": "websocket.close",
            "code": Close.POLICY_VIOLATION,
        }
        # Nothing more reaches the closed socket, not even events.
        await noisy.send_to(text_data="not json")
        post = await database_sync_to_async(publish)(blog)
        assert (await next_event(quiet))["post_id"] == post.pk
        assert await noisy.receive_nothing()
        await noisy.disconnect(code=Close.POLICY_VIOLATION)
        await quiet.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_the_frame_rate_is_a_sliding_window(settings):
    settings.LIVEBLOG_WS_MAX_FRAMES = 5
    settings.LIVEBLOG_WS_FRAME_WINDOW = 0.2
    blog = LiveBlogFactory()

    async def scenario():
        comm = await open_reader(blog.slug)
        for _ in range(4):
            for _ in range(5):
                await comm.send_to(text_data="{}")
            assert await comm.receive_nothing(timeout=0.25)
        await comm.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_flood_of_1000_malformed_frames_leaves_other_readers_served():
    blog = LiveBlogFactory()
    kinds = [
        {"text_data": "not json {"},
        {"text_data": '{"type": "nonsense"}'},
        {"bytes_data": b"\xff\xfe\xfd"},
        {"text_data": "y" * (2 * 1024 * 1024)},
        {"text_data": "{" * 3000},
    ]
    posts = 10

    async def scenario():
        control = await open_reader(blog.slug)
        hostile = await open_reader(blog.slug)
        for i in range(1000):
            await hostile.send_to(**kinds[i % len(kinds)])
        published = []
        for i in range(posts):
            published.append((await database_sync_to_async(publish)(blog, f"Meldung {i}")).pk)
        received = [await next_event(control) for _ in range(posts)]
        assert [frame["post_id"] for frame in received] == published
        assert [frame["seq"] for frame in received] == list(range(1, posts + 1))

        # The hostile socket got at most one answer per allowed frame, then 4008, then nothing.
        outputs = []
        while not await hostile.receive_nothing(timeout=0.2):
            outputs.append(await hostile.receive_output())
        assert outputs[-1] == {"type": "websocket.close", "code": Close.POLICY_VIOLATION}
        assert len(outputs) <= clients.MAX_FRAMES + 1
        assert all(json.loads(o["text"])["type"] == "error" for o in outputs[:-1])
        await hostile.disconnect(code=Close.POLICY_VIOLATION)

        late = await open_reader(blog.slug)
        await late.disconnect()
        await control.disconnect()

    run(scenario)


# Sockets per client -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sockets_over_the_per_client_cap_are_closed_with_4429(settings):
    settings.LIVEBLOG_MAX_SOCKETS_PER_CLIENT = 4
    blog = LiveBlogFactory()

    async def scenario():
        readers = [await open_reader(blog.slug, client=ADDRESS) for _ in range(4)]
        assert clients.client_sockets(ADDRESS) == 4

        over = communicator(blog.slug, client=ADDRESS)
        assert (await over.connect())[0]  # accepted, so that the browser sees the code
        assert await over.receive_output() == {"type": "websocket.close", "code": 4429}
        await over.disconnect(code=4429)
        assert clients.client_sockets(ADDRESS) == 4  # the refused socket never held a slot

        # Another address is not affected.
        other = await open_reader(blog.slug, client=OTHER_ADDRESS)

        # A slot frees up when a socket ends.
        await readers.pop().disconnect()
        readers.append(await open_reader(blog.slug, client=ADDRESS))

        # The capped sockets still get events.
        post = await database_sync_to_async(publish)(blog)
        for reader in [*readers, other]:
            assert (await next_event(reader))["post_id"] == post.pk
        for reader in [*readers, other]:
            await reader.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_the_default_cap_is_20(settings):
    if hasattr(settings, "LIVEBLOG_MAX_SOCKETS_PER_CLIENT"):
        del settings.LIVEBLOG_MAX_SOCKETS_PER_CLIENT
    blog = LiveBlogFactory()

    async def scenario():
        readers = [await open_reader(blog.slug, client=ADDRESS) for _ in range(20)]
        over = communicator(blog.slug, client=ADDRESS)
        await over.connect()
        assert await over.receive_output() == {"type": "websocket.close", "code": 4429}
        await over.disconnect(code=4429)
        for reader in readers:
            await reader.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_slot_is_released_when_the_consumer_ends_abnormally(settings):
    settings.LIVEBLOG_MAX_SOCKETS_PER_CLIENT = 1
    blog = LiveBlogFactory()

    async def scenario():
        first = await open_reader(blog.slug, client=ADDRESS)
        # The server gives up on the application without a disconnect event (as Daphne does
        # after --application-close-timeout).
        first.future.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first.future
        assert clients.client_sockets(ADDRESS) == 0
        assert not hub.get_hub().readers

        second = await open_reader(blog.slug, client=ADDRESS)
        await second.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_x_forwarded_for_counts_only_when_trusted(settings):
    settings.LIVEBLOG_MAX_SOCKETS_PER_CLIENT = 1
    blog = LiveBlogFactory()
    proxy = "10.0.0.1"

    def forwarded(address):
        return [OWN_ORIGIN, (b"x-forwarded-for", f"{address}, {proxy}".encode())]

    async def scenario():
        # Untrusted: everything behind the proxy is the proxy.
        first = await open_reader(blog.slug, headers=forwarded(ADDRESS), client=proxy)
        second = communicator(blog.slug, headers=forwarded(OTHER_ADDRESS), client=proxy)
        await second.connect()
        assert await second.receive_output() == {"type": "websocket.close", "code": 4429}
        await second.disconnect(code=4429)
        await first.disconnect()

    run(scenario)

    settings.LIVEBLOG_TRUSTED_PROXIES = [proxy]

    async def trusted():
        first = await open_reader(blog.slug, headers=forwarded(ADDRESS), client=proxy)
        second = await open_reader(blog.slug, headers=forwarded(OTHER_ADDRESS), client=proxy)
        assert clients.client_sockets(ADDRESS) == clients.client_sockets(OTHER_ADDRESS) == 1
        third = communicator(blog.slug, headers=forwarded(ADDRESS), client=proxy)
        await third.connect()
        assert await third.receive_output() == {"type": "websocket.close", "code": 4429}
        await third.disconnect(code=4429)
        await first.disconnect()
        await second.disconnect()

    run(trusted)


def test_client_address_believes_x_forwarded_for_only_from_trusted_proxies(settings):
    scope = {"client": ("192.0.2.1", 1234), "headers": [(b"x-forwarded-for", b" 203.0.113.5 ,10.0.0.1")]}
    settings.LIVEBLOG_TRUSTED_PROXIES = []
    assert clients.client_address(scope) == "192.0.2.1"  # nobody is trusted: the peer
    assert clients.client_address({"headers": []}) is None
    settings.LIVEBLOG_TRUSTED_PROXIES = ["192.0.2.1"]
    # Our proxy appended 10.0.0.1, the address it saw: that is the client, whatever came before it
    # (a client can send any X-Forwarded-For of its own).
    assert clients.client_address(scope) == "10.0.0.1"
    settings.LIVEBLOG_TRUSTED_PROXIES = ["192.0.2.0/24", "10.0.0.0/8"]
    assert clients.client_address(scope) == "203.0.113.5"  # two proxies of ours: skip both hops
    assert clients.client_address({"client": ("192.0.2.1", 1), "headers": []}) == "192.0.2.1"
    forged = {"client": ("198.51.100.7", 1), "headers": [(b"x-forwarded-for", b"203.0.113.5")]}
    assert clients.client_address(forged) == "198.51.100.7"  # not a proxy of ours: header ignored
    garbage = {"client": ("192.0.2.1", 1), "headers": [(b"x-forwarded-for", b"not-an-address")]}
    assert clients.client_address(garbage) == "192.0.2.1"


# Archiving closes the sockets -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_archiving_sends_the_event_then_closes_with_1000():
    blog, other = LiveBlogFactory(), LiveBlogFactory()

    async def scenario():
        readers = [await open_reader(blog.slug) for _ in range(2)]
        other_reader = await open_reader(other.slug)

        await database_sync_to_async(services.archive_blog)(blog)
        for reader in readers:
            frame = await next_event(reader)
            assert frame["kind"] == "blog.archived"
            assert await reader.receive_output() == {"type": "websocket.close", "code": 1000}
        # The hub forgets the blog right after sending the closes: give it a moment.
        for _ in range(100):
            if blog.pk not in hub.get_hub().readers:
                break
            await asyncio.sleep(0.02)
        assert blog.pk not in hub.get_hub().readers

        # Other blogs are untouched.
        post = await database_sync_to_async(publish)(other)
        assert (await next_event(other_reader))["post_id"] == post.pk
        for reader in readers:
            await reader.disconnect(code=1000)
        await other_reader.disconnect()

    run(scenario)


@pytest.mark.parametrize(
    "path", ["/ws/", "/ws/live/", "/ws/live/a/b/", "/wp-admin/ws", "/ws/live/%E2%9C%93/"]
)
def test_unknown_websocket_paths_are_closed_with_4404_without_an_error(path, caplog):
    async def scenario():
        comm = WebsocketCommunicator(application, path, headers=[OWN_ORIGIN])
        connected, _ = await comm.connect()
        assert connected
        assert await comm.receive_output() == {"type": "websocket.close", "code": Close.NOT_FOUND}
        await comm.wait()

    run(scenario)
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_close_codes_are_ones_daphne_can_send():
    # autobahn raises on any other application close code, and the socket then stays open.
    for code in Close:
        assert code == 1000 or 3000 <= code <= 4999


def test_closes_blog_reads_the_kind_the_message_carries():
    archived = {"type": "event", "seq": 3, "kind": "blog.archived", "post_id": None, "html": ""}
    created = {"type": "event", "seq": 2, "kind": "post.created", "post_id": 1, "html": "blog.archived"}
    assert hub.closes_blog({"kind": "blog.archived", "event": archived})
    assert not hub.closes_blog({"kind": "post.created", "event": created})
    # The frame is never parsed: only the message's kind counts.
    assert not hub.closes_blog({"event": archived})


def test_the_protocol_names_the_archive_event_as_the_log_does():
    assert protocol.BLOG_ARCHIVED == Event.Kind.BLOG_ARCHIVED


# A real Daphne under attack ---------------------------------------------------------------------------

FRAME_TIMEOUT = 10.0


@pytest.fixture
def shared_layer(settings):
    """A Redis channel layer under a fresh prefix, shared by this process and the server."""
    prefix = new_layer_prefix()
    settings.CHANNEL_LAYERS = redis_layer(REDIS_URL, prefix)
    yield prefix
    delete_redis_keys(REDIS_URL, prefix)


@pytest.fixture
def daphne(tmp_path, shared_layer):
    env = server_env(REDIS_URL=REDIS_URL, CHANNEL_LAYER_PREFIX=shared_layer)
    server = DaphneServer(env, tmp_path / "daphne.log").start()
    try:
        yield server.process, server.port, server.log
    finally:
        server.stop()


def hostile_plan() -> list[list[tuple[bytes | str, bool]]]:
    """1,000 frames as (data, sent as text), grouped by the connection that sends them.

    A message over Daphne's 1 MiB limit and invalid UTF-8 in a text frame each end their connection
    at the protocol level (autobahn closes with 1009 and 1007), so they go alone. The rest flood in
    batches of 60, past the 50-frames-per-10-s limit, so the consumer closes each batch with 4008.
    """
    two_mib = 2 * 1024 * 1024
    plan: list[list[tuple[bytes | str, bool]]] = [
        [("x" * two_mib, True)],
        [(b"\x00" * two_mib, False)],
        [(b"\xff\xfe\xfd invalid UTF-8", True)],  # bytes with text=True: sent unchecked
    ]
    garbage: list[tuple[bytes | str, bool]] = [
        ("not json {", True),
        ('{"type": "subscribe", "blog": "everything"}', True),
        (b"\x00\xff binary", False),
        ("[" * 4000, True),
        ("z" * 5000, True),
        ("", True),
    ]
    rest = 1000 - len(plan)
    flood = [garbage[i % len(garbage)] for i in range(rest)]
    plan += [flood[i : i + 60] for i in range(0, rest, 60)]
    assert sum(len(batch) for batch in plan) == 1000
    return plan


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_server_survives_1000_hostile_frames_and_keeps_serving(daphne):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    process, port, log = daphne
    blog = LiveBlogFactory()
    url = f"ws://{HOST}:{port}/ws/live/{blog.slug}/"
    origin = f"http://{HOST}:{port}"
    posts = 20

    def open_socket():
        return connect(url, origin=origin, compression=None, proxy=None, open_timeout=FRAME_TIMEOUT)

    async def hello(ws) -> dict:
        frame = json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT))
        assert frame["type"] == "hello"
        return frame

    async def attack() -> list[int | str | None]:
        """The close code the server sent each batch: None for a dropped connection, "open" for none."""
        codes = []
        for batch in hostile_plan():
            async with open_socket() as ws:
                try:
                    for data, text in batch:
                        await ws.send(data, text=text)
                    # Read the error frames until the server closes (or, for a short batch, not).
                    while True:
                        await asyncio.wait_for(ws.recv(), 2)
                except ConnectionClosed:
                    received = ws.protocol.close_rcvd
                    codes.append(received.code if received is not None else None)
                except TimeoutError:
                    codes.append("open")
        return codes

    def publish_in_thread(headline: str) -> int:
        try:
            return publish(blog, headline).pk
        finally:
            connection.close()  # the worker thread's own connection, or the test database stays busy

    async def publish_all() -> list[int]:
        ids = []
        for i in range(posts):
            ids.append(await asyncio.to_thread(publish_in_thread, f"Meldung {i}"))
            await asyncio.sleep(0.1)
        return ids

    async def scenario():
        async with open_socket() as control:
            await hello(control)

            async def collect() -> list[dict]:
                frames = []
                while len(frames) < posts:
                    frame = json.loads(await control.recv())
                    if frame["type"] == "event":
                        frames.append(frame)
                return frames

            collector = asyncio.create_task(collect())
            codes, ids = await asyncio.gather(attack(), publish_all())
            frames = await asyncio.wait_for(collector, FRAME_TIMEOUT)

        async with open_socket() as late:
            assert (await hello(late))["last_seq"] == posts
        return codes, ids, frames

    codes, ids, frames = asyncio.run(asyncio.wait_for(scenario(), 120))
    server_log = log.read_text(errors="replace")

    assert [frame["post_id"] for frame in frames] == ids
    assert [frame["seq"] for frame in frames] == list(range(1, posts + 1))
    # Too big for Daphne and invalid UTF-8: autobahn drops the connection (no close frame, so
    # None here) or closes with 1009 / 1007. Too many frames: the consumer closes with 4008.
    assert set(codes[:3]) <= {None, 1007, 1009}, (codes, server_log[-5000:])
    assert set(codes[3:-1]) == {Close.POLICY_VIOLATION}, (codes, server_log[-5000:])
    assert codes[-1] == "open"  # the last, short batch stays under the limit
    assert process.poll() is None
    assert "Traceback" not in server_log, server_log[-5000:]
