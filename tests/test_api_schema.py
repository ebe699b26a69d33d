"""Real API answers checked against docs/openapi.yaml with openapi-core (issue 10).

Each request goes through the Django test client; the request it made and the answer it got are
validated against the hand-written document: path, parameters, status code, headers and body.
The document is read strictly: objects may not carry properties it does not list
(additionalProperties treated as false), `format: uri` must be an absolute URL and
`format: date-time` a UTC timestamp ending in `Z`, as the document promises. tests/test_api.py
checks the values; this file checks that the document describes what the API really sends.
"""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from functools import cache
from urllib.parse import urlsplit

import pytest
import yaml
from django.conf import settings
from django.utils import timezone
from jsonschema.exceptions import ValidationError, best_match
from openapi_core import Config, OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse
from openapi_core.deserializing.media_types.util import plain_loads

from api import views as api
from api.serializers import encode_cursor
from images.processing import ProcessedImage
from posts import services
from posts.models import Event, LiveBlog
from tests.factories import AuthorFactory, LiveBlogFactory
from tests.test_api import blog_url, events_url, photo, publish

pytestmark = pytest.mark.django_db

DOCUMENT = settings.BASE_DIR / "docs" / "openapi.yaml"
UTC_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


def _absolute_uri(value) -> bool:
    # Not checked by default (that needs rfc3987); the API promises absolute URLs everywhere.
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _utc_timestamp(value) -> bool:
    # Stricter than RFC 3339 alone: "Timestamps are ISO 8601 in UTC" (info.description).
    return not isinstance(value, str) or UTC_TIMESTAMP.fullmatch(value) is not None


STRICT = Config(
    additional_properties_default_policy="forbid",
    extra_format_validators={"uri": _absolute_uri, "date-time": _utc_timestamp},
    # The schema endpoint's body is text (`type: string`); openapi-core would hand over bytes.
    extra_media_type_deserializers={"application/yaml": plain_loads},
)


def openapi_from(document: dict) -> OpenAPI:
    # Validates the document itself against the OpenAPI 3.1 meta-schema first.
    return OpenAPI.from_dict(document, config=STRICT)


@cache
def document() -> dict:
    return yaml.safe_load(DOCUMENT.read_text())


@cache
def openapi() -> OpenAPI:
    return openapi_from(document())


def explain(errors: list[Exception]) -> str:
    """openapi-core's errors quote whole bodies; say where and what, briefly."""
    lines = []
    for error in errors:
        cause = error.__cause__ or error
        for detail in getattr(cause, "schema_errors", None) or [cause]:
            if isinstance(detail, ValidationError):
                best = best_match([detail])
                lines.append(f"{type(error).__name__} at {best.json_path}: {best.message[:300]}")
            else:
                lines.append(f"{type(error).__name__}: {str(detail)[:300]}")
    return "\n".join(lines)


def validated(response, spec: OpenAPI | None = None, *, check_request: bool = True):
    """Validate the test client's request and its answer against the document; return the answer."""
    spec = spec or openapi()
    request = DjangoOpenAPIRequest(response.wsgi_request)
    errors = list(spec.iter_request_errors(request)) if check_request else []
    errors += spec.iter_response_errors(request, DjangoOpenAPIResponse(response))
    where = f"{response.wsgi_request.get_full_path()} ({response.status_code})"
    assert not errors, f"{where} disagrees with docs/openapi.yaml:\n{explain(errors)}"
    if response.status_code == 200:
        assert response.has_header("ETag"), f"{where}: every 200 answer carries an ETag"
    return response


def get(client, url, **headers):
    return validated(client.get(url, headers=headers))


