"""The read-only JSON API (issue 4): blog + posts, the event log, the OpenAPI document."""

import base64
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from api import serializers
from api import views as api
from images.processing import ProcessedImage
from posts import services
from posts.models import LiveBlog, Post
from tests.factories import AuthorFactory, LiveBlogFactory

pytestmark = pytest.mark.django_db


def publish(blog, headline="Eilmeldung", **fields):
    authors = fields.pop("authors", ())
    image = fields.pop("image", None)
    return services.publish_post(
        Post(live_blog=blog, headline=headline, **fields), authors=authors, image=image
    )


def blog_url(blog, **query):
    url = reverse("api-liveblog", kwargs={"slug": blog.slug})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def events_url(blog, **query):
    url = reverse("api-liveblog-events", kwargs={"slug": blog.slug})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def photo(width=1200, height=800) -> ProcessedImage:
    # Stored as given: URLs and sizes are what the API reads, not pixels.
    sizes = [w for w in (480, 960) if w < width] + [width]
    return ProcessedImage(width=width, height=height, renditions={w: b"webp" for w in sizes})


def walk(client, url):
    """Every post of every page, following `next`."""
    posts, pages = [], 0
    while url:
        data = client.get(url).json()
        posts += data["posts"]
        url, pages = data["next"], pages + 1
    return posts, pages


# --- GET /api/live/<slug>/ ----------------------------------------------------------------------


def test_blog_payload_has_the_blog_fields_and_absolute_links(client):
    successor = LiveBlogFactory(slug="wahl-tag-2")
    blog = LiveBlogFactory(
        slug="wahl-tag-1",
        kicker="Wahlabend",
        title="Die Wahl im Liveblog – Überblick",
        teaser="Alle Entwicklungen.",
        language="de",
        time_zone="Europe/Berlin",
        topic_title="Wahl 2026",
        topic_url="https://example.org/wahl",
        successor=successor,
        credit_line="© dpa/rtr",
    )
    publish(blog)
    blog.refresh_from_db()

    response = client.get(blog_url(blog))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    # ensure_ascii=False: readable UTF-8, not \u escapes.
    assert "Die Wahl im Liveblog – Überblick".encode() in response.content
    data = response.json()["blog"]
    assert data == {
        "slug": "wahl-tag-1",
        "kicker": "Wahlabend",
        "title": "Die Wahl im Liveblog – Überblick",
        "teaser": "Alle Entwicklungen.",
        "state": "live",
        "language": "de",
        "time_zone": "Europe/Berlin",
        "topic_title": "Wahl 2026",
        "topic_url": "https://example.org/wahl",
        "successor": {"slug": "wahl-tag-2", "url": "http://testserver/live/wahl-tag-2/"},
        "credit_line": "© dpa/rtr",
        "coverage_started_at": None,
        "coverage_ended_at": None,
        "last_seq": 1,
        "url": "http://testserver/live/wahl-tag-1/",
        "events_url": "http://testserver/api/live/wahl-tag-1/events/",
        "feeds": {
            "all": "http://testserver/live/wahl-tag-1/feed/",
            "important": "http://testserver/live/wahl-tag-1/feed/important/",
        },
    }


def test_archived_blog_reports_state_and_coverage_end(client):
    blog = LiveBlogFactory()
    publish(blog)
    services.archive_blog(blog)

    data = client.get(blog_url(blog)).json()["blog"]

    assert data["state"] == "archived"
    assert data["coverage_ended_at"] is not None
    assert data["last_seq"] == 2


def test_draft_successor_is_not_revealed(client):
    blog = LiveBlogFactory(successor=LiveBlogFactory(state=LiveBlog.State.DRAFT))
    assert client.get(blog_url(blog)).json()["blog"]["successor"] is None


