"""Static archives of a live blog: export to a directory, import into another database.

An export directory holds `index.html` (the reader page as a standalone file: inline CSS, no
JavaScript, relative image links), `media/` (every rendition the blog uses, under its storage name)
and `liveblog.json` (everything needed to restore the blog, deleted posts and the event log too).

`liveblog.json` holds no database ids, user accounts or export time: posts are referenced by `key`,
their 1-based position in (published_at, id) order, and authors by slug. Import creates posts in
key order, so exporting an imported blog writes the same file byte for byte.

The format's field lists and the checks an archive passes before import live in exchange_checks.py.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import mark_safe

from authors.models import Author
from images.processing import AVATAR_SIZES, PHOTO_WIDTHS, rendition_of

from .exchange_checks import (
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
    load_archive,
)
from .models import Event, LiveBlog, Post, PostAuthor, bylines
from .sanitize import clean_html

INDEX_NAME = "index.html"


# --- export ------------------------------------------------------------------------------------


def export_blog(blog: LiveBlog, directory: str | Path) -> dict:
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

    data = {
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


def dump_json(data: dict) -> str:
    """Stable text: sorted keys, fixed indent, UTF-8 as is, trailing newline."""
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _dump_time(value: datetime | None) -> str | None:
    # Full microseconds in UTC (DjangoJSONEncoder would cut them to milliseconds).
    return value.astimezone(UTC).isoformat() if value else None


def _media(name: str) -> str:
    return f"{MEDIA_DIR}/{name}"


def _renditions(name: str, widths) -> list[dict]:
    names = {width: rendition_of(name, width) for width in widths}
    return [{"file": _media(names[width]), "width": width} for width in sorted(names)]


def _dump_author(author: Author) -> dict:
    avatar = None
    if author.avatar:
        avatar = {
            "file": _media(author.avatar.name),
            "renditions": _renditions(author.avatar.name, AVATAR_SIZES),
        }
    return {**{name: getattr(author, name) for name in AUTHOR_TEXT_FIELDS}, "avatar": avatar}


def _dump_post(post: Post, key: int) -> dict:
    image = None
    if post.image:
        width = post.image_width or 0
        widths = [w for w in PHOTO_WIDTHS if w <= width]
        if width and width not in widths:
            widths.append(width)
        image = {
            "file": _media(post.image.name),
            "width": post.image_width,
            "height": post.image_height,
            # Without a stored width only the file itself is known (it is a rendition too).
            "renditions": _renditions(post.image.name, widths)
            if widths
            else [{"file": _media(post.image.name), "width": None}],
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


def _stylesheet() -> str:
    path = finders.find("css/liveblog.css")
    css = Path(path).read_text(encoding="utf-8") if path else ""
    # <style> is raw text: nothing is escaped in it, so it must not be able to close itself.
    return mark_safe(css.replace("</", "<\\/"))  # noqa: S308 - our own stylesheet, defused above


def render_index(blog: LiveBlog, data: dict) -> str:
    """index.html for the exported `data`: the reader page without scripts, links or live updates."""
    authors = {}
    for author in data["authors"]:
        avatar = {r["width"]: r["file"] for r in author["avatar"]["renditions"]} if author["avatar"] else {}
        authors[author["slug"]] = {
            "name": author["name"],
            "avatar_64": avatar.get(64),
            "avatar_128": avatar.get(128),
        }
    posts = []
    for post in reversed(data["posts"]):  # newest first
        if post["deleted_at"]:
            continue
        image = post["image"]
        posts.append(
            {
                **post,
                # Sanitized on every write already; cleaned again because an archive is kept for years
                # and must never carry a script, whatever reached the database.
                "body": mark_safe(clean_html(post["body"])),  # noqa: S308
                "published_at": datetime.fromisoformat(post["published_at"]),
                "edited_at": datetime.fromisoformat(post["edited_at"]) if post["edited_at"] else None,
                "authors": [authors[slug] for slug in post["authors"]],
                "srcset": ", ".join(f"{r['file']} {r['width']}w" for r in image["renditions"] if r["width"])
                if image
                else "",
            }
        )
    successor_url = ""
    if blog.successor and getattr(settings, "LIVEBLOG_PUBLIC_URL", ""):
        successor_url = settings.LIVEBLOG_PUBLIC_URL.rstrip("/") + blog.successor.get_absolute_url()
    context = {
        "blog": blog,
        "css": _stylesheet(),
        "successor_url": successor_url,
        "pinned": next((post for post in posts if post["is_pinned"]), None),
        "important": [post for post in posts if post["is_important"]],
        "posts": [post for post in posts if not post["is_pinned"]],
    }
    with translation.override(blog.language):
        return render_to_string("posts/liveblog_export.html", context)


# --- import ------------------------------------------------------------------------------------


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


def _write(directory: Path, data: dict, existing: dict[str, Author], copied: list[str]) -> ImportResult:
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


def _copy_image(directory: Path, image: dict, copied: list[str]) -> str:
    """Store an image's renditions; return the storage name of its main file.

    The stored names are kept (so a re-export names the same files) unless another file already
    has one of them: then all renditions get a fresh random stem, as new uploads do.
    """
    names = {r["file"].removeprefix(f"{MEDIA_DIR}/"): directory / r["file"] for r in image["renditions"]}
    main = image["file"].removeprefix(f"{MEDIA_DIR}/")
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
        return stored.read()