def busy_blog() -> LiveBlog:
    """A blog gone live from a draft, with every kind of post (and every event kind but archive/reopen)."""
    blog = LiveBlogFactory(
        state=LiveBlog.State.DRAFT,
        topic_title="Wahl 2026",
        topic_url="https://example.org/wahl",
        successor=LiveBlogFactory(),
        credit_line="© dpa/rtr",
    )
    services.go_live(blog)
    with_avatar, without_avatar = AuthorFactory(), AuthorFactory()
    with_avatar.replace_avatar(
        ProcessedImage(width=256, height=256, renditions={64: b"", 128: b"", 256: b""})
    )
    now = timezone.now()
    publish(
        blog,
        "Mit Bild",
        body='<p>Erster &amp; <a href="https://example.org">Link</a>.</p><ul><li>eins</li></ul>',
        image=photo(1200, 800),
        image_alt="Menschen vor dem Reichstag",
        image_caption="Vor dem Reichstag",
        image_credit="Foto: dpa",
        source="dpa",
        authors=[with_avatar, without_avatar],
        published_at=now - timedelta(minutes=10),
    )
    important = publish(blog, "Wichtig", authors=[without_avatar], published_at=now - timedelta(minutes=8))
    services.set_important(important, True)
    pinned = publish(blog, "Angepinnt", published_at=now - timedelta(minutes=6))
    services.set_pinned(pinned, True)
    edited = publish(blog, "Erste Fassung", published_at=now - timedelta(minutes=4))
    edited.headline = "Korrigierte Fassung"
    services.update_post(edited)
    services.delete_post(publish(blog, "Falschmeldung", published_at=now - timedelta(minutes=2)))
    blog.refresh_from_db()
    return blog


# --- the document ------------------------------------------------------------------------------


def test_schema_endpoint_serves_the_document(client):
    assert get(client, "/api/schema/").content == DOCUMENT.read_bytes()


def test_schema_endpoint_answers_304_too(client):
    etag = get(client, "/api/schema/")["ETag"]
    assert get(client, "/api/schema/", **{"if-none-match": etag}).status_code == 304


def test_documented_event_kinds_are_the_models():
    kinds = document()["components"]["schemas"]["Event"]["properties"]["kind"]["enum"]
    assert sorted(kinds) == sorted(Event.Kind.values)


# --- GET /api/live/{slug}/ ---------------------------------------------------------------------


def test_blog_with_every_kind_of_post(client):
    data = get(client, blog_url(busy_blog())).json()

    posts = [data["pinned"], *data["posts"]]
    assert data["blog"]["successor"] is not None
    assert data["blog"]["coverage_started_at"] is not None
    assert data["pinned"]["is_pinned"] is True
    assert any(p["image"] for p in posts)
    assert any(a["avatar"] for p in posts for a in p["authors"])
    assert any(a["avatar"] is None for p in posts for a in p["authors"])
    assert any(p["is_important"] for p in posts)
    assert any(p["edited_at"] for p in posts)
    assert "Falschmeldung" not in {p["headline"] for p in posts}


def test_blog_with_nulls_and_no_posts(client):
    # No successor, topic link, coverage times, pinned post or posts.
    data = get(client, blog_url(LiveBlogFactory())).json()
    assert (data["pinned"], data["posts"], data["next"]) == (None, [], None)
    # A post without image, authors or source.
    blog = LiveBlogFactory()
    publish(blog)
    assert get(client, blog_url(blog)).json()["posts"][0]["image"] is None


def test_pages_follow_next_to_the_end(client):
    url, pages = blog_url(busy_blog(), limit=1), 0
    while url:
        data = get(client, url).json()
        url, pages = data["next"], pages + 1
    assert pages == 3  # three visible posts besides the pinned one


def test_a_cursor_of_a_post_is_a_valid_request(client):
    blog = LiveBlogFactory()
    posts = [publish(blog, f"Meldung {n}") for n in range(3)]
    assert get(client, blog_url(blog, cursor=encode_cursor(posts[1]), limit=100)).json()["next"] is None


def test_archived_blog(client):
    blog = busy_blog()
    services.archive_blog(blog)

    data = get(client, blog_url(blog)).json()
    events = get(client, events_url(blog)).json()

    assert data["blog"]["state"] == "archived"
    assert data["blog"]["coverage_ended_at"] is not None
    assert events["events"][-1]["kind"] == "blog.archived"


# --- GET /api/live/{slug}/events/ --------------------------------------------------------------


