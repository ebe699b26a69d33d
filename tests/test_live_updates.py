"""Live updates: events rendered once in broadcast.py, pushed through the hub to readers' sockets."""

import asyncio
import json
import logging

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from live import hub, protocol
from live.protocol import Close
from liveblog.asgi import application
from posts import broadcast, services
from posts.models import Event, LiveBlog, Post
from tests.factories import AuthorFactory, LiveBlogFactory

ORIGIN = [(b"origin", b"http://localhost")]


def run(scenario):
    """Run an async test body in an event loop; ORM calls inside go through database_sync_to_async."""
    return async_to_sync(scenario)()


def publish(blog, headline="Eilmeldung", **fields):
    authors = fields.pop("authors", ())
    return services.publish_post(Post(live_blog=blog, headline=headline, **fields), authors=authors)


def rendered(post: Post) -> str:
    blog = post.live_blog
    with translation.override(blog.language), timezone.override(blog.time_zone):
        return render_to_string("posts/liveblog_detail.html#post", {"post": post})


def page(blog: LiveBlog) -> str:
    return Client().get(blog.get_absolute_url()).content.decode()


def catch_up(blog: LiveBlog, after: int) -> list[dict]:
    url = reverse("liveblog-events", kwargs={"slug": blog.slug})
    return Client().get(url, {"after": after}).json()["events"]