def test_post_payload_has_content_authors_and_permalink(client):
    blog = LiveBlogFactory(slug="gipfel")
    first = AuthorFactory(name="Anna Beispiel", slug="anna", role="Korrespondentin")
    second = AuthorFactory(name="Ben Muster", slug="ben")
    post = publish(
        blog,
        "Gipfel beginnt",
        body="<p>Erster &amp; <strong>wichtig</strong>.</p><ul><li>eins</li><li>zwei</li></ul>",
        source="dpa",
        is_important=True,
        authors=[second, first],
    )

    data = client.get(blog_url(blog)).json()["posts"][0]

    assert data["id"] == post.pk
    assert data["url"] == f"http://testserver/live/gipfel/posts/{post.pk}/"
    assert data["headline"] == "Gipfel beginnt"
    assert data["body_html"] == post.body
    assert data["body_text"] == "Erster & wichtig.\n\neins\nzwei"
    assert data["is_important"] is True
    assert data["is_pinned"] is False
    assert data["published_at"].endswith("Z")
    assert data["edited_at"] is None
    assert data["image"] is None
    assert data["source"] == "dpa"
    # Byline order, not alphabetical.
    assert [a["slug"] for a in data["authors"]] == ["ben", "anna"]
    assert data["authors"][1] == {
        "name": "Anna Beispiel",
        "slug": "anna",
        "role": "Korrespondentin",
        "url": "http://testserver/authors/anna/",
        "avatar": None,
    }


def test_body_is_sanitized_as_stored(client):
    blog = LiveBlogFactory()
    publish(blog, body='<p onclick="x()">Hallo<script>alert(1)</script></p>')

    data = client.get(blog_url(blog)).json()["posts"][0]

    assert "script" not in data["body_html"]
    assert "onclick" not in data["body_html"]
    assert data["body_text"] == "Hallo"


def test_image_and_avatar_urls_are_absolute(client):
    author = AuthorFactory()
    author.replace_avatar(ProcessedImage(width=256, height=256, renditions={64: b"", 128: b"", 256: b""}))
    blog = LiveBlogFactory()
    publish(
        blog,
        image=photo(1200, 800),
        image_alt="Menschen vor dem Reichstag",
        image_caption="Vor dem Reichstag",
        image_credit="Foto: dpa",
        authors=[author],
    )

    data = client.get(blog_url(blog)).json()["posts"][0]

    image = data["image"]
    assert image["url"].startswith("http://testserver/media/posts/")
    assert image["url"].endswith("-1200.webp")
    assert (image["width"], image["height"]) == (1200, 800)
    assert [c.rsplit(" ", 1)[1] for c in image["srcset"].split(", ")] == ["480w", "960w", "1200w"]
    assert all(c.startswith("http://testserver/media/posts/") for c in image["srcset"].split(", "))
    assert (image["alt"], image["caption"], image["credit"]) == (
        "Menschen vor dem Reichstag",
        "Vor dem Reichstag",
        "Foto: dpa",
    )
    avatar = data["authors"][0]["avatar"]
    assert sorted(avatar) == ["128", "256", "64"]
    assert avatar["64"].startswith("http://testserver/media/avatars/")
    assert avatar["64"].endswith("-64.webp")


def test_posts_are_newest_first_with_the_pinned_one_apart(client):
    blog = LiveBlogFactory()
    now = timezone.now()
    old = publish(blog, "Alt", published_at=now - timedelta(hours=2))
    pinned = publish(blog, "Angepinnt", published_at=now - timedelta(hours=1))
    new = publish(blog, "Neu", published_at=now)
    services.set_pinned(pinned, True)

    data = client.get(blog_url(blog)).json()

    assert data["pinned"]["id"] == pinned.pk
    assert data["pinned"]["is_pinned"] is True
    assert [p["id"] for p in data["posts"]] == [new.pk, old.pk]
    assert data["next"] is None


def test_without_pinned_post_pinned_is_null(client):
    blog = LiveBlogFactory()
    publish(blog)
    assert client.get(blog_url(blog)).json()["pinned"] is None


def test_deleted_posts_are_never_included(client):
    blog = LiveBlogFactory()
    kept = publish(blog, "Bleibt")
    gone = publish(blog, "Falschmeldung")
    pinned_then_deleted = publish(blog, "Angepinnt")
    services.set_pinned(pinned_then_deleted, True)
    services.delete_post(gone)
    services.delete_post(pinned_then_deleted)

    response = client.get(blog_url(blog))

    data = response.json()
    assert [p["id"] for p in data["posts"]] == [kept.pk]
    assert data["pinned"] is None
    assert b"Falschmeldung" not in response.content


