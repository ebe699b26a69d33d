"""The API's JSON shapes of a blog and a post, and the cursors that page through posts.

Kept apart from the views in api/views.py so the shapes documented in docs/openapi.yaml are
in one place; every URL in them is absolute (clients and partners use them off site).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import strip_tags

from authors.models import Author
from images.processing import AVATAR_SIZES
from posts.models import LiveBlog, Post
from posts.paging import BadParameter

MAX_CURSOR_LENGTH = 200  # a real cursor is ~60 characters; refuse anything far longer unread


def absolute(request: HttpRequest, url: str) -> str | None:
    # build_absolute_uri() leaves URLs that are absolute already (media on a CDN) as they are.
    return request.build_absolute_uri(url) if url else None


# -- serialization ------------------------------------------------------------------------------

_BLOCK_END = re.compile(r"(?i)</(?:p|blockquote|ul|ol)\s*>")
_LINE_END = re.compile(r"(?i)<br\s*/?>|</li\s*>")


def body_text(body_html: str) -> str:
    """Plain text of a sanitized body: paragraphs apart by a blank line, list items by a newline."""
    text = _LINE_END.sub("\n", _BLOCK_END.sub("\n\n", body_html))
    text = html.unescape(strip_tags(text))
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _author(request: HttpRequest, author: Author) -> dict[str, Any]:
    avatar = {str(size): absolute(request, author.avatar_url(size)) for size in AVATAR_SIZES}
    return {
        "name": author.name,
        "slug": author.slug,
        "role": author.role,
        "url": absolute(request, author.get_absolute_url()),
        "avatar": avatar if author.avatar else None,
    }


def _image(request: HttpRequest, post: Post) -> dict[str, Any] | None:
    if not post.image:
        return None
    srcset = [f"{absolute(request, url)} {width}w" for url, width in post.image_renditions]
    return {
        "url": absolute(request, post.image.url),
        "width": post.image_width,
        "height": post.image_height,
        "srcset": ", ".join(srcset),
        "alt": post.image_alt,
        "caption": post.image_caption,
        "credit": post.image_credit,
    }


def post_data(request: HttpRequest, post: Post, blog: LiveBlog) -> dict[str, Any]:
    """One post as the API shows it. Prefetch its `bylines()` first."""
    permalink = reverse("post-detail", kwargs={"slug": blog.slug, "pk": post.pk})
    return {
        "id": post.pk,
        "url": absolute(request, permalink),
        "headline": post.headline,
        "body_html": post.body,  # sanitized on every write (services.clean_html)
        "body_text": body_text(post.body),
        "is_important": post.is_important,
        "is_pinned": post.is_pinned,
        "published_at": post.published_at,
        "edited_at": post.edited_at,
        "authors": [_author(request, author) for author in post.ordered_authors],
        "image": _image(request, post),
        "source": post.source,
    }


def blog_data(request: HttpRequest, blog: LiveBlog) -> dict[str, Any]:
    successor = blog.successor
    if successor is not None and successor.is_draft:
        successor = None  # not public yet: its slug would point readers at a 404
    page = blog.get_absolute_url()
    return {
        "slug": blog.slug,
        "kicker": blog.kicker,
        "title": blog.title,
        "teaser": blog.teaser,
        "state": blog.state,
        "language": blog.language,
        "time_zone": blog.time_zone,
        "topic_title": blog.topic_title,
        "topic_url": blog.topic_url or None,
        "successor": (
            {"slug": successor.slug, "url": absolute(request, successor.get_absolute_url())}
            if successor
            else None
        ),
        "credit_line": blog.credit_line,
        "coverage_started_at": blog.coverage_started_at,
        "coverage_ended_at": blog.coverage_ended_at,
        "last_seq": blog.last_seq,
        "url": absolute(request, page),
        "events_url": absolute(request, reverse("api-liveblog-events", kwargs={"slug": blog.slug})),
        "feeds": {
            "all": absolute(request, reverse("liveblog-feed", kwargs={"slug": blog.slug})),
            "important": absolute(request, reverse("liveblog-feed-important", kwargs={"slug": blog.slug})),
        },
    }


# -- cursors ------------------------------------------------------------------------------------


def encode_cursor(post: Post) -> str:
    """Opaque to clients: where the next page starts, as (published_at, id) of the last post."""
    raw = f"{post.published_at.isoformat()}|{post.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[datetime, int]:
    error = BadParameter("cursor is not valid: pass the `next` URL of a previous response unchanged.")
    if not value or len(value) > MAX_CURSOR_LENGTH:
        raise error
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
        published, pk = raw.decode().split("|")
        published_at = datetime.fromisoformat(published)
        post_id = int(pk)
        if published_at.tzinfo is None or not 0 < post_id <= 2**63 - 1:
            raise ValueError
        # Normalized here: an offset at the edge of the calendar overflows on conversion.
        published_at = published_at.astimezone(UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise error from None
    return published_at, post_id
