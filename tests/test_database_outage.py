"""PostgreSQL down for a while: editors get a 503 (never a false "saved"), readers keep their
page and socket, and everything recovers by itself when the database returns.

The outage is simulated at Django's database layer (`DatabaseOutage`): while it is on, every new
connection, query and COMMIT, in any thread, raises the driver's OperationalError, as a stopped
server does. bench/faults/postgres_down/ drills the same with a real PostgreSQL stopped for 30 s.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.db import SessionStore
from django.db import IntegrityError, InterfaceError, OperationalError, connections
from django.db.backends.utils import CursorWrapper
from django.urls import reverse

from live import consumers, hub
from live.protocol import Close
from liveblog import middleware
from liveblog.asgi import application
from posts import broadcast, services
from posts.models import Event, LiveBlog, Post
from tests.factories import AuthorFactory, LiveBlogFactory, PostFactory

# Writes that fail must leave the database untouched: only real commits and rollbacks show that.
pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://localhost")]
HX = {"HX-Request": "true"}
REFUSED = 'connection to server at "127.0.0.1", port 5432 failed: Connection refused'
NOTHING_SAVED = "The database is briefly unavailable. Nothing was saved; please try again in a moment."
TRY_AGAIN = "The database is briefly unavailable. Please try again in a moment."


class DatabaseOutage:
    """While `down`: connecting, querying and committing fail. With `commit_only`: just COMMIT (the
    server went away after the writes, before the transaction was durable)."""

    def __init__(self, monkeypatch) -> None:
        self.down = False
        self.commit_only = False
        wrapper = type(connections["default"])
        for owner, name in [
            (CursorWrapper, "_execute"),
            (CursorWrapper, "_executemany"),
            (wrapper, "get_new_connection"),
            (wrapper, "_commit"),
        ]:
            monkeypatch.setattr(owner, name, self._guard(getattr(owner, name), name))

    def _guard(self, real, name: str):
        outage = self

        def guarded(self, *args, **kwargs):
            if outage.down and (name == "_commit" or not outage.commit_only):
                db = self if name in ("get_new_connection", "_commit") else self.db
                # The driver's own error, translated by Django as a real one would be (which also
                # marks the connection for the health check).
                with db.wrap_database_errors:
                    raise db.Database.OperationalError(REFUSED)
            return real(self, *args, **kwargs)

        return guarded

    def __call__(self, *, commit_only: bool = False) -> DatabaseOutage:
        self.commit_only = commit_only
        return self

    def __enter__(self) -> DatabaseOutage:
        self.down = True
        return self

    def __exit__(self, *exc) -> None:
        self.down = False
        self.commit_only = False


@pytest.fixture
def outage(monkeypatch):
    return DatabaseOutage(monkeypatch)


@pytest.fixture
def broadcasts(monkeypatch) -> list[int]:
    """The event ids handed to the broadcast (which runs only after a commit)."""
    sent: list[int] = []
    monkeypatch.setattr(broadcast, "send_event", sent.append)
    return sent


def composer_url(blog: LiveBlog) -> str:
    return reverse("admin:posts_liveblog_composer", args=[blog.pk])


def post_form(blog: LiveBlog, headline: str, **extra) -> dict:
    return {
        "live_blog": blog.pk,
        "headline": headline,
        "body": "<p>Text</p>",
        "authors": [AuthorFactory().pk],
        "published_at_0": "2026-11-25",
        "published_at_1": "12:00:00",
        "image_alt": "",
        "image_caption": "",
        "image_credit": "",
        "source": "",
        **extra,
    }


def assert_unavailable(response, message: str = NOTHING_SAVED) -> str:
    assert response.status_code == 503
    assert response["Retry-After"] == str(middleware.RETRY_AFTER_SECONDS)
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert message in html
    return html


def policy_without_nonce(response) -> set[str]:
    policy = response["Content-Security-Policy"]
    return {" ".join(v for v in d.split() if not v.startswith("'nonce-")) for d in policy.split(";")}


def run(scenario):
    return async_to_sync(scenario)()


async def connect(slug: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/live/{slug}/", headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


# Editors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, HX], ids=["form", "htmx"])
def test_composer_publish_while_the_database_is_down_answers_503_and_saves_nothing(
    editor_client, outage, broadcasts, headers
):
    blog = LiveBlogFactory()
    with outage:
        response = editor_client.post(composer_url(blog), {"headline": "Eilmeldung"}, headers=headers)
    html = assert_unavailable(response)
    # htmx gets just the message (the composer shows it and keeps the text), a form post the page.
    assert ("<html" in html) is not bool(headers)
    assert not Post.objects.exists() and not Event.objects.exists()
    assert broadcasts == []


@pytest.mark.parametrize("headers", [{}, HX], ids=["form", "htmx"])
def test_composer_publish_whose_commit_fails_answers_503_and_broadcasts_nothing(
    editor_client, outage, broadcasts, headers
):
    blog = LiveBlogFactory()
    with outage(commit_only=True):
        response = editor_client.post(composer_url(blog), {"headline": "Eilmeldung"}, headers=headers)
    assert_unavailable(response)
    assert not Post.objects.exists() and not Event.objects.exists()
    blog.refresh_from_db()
    assert blog.last_seq == 0
    assert broadcasts == []

    # Back up: the same post goes through, as the editor's retry would.
    response = editor_client.post(composer_url(blog), {"headline": "Eilmeldung"}, headers=headers)
    assert response.status_code in (200, 302)
    assert Post.objects.get().headline == "Eilmeldung"
    assert broadcasts == [Event.objects.get().pk]


def test_admin_add_while_the_database_is_down_answers_503(editor_client, outage, broadcasts):
    blog = LiveBlogFactory()
    data = post_form(blog, "Neu")
    with outage:
        response = editor_client.post(reverse("admin:posts_post_add"), data)
    assert_unavailable(response)
    assert not Post.objects.exists() and broadcasts == []


def test_admin_add_whose_commit_fails_answers_503_and_never_says_it_was_added(
    editor_client, outage, broadcasts
):
    blog = LiveBlogFactory()
    data = post_form(blog, "Neu")
    with outage(commit_only=True):
        response = editor_client.post(reverse("admin:posts_post_add"), data)
    assert_unavailable(response)
    assert not Post.objects.exists() and not Event.objects.exists()
    assert broadcasts == []
    # The admin queued its "was added successfully" inside the transaction that did not commit.
    page = editor_client.get(reverse("admin:posts_post_changelist")).content.decode()
    assert "successfully" not in page


def test_admin_change_whose_commit_fails_answers_503_and_keeps_the_post(editor_client, outage, broadcasts):
    blog = LiveBlogFactory()
    post = PostFactory(live_blog=blog, headline="Alt")
    data = post_form(blog, "Neu", base_version=post.version)
    with outage(commit_only=True):
        response = editor_client.post(reverse("admin:posts_post_change", args=[post.pk]), data)
    assert_unavailable(response)
    post.refresh_from_db()
    assert post.headline == "Alt"
    assert not Event.objects.exists() and broadcasts == []
    page = editor_client.get(reverse("admin:posts_post_changelist")).content.decode()
    assert "successfully" not in page


def test_composer_action_while_the_database_is_down_answers_503(editor_client, outage, broadcasts):
    blog = LiveBlogFactory()
    post = services.publish_post(Post(live_blog=blog, headline="Alt"))
    broadcasts.clear()
    url = reverse("admin:posts_liveblog_composer_action", args=[blog.pk, post.pk, "important"])
    with outage(commit_only=True):
        response = editor_client.post(url, headers=HX)
    assert_unavailable(response)
    post.refresh_from_db()
    assert not post.is_important and broadcasts == []


def test_session_save_failing_after_the_view_answers_503_with_the_usual_headers(
    editor_client, outage, settings
):
    # The session is saved by SessionMiddleware on the way out, outside the 503 middleware: the
    # error reaches Django's 400 handler (liveblog.middleware.bad_request), which answers the same 503.
    settings.SESSION_SAVE_EVERY_REQUEST = True
    editor_client.raise_request_exception = False
    usual = editor_client.get(reverse("admin:index"))
    assert usual.status_code == 200
    with outage(commit_only=True):  # the view's reads work; the session's COMMIT fails
        response = editor_client.get(reverse("admin:index"))
    assert_unavailable(response, TRY_AGAIN)
    assert response["Content-Security-Policy"] and response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("error", "status"),
    [(OperationalError("server closed the connection unexpectedly"), 503), (IntegrityError("a bug"), 500)],
    ids=["outage", "bug"],
)
def test_database_errors_raised_outside_the_view_reach_the_500_handler(
    editor_client, monkeypatch, settings, error, status
):
    def broken(self, must_create=False):
        raise error

    settings.SESSION_SAVE_EVERY_REQUEST = True
    monkeypatch.setattr(SessionStore, "save", broken)
    editor_client.raise_request_exception = False
    response = editor_client.get(reverse("admin:index"))
    assert response.status_code == status
    assert ("Retry-After" in response) is (status == 503)
    assert response["Content-Security-Policy"] and response["X-Frame-Options"] == "DENY"


# Readers over HTTP -------------------------------------------------------------------------------


def test_reader_page_while_the_database_is_down_is_a_503_page_with_the_usual_headers(client, outage):
    blog = LiveBlogFactory()
    usual = client.get(blog.get_absolute_url())
    with outage:
        response = client.get(blog.get_absolute_url())
    html = assert_unavailable(response, TRY_AGAIN)
    assert "<h1>Briefly unavailable</h1>" in html
    for header in ("X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy"):
        assert response[header] == usual[header]
    # The same policy as the usual page (whose script nonce this page, without scripts, lacks).
    assert policy_without_nonce(response) == policy_without_nonce(usual)
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_the_503_page_speaks_german_by_default(client, outage):
    blog = LiveBlogFactory()
    with outage:
        response = client.get(blog.get_absolute_url(), headers={"Accept-Language": "de"})
    html = assert_unavailable(response, "Die Datenbank ist kurz nicht erreichbar.")
    assert '<html lang="de">' in html


def test_german_editors_are_told_nothing_was_saved(editor_client, outage):
    blog = LiveBlogFactory()
    with outage:
        response = editor_client.post(
            composer_url(blog), {"headline": "x"}, headers={**HX, "Accept-Language": "de"}
        )
    assert_unavailable(response, "Es wurde nichts gespeichert")


def test_catch_up_while_the_database_is_down_answers_503_json_with_retry_after(client, outage):
    blog = LiveBlogFactory()
    url = reverse("liveblog-events", kwargs={"slug": blog.slug})
    with outage:
        response = client.get(url, {"after": 0}, headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response["Retry-After"] == str(middleware.RETRY_AFTER_SECONDS)
    assert response.json() == {"error": middleware.JSON_ERROR}
    with outage:  # JSON also for a client that did not say what it accepts
        assert client.get(url, {"after": 0}).json() == {"error": middleware.JSON_ERROR}
    # Recovered: the same request works again.
    assert client.get(url, {"after": 0}).status_code == 200


def test_api_while_the_database_is_down_answers_503_json_any_origin_can_read(client, outage):
    blog = LiveBlogFactory()
    with outage:
        response = client.get(reverse("api-liveblog", kwargs={"slug": blog.slug}))
    assert response.status_code == 503
    assert response.json() == {"error": middleware.JSON_ERROR}
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Retry-After"]


def test_only_unreachable_database_errors_become_503():
    assert middleware.is_database_unavailable(OperationalError("server closed the connection"))
    assert middleware.is_database_unavailable(InterfaceError("connection already closed"))
    assert not middleware.is_database_unavailable(IntegrityError("duplicate key"))
    assert not middleware.is_database_unavailable(ValueError("x"))
    wrapped = RuntimeError("rendering failed")
    wrapped.__cause__ = OperationalError("gone")
    assert middleware.is_database_unavailable(wrapped)


# Readers' sockets --------------------------------------------------------------------------------


def test_new_socket_while_the_database_is_down_is_closed_with_4013_and_works_after(outage):
    # Daphne can send it: autobahn accepts only 1000 and 3000-4999 from applications.
    assert 3000 <= Close.TRY_AGAIN_LATER <= 4999
    blog = LiveBlogFactory()

    async def scenario():
        with outage:
            communicator = await connect(blog.slug)
            assert await communicator.receive_output() == {
                "type": "websocket.close",
                "code": Close.TRY_AGAIN_LATER,
            }
        assert not hub.get_hub().readers
        communicator = await connect(blog.slug)
        assert json.loads(await communicator.receive_from()) == {"type": "hello", "last_seq": 0}
        await communicator.disconnect()

    run(scenario)


def test_socket_whose_database_fails_after_joining_is_closed_and_leaves_the_hub(monkeypatch):
    blog = LiveBlogFactory()

    async def unreachable(blog_id):
        raise OperationalError(REFUSED)

    monkeypatch.setattr(consumers, "last_seq", unreachable)

    async def scenario():
        communicator = await connect(blog.slug)
        assert await communicator.receive_output() == {
            "type": "websocket.close",
            "code": Close.TRY_AGAIN_LATER,
        }
        assert not hub.get_hub().readers
        await communicator.wait()

    run(scenario)


def test_a_blog_lookup_slower_than_daphnes_handshake_timeout_is_closed_with_4013(monkeypatch):
    # A stopped database makes the lookup wait for the pool's timeout; Daphne would drop the
    # handshake (no close code at all) after 5 s.
    monkeypatch.setattr(consumers, "LOOKUP_TIMEOUT", 0.05)
    blog = LiveBlogFactory()

    async def waiting_for_the_pool(slug):
        await asyncio.sleep(10)

    monkeypatch.setattr(consumers, "public_blog", waiting_for_the_pool)

    async def scenario():
        communicator = await connect(blog.slug)
        assert await communicator.receive_output() == {
            "type": "websocket.close",
            "code": Close.TRY_AGAIN_LATER,
        }
        await communicator.wait()

    run(scenario)


def test_open_sockets_stay_open_and_get_pings_through_an_outage_and_the_right_seq_after(
    monkeypatch, outage, caplog
):
    monkeypatch.setattr(hub, "HEARTBEAT_SECONDS", 0.05)
    # Only the heartbeat may tell the reader about the post published after the outage.
    monkeypatch.setattr(broadcast, "send_event", lambda event_id: None)
    blog = LiveBlogFactory()
    services.publish_post(Post(live_blog=blog, headline="Vorher"))

    async def next_frame(communicator) -> dict:
        output = await communicator.receive_output(timeout=2)
        assert output["type"] == "websocket.send", output  # not closed
        return json.loads(output["text"])

    async def scenario():
        communicator = await connect(blog.slug)
        assert await next_frame(communicator) == {"type": "hello", "last_seq": 1}
        with caplog.at_level(logging.WARNING, logger="live.hub"), outage:
            pings = [await next_frame(communicator) for _ in range(4)]
        assert pings == [{"type": "ping", "last_seq": 1}] * 4
        assert "Heartbeat: database unavailable" in caplog.text

        await database_sync_to_async(services.publish_post)(Post(live_blog=blog, headline="Nachher"))
        for _ in range(40):
            if await next_frame(communicator) == {"type": "ping", "last_seq": 2}:
                break
        else:
            pytest.fail("no heartbeat announced seq 2 after the outage")
        await communicator.disconnect()

    run(scenario)


class FakeReader:
    def __init__(self) -> None:
        self.frames: list[str] = []

    async def send(self, text_data=None, bytes_data=None) -> None:
        self.frames.append(text_data)

    async def close(self, code=None, reason=None) -> None:
        raise AssertionError("the hub must not close readers because the database hangs")


def test_heartbeat_does_not_wait_for_a_hung_database_nor_queue_queries_behind_it(monkeypatch, caplog):
    monkeypatch.setattr(hub, "HEARTBEAT_QUERY_TIMEOUT", 0.05)
    queries = []

    async def scenario():
        release = asyncio.Event()

        async def hung(blog_ids):
            queries.append(blog_ids)
            await release.wait()
            return [(1, 7)]

        monkeypatch.setattr(hub, "_last_seqs", hung)
        the_hub = hub.Hub(get_channel_layer(), asyncio.get_running_loop())
        reader = FakeReader()
        await the_hub.join(1, "live-blog-1", reader)
        the_hub.saw_seq(1, 3)
        with caplog.at_level(logging.WARNING, logger="live.hub"):
            await the_hub.heartbeat()
            await the_hub.heartbeat()
        assert [json.loads(f) for f in reader.frames] == [{"type": "ping", "last_seq": 3}] * 2
        assert len(queries) == 1  # the second heartbeat did not queue another query
        assert "no answer from the database" in caplog.text

        release.set()
        await asyncio.sleep(0)
        await the_hub.heartbeat()
        assert json.loads(reader.frames[-1]) == {"type": "ping", "last_seq": 7}
        await the_hub.leave(1, reader)

    run(scenario)