@pytest.mark.parametrize("url", [blog_url, events_url])
def test_draft_and_unknown_blogs_are_json_404(client, url):
    draft = LiveBlogFactory(state=LiveBlog.State.DRAFT)
    response = client.get(url(draft))
    assert response.status_code == 404
    assert response.json() == {"error": "not found"}
    assert response["Access-Control-Allow-Origin"] == "*"

    unknown = client.get(url(LiveBlog(slug="gibt-es-nicht")))
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "not found"}


def test_pagination_walks_all_posts_once(client):
    blog = LiveBlogFactory()
    # Same timestamp for several posts: the id breaks the tie, so none is skipped or repeated.
    same_time = timezone.now() - timedelta(minutes=5)
    expected = [publish(blog, f"Meldung {n}", published_at=same_time).pk for n in range(4)]
    expected += [publish(blog, f"Meldung {n}").pk for n in range(4, 11)]

    posts, pages = walk(client, blog_url(blog, limit=3))

    assert [p["id"] for p in posts] == list(reversed(expected))
    assert pages == 4


def test_next_is_absolute_and_keeps_the_limit(client):
    blog = LiveBlogFactory()
    for n in range(3):
        publish(blog, f"Meldung {n}")

    data = client.get(blog_url(blog, limit=2)).json()

    assert data["next"].startswith(f"http://testserver/api/live/{blog.slug}/?cursor=")
    assert "limit=2" in data["next"]
    assert len(data["posts"]) == 2


def test_pagination_is_stable_when_a_post_is_published_between_pages(client):
    blog = LiveBlogFactory()
    before = [publish(blog, f"Meldung {n}").pk for n in range(5)]

    first = client.get(blog_url(blog, limit=2)).json()
    newcomer = publish(blog, "Eilmeldung zwischendurch")
    rest, _ = walk(client, first["next"])

    ids = [p["id"] for p in first["posts"] + rest]
    assert ids == list(reversed(before))
    assert newcomer.pk not in ids
    assert len(ids) == len(set(ids))


def test_default_limit_is_twenty(client):
    blog = LiveBlogFactory()
    for n in range(api.DEFAULT_LIMIT + 1):
        publish(blog, f"Meldung {n}")

    data = client.get(blog_url(blog)).json()

    assert len(data["posts"]) == api.DEFAULT_LIMIT
    assert data["next"] is not None


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "nicht-base64!",
        "Zm9v",  # "foo"
        cursor_of("2026-01-01T10:00:00+00:00"),  # no id
        cursor_of("2026-01-01T10:00:00+00:00|abc"),
        cursor_of("2026-01-01T10:00:00+00:00|-4"),
        cursor_of("2026-01-01T10:00:00|4"),  # no time zone
        cursor_of("gestern|4"),
        cursor_of("2026-01-01T10:00:00+00:00|4|5"),
        cursor_of("0001-01-01T00:00:00+05:00|4"),  # before year 1 in UTC
        "A" * 500,
    ],
)
def test_tampered_cursor_is_a_clear_400(client, cursor):
    blog = LiveBlogFactory()
    publish(blog)

    response = client.get(blog_url(blog, cursor=cursor))

    assert response.status_code == 400
    assert "cursor is not valid" in response.json()["error"]
    assert response["Access-Control-Allow-Origin"] == "*"


def test_well_formed_cursor_is_only_a_position(client):
    # Cursors are not signed on purpose: the data is public, so any position is a fair question.
    blog = LiveBlogFactory()
    posts = [publish(blog, f"Meldung {n}") for n in range(3)]
    middle = serializers.encode_cursor(posts[1])

    data = client.get(blog_url(blog, cursor=middle)).json()

    assert [p["id"] for p in data["posts"]] == [posts[0].pk]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "", "1.5", "+5", "9" * 5000])
def test_bad_limit_is_a_clear_400(client, limit):
    blog = LiveBlogFactory()
    response = client.get(blog_url(blog, limit=limit))
    assert response.status_code == 400
    assert response.json() == {"error": "limit must be an integer from 1 to 100."}