def test_events_of_every_kind(client):
    blog = busy_blog()
    services.archive_blog(blog)
    services.reopen_blog(blog)

    data = get(client, events_url(blog)).json()

    by_kind: dict[str, list[dict]] = {}
    for event in data["events"]:
        by_kind.setdefault(event["kind"], []).append(event)
    assert set(by_kind) == set(Event.Kind.values)
    assert all(e["post"] is None and e["post_id"] for e in by_kind["post.deleted"])
    blog_events = by_kind["blog.live"] + by_kind["blog.archived"] + by_kind["blog.reopened"]
    assert all(e["post"] is None and e["post_id"] is None for e in blog_events)
    assert all(e["post"] for e in by_kind["post.pinned"] + by_kind["post.important"])


def test_events_pages_follow_next(client, monkeypatch):
    monkeypatch.setattr(api, "EVENTS_LIMIT", 4)
    blog = busy_blog()

    url, seqs = events_url(blog), []
    while url:
        data = get(client, url).json()
        seqs += [e["seq"] for e in data["events"]]
        url = data["next"]

    assert seqs == list(range(1, blog.last_seq + 1))


def test_no_events_after_the_last_seq(client):
    blog = busy_blog()
    assert get(client, events_url(blog, after=blog.last_seq)).json()["events"] == []


# --- 304, 400, 404 -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", [blog_url, events_url])
def test_not_modified(client, url):
    blog = LiveBlogFactory()
    publish(blog)
    etag = get(client, url(blog))["ETag"]
    assert get(client, url(blog), **{"if-none-match": etag}).status_code == 304


@pytest.mark.parametrize("url", [blog_url, events_url])
def test_not_found(client, url):
    for blog in (LiveBlogFactory(state=LiveBlog.State.DRAFT), LiveBlog(slug="gibt-es-nicht")):
        assert get(client, url(blog)).status_code == 404


# What the server refuses, and whether the document's parameter schemas refuse it too (a client
# validating against them would not even send it); the rest is well-formed but unusable.
BAD_REQUESTS = [
    (blog_url, {"limit": "0"}, False),
    (blog_url, {"limit": "101"}, False),
    (blog_url, {"limit": "abc"}, False),
    (blog_url, {"limit": ""}, False),
    (blog_url, {"cursor": "A" * 201}, False),
    (blog_url, {"cursor": ""}, False),
    (blog_url, {"cursor": "nicht-base64!"}, True),
    (blog_url, {"cursor": "Zm9v"}, True),  # base64 of "foo"
    (events_url, {"after": "-1"}, False),
    (events_url, {"after": "abc"}, False),
    (events_url, {"after": "2147483648"}, False),
]


@pytest.mark.parametrize(("url", "query", "document_allows"), BAD_REQUESTS)
def test_bad_parameters(client, url, query, document_allows):
    blog = LiveBlogFactory()
    publish(blog)

    response = validated(client.get(url(blog, **query)), check_request=False)

    assert response.status_code == 400
    errors = list(openapi().iter_request_errors(DjangoOpenAPIRequest(response.wsgi_request)))
    assert (not errors) == document_allows, explain(errors)


# --- the check bites ---------------------------------------------------------------------------


def _post_id_as_string(doc: dict) -> None:
    doc["components"]["schemas"]["Post"]["properties"]["id"]["type"] = "string"


def _source_undocumented(doc: dict) -> None:
    del doc["components"]["schemas"]["Post"]["properties"]["source"]
    doc["components"]["schemas"]["Post"]["required"].remove("source")


def _post_id_not_nullable(doc: dict) -> None:
    doc["components"]["schemas"]["Event"]["properties"]["post_id"]["type"] = "integer"


@pytest.mark.parametrize(
    ("url", "change"),
    [(blog_url, _post_id_as_string), (blog_url, _source_undocumented), (events_url, _post_id_not_nullable)],
)
def test_a_document_that_disagrees_fails(client, url, change):
    response = get(client, url(busy_blog()))
    wrong = copy.deepcopy(document())
    change(wrong)

    with pytest.raises(AssertionError, match=r"disagrees with docs/openapi\.yaml"):
        validated(response, openapi_from(wrong))