async def connect(slug: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/live/{slug}/", headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def connect_reader(blog: LiveBlog) -> tuple[WebsocketCommunicator, dict]:
    communicator = await connect(blog.slug)
    return communicator, json.loads(await communicator.receive_from())


# Rendering and sending (no sockets) ---------------------------------------------------------


@pytest.mark.django_db
def test_rendered_event_is_the_page_markup_in_the_blog_language():
    blog = LiveBlogFactory(language="en", time_zone="America/New_York")
    post = publish(blog, "Polls closed", authors=[AuthorFactory()], source="AP")
    post.headline = "Polls closed early"
    services.update_post(post)

    payload = broadcast.render_event(Event.objects.get(live_blog=blog, seq=2))

    assert payload == {"seq": 2, "kind": "post.updated", "post_id": post.pk, "html": payload["html"]}
    assert "Source:" in payload["html"]  # English, as the page
    assert payload["html"] in page(blog)


@pytest.mark.django_db
def test_send_event_renders_once_and_sends_one_message(monkeypatch, django_capture_on_commit_callbacks):
    sent = []

    class Layer:
        async def group_send(self, group, message):
            sent.append((group, message))

    monkeypatch.setattr(broadcast, "get_channel_layer", Layer)
    blog = LiveBlogFactory()
    with django_capture_on_commit_callbacks(execute=True):
        post = publish(blog)

    [(group, message)] = sent
    event = Event.objects.get(live_blog=blog, seq=1)
    assert group == blog.group_name
    assert message["type"] == "liveblog.event"
    assert message["blog_id"] == blog.pk
    assert message["kind"] == "post.created"
    assert message["event"] == broadcast.render_event(event)
    assert message["event"]["html"] == rendered(post)
    # The frame readers get, built once per process by the hub.
    assert json.loads(protocol.event(message["event"])) == {"type": "event", **message["event"]}


@pytest.mark.django_db
def test_send_events_sends_each_in_seq_order_rendered_as_alone(
    monkeypatch, django_capture_on_commit_callbacks
):
    sent = []

    class Layer:
        async def group_send(self, group, message):
            sent.append(message)

    monkeypatch.setattr(broadcast, "get_channel_layer", Layer)
    blog = LiveBlogFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.publish_posts(blog, [Post(headline=f"Wahlkreis {n}") for n in range(5)])

    events = list(Event.objects.filter(live_blog=blog).order_by("seq"))
    assert [m["seq"] for m in sent] == [1, 2, 3, 4, 5]
    assert [m["event"] for m in sent] == [broadcast.render_event(e) for e in events]


@pytest.mark.django_db
def test_send_event_failure_is_logged_not_raised(monkeypatch, caplog, django_capture_on_commit_callbacks):
    class BrokenLayer:
        async def group_send(self, group, message):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(broadcast, "get_channel_layer", BrokenLayer)
    blog = LiveBlogFactory()
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        publish(blog)
    assert Post.objects.filter(live_blog=blog).exists()
    assert "readers will catch up from the log" in caplog.text


@pytest.mark.django_db
def test_a_hung_layer_costs_the_editor_at_most_the_send_timeout(monkeypatch, caplog):
    """A channel layer that never answers (a hung Redis): the push is given up, logged and counted."""
    release = asyncio.Event()

    class HungLayer:
        async def group_send(self, group, message):
            await release.wait()  # never set: the send must be cancelled

    monkeypatch.setattr(broadcast, "get_channel_layer", HungLayer)
    monkeypatch.setattr(broadcast, "SEND_TIMEOUT_SECONDS", 0.2)
    blog = LiveBlogFactory()
    post = services.publish_post(Post(live_blog=blog, headline="Eilmeldung"))
    before = broadcast.failure_count()
    with caplog.at_level(logging.ERROR):
        broadcast.send_event(Event.objects.get(post=post).pk)
    assert broadcast.failure_count() == before + 1
    assert "readers will catch up from the log" in caplog.text


@pytest.mark.django_db
def test_after_a_push_timed_out_the_layer_is_left_alone_for_a_while(monkeypatch):
    calls = []

    class HungLayer:
        async def group_send(self, group, message):
            calls.append(message["seq"])
            await asyncio.sleep(60)

    monkeypatch.setattr(broadcast, "get_channel_layer", HungLayer)
    monkeypatch.setattr(broadcast, "SEND_TIMEOUT_SECONDS", 0.1)
    blog = LiveBlogFactory()
    events = [
        Event.objects.get(post=services.publish_post(Post(live_blog=blog, headline=f"Meldung {n}")))
        for n in range(3)
    ]
    before = broadcast.failure_count()
    broadcast.send_events([e.pk for e in events])  # the first send times out: the rest is skipped
    broadcast.send_event(events[0].pk)  # breaker open: the layer is not asked
    assert calls == [1]
    assert broadcast.failure_count() == before + 2

    monkeypatch.setattr(broadcast._breaker, "open_until", 0.0)  # BREAKER_SECONDS later
    broadcast.send_event(events[0].pk)
    assert calls == [1, 1]


@pytest.mark.django_db
def test_a_layer_that_refuses_at_once_is_tried_again_at_the_next_push(monkeypatch):
    calls = []

    class RefusingLayer:
        async def group_send(self, group, message):
            calls.append(message["seq"])
            raise ConnectionError("redis is down")

    monkeypatch.setattr(broadcast, "get_channel_layer", RefusingLayer)
    blog = LiveBlogFactory()
    first = services.publish_post(Post(live_blog=blog, headline="Eins"))
    broadcast.send_event(Event.objects.get(post=first).pk)
    broadcast.send_event(Event.objects.get(post=first).pk)
    assert calls == [1, 1]


# Sockets ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_reader_gets_hello_with_last_seq():
    blog = LiveBlogFactory()
    publish(blog)
    publish(blog)

    async def scenario():
        communicator, hello = await connect_reader(blog)
        assert hello == {"type": "hello", "last_seq": 2}
        await communicator.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("slug", ["entwurf", "gibt-es-nicht"])
def test_draft_and_unknown_blogs_are_refused_with_4404(slug):
    LiveBlogFactory(slug="entwurf", state=LiveBlog.State.DRAFT)

    async def scenario():
        communicator = await connect(slug)
        assert await communicator.receive_output() == {"type": "websocket.close", "code": 4404}

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_each_kind_is_pushed_with_seq_kind_and_page_markup():
    blog = LiveBlogFactory(topic_url="https://example.org/wahl")
    author = AuthorFactory()

    async def next_event(communicator):
        frame = json.loads(await communicator.receive_from())
        assert frame["type"] == "event"
        return frame

    async def scenario():
        communicator, hello = await connect_reader(blog)
        assert hello["last_seq"] == 0

        post = await database_sync_to_async(publish)(blog, "Erste Hochrechnung", authors=[author])
        frame = await next_event(communicator)
        assert (frame["seq"], frame["kind"], frame["post_id"]) == (1, "post.created", post.pk)
        assert frame["html"] == await database_sync_to_async(rendered)(post)
        assert frame["html"] in await database_sync_to_async(page)(blog)

        post.headline = "Zweite Hochrechnung"
        await database_sync_to_async(services.update_post)(post)
        frame = await next_event(communicator)
        assert (frame["seq"], frame["kind"]) == (2, "post.updated")
        assert "Zweite Hochrechnung" in frame["html"]
        assert frame["html"] in await database_sync_to_async(page)(blog)

        await database_sync_to_async(services.set_important)(post, True)
        frame = await next_event(communicator)
        assert (frame["seq"], frame["kind"]) == (3, "post.important")
        assert "post--important" in frame["html"]
        assert frame["html"] in await database_sync_to_async(page)(blog)

        await database_sync_to_async(services.set_pinned)(post, True)
        frame = await next_event(communicator)
        assert (frame["seq"], frame["kind"]) == (4, "post.pinned")
        assert "post--pinned" in frame["html"]
        assert frame["html"] in await database_sync_to_async(page)(blog)

        await database_sync_to_async(services.delete_post)(post)
        frame = await next_event(communicator)
        assert (frame["seq"], frame["kind"], frame["post_id"], frame["html"]) == (
            5,
            "post.deleted",
            post.pk,
            "",
        )

        await database_sync_to_async(services.archive_blog)(blog)
        frame = await next_event(communicator)
        assert (frame["seq"], frame["kind"], frame["post_id"]) == (6, "blog.archived", None)
        assert 'id="archive-notice"' in frame["html"]
        assert frame["html"] in await database_sync_to_async(page)(blog)
        await communicator.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_malformed_frames_are_survived():
    blog = LiveBlogFactory()

    async def scenario():
        communicator, _ = await connect_reader(blog)
        for frame in [
            {"text_data": "not json {"},
            {"bytes_data": b"\x00\xff"},
            {"text_data": "x" * 1_000_000},
        ]:
            await communicator.send_to(**frame)
            reply = json.loads(await communicator.receive_from())
            assert reply["type"] == "error"
        await communicator.send_to(text_data='{"type": "whatever"}')
        assert await communicator.receive_nothing()

        post = await database_sync_to_async(publish)(blog)
        frame = json.loads(await communicator.receive_from())
        assert (frame["kind"], frame["post_id"]) == ("post.created", post.pk)
        await communicator.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_two_readers_get_identical_bytes_and_catch_up_matches_the_push():
    blog = LiveBlogFactory()

    async def scenario():
        first, _ = await connect_reader(blog)
        second, _ = await connect_reader(blog)
        post = await database_sync_to_async(publish)(
            blog, authors=[await database_sync_to_async(AuthorFactory)()]
        )
        post.headline = "Korrigiert"
        await database_sync_to_async(services.update_post)(post)
        pushed_first = [await first.receive_from() for _ in range(2)]
        pushed_second = [await second.receive_from() for _ in range(2)]
        assert pushed_first == pushed_second
        await first.disconnect()
        await second.disconnect()
        return pushed_first

    pushed = [json.loads(text) for text in run(scenario)]
    caught_up = catch_up(blog, after=0)
    # Each frame carries the post's state when it was sent; catch-up carries the current one.
    assert [(e["seq"], e["kind"]) for e in caught_up] == [(e["seq"], e["kind"]) for e in pushed]
    assert caught_up[-1] == {k: v for k, v in pushed[-1].items() if k != "type"}


@pytest.mark.django_db(transaction=True)
def test_process_joins_each_blog_group_once_and_leaves_with_the_last_reader():
    blog, other = LiveBlogFactory(), LiveBlogFactory()

    async def scenario():
        layer = get_channel_layer()
        readers = [(await connect_reader(blog))[0] for _ in range(3)]
        other_reader, _ = await connect_reader(other)
        assert len(layer.groups[blog.group_name]) == 1
        assert len(layer.groups[other.group_name]) == 1

        for reader in readers[:2]:
            await reader.disconnect()
        assert len(layer.groups[blog.group_name]) == 1
        await readers[2].disconnect()
        assert blog.group_name not in layer.groups

        # The other blog's reader still gets its events.
        post = await database_sync_to_async(publish)(other)
        assert json.loads(await other_reader.receive_from())["post_id"] == post.pk
        await other_reader.disconnect()
        assert not hub.get_hub().readers

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_heartbeat_carries_last_seq(monkeypatch):
    monkeypatch.setattr(hub, "HEARTBEAT_SECONDS", 0.05)
    blog = LiveBlogFactory()
    publish(blog)

    async def scenario():
        communicator, _ = await connect_reader(blog)
        assert json.loads(await communicator.receive_from()) == {"type": "ping", "last_seq": 1}
        await communicator.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_heartbeat_announces_the_databases_seq_after_pushes_were_lost(monkeypatch):
    # A layer that drops everything (Redis down or wiped): only the heartbeat tells readers.
    monkeypatch.setattr(hub, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(broadcast, "send_event", lambda event_id: None)
    blog = LiveBlogFactory()

    async def scenario():
        communicator, _ = await connect_reader(blog)
        await database_sync_to_async(publish)(blog)
        await database_sync_to_async(publish)(blog)
        for _ in range(20):
            frame = json.loads(await communicator.receive_from())
            if frame["type"] == "ping" and frame["last_seq"] == 2:
                break
        else:
            pytest.fail("the heartbeat never announced seq 2")
        await communicator.disconnect()

    run(scenario)


# The hub on its own ---------------------------------------------------------------------------


class FakeReader:
    def __init__(self, fail=False, hang=False):
        self.fail, self.hang = fail, hang
        self.frames: list[str] = []
        self.closed = None

    async def send(self, text_data=None, bytes_data=None):
        if self.fail:
            raise ConnectionResetError("gone")
        if self.hang:
            await asyncio.sleep(60)
        self.frames.append(text_data)

    async def close(self, code=None, reason=None):
        self.closed = code


@pytest.mark.django_db
def test_a_broken_or_slow_socket_does_not_block_the_others(monkeypatch):
    monkeypatch.setattr(hub, "SEND_TIMEOUT", 0.05)

    async def scenario():
        the_hub = hub.Hub(get_channel_layer(), asyncio.get_running_loop())
        good, broken, slow = FakeReader(), FakeReader(fail=True), FakeReader(hang=True)
        for reader in (good, broken, slow):
            await the_hub.join(1, "live-blog-1", reader)

        await the_hub.forward(1, "frame 1")
        await the_hub.forward(1, "frame 2")

        assert good.frames == ["frame 1", "frame 2"]
        assert broken.closed == slow.closed == Close.TOO_SLOW
        assert the_hub.readers[1] == {good}
        await the_hub.leave(1, good)
        assert not the_hub._tasks

    run(scenario)
