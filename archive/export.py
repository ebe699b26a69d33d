"""Static archives of a live blog: export to a directory (restore.py imports it elsewhere).

An export directory holds `index.html` (the reader page as a standalone file: inline CSS, no
JavaScript, relative image links), `media/` (every rendition the blog uses, under its storage name)
and `liveblog.json` (everything needed to restore the blog, deleted posts and the event log too).

`liveblog.json` holds no database ids, user accounts or export time: posts are referenced by `key`,
their 1-based position in (published_at, id) order, and authors by slug. Import creates posts in
key order, so exporting an imported blog writes the same file byte for byte.

The format's field lists and the checks an archive passes before import live in archive/checks.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe

from authors.models import Author
from images.processing import AVATAR_SIZES, photo_widths, rendition_of
from posts.models import LiveBlog, Post, bylines
from posts.sanitize import clean_html

from .checks import (
    AUTHOR_TEXT_FIELDS,
    BLOG_TEXT_FIELDS,
    BLOG_TIME_FIELDS,
    FORMAT_VERSION,
    JSON_NAME,
    MEDIA_DIR,
    POST_FLAG_FIELDS,
    POST_TEXT_FIELDS,
    POST_TIME_FIELDS,
    ExchangeError,
)

INDEX_NAME = "index.html"


def export_blog(blog: LiveBlog, directory: str | Path) -> dict[str, Any]:
    """Write `blog` as a static archive into `directory` (new or empty); return the JSON data.

    The blog's rows are read under its row lock, which every service takes before writing, so the
    posts and the event log agree with each other even while editors keep publishing.
    """
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ExchangeError(f"{directory} exists and is not an empty directory; choose a new one.")
    with transaction.atomic():
        blog = LiveBlog.objects.select_for_update(of=("self",)).select_related("successor").get(pk=blog.pk)
        posts = list(blog.posts.prefetch_related(bylines()).order_by("published_at", "pk"))
        events = list(blog.events.order_by("seq"))
    keys = {post.pk: index for index, post in enumerate(posts, start=1)}
    authors = {pa.author.slug: pa.author for post in posts for pa in post.post_authors.all()}

    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "blog": {
            **{name: getattr(blog, name) for name in BLOG_TEXT_FIELDS},
            **{name: _dump_time(getattr(blog, name)) for name in BLOG_TIME_FIELDS},
            "successor": blog.successor.slug if blog.successor else None,
            "last_seq": blog.last_seq,
        },
        "authors": [_dump_author(authors[slug]) for slug in sorted(authors)],
        "posts": [_dump_post(post, keys[post.pk]) for post in posts],
        "events": [
            {
                "seq": event.seq,
                "kind": event.kind,
                "post": keys[event.post_id] if event.post_id else None,
                "created_at": _dump_time(event.created_at),
            }
            for event in events
        ],
    }

    files = [r["file"] for a in data["authors"] if a["avatar"] for r in a["avatar"]["renditions"]]
    files += [r["file"] for p in data["posts"] if p["image"] for r in p["image"]["renditions"]]
    files = list(dict.fromkeys(files))
    for relative in files:  # all checked before anything is written
        if not default_storage.exists(relative.removeprefix(f"{MEDIA_DIR}/")):
            raise ExchangeError(f"The media file {relative} is missing from storage; cannot export it.")
    directory.mkdir(parents=True, exist_ok=True)
    for relative in files:
        name = relative.removeprefix(f"{MEDIA_DIR}/")
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with default_storage.open(name, "rb") as source:
            target.write_bytes(source.read())
    (directory / JSON_NAME).write_text(dump_json(data), encoding="utf-8")
    (directory / INDEX_NAME).write_text(render_index(blog, data), encoding="utf-8")
    return data


def dump_json(data: dict[str, Any]) -> str:
    """Stable text: sorted keys, fixed indent, UTF-8 as is, trailing newline."""
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _dump_time(value: datetime | None) -> str | None:
    # Full microseconds in UTC (DjangoJSONEncoder would cut them to milliseconds).
    return value.astimezone(UTC).isoformat() if value else None


def _media(name: str) -> str:
    return f"{MEDIA_DIR}/{name}"


def _stored_name(file: FieldFile) -> str:
    name = file.name
    assert name is not None  # a FieldFile read from a row has a str name ("" without a file)
    return name


def _renditions(name: str, widths: Iterable[int]) -> list[dict[str, Any]]:
    names = {width: rendition_of(name, width) for width in widths}
    return [{"file": _media(names[width]), "width": width} for width in sorted(names)]


def _dump_author(author: Author) -> dict[str, Any]:
    avatar = None
    if author.avatar:
        name = _stored_name(author.avatar)
        avatar = {"file": _media(name), "renditions": _renditions(name, AVATAR_SIZES)}
    return {**{name: getattr(author, name) for name in AUTHOR_TEXT_FIELDS}, "avatar": avatar}


def _dump_post(post: Post, key: int) -> dict[str, Any]:
    image = None
    if post.image:
        name = _stored_name(post.image)
        widths = photo_widths(post.image_width)
        image = {
            "file": _media(name),
            "width": post.image_width,
            "height": post.image_height,
            # Without a stored width only the file itself is known (it is a rendition too).
            "renditions": _renditions(name, widths) if widths else [{"file": _media(name), "width": None}],
        }
    return {
        "key": key,
        **{name: getattr(post, name) for name in POST_TEXT_FIELDS},
        **{name: getattr(post, name) for name in POST_FLAG_FIELDS},
        **{name: _dump_time(getattr(post, name)) for name in POST_TIME_FIELDS},
        "version": post.version,
        "image": image,
        "authors": [pa.author.slug for pa in post.post_authors.all()],
    }


def _stylesheet() -> SafeString:
    path = finders.find("css/liveblog.css")
    css = Path(path).read_text(encoding="utf-8") if isinstance(path, str) else ""
    # <style> is raw text: nothing is escaped in it, so it must not be able to close itself.
    return mark_safe(css.replace("</", "<\\/"))  # noqa: S308 - our own stylesheet, defused above


# index.html renders the reader page's partials (posts/liveblog_detail.html) from the exported JSON:
# these views offer what the `post` partial reads of a Post and its Authors, with the archive's
# differences: ids and links are the post's key within this file, files are relative paths into
# media/, and authors have no page (the partial then shows the name without a link).


@dataclass(frozen=True)
class _AuthorView:
    name: str
    avatar_64: str  # "" without an avatar
    avatar_128: str

    @property
    def avatar(self) -> bool:
        return bool(self.avatar_64)

    def get_absolute_url(self) -> str:
        return ""  # no author pages in an archive


@dataclass(frozen=True)
class _ImageView:
    url: str


@dataclass(frozen=True)
class _PostView:
    pk: int  # the post's key in liveblog.json: the article is #post-<key>
    headline: str
    body: SafeString
    published_at: datetime
    edited_at: datetime | None
    is_important: bool
    is_pinned: bool
    ordered_authors: list[_AuthorView]
    image: _ImageView | None
    image_srcset: str
    image_width: int | None
    image_height: int | None
    image_alt: str
    image_caption: str
    image_credit: str
    source: str

    def get_absolute_url(self) -> str:
        return f"#post-{self.pk}"


def _author_view(author: dict[str, Any]) -> _AuthorView:
    files = {r["width"]: r["file"] for r in author["avatar"]["renditions"]} if author["avatar"] else {}
    small: str = files.get(64, "")
    return _AuthorView(name=author["name"], avatar_64=small, avatar_128=files.get(128, small))


def _post_view(post: dict[str, Any], authors: dict[str, _AuthorView]) -> _PostView:
    image = post["image"]
    return _PostView(
        pk=post["key"],
        headline=post["headline"],
        # Sanitized on every write already; cleaned again because an archive is kept for years
        # and must never carry a script, whatever reached the database.
        body=mark_safe(clean_html(post["body"])),  # noqa: S308
        published_at=datetime.fromisoformat(post["published_at"]),
        edited_at=datetime.fromisoformat(post["edited_at"]) if post["edited_at"] else None,
        is_important=post["is_important"],
        is_pinned=post["is_pinned"],
        ordered_authors=[authors[slug] for slug in post["authors"]],
        image=_ImageView(url=image["file"]) if image else None,
        image_srcset=", ".join(f"{r['file']} {r['width']}w" for r in image["renditions"] if r["width"])
        if image
        else "",
        image_width=image["width"] if image else None,
        image_height=image["height"] if image else None,
        image_alt=post["image_alt"],
        image_caption=post["image_caption"],
        image_credit=post["image_credit"],
        source=post["source"],
    )


def render_index(blog: LiveBlog, data: dict[str, Any]) -> str:
    """index.html for the exported `data`: the reader page without scripts, links or live updates."""
    authors = {author["slug"]: _author_view(author) for author in data["authors"]}
    posts = [
        _post_view(post, authors)
        for post in reversed(data["posts"])  # newest first
        if not post["deleted_at"]
    ]
    public_url: str = getattr(settings, "LIVEBLOG_PUBLIC_URL", "")
    successor_url = ""
    if blog.successor is not None and public_url:
        successor_url = public_url.rstrip("/") + blog.successor.get_absolute_url()
    context = {
        "blog": blog,
        "css": _stylesheet(),
        "successor_url": successor_url,
        "pinned": next((post for post in posts if post.is_pinned), None),
        "important": [post for post in posts if post.is_important],
        "posts": [post for post in posts if not post.is_pinned],
    }
    with translation.override(blog.language):
        return render_to_string("posts/liveblog_export.html", context)
