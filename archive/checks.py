"""Checks of an archive being imported, and the archive format they check against.

`load_archive` reads liveblog.json and checks every field, slug, time, body, image file and event
before archive/export.py writes anything: an import must refuse a bad archive while the database and
MEDIA_ROOT are still untouched, with a message that names the faulty field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Model
from PIL import Image, UnidentifiedImageError

from authors.models import Author
from images.processing import rendition_of
from posts.models import Event, LiveBlog, Post
from posts.sanitize import clean_html

FORMAT_VERSION = 1
JSON_NAME = "liveblog.json"
MEDIA_DIR = "media"

BLOG_TEXT_FIELDS = (
    "slug", "kicker", "title", "teaser", "state", "language", "time_zone",
    "topic_title", "topic_url", "credit_line",
)  # fmt: skip
BLOG_TIME_FIELDS = ("coverage_started_at", "coverage_ended_at", "created_at", "updated_at")
POST_TEXT_FIELDS = ("headline", "body", "image_alt", "image_caption", "image_credit", "source")
POST_FLAG_FIELDS = ("is_important", "is_pinned")
POST_TIME_FIELDS = ("published_at", "updated_at", "edited_at", "deleted_at")
AUTHOR_TEXT_FIELDS = ("slug", "name", "role", "bio")


class ExchangeError(Exception):
    """The export or import cannot be done; nothing was written (the message says why)."""


def load_archive(directory: Path) -> dict[str, Any]:
    """Read and check liveblog.json and the files it names; raise ExchangeError on any problem."""
    path = directory / JSON_NAME
    if not path.is_file():
        raise ExchangeError(f"{path} does not exist; is {directory} an export of export_liveblog?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ExchangeError(f"{path} is not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ExchangeError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from exc
    if not isinstance(data, dict):
        raise ExchangeError(f"{path} must hold a JSON object.")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ExchangeError(
            f"{path} has format_version {version!r}; this version of Liveblog reads {FORMAT_VERSION}."
        )
    try:
        _check(directory, data)
    except ExchangeError as exc:
        raise ExchangeError(f"{path}: {exc}") from None
    return data


def _require(obj: object, where: str, spec: dict[str, tuple[type, ...]]) -> None:
    if not isinstance(obj, dict):
        raise ExchangeError(f"{where} must be an object.")
    for name, types in spec.items():
        if name not in obj:
            raise ExchangeError(f"{where}.{name} is missing.")
        if not isinstance(obj[name], types) or (isinstance(obj[name], bool) and bool not in types):
            raise ExchangeError(f"{where}.{name} has the wrong type ({type(obj[name]).__name__}).")


def _times(obj: dict[str, Any], where: str, names: Iterable[str], required: Sequence[str] = ()) -> None:
    """Parse ISO 8601 times in place (they must carry a UTC offset)."""
    for name in names:
        value = obj[name]
        if value is None and name not in required:
            continue
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise ExchangeError(f"{where}.{name} is not an ISO 8601 time with offset: {value!r}.")
        obj[name] = parsed


STR, OPT_STR, INT, OPT_INT, BOOL = (str,), (str, type(None)), (int,), (int, type(None)), (bool,)
OPT_OBJ, LIST = (dict, type(None)), (list,)


def _check(directory: Path, data: dict[str, Any]) -> None:
    _require(data, "document", {"blog": (dict,), "authors": LIST, "posts": LIST, "events": LIST})
    blog = data["blog"]
    _require(
        blog,
        "blog",
        {**dict.fromkeys(BLOG_TEXT_FIELDS, STR), **dict.fromkeys(BLOG_TIME_FIELDS, OPT_STR)}
        | {"successor": OPT_STR, "last_seq": INT},
    )
    _times(blog, "blog", BLOG_TIME_FIELDS, required=("created_at", "updated_at"))
    candidate = LiveBlog(**{name: blog[name] for name in BLOG_TEXT_FIELDS}, last_seq=blog["last_seq"])
    _full_clean(candidate, "blog", exclude=["slug", "successor"])
    if not re.fullmatch(r"[-a-zA-Z0-9_]+", blog["slug"]) or len(blog["slug"]) > 120:
        raise ExchangeError(f"blog.slug {blog['slug']!r} is not a valid slug.")
    if blog["state"] not in LiveBlog.State.values:
        raise ExchangeError(f"blog.state {blog['state']!r} is not one of {LiveBlog.State.values}.")

    slugs = set()
    for index, author in enumerate(data["authors"]):
        where = f"authors[{index}]"
        _require(author, where, {**dict.fromkeys(AUTHOR_TEXT_FIELDS, STR), "avatar": OPT_OBJ})
        _full_clean(Author(**{n: author[n] for n in AUTHOR_TEXT_FIELDS}), where, exclude=["slug"])
        if not re.fullmatch(r"[-a-zA-Z0-9_]+", author["slug"]) or author["slug"] in slugs:
            raise ExchangeError(f"{where}.slug {author['slug']!r} is invalid or repeated.")
        slugs.add(author["slug"])
        if author["avatar"]:
            _check_image(directory, author["avatar"], f"{where}.avatar", "avatars")

    keys = set()
    pinned = 0
    for index, post in enumerate(data["posts"]):
        where = f"posts[{index}]"
        _require(
            post,
            where,
            {"key": INT, "version": INT, "image": OPT_OBJ, "authors": LIST}
            | dict.fromkeys(POST_TEXT_FIELDS, STR)
            | dict.fromkeys(POST_FLAG_FIELDS, BOOL)
            | dict.fromkeys(POST_TIME_FIELDS, OPT_STR),
        )
        if post["key"] != index + 1:
            raise ExchangeError(f"{where}.key must be {index + 1} (posts are listed in key order).")
        keys.add(post["key"])
        _times(post, where, POST_TIME_FIELDS, required=("published_at", "updated_at"))
        post["body"] = clean_html(post["body"])  # an archive is input like any other
        _full_clean(Post(**{n: post[n] for n in POST_TEXT_FIELDS}, version=post["version"]), where)
        if post["image"]:
            _require(post["image"], f"{where}.image", {"width": OPT_INT, "height": OPT_INT})
            _check_image(directory, post["image"], f"{where}.image", "posts")
            if not post["image_alt"].strip():
                raise ExchangeError(f"{where}.image_alt is empty: an image needs a description.")
        if len(set(post["authors"])) != len(post["authors"]) or not set(post["authors"]) <= slugs:
            raise ExchangeError(f"{where}.authors names an author twice or one not in authors.")
        pinned += post["is_pinned"] and post["deleted_at"] is None
    if pinned > 1:
        raise ExchangeError("More than one visible post is pinned.")

    seq = 0
    for index, event in enumerate(data["events"]):
        where = f"events[{index}]"
        _require(event, where, {"seq": INT, "kind": STR, "post": OPT_INT, "created_at": STR})
        _times(event, where, ["created_at"], required=["created_at"])
        # Gaps are possible (a post deleted for good in the admin takes its events with it).
        if event["seq"] <= seq:
            raise ExchangeError(f"{where}.seq must be greater than {seq} (events are listed in order).")
        seq = event["seq"]
        if event["kind"] not in Event.Kind.values:
            raise ExchangeError(f"{where}.kind {event['kind']!r} is not one of {Event.Kind.values}.")
        if event["post"] is not None and event["post"] not in keys:
            raise ExchangeError(f"{where}.post {event['post']} is not the key of a post.")
    if blog["last_seq"] < seq:
        raise ExchangeError(f"blog.last_seq is {blog['last_seq']}, below the newest event's seq {seq}.")


def _full_clean(instance: Model, where: str, exclude: Iterable[str] = ()) -> None:
    try:
        instance.full_clean(exclude=[*exclude, "live_blog", "created_by", "user"], validate_unique=False)
    except ValidationError as exc:
        raise ExchangeError(
            f"{where}: {'; '.join(f'{k}: {v}' for k, v in exc.message_dict.items())}"
        ) from None


def _check_image(directory: Path, image: dict[str, Any], where: str, folder: str) -> None:
    """The image's files lie under media/<folder>/, are named as renditions of its file, are WebP."""
    _require(image, where, {"file": STR, "renditions": LIST})
    main = _media_name(image["file"], where, folder)
    if not image["renditions"]:
        raise ExchangeError(f"{where}.renditions is empty.")
    files = []
    for index, rendition in enumerate(image["renditions"]):
        _require(rendition, f"{where}.renditions[{index}]", {"file": STR, "width": OPT_INT})
        name = _media_name(rendition["file"], where, folder)
        expected = rendition_of(main, rendition["width"]) if rendition["width"] else main
        if name != expected:
            raise ExchangeError(
                f"{where}: {rendition['file']} is not named as a rendition of {image['file']}."
            )
        files.append(rendition["file"])
    if image["file"] not in files:
        raise ExchangeError(f"{where}.file is not among its renditions.")
    for relative in files:
        path = directory / relative
        if not path.is_file() or not path.resolve().is_relative_to(directory.resolve()):
            raise ExchangeError(f"{where}: the file {relative} is missing from the export directory.")
        if path.stat().st_size > settings.MAX_UPLOAD_BYTES:
            raise ExchangeError(f"{where}: {relative} is larger than uploads may be.")
        try:
            with Image.open(path) as opened:
                if opened.format != "WEBP":
                    raise ExchangeError(f"{where}: {relative} is {opened.format}, not WebP.")
        except (UnidentifiedImageError, OSError) as exc:
            raise ExchangeError(f"{where}: {relative} is not an image ({exc}).") from None


def _media_name(relative: str, where: str, folder: str) -> str:
    """Storage name of an export-relative path such as media/posts/<stem>-960.webp."""
    parts = PurePosixPath(relative).parts
    if (
        len(parts) != 3
        or parts[0] != MEDIA_DIR
        or parts[1] != folder
        or not re.fullmatch(r"[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)*-\d+\.webp", parts[2])
        or relative != "/".join(parts)
    ):
        raise ExchangeError(
            f"{where}: {relative!r} is not a media file path like {MEDIA_DIR}/{folder}/x-1.webp."
        )
    return f"{folder}/{parts[2]}"
