"""Restore a static archive (written by archive/export.py) into this database and media storage.

The directory's format, and the checks it must pass before anything is written, are described in
archive/export.py and archive/checks.py. Import creates posts in their `key` order, so exporting an
imported blog writes the same liveblog.json byte for byte.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from authors.models import Author
from posts.models import Event, LiveBlog, Post, PostAuthor

from .checks import (
    AUTHOR_TEXT_FIELDS,
    BLOG_TEXT_FIELDS,
    MEDIA_DIR,
    POST_FLAG_FIELDS,
    POST_TEXT_FIELDS,
    POST_TIME_FIELDS,
    ExchangeError,
    load_archive,
)


@dataclass
class ImportResult:
    blog: LiveBlog
    authors_created: list[str] = field(default_factory=list)
    authors_reused: list[str] = field(default_factory=list)
    posts: int = 0
    events: int = 0
    files: int = 0
    warnings: list[str] = field(default_factory=list)


def import_blog(directory: str | Path) -> ImportResult:
    """Restore an exported blog from `directory` into this database and MEDIA_ROOT storage.

    This restores history; it is not a change readers must see, so rows are written directly
    (not through posts.services) and nothing is broadcast. Authors are matched by slug: an existing
    author is reused as is, a missing one is created with its avatar. Everything is validated first;
    the rows are written in one transaction, and media files copied for it are deleted again if the
    import fails. A blog whose slug exists is refused (ExchangeError) with nothing written.
    Call outside a transaction: files cannot be rolled back with an enclosing one.
    """
    directory = Path(directory)
    data = load_archive(directory)
    blog_data = data["blog"]
    slug = blog_data["slug"]
    if LiveBlog.objects.filter(slug=slug).exists():
        raise ExchangeError(f"A live blog with the slug “{slug}” exists already; nothing was imported.")
    existing = {a.slug: a for a in Author.objects.filter(slug__in=[a["slug"] for a in data["authors"]])}
    copied: list[str] = []
    try:
        with transaction.atomic():
            result = _write(directory, data, existing, copied)
    except IntegrityError as exc:
        _delete(copied)
        if LiveBlog.objects.filter(slug=slug).exists():
            raise ExchangeError(
                f"A live blog with the slug “{slug}” exists already; nothing was imported."
            ) from exc
        raise ExchangeError(f"The archive contradicts the database ({exc}); nothing was imported.") from exc
    except BaseException:
        _delete(copied)
        raise
    result.files = len(copied)
    return result


def _delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def _write(
    directory: Path, data: dict[str, Any], existing: dict[str, Author], copied: list[str]
) -> ImportResult:
    blog_data = data["blog"]
    blog = LiveBlog(
        **{name: blog_data[name] for name in BLOG_TEXT_FIELDS},
        coverage_started_at=blog_data["coverage_started_at"],
        coverage_ended_at=blog_data["coverage_ended_at"],
        last_seq=blog_data["last_seq"],
    )
    result = ImportResult(blog=blog)
    if blog_data["successor"]:
        blog.successor = LiveBlog.objects.filter(slug=blog_data["successor"]).first()
        if blog.successor is None:
            result.warnings.append(
                f"The successor “{blog_data['successor']}” is not in this database; the link was left out."
            )
    blog.save()
    # auto_now/auto_now_add overwrote these on save; update() writes them as they were.
    LiveBlog.objects.filter(pk=blog.pk).update(
        created_at=blog_data["created_at"], updated_at=blog_data["updated_at"]
    )

    authors = dict(existing)
    for author_data in data["authors"]:
        if author_data["slug"] in existing:
            result.authors_reused.append(author_data["slug"])
            continue
        author = Author(**{name: author_data[name] for name in AUTHOR_TEXT_FIELDS})
        if author_data["avatar"]:
            author.avatar.name = _copy_image(directory, author_data["avatar"], copied)
        author.save()
        authors[author.slug] = author
        result.authors_created.append(author.slug)

    posts: dict[int, Post] = {}
    for post_data in data["posts"]:  # in key order, so ids sort as the keys do
        post = Post(
            live_blog=blog,
            **{name: post_data[name] for name in (*POST_TEXT_FIELDS, *POST_FLAG_FIELDS, *POST_TIME_FIELDS)},
            version=post_data["version"],
        )
        if post_data["image"]:
            post.image.name = _copy_image(directory, post_data["image"], copied)
            post.image_width, post.image_height = post_data["image"]["width"], post_data["image"]["height"]
        post.save()
        posts[post_data["key"]] = post
        Post.objects.filter(pk=post.pk).update(updated_at=post_data["updated_at"])
    PostAuthor.objects.bulk_create(
        PostAuthor(post=posts[post_data["key"]], author=authors[slug], position=position)
        for post_data in data["posts"]
        for position, slug in enumerate(post_data["authors"])
    )
    Event.objects.bulk_create(
        Event(
            live_blog=blog,
            seq=event["seq"],
            kind=event["kind"],
            post=posts[event["post"]] if event["post"] is not None else None,
            created_at=event["created_at"],
        )
        for event in data["events"]
    )
    result.posts, result.events = len(posts), len(data["events"])
    return result


def _copy_image(directory: Path, image: dict[str, Any], copied: list[str]) -> str:
    """Store an image's renditions; return the storage name of its main file.

    The stored names are kept (so a re-export names the same files) unless another file already
    has one of them: then all renditions get a fresh random stem, as new uploads do.
    """
    names = {r["file"].removeprefix(f"{MEDIA_DIR}/"): directory / r["file"] for r in image["renditions"]}
    main: str = image["file"].removeprefix(f"{MEDIA_DIR}/")
    clash = any(
        default_storage.exists(name) and _read(name) != path.read_bytes() for name, path in names.items()
    )
    stem = main.rsplit("-", 1)[0]
    new_stem = f"{stem.split('/', 1)[0]}/{secrets.token_hex(12)}" if clash else stem
    for name, path in names.items():
        target = new_stem + name.removeprefix(stem)
        if default_storage.exists(target):
            continue  # the same bytes are there already
        stored = default_storage.save(target, ContentFile(path.read_bytes()))
        copied.append(stored)
        if stored != target:
            raise ExchangeError(f"Another process wrote {target} during the import; nothing was imported.")
    return new_stem + main.removeprefix(stem)


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as stored:
        content: bytes = stored.read()  # the stubs' File.read() returns Any
        return content
