"""Who may do what: anonymous visitors, staff outside the Editors group, editors.

The desk is the Django admin plus the composer. Anonymous visitors are sent to the login page,
staff without the Editors group get 403 everywhere but the (empty) admin index, editors get what
their group grants, and the event log is never written by hand. Refused writes change nothing.
Then crafted requests (a post of another blog, a post moved into an archived blog) and the read
side: draft blogs and deleted posts are 404 (or absent) on every path readers have.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from authors.models import Author
from liveblog.asgi import application
from posts import services
from posts.models import Event, LiveBlog, Post
from tests.factories import (
    AuthorFactory,
    EditorFactory,
    LiveBlogFactory,
    PostFactory,
    StaffFactory,
    UserFactory,
)

ORIGIN = [(b"origin", b"http://localhost")]
LOGIN = "/admin/login/"
ROLES = ["anonymous", "staff", "editor"]


def publish(blog: LiveBlog, headline: str = "Meldung", authors=(), **fields) -> Post:
    return services.publish_post(Post(live_blog=blog, headline=headline, **fields), authors=authors)


def snapshot() -> tuple[list, ...]:
    """Every row a write of the desk could touch."""
    return tuple(list(model.objects.order_by("pk").values()) for model in (LiveBlog, Post, Event, Author))


@pytest.fixture
def as_role(client):
    def login(role: str):
        if role == "staff":
            client.force_login(StaffFactory())
        elif role == "editor":
            client.force_login(EditorFactory())
        elif role == "superuser":
            client.force_login(UserFactory(is_staff=True, is_superuser=True))
        return client

    return login


def logged_in(client) -> User:
    return User.objects.get(pk=client.session[SESSION_KEY])


def assert_sent_to_login(response) -> None:
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


# Admin views ----------------------------------------------------------------------------------


@dataclass
class World:
    blog: LiveBlog
    post: Post
    draft: LiveBlog
    archived: LiveBlog
    author: Author
    event: Event


@pytest.fixture
def world(db) -> World:
    blog = LiveBlogFactory(slug="wahl")
    post = publish(blog, "Erste Prognose")
    archived = LiveBlogFactory(slug="alt")
    publish(archived, "Endergebnis")
    services.archive_blog(archived)
    return World(
        blog=blog,
        post=post,
        draft=LiveBlogFactory(slug="entwurf", state=LiveBlog.State.DRAFT),
        archived=archived,
        author=AuthorFactory(),
        event=blog.events.get(),
    )


# (label, URL, status for an editor). Anonymous: sent to login; staff outside the group: 403.
ADMIN_PAGES: list[tuple[str, Callable[[World], str], int]] = [
    ("blog changelist", lambda w: reverse("admin:posts_liveblog_changelist"), 200),
    ("blog add", lambda w: reverse("admin:posts_liveblog_add"), 200),
    ("blog change", lambda w: reverse("admin:posts_liveblog_change", args=[w.blog.pk]), 200),
    ("blog delete", lambda w: reverse("admin:posts_liveblog_delete", args=[w.blog.pk]), 403),
    ("post changelist", lambda w: reverse("admin:posts_post_changelist"), 200),
    ("post add", lambda w: reverse("admin:posts_post_add"), 200),
    ("post change", lambda w: reverse("admin:posts_post_change", args=[w.post.pk]), 200),
    ("post delete", lambda w: reverse("admin:posts_post_delete", args=[w.post.pk]), 200),
    ("author changelist", lambda w: reverse("admin:authors_author_changelist"), 200),
    ("author add", lambda w: reverse("admin:authors_author_add"), 200),
    ("author change", lambda w: reverse("admin:authors_author_change", args=[w.author.pk]), 200),
    ("author delete", lambda w: reverse("admin:authors_author_delete", args=[w.author.pk]), 403),
    ("event changelist", lambda w: reverse("admin:posts_event_changelist"), 200),
    ("event view", lambda w: reverse("admin:posts_event_change", args=[w.event.pk]), 200),
    ("event add", lambda w: reverse("admin:posts_event_add"), 403),
    ("event delete", lambda w: reverse("admin:posts_event_delete", args=[w.event.pk]), 403),
    ("composer", lambda w: reverse("admin:posts_liveblog_composer", args=[w.blog.pk]), 200),
    ("composer list", lambda w: reverse("admin:posts_liveblog_composer_posts", args=[w.blog.pk]), 200),
    # Editors never manage accounts: no way to grant themselves more.
    ("user changelist", lambda w: reverse("admin:auth_user_changelist"), 403),
    ("group changelist", lambda w: reverse("admin:auth_group_changelist"), 403),
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("label", "url", "editor_status"), ADMIN_PAGES, ids=[p[0] for p in ADMIN_PAGES])
def test_admin_page_access_by_role(as_role, world, role, label, url, editor_status):
    response = as_role(role).get(url(world))
    if role == "anonymous":
        assert_sent_to_login(response)
    elif role == "staff":
        assert response.status_code == 403
    else:
        assert response.status_code == editor_status


@pytest.mark.django_db
def test_admin_index_lists_models_by_role(as_role):
    assert_sent_to_login(as_role("anonymous").get("/admin/"))

    response = as_role("staff").get("/admin/")
    assert response.status_code == 200
    assert response.context["app_list"] == []

    response = as_role("editor").get("/admin/")
    models = {
        (app["app_label"], model["object_name"])
        for app in response.context["app_list"]
        for model in app["models"]
    }
    assert models == {("posts", "LiveBlog"), ("posts", "Post"), ("posts", "Event"), ("authors", "Author")}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["editor", "superuser"])
def test_event_log_is_never_written_by_hand(as_role, world, role):
    client = as_role(role)
    before = snapshot()
    change = reverse("admin:posts_event_change", args=[world.event.pk])
    delete = reverse("admin:posts_event_delete", args=[world.event.pk])
    assert client.get(reverse("admin:posts_event_add")).status_code == 403
    assert (
        client.post(reverse("admin:posts_event_add"), {"live_blog": world.blog.pk, "seq": 99}).status_code
        == 403
    )
    assert (
        client.post(change, {"live_blog": world.blog.pk, "seq": 99, "kind": "post.created"}).status_code
        == 403
    )
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:posts_event_changelist")
    client.post(
        changelist, {"action": "delete_selected", "_selected_action": [world.event.pk], "post": "yes"}
    )
    assert snapshot() == before


@pytest.mark.django_db
def test_editor_cannot_list_user_accounts_through_the_author_autocomplete(as_role, world):
    client = as_role("editor")
    query = {"app_label": "authors", "model_name": "author", "field_name": "user", "term": "user"}
    assert client.get("/admin/autocomplete/", query).status_code == 403


# Blog state actions ----------------------------------------------------------------------------


def run_action(client, action: str, blog: LiveBlog):
    return client.post(
        reverse("admin:posts_liveblog_changelist"),
        {"action": action, "_selected_action": [blog.pk], "confirmed": "yes"},
    )


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("action", "start", "end"),
    [
        ("go_live_action", LiveBlog.State.DRAFT, LiveBlog.State.LIVE),
        ("archive_action", LiveBlog.State.LIVE, LiveBlog.State.ARCHIVED),
    ],
)
def test_blog_state_actions_by_role(as_role, role, action, start, end):
    blog = LiveBlogFactory(state=start)
    before = snapshot()
    response = run_action(as_role(role), action, blog)
    blog.refresh_from_db()
    if role == "editor":
        assert response.status_code == 302
        assert blog.state == end and blog.events.count() == 1
        return
    if role == "anonymous":
        assert_sent_to_login(response)
    else:
        assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.django_db
def test_reopen_needs_the_reopen_permission_which_editors_lack(as_role):
    blog = LiveBlogFactory(state=LiveBlog.State.ARCHIVED)
    client = as_role("editor")
    before = snapshot()
    run_action(client, "reopen_action", blog)
    assert snapshot() == before

    logged_in(client).user_permissions.add(Permission.objects.get(codename="reopen_liveblog"))
    run_action(client, "reopen_action", blog)
    blog.refresh_from_db()
    assert blog.is_live


# Composer --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_composer_publish_by_role(as_role, role):
    blog = LiveBlogFactory()
    before = snapshot()
    response = as_role(role).post(
        reverse("admin:posts_liveblog_composer", args=[blog.pk]),
        {"headline": "Eilmeldung", "body": "<p>x</p>"},
    )
    if role == "editor":
        assert response.status_code == 302
        assert blog.posts.get().headline == "Eilmeldung"
        return
    if role == "anonymous":
        assert_sent_to_login(response)
    else:
        assert response.status_code == 403
    assert snapshot() == before


# action, fields the post starts with, what the action changes
COMPOSER_ACTIONS = [
    ("important", {}, lambda p: p.is_important),
    ("unimportant", {"is_important": True}, lambda p: not p.is_important),
    ("pin", {}, lambda p: p.is_pinned),
    ("unpin", {"is_pinned": True}, lambda p: not p.is_pinned),
    ("delete", {}, lambda p: p.is_deleted),
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("action", "start", "done"), COMPOSER_ACTIONS, ids=[a[0] for a in COMPOSER_ACTIONS])
def test_composer_actions_by_role(as_role, role, action, start, done):
    blog = LiveBlogFactory()
    post = publish(blog, **start)
    before = snapshot()
    response = as_role(role).post(
        reverse("admin:posts_liveblog_composer_action", args=[blog.pk, post.pk, action])
    )
    post.refresh_from_db()
    if role == "editor":
        assert response.status_code == 302
        assert done(post)
        return
    if role == "anonymous":
        assert_sent_to_login(response)
    else:
        assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.django_db
def test_composer_actions_refuse_get(as_role, world):
    client = as_role("editor")
    url = reverse("admin:posts_liveblog_composer_action", args=[world.blog.pk, world.post.pk, "delete"])
    before = snapshot()
    assert client.get(url).status_code == 405
    assert snapshot() == before


@pytest.mark.django_db
def test_staff_with_view_permission_only_cannot_publish_or_act(as_role, world):
    client = as_role("staff")
    logged_in(client).user_permissions.add(
        *Permission.objects.filter(codename__in=["view_post", "view_liveblog"])
    )
    assert client.get(reverse("admin:posts_liveblog_composer", args=[world.blog.pk])).status_code == 200
    before = snapshot()
    composer = reverse("admin:posts_liveblog_composer", args=[world.blog.pk])
    assert client.post(composer, {"headline": "x"}).status_code == 403
    for action in ["important", "pin", "delete"]:
        url = reverse("admin:posts_liveblog_composer_action", args=[world.blog.pk, world.post.pk, action])
        assert client.post(url).status_code == 403
    assert snapshot() == before


# Crafted requests ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("action", [a[0] for a in COMPOSER_ACTIONS])
def test_composer_action_with_a_post_of_another_blog_is_404_and_changes_nothing(as_role, action):
    blog_a, blog_b = LiveBlogFactory(), LiveBlogFactory()
    post_b = publish(blog_b, "Aus B", is_important=action == "unimportant", is_pinned=action == "unpin")
    before = snapshot()
    url = reverse("admin:posts_liveblog_composer_action", args=[blog_a.pk, post_b.pk, action])
    assert as_role("editor").post(url).status_code == 404
    assert snapshot() == before


def post_change_data(post: Post, **overrides) -> dict:
    return {
        "live_blog": post.live_blog_id,
        "headline": post.headline,
        "body": post.body,
        "base_version": post.version,
        "published_at_0": post.published_at.strftime("%Y-%m-%d"),
        "published_at_1": post.published_at.strftime("%H:%M:%S"),
        **overrides,
    }


@pytest.mark.django_db
def test_moving_a_post_into_an_archived_blog_is_refused(as_role, world):
    before = snapshot()
    response = as_role("editor").post(
        reverse("admin:posts_post_change", args=[world.post.pk]),
        post_change_data(world.post, live_blog=world.archived.pk, headline="Verschoben"),
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["live_blog"]
    assert snapshot() == before


@pytest.mark.django_db
def test_moving_a_post_into_another_live_blog_is_refused_with_a_form_error(as_role, world):
    other = LiveBlogFactory(slug="andere")
    client = as_role("editor")
    client.raise_request_exception = False
    before = snapshot()
    response = client.post(
        reverse("admin:posts_post_change", args=[world.post.pk]),
        post_change_data(world.post, live_blog=other.pk, headline="Verschoben"),
    )
    assert snapshot() == before
    assert response.status_code == 200
    assert "another live blog" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("state", [LiveBlog.State.LIVE, LiveBlog.State.ARCHIVED])
def test_composer_publishes_into_the_blog_of_the_url_whatever_the_body_says(as_role, state):
    blog_a = LiveBlogFactory()
    blog_b = LiveBlogFactory(state=state)
    response = as_role("editor").post(
        reverse("admin:posts_liveblog_composer", args=[blog_a.pk]),
        {"headline": "Wohin?", "body": "<p>x</p>", "live_blog": blog_b.pk},
    )
    assert response.status_code == 302
    post = Post.objects.get(headline="Wohin?")
    assert post.live_blog == blog_a
    assert not blog_b.posts.exists() and not blog_b.events.exists()
    assert blog_a.events.get().post == post


@pytest.mark.django_db
def test_composer_of_an_unknown_blog_is_404(as_role):
    before = snapshot()
    client = as_role("editor")
    assert client.get(reverse("admin:posts_liveblog_composer", args=[999999])).status_code == 404
    assert (
        client.post(reverse("admin:posts_liveblog_composer", args=[999999]), {"headline": "x"}).status_code
        == 404
    )
    assert snapshot() == before


# Read side: drafts and deleted posts -----------------------------------------------------------


@pytest.fixture
def hidden(db):
    """A draft blog with a post, and a live blog with a deleted post (and a visible one)."""
    author = AuthorFactory(slug="lena", name="Lena Hartwig")
    draft = LiveBlogFactory(slug="entwurf", title="Geheimer Entwurf", state=LiveBlog.State.DRAFT)
    draft_post = PostFactory(live_blog=draft, headline="Entwurfsmeldung")
    draft_post.authors.add(author)
    live = LiveBlogFactory(slug="wahl", title="Wahlabend")
    publish(live, "Sichtbare Meldung", authors=[author])
    deleted = publish(live, "Zurückgezogene Meldung", authors=[author], is_important=True)
    services.delete_post(deleted)
    return {"draft": draft, "draft_post": draft_post, "live": live, "deleted": deleted, "author": author}


DRAFT_PATHS = [
    "/live/entwurf/",
    "/live/entwurf/posts/{post}/",
    "/live/entwurf/events/",
    "/live/entwurf/events/?after=0",
    "/live/entwurf/feed/",
    "/live/entwurf/feed/important/",
    "/api/live/entwurf/",
    "/api/live/entwurf/events/",
    "/live/entwurf/embed/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", DRAFT_PATHS)
@pytest.mark.parametrize("role", ["anonymous", "editor"])
def test_draft_blog_is_404_on_every_read_path(as_role, hidden, path, role):
    response = as_role(role).get(path.format(post=hidden["draft_post"].pk))
    assert response.status_code == 404
    body = response.content.decode()
    assert "Geheimer Entwurf" not in body and "Entwurfsmeldung" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["anonymous", "editor"])
def test_deleted_post_permalink_is_404(as_role, hidden, role):
    response = as_role(role).get(hidden["deleted"].get_absolute_url())
    assert response.status_code == 404
    assert "Zurückgezogene Meldung" not in response.content.decode()


@pytest.mark.django_db
def test_deleted_post_permalink_of_an_archived_blog_is_404(client, hidden):
    services.archive_blog(hidden["live"])
    assert client.get(hidden["deleted"].get_absolute_url()).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/live/wahl/",
        "/live/wahl/embed/",
        "/live/wahl/events/?after=0",
        "/live/wahl/feed/",
        "/live/wahl/feed/important/",
        "/api/live/wahl/",
        "/api/live/wahl/events/",
        "/authors/lena/",
        "/sitemap.xml",
    ],
)
def test_drafts_and_deleted_posts_are_absent_from_every_listing(client, hidden, path):
    response = client.get(path)
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode()
    for secret in ["Geheimer Entwurf", "Entwurfsmeldung", "Zurückgezogene Meldung", "/live/entwurf/"]:
        assert secret not in text, f"{secret!r} leaks through {path}"
    assert f"/posts/{hidden['deleted'].pk}/" not in text
    assert f"/posts/{hidden['draft_post'].pk}/" not in text


@pytest.mark.django_db
def test_api_events_of_a_deleted_post_carry_no_post(client, hidden):
    events = client.get("/api/live/wahl/events/").json()["events"]
    mine = [e for e in events if e["post_id"] == hidden["deleted"].pk]
    assert [e["kind"] for e in mine] == ["post.created", "post.deleted"]
    assert all(e["post"] is None for e in mine)


@pytest.mark.django_db
def test_archived_blog_page_does_not_reveal_a_draft_successor(client):
    draft = LiveBlogFactory(slug="entwurf", title="Geheimer Entwurf", state=LiveBlog.State.DRAFT)
    archived = LiveBlogFactory(slug="alt", successor=draft)
    services.archive_blog(archived)
    for path in ["/live/alt/", "/api/live/alt/", "/live/alt/feed/"]:
        text = client.get(path).content.decode()
        assert "Geheimer Entwurf" not in text and "/live/entwurf/" not in text, path


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("slug", ["entwurf", "gibt-es-nicht"])
def test_draft_blog_socket_is_closed_with_4404(slug):
    draft = LiveBlogFactory(slug="entwurf", state=LiveBlog.State.DRAFT)
    PostFactory(live_blog=draft)

    async def scenario():
        communicator = WebsocketCommunicator(application, f"/ws/live/{slug}/", headers=ORIGIN)
        connected, _ = await communicator.connect()
        assert connected  # accepted, then closed at once: browsers see the code and stop
        assert await communicator.receive_output() == {"type": "websocket.close", "code": 4404}

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_socket_of_a_live_blog_says_hello_and_nothing_of_deleted_posts():
    blog = LiveBlogFactory(slug="wahl")
    gone = publish(blog, "Zurückgezogene Meldung")
    services.delete_post(gone)

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/live/wahl/", headers=ORIGIN)
        connected, _ = await communicator.connect()
        assert connected
        hello = json.loads(await communicator.receive_from())
        assert hello == {"type": "hello", "last_seq": 2}
        assert await communicator.receive_nothing(timeout=0.2)
        await communicator.disconnect()

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_socket_from_a_foreign_origin_is_refused():
    LiveBlogFactory(slug="wahl")

    async def scenario():
        communicator = WebsocketCommunicator(
            application, "/ws/live/wahl/", headers=[(b"origin", b"https://evil.example")]
        )
        connected, _ = await communicator.connect()
        assert not connected

    async_to_sync(scenario)()