@pytest.mark.parametrize("limit", ["1", "100"])
def test_limit_bounds_are_accepted(client, limit):
    blog = LiveBlogFactory()
    publish(blog)
    assert client.get(blog_url(blog, limit=limit)).status_code == 200


def test_blog_query_count_does_not_grow_with_posts(client, django_assert_max_num_queries):
    blog = LiveBlogFactory(successor=LiveBlogFactory())
    authors = [AuthorFactory(), AuthorFactory()]
    for n in range(30):
        publish(blog, f"Meldung {n}", authors=authors)
    services.set_pinned(Post.objects.filter(live_blog=blog).first(), True)

    # blog + successor, page, pinned, post authors, authors
    with django_assert_max_num_queries(5):
        response = client.get(blog_url(blog, limit=25))

    data = response.json()
    assert len(data["posts"]) == 25
    assert all(len(p["authors"]) == 2 for p in [data["pinned"], *data["posts"]])


# --- GET /api/live/<slug>/events/ ---------------------------------------------------------------


def test_events_are_the_event_log_with_current_posts(client):
    blog = LiveBlogFactory()
    author = AuthorFactory()
    first = publish(blog, "Erste", authors=[author])
    second = publish(blog, "Zweite")
    first.headline = "Erste, korrigiert"
    services.update_post(first)
    services.set_important(second, True)
    services.delete_post(second)
    services.archive_blog(blog)

    response = client.get(events_url(blog))

    assert response.status_code == 200
    data = response.json()
    assert [(e["seq"], e["kind"], e["post_id"]) for e in data["events"]] == [
        (1, "post.created", first.pk),
        (2, "post.created", second.pk),
        (3, "post.updated", first.pk),
        (4, "post.important", second.pk),
        (5, "post.deleted", second.pk),
        (6, "blog.archived", None),
    ]
    assert data["last_seq"] == 6
    assert data["next"] is None
    posts = [e["post"] for e in data["events"]]
    # The post as it is now, for every event: replaying never resurrects or rolls back.
    assert posts[0]["headline"] == posts[2]["headline"] == "Erste, korrigiert"
    assert posts[0]["authors"][0]["slug"] == author.slug
    assert posts[1] is posts[3] is posts[4] is posts[5] is None
    assert all(e["created_at"].endswith("Z") for e in data["events"])


def test_events_match_the_reader_page_catch_up_endpoint(client):
    blog = LiveBlogFactory()
    posts = [publish(blog, f"Meldung {n}") for n in range(4)]
    services.set_pinned(posts[1], True)
    services.set_pinned(posts[2], True)  # unpins posts[1]: two events
    services.delete_post(posts[0])

    for after in (0, 3, 8):
        page = client.get(reverse("liveblog-events", kwargs={"slug": blog.slug}) + f"?after={after}").json()
        ours = client.get(events_url(blog, after=after)).json()
        assert [(e["seq"], e["kind"], e["post_id"]) for e in ours["events"]] == [
            (e["seq"], e["kind"], e["post_id"]) for e in page["events"]
        ]
        assert ours["last_seq"] == page["last_seq"]


def test_events_after_the_last_seq_are_empty(client):
    blog = LiveBlogFactory()
    publish(blog)
    assert client.get(events_url(blog, after=1)).json() == {"events": [], "last_seq": 1, "next": None}


def test_events_are_capped_and_next_continues(client, monkeypatch):
    monkeypatch.setattr(api, "EVENTS_LIMIT", 3)
    blog = LiveBlogFactory()
    for n in range(7):
        publish(blog, f"Meldung {n}")

    seqs, url, pages = [], events_url(blog), 0
    while url:
        data = client.get(url).json()
        assert len(data["events"]) <= 3
        assert data["last_seq"] == 7
        seqs += [e["seq"] for e in data["events"]]
        url, pages = data["next"], pages + 1

    assert seqs == list(range(1, 8))
    assert pages == 3


def test_events_next_is_absolute(client, monkeypatch):
    monkeypatch.setattr(api, "EVENTS_LIMIT", 1)
    blog = LiveBlogFactory()
    publish(blog)
    publish(blog)

    assert client.get(events_url(blog)).json()["next"] == (
        f"http://testserver/api/live/{blog.slug}/events/?after=1"
    )


