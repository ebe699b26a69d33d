"""CSRF: every write an editor can make refuses a request without the right token or from elsewhere.

The test client skips CSRF checks unless asked; these tests ask (`enforce_csrf_checks=True`), log
an editor in, and post to each kind of write the editors' desk offers. A refused request writes
nothing: every row of blogs, posts, events and authors is as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.middleware.csrf import CSRF_TOKEN_LENGTH
from django.test import Client
from django.urls import reverse
from django.utils.crypto import get_random_string

from authors.models import Author
from posts.models import Event, LiveBlog, Post
from tests.factories import AuthorFactory, LiveBlogFactory, PostFactory

pytestmark = pytest.mark.django_db

EVIL_ORIGIN = "https://evil.example"
WRITES = [
    "composer publish",
    "composer action",
    "admin post add",
    "liveblog changelist action",
    "author change",
]


@dataclass
class Write:
    url: str
    data: dict
    done: Callable[[], bool]  # whether the write took effect


@pytest.fixture
def csrf_client(editor) -> Client:
    client = Client(enforce_csrf_checks=True, headers={"accept-language": "en"})
    client.force_login(editor)
    return client


@pytest.fixture
def writes() -> dict[str, Write]:
    blog = LiveBlogFactory()
    post = PostFactory(live_blog=blog, headline="Vorhanden")
    draft = LiveBlogFactory(state=LiveBlog.State.DRAFT)
    author = AuthorFactory(role="Reporterin")
    return {
        "composer publish": Write(
            reverse("admin:posts_liveblog_composer", args=[blog.pk]),
            {"headline": "Untergeschoben", "body": "<p>Fremd</p>"},
            lambda: Post.objects.filter(headline="Untergeschoben").exists(),
        ),
        "composer action": Write(
            reverse("admin:posts_liveblog_composer_action", args=[blog.pk, post.pk, "important"]),
            {},
            lambda: Post.objects.get(pk=post.pk).is_important,
        ),
        "admin post add": Write(
            reverse("admin:posts_post_add"),
            {
                "live_blog": blog.pk,
                "headline": "Untergeschoben",
                "body": "<p>Fremd</p>",
                "published_at_0": "2026-11-25",
                "published_at_1": "12:00:00",
            },
            lambda: Post.objects.filter(headline="Untergeschoben").exists(),
        ),
        "liveblog changelist action": Write(
            reverse("admin:posts_liveblog_changelist"),
            {"action": "go_live_action", "_selected_action": [draft.pk], "confirmed": "yes"},
            lambda: LiveBlog.objects.get(pk=draft.pk).is_live,
        ),
        "author change": Write(
            reverse("admin:authors_author_change", args=[author.pk]),
            {"name": author.name, "slug": author.slug, "role": "Untergeschoben", "bio": "", "user": ""},
            lambda: Author.objects.get(pk=author.pk).role == "Untergeschoben",
        ),
    }


def snapshot() -> tuple[list, ...]:
    return tuple(list(model.objects.order_by("pk").values()) for model in (LiveBlog, Post, Event, Author))


def csrf_token(client: Client) -> str:
    """The token a form of the desk would carry (the admin index sets the cookie)."""
    assert client.get(reverse("admin:index")).status_code == 200
    return client.cookies[settings.CSRF_COOKIE_NAME].value


def assert_refused(client: Client, write: Write, data: dict, **extra) -> None:
    before = snapshot()
    response = client.post(write.url, data, **extra)
    assert response.status_code == 403
    assert "CSRF verification failed" in response.content.decode()
    assert snapshot() == before
    assert not write.done()


@pytest.mark.parametrize("name", WRITES)
def test_post_without_a_token_is_refused_and_writes_nothing(csrf_client, writes, name):
    csrf_token(csrf_client)  # the cookie is there; the form field is not
    assert_refused(csrf_client, writes[name], writes[name].data)


@pytest.mark.parametrize("name", WRITES)
def test_post_with_a_wrong_token_is_refused_and_writes_nothing(csrf_client, writes, name):
    csrf_token(csrf_client)
    wrong = get_random_string(CSRF_TOKEN_LENGTH)
    assert_refused(csrf_client, writes[name], {**writes[name].data, "csrfmiddlewaretoken": wrong})


@pytest.mark.parametrize("name", WRITES)
def test_right_token_from_a_foreign_origin_is_refused_and_writes_nothing(csrf_client, writes, name):
    token = csrf_token(csrf_client)
    assert_refused(
        csrf_client,
        writes[name],
        {**writes[name].data, "csrfmiddlewaretoken": token},
        secure=True,
        headers={"Origin": EVIL_ORIGIN},
    )


@pytest.mark.parametrize("name", WRITES)
def test_right_token_over_https_without_origin_or_referer_is_refused(csrf_client, writes, name):
    # Over HTTPS, Django requires a same-origin Referer when the browser sends no Origin.
    token = csrf_token(csrf_client)
    assert_refused(
        csrf_client, writes[name], {**writes[name].data, "csrfmiddlewaretoken": token}, secure=True
    )


@pytest.mark.parametrize("name", WRITES)
def test_right_token_without_origin_works(csrf_client, writes, name):
    token = csrf_token(csrf_client)
    before = snapshot()
    response = csrf_client.post(writes[name].url, {**writes[name].data, "csrfmiddlewaretoken": token})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert writes[name].done()
    assert snapshot() != before


@pytest.mark.parametrize("name", WRITES)
def test_right_token_from_our_own_https_origin_works(csrf_client, writes, name):
    token = csrf_token(csrf_client)
    response = csrf_client.post(
        writes[name].url,
        {**writes[name].data, "csrfmiddlewaretoken": token},
        secure=True,
        headers={"Origin": "https://testserver"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert writes[name].done()


def test_htmx_composer_post_with_the_token_in_the_header_works(csrf_client, writes):
    # htmx sends the form's hidden field; a script may send X-CSRFToken instead. Both are accepted.
    token = csrf_token(csrf_client)
    write = writes["composer publish"]
    response = csrf_client.post(write.url, write.data, headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    assert write.done()