@pytest.mark.parametrize("after", ["abc", "-1", "1.5", "", "99999999999999999999", "2147483648"])
def test_bad_after_is_a_clear_400(client, after):
    blog = LiveBlogFactory()
    response = client.get(events_url(blog, after=after))
    assert response.status_code == 400
    assert "after must be a non-negative integer" in response.json()["error"]


def test_events_query_count_does_not_grow_with_events(client, django_assert_max_num_queries):
    blog = LiveBlogFactory()
    authors = [AuthorFactory(), AuthorFactory()]
    for n in range(30):
        post = publish(blog, f"Meldung {n}", authors=authors)
        services.set_important(post, True)

    # blog, events (+ post + blog joined), post authors, authors
    with django_assert_max_num_queries(4):
        response = client.get(events_url(blog))

    assert len(response.json()["events"]) == 60


# --- headers, methods, schema ------------------------------------------------------------------


@pytest.mark.parametrize("url", [blog_url, events_url])
def test_live_blog_answers_are_cacheable_for_seconds_and_cors_open(client, url):
    blog = LiveBlogFactory()
    publish(blog)

    response = client.get(url(blog))

    assert response["Cache-Control"] == "public, max-age=5"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.parametrize("url", [blog_url, events_url])
def test_archived_blog_answers_are_cacheable_for_an_hour(client, url):
    blog = LiveBlogFactory()
    publish(blog)
    services.archive_blog(blog)

    assert client.get(url(blog))["Cache-Control"] == "public, max-age=3600"


@pytest.mark.parametrize("url", [blog_url, events_url])
def test_polling_with_the_etag_gets_304_until_something_changes(client, url):
    blog = LiveBlogFactory()
    publish(blog)
    first = client.get(url(blog))
    etag = first["ETag"]

    unchanged = client.get(url(blog), headers={"if-none-match": etag})
    publish(blog, headline="Neu")
    changed = client.get(url(blog), headers={"if-none-match": etag})

    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged["Access-Control-Allow-Origin"] == "*"
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert "Neu" in changed.content.decode()


@pytest.mark.parametrize("url", [blog_url, events_url])
def test_answers_are_in_the_blogs_language_whatever_the_client_prefers(client, url):
    blog = LiveBlogFactory(language="de")
    publish(blog)

    response = client.get(url(blog), headers={"accept-language": "en"})

    assert response["Content-Language"] == "de"
    assert "Accept-Language" not in response.get("Vary", "")


@pytest.mark.parametrize("url", [blog_url, events_url])
def test_only_reads_are_allowed(client, url):
    blog = LiveBlogFactory()

    response = client.post(url(blog))

    assert response.status_code == 405
    assert "GET" in response["Allow"]
    assert "read-only" in response.json()["error"]
    assert response["Access-Control-Allow-Origin"] == "*"


def test_preflight_is_answered_for_any_origin(client):
    blog = LiveBlogFactory()

    response = client.options(
        blog_url(blog), HTTP_ORIGIN="https://partner.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response["Access-Control-Allow-Methods"]


def test_schema_is_the_openapi_document_for_both_endpoints(client, settings):
    response = client.get(reverse("api-schema"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml"
    assert response["Access-Control-Allow-Origin"] == "*"
    text = response.content.decode()
    assert text == (settings.BASE_DIR / "docs" / "openapi.yaml").read_text()
    try:
        import yaml
    except ImportError:  # PyYAML is not a dependency; check the essentials as text
        assert text.startswith("openapi: 3.1")
        for path in ("  /api/live/{slug}/:", "  /api/live/{slug}/events/:"):
            assert f"\n{path}\n" in text
        for name in ("cursor", "limit", "after"):
            assert f"- name: {name}\n" in text
        for status in ('"400":', '"404":'):
            assert status in text
        assert "\t" not in text
    else:
        document = yaml.safe_load(text)
        assert document["openapi"].startswith("3.1")
        assert {"/api/live/{slug}/", "/api/live/{slug}/events/"} <= set(document["paths"])
